"""Checks for the exercises of notebook reconstruction."""

__all__: list[str] = []
