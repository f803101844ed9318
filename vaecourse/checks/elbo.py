"""Checks for the exercises of notebook elbo."""

__all__: list[str] = []
