"""Checks for the exercises of notebook reparameterization."""

__all__: list[str] = []
