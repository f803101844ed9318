"""Input checks shared by every public function: each failure is a ValueError that names
the argument and says what was expected, never a silent broadcast."""

from __future__ import annotations

import numbers

import torch


def float_tensor(name: str, value: object, *, finite: bool = True, min_dim: int = 0) -> torch.Tensor:
    """Return ``value`` if it is a floating-point tensor with at least ``min_dim`` dimensions
    (and only finite entries when ``finite``); raise a ValueError naming ``name`` otherwise."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise ValueError(f"{name} must have a floating-point dtype, got {value.dtype}")
    if value.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s), got shape {tuple(value.shape)}")
    if finite and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return value


def same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Raise unless ``a`` and ``b`` have exactly the same shape (no broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def gaussian_parameters(mu: object, logvar: object) -> None:
    """Check the parameters of q = N(mu, diag(exp(logvar))): finite float tensors of one shape,
    with at least one (latent) dimension."""
    float_tensor("mu", mu, min_dim=1)
    float_tensor("logvar", logvar, min_dim=1)
    same_shape("mu", mu, "logvar", logvar)


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def positive_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite number > 0 (a 0-d tensor is accepted)."""
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive number, got {type(value).__name__}")
    value = float(value)
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def in_unit_interval(name: str, x: torch.Tensor) -> None:
    """Raise unless every entry of ``x`` lies in [0, 1]."""
    if bool((x < 0).any()) or bool((x > 1).any()):
        lo, hi = x.min().item(), x.max().item()
        raise ValueError(
            f"{name} must lie in [0, 1] (a Bernoulli target), got values in [{lo:g}, {hi:g}]"
            + ("; scale raw 0-255 pixels by 1/255 first" if hi > 1 else "")
        )
