"""Checks for the exercises of notebook full_vae."""

__all__: list[str] = []
