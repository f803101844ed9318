"""Checks for the exercises of notebook kl_budget."""

__all__: list[str] = []
