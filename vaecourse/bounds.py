"""Bounds on log p(x): the importance-weighted bound by log-sum-exp.

Taught in notebooks 01_elbo (the bound tightens from the ELBO towards log p(x)) and
06_full_vae (the test log-likelihood). With K draws z_k ~ q(z|x) and log-weights
w_k = log p(x, z_k) - log q(z_k|x),

    L_K = E[log (1/K) sum_k exp(w_k)],   ELBO = L_1 <= L_K <= L_{K+1} <= log p(x)

(Burda, Grosse & Salakhutdinov 2015).
"""

from __future__ import annotations

import math

import torch

from ._validation import float_tensor

__all__ = ["iwae_bound"]


def iwae_bound(log_weights: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log of the mean of exp(log_weights) along ``dim``, by log-sum-exp.

    Formula: logsumexp_k(w_k) - log K = m + log((1/K) sum_k exp(w_k - m)), m = max_k w_k, so it
    stays finite for log-weights of +-1000 (where exp overflows or underflows).
    Shapes: (..., K, ...) -> the same with ``dim`` removed. Taught in notebooks 01 and 06.
    """
    float_tensor("log_weights", log_weights, min_dim=1)
    if isinstance(dim, bool) or not isinstance(dim, int) or not -log_weights.dim() <= dim < log_weights.dim():
        raise ValueError(f"dim must be an int in [{-log_weights.dim()}, {log_weights.dim() - 1}], got {dim!r}")
    num = log_weights.shape[dim]
    if num < 1:
        raise ValueError(f"log_weights must hold at least one sample along dim {dim}, got 0")
    return torch.logsumexp(log_weights, dim=dim) - math.log(num)
