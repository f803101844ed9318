"""Widgets of notebook reparameterization."""

__all__: list[str] = []
