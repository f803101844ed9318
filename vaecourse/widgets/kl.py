"""Widgets of notebook kl."""

__all__: list[str] = []
