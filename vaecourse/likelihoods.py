"""Decoder likelihoods log p(x|z): the reconstruction term of the ELBO.

Taught in notebook 03_monte_carlo_reconstruction. Both return one number per example,
summed over every pixel: sums per example, then an average over the batch, weight the
reconstruction and the KL term correctly against each other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._validation import float_tensor, in_unit_interval, positive_float, same_shape

__all__ = ["bernoulli_log_likelihood", "gaussian_log_likelihood"]


_LOG_2PI = math.log(2 * math.pi)


def _flat(values: torch.Tensor) -> torch.Tensor:
    return values.reshape(values.shape[0], -1)


class _BernoulliLogProb(torch.autograd.Function):
    """sum_i x_i log s(l_i) + (1 - x_i) log(1 - s(l_i)) over the last dimension, l and x
    broadcasting: the Bernoulli kernel, unchecked, used by every Bernoulli decoder here.

    Per pixel it is log s(|l|) - (1 - x) max(l, 0) - x max(-l, 0): terms of one sign, so nothing
    cancels, and it is exact (to rounding) at every logit and grey level, where torch's
    binary_cross_entropy_with_logits, (1 - x) l - log s(l), cancels for l < 0 (at l = -30,
    x = 0 it returns 0 instead of 9.4e-14). log s(|l|) is one ``logsigmoid``, and the two
    max terms are one ``torch.lerp`` from max(l, 0) to max(-l, 0) with weight x, which is exact
    on both sides of x = 1/2. The backward is the one expression x - s(l) (autograd sums it
    over broadcast dimensions), so a training step pays little for the exactness
    (tests/benchmarks/bench_training.py times fit against a loop with torch's op).
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if logits.dtype != x.dtype:  # lerp takes one dtype
            dtype = torch.promote_types(logits.dtype, x.dtype)
            logits, x = logits.to(dtype), x.to(dtype)
        ctx.save_for_backward(logits, x)
        relu = logits.relu()
        linear = torch.lerp(relu, relu - logits, x)  # (1 - x) max(l, 0) + x max(-l, 0)
        log_s = F.logsigmoid(logits.abs())  # log s(|l|) = -log(1 + e^-|l|), to an ulp
        return (log_s.sub_(linear) if log_s.shape == linear.shape else log_s - linear).sum(-1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        logits, x = ctx.saved_tensors
        grad = grad.unsqueeze(-1)
        grad_x = grad * logits if ctx.needs_input_grad[1] else None
        return (x - torch.sigmoid(logits)).mul_(grad), grad_x


def _bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) of Bernoulli(sigmoid(logits)) pixels, summed over the last dimension, unchecked.
    Shapes: logits, x broadcasting to (..., D) -> (...)."""
    return _BernoulliLogProb.apply(logits, x)


def _gaussian_log_prob(mean: torch.Tensor, x: torch.Tensor, log_sigma: float | torch.Tensor) -> torch.Tensor:
    """log N(x; mean, sigma^2 I) with sigma = exp(log_sigma) (a float, or a tensor when learned),
    summed over the last dimension, unchecked: -||x - mean||^2 / (2 sigma^2) - D/2 log(2 pi sigma^2).
    Shapes: mean, x broadcasting to (..., D) -> (...)."""
    exp = torch.exp if isinstance(log_sigma, torch.Tensor) else math.exp
    return -0.5 * (x - mean).pow(2).sum(-1) * exp(-2 * log_sigma) - x.shape[-1] * (0.5 * _LOG_2PI + log_sigma)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) for independent Bernoulli(sigmoid(logits)) pixels, from the logits.

    Formula: sum_i x_i log s(l_i) + (1 - x_i) log(1 - s(l_i)), which is minus the binary
    cross-entropy with logits. Since log s(l) = -softplus(-l) and log(1 - s(l)) = -softplus(l),
    and softplus(l) = softplus(-|l|) + max(l, 0), it is computed as
    -sum_i [softplus(-|l_i|) + |l_i| (1 - x_i if l_i > 0 else x_i)]: non-negative terms, so
    nothing cancels, and it stays exact at |l| = 100, where sigmoid-then-log returns -inf.
    x may be any value in [0, 1] (grey levels as well as binary pixels).
    Shapes: logits, x (B, *event) -> (B,). Taught in notebook 03_monte_carlo_reconstruction.
    """
    float_tensor("logits", logits, min_dim=1)
    float_tensor("x", x, min_dim=1)
    same_shape("logits", logits, "x", x)
    in_unit_interval("x", x)
    return _bernoulli_log_prob(_flat(logits), _flat(x))


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
    dtype = torch.promote_types(mean.dtype, x.dtype)
    smallest = torch.finfo(dtype).max ** -0.5  # 1 / sigma^2 must stay finite
    if sigma < smallest:
        raise ValueError(f"sigma must be >= {smallest:.1e} in {dtype} (1 / sigma^2 overflows below it), got {sigma:g}")
    result = _gaussian_log_prob(_flat(mean), _flat(x), math.log(sigma))
    if not bool(torch.isfinite(result).all()):
        raise ValueError(
            f"sigma={sigma:g} puts x so many standard deviations from the mean that the log-density "
            f"underflows {dtype}: use a larger sigma, or float64"
        )
    return result
