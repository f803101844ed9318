"""The KL term as an information budget: rate, distortion and active units.

Taught in notebook 07_kl_budget. For a data set x_1..x_N and an encoder q(z|x) over d latent
dimensions, with the prior p(z) = N(0, I):

    rate        R = (1/N) sum_n KL(q(z|x_n) || p(z))                 (nats per example)
    distortion  D = -(1/N) sum_n E_q[log p(x_n|z)]                   (nats per example)
    -ELBO = R + D;  a beta-VAE minimises D + beta R.

R is what the codes cost: (1/N) sum_n KL(q(z|x_n) || p(z)) >= I_q(x; z), the mutual information
between an example and its code under the encoder (Alemi et al. 2018, "Fixing a broken ELBO").
It splits over latent dimensions, R = sum_j R_j, because q and p factorise.

A latent dimension j is *active* (Burda, Grosse & Salakhutdinov 2015) when its
posterior mean moves with the input:

    A_j = Var_n( E_q[z_j | x_n] ) = Var_n( mu_j(x_n) ) > threshold = 0.01

(a population variance, 1/N). An inactive dimension carries no information about x: its mean
is the same for every input. Since KL_j(x) >= mu_j(x)^2 / 2, R_j >= A_j / 2, so an active unit
costs rate; a collapsed one (q(z_j|x) = p(z_j) for every x) has R_j = A_j = 0.

The remedies for collapse at beta = 1 (KL warm-up, free bits) are options of ``fit``; a
Gaussian decoder that learns its sigma is ``VAE(..., likelihood="gaussian", learn_sigma=True)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._validation import positive_float, positive_int
from .estimators import _reparameterize, _sample_eps
from .model import VAE

__all__ = [
    "RateDistortion",
    "rate_distortion",
    "kl_per_dimension",
    "posterior_mean_variance",
    "active_units",
]


class RateDistortion(NamedTuple):
    """Rate and distortion of a model on a data set, in nats per example (floats)."""

    rate: float
    distortion: float

    @property
    def elbo(self) -> float:
        """The ELBO, -(rate + distortion)."""
        return -(self.rate + self.distortion)


def _model(model: object) -> VAE:
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a vaecourse.VAE, got {type(model).__name__}")
    return model


@torch.no_grad()
def rate_distortion(
    model: VAE, x: torch.Tensor, num_samples: int = 1, generator: torch.Generator | None = None
) -> RateDistortion:
    """Rate R = mean_n KL(q(z|x_n) || p(z)) and distortion D = -mean_n E_q[log p(x_n|z)].

    R is exact (the closed-form KL); D is a Monte Carlo estimate with ``num_samples`` draws
    z = mu + sigma * eps per example (eps from ``generator``, drawn as ``model.elbo`` draws
    them, so the numbers are model.elbo's). The draws are decoded one at a time, so memory stays
    that of one pass over x whatever ``num_samples`` is.
    Shapes: x (N, *input_shape) -> two floats, nats per example. Taught in notebook 07_kl_budget.
    """
    model = _model(model)
    x = model.check_input(x)
    num_samples = positive_int("num_samples", num_samples)
    x_flat = x.reshape(x.shape[0], -1)
    mu, logvar = model.encode_flat(x_flat)
    eps = _sample_eps(mu, num_samples, generator)
    recon = sum(model.log_px(model.decoder(_reparameterize(mu, logvar, e)), x_flat) for e in eps) / num_samples
    rate = model.kl_per_dim(mu, logvar).sum(-1)
    return RateDistortion(rate.mean().item(), -recon.mean().item())


@torch.no_grad()
def kl_per_dimension(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """R_j = mean_n KL(q(z_j|x_n) || N(0, 1)) for every latent dimension j; they sum to the rate.

    KL_j = 1/2 (mu_j^2 + exp(logvar_j) - logvar_j - 1) (notebook 02).
    Shapes: x (N, *input_shape) -> (d,), nats. Taught in notebook 07_kl_budget.
    """
    model = _model(model)
    mu, logvar = model.encode(x)
    return model.kl_per_dim(mu, logvar).mean(0)


@torch.no_grad()
def posterior_mean_variance(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """A_j = Var_n(mu_j(x_n)), the variance over the data of each posterior mean (1/N).

    Burda et al.'s activity statistic. Shapes: x (N, *input_shape) with N >= 2 -> (d,).
    Taught in notebook 07_kl_budget.
    """
    model = _model(model)
    if isinstance(x, torch.Tensor) and x.dim() >= 1 and x.shape[0] < 2:
        raise ValueError(f"x must hold at least 2 examples to measure a variance, got {x.shape[0]}")
    mu, _ = model.encode(x)
    return mu.var(0, correction=0)


def active_units(model: VAE, x: torch.Tensor, threshold: float = 0.01) -> int:
    """The number of active latent dimensions: those with Var_n(mu_j(x_n)) > threshold.

    Burda, Grosse & Salakhutdinov (2015) use threshold = 0.01. Shapes: x (N, *input_shape),
    N >= 2 -> int in [0, d]. Taught in notebook 07_kl_budget.
    """
    threshold = positive_float("threshold", threshold)
    return int((posterior_mean_variance(model, x) > threshold).sum().item())
