"""Widgets of notebook score_function."""

__all__: list[str] = []
