"""Data for the course: MNIST with an offline fallback to scikit-learn's digits.

Taught in notebook 06_full_vae.
"""

from __future__ import annotations

import torch

from ._validation import float_tensor, in_unit_interval

__all__ = ["binarize"]


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One Bernoulli draw per pixel: each pixel is 1 with probability equal to its grey level.

    Called once per epoch this is dynamic binarization (the setting of the published MNIST
    likelihoods); called once with a fixed generator, fixed binarization.
    Shapes: (...) -> (...), values in {0, 1}, same dtype. Taught in notebook 06_full_vae.
    """
    float_tensor("x", x)
    in_unit_interval("x", x)
    return torch.bernoulli(x, generator=generator)
