"""Widgets of notebook elbo."""

__all__: list[str] = []
