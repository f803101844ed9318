"""Input checks shared by every public function: each failure is a ValueError that names
the argument and says what was expected, never a silent broadcast."""

from __future__ import annotations

import numbers

import torch

# Half precision cannot hold the course's numbers: float16 overflows at 65504 (the KL at
# logvar = 20 is 2.4e8, a 784-pixel log-likelihood reaches 7.8e4) and bfloat16 keeps 3 digits.
LOW_PRECISION = (torch.float16, torch.bfloat16)


def stored(value: torch.Tensor) -> torch.Tensor:
    """The entries ``value`` really stores: a broadcast (stride-0) dimension is cut to length 1,
    so that checking an ``expand``-ed view reads its data once instead of allocating its full size."""
    if value.dim() == 0 or all(stride != 0 for stride in value.stride()):
        return value
    return value[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in value.stride())]


def float_tensor(name: str, value: object, *, finite: bool = True, min_dim: int = 0) -> torch.Tensor:
    """Return ``value`` if it is a float32 or float64 tensor with data (not on the meta device)
    and at least ``min_dim`` dimensions (and only finite entries when ``finite``); raise a
    ValueError naming ``name`` otherwise."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise ValueError(f"{name} must have a floating-point dtype, got {value.dtype}")
    if value.dtype in LOW_PRECISION:
        raise ValueError(
            f"{name} is {value.dtype}, too narrow for the KL and log-likelihoods here; "
            f"convert it with {name}.float() (float32) or .double()"
        )
    if value.is_meta:
        raise ValueError(f"{name} is on the meta device, which holds no values: create it on the CPU (or a GPU)")
    if value.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s), got shape {tuple(value.shape)}")
    if finite and not bool(torch.isfinite(stored(value)).all()):
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


# The most one call may draw at once: 2**28 numbers (2 GiB in float64, about 1 s to sample).
MAX_DRAWN = 2**28


def affordable(name: str, count: int, per_item: int) -> int:
    """Return ``count`` if ``count`` draws of ``per_item`` numbers each fit in MAX_DRAWN numbers;
    otherwise raise a ValueError that says the most ``name`` may be for this input."""
    if count * max(per_item, 1) > MAX_DRAWN:
        most = max(MAX_DRAWN // max(per_item, 1), 1)
        raise ValueError(
            f"{name}={count:,} would draw {count * per_item:,} numbers at once (at most {MAX_DRAWN:,}): "
            f"use {name} <= {most:,} and average several calls"
        )
    return count


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
    """Raise unless every entry of ``x`` lies in [0, 1] (NaN included: it lies nowhere)."""
    x = stored(x)
    if not bool(((x >= 0) & (x <= 1)).all()):
        lo, hi = x.min().item(), x.max().item()
        raise ValueError(
            f"{name} must lie in [0, 1] (a Bernoulli target), got values in [{lo:g}, {hi:g}]"
            + ("; scale raw 0-255 pixels by 1/255 first" if hi > 1 else "")
        )
