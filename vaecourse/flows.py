"""Reparameterization beyond the Gaussian: a planar normalizing flow.

Taught in notebook 05_reparameterization. The reparameterization trick needs only a
differentiable map z = g(eps; theta) of parameter-free noise eps. The Gaussian uses the affine
map g = mu + sigma * eps; a normalizing flow composes invertible maps, and the density of z
follows from the change of variables

    log q(z) = log N(eps; 0, I) - sum_l log |det dg_l / dz_(l-1)|.

A planar map (Rezende and Mohamed 2015, "Variational inference with normalizing flows") is

    g(z) = z + u_hat tanh(w^T z + b),   log |det dg/dz| = log |1 + tanh'(w^T z + b) w^T u_hat|,

with u_hat = u + (m(w^T u) - w^T u) w / ||w||^2 and m(a) = -1 + softplus(a), which keeps
w^T u_hat > -1 and so every map invertible.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._validation import float_tensor, positive_int

__all__ = ["PlanarFlow"]

_LOG_2PI = math.log(2 * math.pi)


class PlanarFlow(nn.Module):
    """``num_layers`` planar maps applied in turn to eps ~ N(0, I_dim).

    Args:
        dim: the dimension of z.
        num_layers: how many planar maps to compose.
        generator: seeds the small random initial parameters (reproducible).
        dtype: parameter dtype (float64 by default, like the course's exact computations).
    ``forward(eps)`` maps noise (..., dim) to (z, log_q): z (..., dim) and log q(z) (...).
    Taught in notebook 05_reparameterization.
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.dim = positive_int("dim", dim)
        num_layers = positive_int("num_layers", num_layers)
        self.w = nn.Parameter(0.5 * torch.randn(num_layers, dim, generator=generator, dtype=dtype))
        self.u = nn.Parameter(0.5 * torch.randn(num_layers, dim, generator=generator, dtype=dtype))
        self.b = nn.Parameter(0.5 * torch.randn(num_layers, generator=generator, dtype=dtype))

    @property
    def num_layers(self) -> int:
        return self.w.shape[0]

    def u_hat(self) -> torch.Tensor:
        """The constrained u of every layer, shape (num_layers, dim): w^T u_hat = softplus(w^T u) - 1 > -1."""
        wu = (self.w * self.u).sum(-1, keepdim=True)
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / self.w.pow(2).sum(-1, keepdim=True).clamp_min(1e-12)

    def forward(self, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = g_L(... g_1(eps)) and log q(z) by the change of variables.

        Each layer's derivative term 1 + (1 - h^2) w^T u_hat is computed as
        h^2 + (1 - h^2) softplus(w^T u), which stays positive even where w^T u_hat rounds to -1.
        Shapes: eps (..., dim) -> z (..., dim), log_q (...).
        """
        float_tensor("eps", eps, min_dim=1)
        if eps.shape[-1] != self.dim:
            raise ValueError(f"eps must have shape (..., {self.dim}), got {tuple(eps.shape)}")
        eps = eps.to(self.w.dtype)
        log_q = -0.5 * (eps.pow(2).sum(-1) + self.dim * _LOG_2PI)
        slopes = F.softplus((self.w * self.u).sum(-1))
        z = eps
        for w, u, b, slope in zip(self.w, self.u_hat(), self.b, slopes):
            h = torch.tanh(z @ w + b)
            h2 = h.pow(2)
            log_q = log_q - torch.log(h2 + (1 - h2) * slope)
            z = z + h.unsqueeze(-1) * u
        return z, log_q

    def sample(self, num: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``num`` samples: (z, log_q) of shapes (num, dim) and (num,)."""
        num = positive_int("num", num)
        eps = torch.randn(num, self.dim, generator=generator, dtype=self.w.dtype)
        return self(eps)
