"""The KL term of the ELBO: a diagonal Gaussian against the standard normal prior.

Taught in notebook 02_kl_closed_form. For q = N(mu, diag(sigma^2)) and p = N(0, I), the KL
splits over dimensions, and for one dimension

    KL = E_q[log q(z) - log p(z)]
       = E_q[-1/2 log sigma^2 - (z - mu)^2 / (2 sigma^2) + z^2 / 2]
       = -1/2 log sigma^2 - 1/2 + (mu^2 + sigma^2) / 2
       = 1/2 (mu^2 + sigma^2 - log sigma^2 - 1),

since E_q[(z - mu)^2] = sigma^2 and E_q[z^2] = mu^2 + sigma^2 (Kingma & Welling 2013,
Appendix B). The encoder outputs logvar = log sigma^2, so no constraint is needed.
"""

from __future__ import annotations

import torch

from ._validation import gaussian_parameters, positive_int
from .estimators import _reparameterize, _sample_eps

__all__ = ["gaussian_kl", "gaussian_kl_per_dim", "monte_carlo_kl"]


class _ExpMinusOneMinus(torch.autograd.Function):
    """e^t - 1 - t, accurate to the last digits for every t, with the exact derivative e^t - 1.

    expm1(t) - t cancels when |t| is small (for |t| < 1e-8 in float64 it returns 0 instead
    of t^2 / 2), so small |t| uses the series t^2/2 (1 + t/3 (1 + t/4 (1 + ... (1 + t/13)))),
    whose truncation is far below rounding for |t| < 1/4. The backward is expm1(t) itself
    (one op, no cancellation), so the series costs the training step nothing but its forward.
    """

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(t)
        small = t.abs() < 0.25
        ts = torch.where(small, t, 0.0)
        one = torch.ones((), dtype=t.dtype, device=t.device)
        acc = torch.addcmul(one, ts, one, value=1 / 13)
        for n in range(12, 2, -1):
            acc = torch.addcmul(one, ts, acc, value=1 / n)
        return torch.where(small, 0.5 * ts * ts * acc, torch.expm1(t) - t)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (t,) = ctx.saved_tensors
        return grad * torch.expm1(t)


def _kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """1/2 (mu^2 + exp(logvar) - logvar - 1) per dimension, unchecked: the KL kernel that
    gaussian_kl_per_dim, gaussian_kl and the VAE's training loss all use."""
    return 0.5 * (mu.pow(2) + _ExpMinusOneMinus.apply(logvar))


def gaussian_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_j, exp(logvar_j)) || N(0, 1)) for every dimension j, not summed.

    Formula: 1/2 (mu^2 + exp(logvar) - logvar - 1), with exp(logvar) - logvar - 1 computed
    so that it stays accurate (not just finite) near the prior, where it would cancel.
    Shapes: mu, logvar (..., d) -> (..., d). Taught in notebook 02_kl_closed_form.
    """
    gaussian_parameters(mu, logvar)
    return _kl_per_dim(mu, logvar)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) in closed form, summed over the last dimension.

    Formula: 1/2 sum_j (mu_j^2 + exp(logvar_j) - logvar_j - 1).
    Shapes: mu, logvar (..., d) -> (...). Any float dtype; finite for logvar in [-30, 20].
    Taught in notebook 02_kl_closed_form.
    """
    return gaussian_kl_per_dim(mu, logvar).sum(-1)


def monte_carlo_kl(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    num_samples: int,
    generator: torch.Generator | None = None,
    *,
    per_sample: bool = False,
) -> torch.Tensor:
    """Monte Carlo estimate of the same KL: the mean over S draws z ~ q of log q(z) - log p(z).

    With z = mu + sigma * eps, log q(z) - log p(z) = sum_j (-logvar_j / 2 - eps_j^2 / 2 + z_j^2 / 2)
    (the 2 pi constants cancel). Shapes: mu, logvar (..., d) -> (...); with
    ``per_sample=True`` the S single-draw estimates (S, ...) so their spread can be measured.
    Taught in notebook 02_kl_closed_form.
    """
    gaussian_parameters(mu, logvar)
    num_samples = positive_int("num_samples", num_samples)
    eps = _sample_eps(mu, num_samples, generator)
    z = _reparameterize(mu, logvar, eps)
    log_ratio = (0.5 * (z.pow(2) - eps.pow(2) - logvar)).sum(-1)
    return log_ratio if per_sample else log_ratio.mean(0)
