"""Decoder likelihoods log p(x|z): the reconstruction term of the ELBO.

Taught in notebook 03_monte_carlo_reconstruction. Both return one number per example,
summed over every pixel: sums per example, then an average over the batch, weight the
reconstruction and the KL term correctly against each other.
"""

from __future__ import annotations

import math

import torch

from ._validation import float_tensor, in_unit_interval, positive_float, same_shape

__all__ = ["bernoulli_log_likelihood", "gaussian_log_likelihood"]


def _sum_event(values: torch.Tensor) -> torch.Tensor:
    return values.reshape(values.shape[0], -1).sum(1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) for independent Bernoulli(sigmoid(logits)) pixels, from the logits.

    Formula: sum_i x_i log s(l_i) + (1 - x_i) log(1 - s(l_i)), which is minus the binary
    cross-entropy with logits. Since log s(l) = -softplus(-l) and log(1 - s(l)) = -softplus(l),
    it is computed as -sum_i [x_i softplus(-l_i) + (1 - x_i) softplus(l_i)]: two non-negative
    terms, so nothing cancels, and it stays exact at |l| = 100, where sigmoid-then-log
    returns -inf. x may be any value in [0, 1] (grey levels as well as binary pixels).
    Shapes: logits, x (B, *event) -> (B,). Taught in notebook 03_monte_carlo_reconstruction.
    """
    float_tensor("logits", logits, min_dim=1)
    float_tensor("x", x, min_dim=1)
    same_shape("logits", logits, "x", x)
    in_unit_interval("x", x)
    zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
    # softplus(l) = log(1 + e^l) = logaddexp(l, 0); F.softplus would switch to l past l = 20.
    return -_sum_event(x * torch.logaddexp(-logits, zero) + (1 - x) * torch.logaddexp(logits, zero))


def gaussian_log_likelihood(mean: torch.Tensor, x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """log N(x; mean, sigma^2 I), the fixed-variance Gaussian decoder, constant included.

    Formula: -||x - mean||^2 / (2 sigma^2) - D/2 log(2 pi sigma^2), D pixels per example.
    With sigma^2 = 1/2 this is minus the summed squared error, up to the constant.
    Shapes: mean, x (B, *event) -> (B,). Taught in notebook 03_monte_carlo_reconstruction.
    """
    float_tensor("mean", mean, min_dim=1)
    float_tensor("x", x, min_dim=1)
    same_shape("mean", mean, "x", x)
    sigma = positive_float("sigma", sigma)
    num_pixels = x[0].numel()
    squared_error = _sum_event((x - mean).pow(2))
    return -squared_error / (2 * sigma**2) - 0.5 * num_pixels * math.log(2 * math.pi * sigma**2)
