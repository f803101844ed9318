"""Widgets of notebook reconstruction."""

__all__: list[str] = []
