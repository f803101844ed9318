"""Checks for the exercises of notebook kl."""

__all__: list[str] = []
