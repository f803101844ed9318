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


# Terms of the series for e^t - 1 - t kept per dtype: the first term left out is below
# rounding at |t| = 1/4 (float32 up to t^7/7!: 1.2e-8 relative; float64 up to t^13/13!: 1.4e-18).
_SERIES_TERMS = {torch.float32: 7, torch.float64: 13}
_CONSTANTS: dict[tuple[torch.dtype, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}


def _one_and_quarter(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """1 and 1/4 as 0-d tensors of t's dtype and device, made once (the series' addcmul inputs)."""
    key = (t.dtype, t.device)
    if key not in _CONSTANTS:
        _CONSTANTS[key] = tuple(torch.full((), c, dtype=t.dtype, device=t.device) for c in (1.0, 0.25))
    return _CONSTANTS[key]


class _KLPerDim(torch.autograd.Function):
    """1/2 (mu^2 + e^t - 1 - t) with t = logvar, accurate to the last digits for every t, with
    the exact derivatives mu and (e^t - 1) / 2.

    expm1(t) - t cancels when |t| is small (for |t| < 1e-8 in float64 it returns 0 instead
    of t^2 / 2), so |t| <= 1/4 uses the series t^2/2 (1 + t/3 (1 + t/4 (1 + ... (1 + t/n)))),
    with as many terms as the dtype needs. The backward is two products (no series), so the
    series costs the training step nothing but its forward.
    """

    @staticmethod
    def forward(ctx, mu: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(mu, t)
        ts = t.clamp(-0.25, 0.25)  # t where |t| <= 1/4; the series is evaluated there only
        one, quarter = _one_and_quarter(t)
        n = _SERIES_TERMS.get(t.dtype, 13)
        acc = torch.addcmul(one, ts, one, value=1 / n)
        for k in range(n - 1, 3, -1):
            acc = torch.addcmul(one, ts, acc, value=1 / k)
        acc = torch.addcmul(quarter, ts, acc, value=1 / 12)  # 1/4 (1 + t/3 (...)): half the series over t^2
        half_e = torch.where(ts == t, ts.mul(ts).mul_(acc), torch.expm1(t).sub_(t).mul_(0.5))
        return torch.addcmul(half_e, mu, mu, value=0.5)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        mu, t = ctx.saved_tensors
        grad_mu = grad * mu if ctx.needs_input_grad[0] else None
        grad_t = 0.5 * grad * torch.expm1(t) if ctx.needs_input_grad[1] else None
        return grad_mu, grad_t


def _kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """1/2 (mu^2 + exp(logvar) - logvar - 1) per dimension, unchecked: the KL kernel that
    gaussian_kl_per_dim, gaussian_kl and the VAE's training loss all use."""
    return _KLPerDim.apply(mu, logvar)


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
