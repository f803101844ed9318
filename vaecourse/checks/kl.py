"""Checks for the exercises of notebook 02_kl_closed_form.

- ``check_gaussian_kl(fn)``: fn(mu, logvar) -> KL(N(mu, diag(exp(logvar))) || N(0, I)) per
  example; mu, logvar (B, d) -> (B,).
- ``check_kl_gradient(fn)``: fn(mu, logvar) -> (dKL/dmu, dKL/dlogvar), each (B, d), the
  gradient of every example's KL, written by hand (mu and (exp(logvar) - 1) / 2).

The reference is torch.distributions (its Normal-Normal KL, differentiated by autograd for the
gradient), never the learner's function; the wrong answers beside each check are the mistakes
the notebook warns about: a missing "-1", a flipped sign, sigma where sigma^2 belongs, a mean
over the latent dimensions instead of a sum, and the batch dimension summed away.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Normal, kl_divergence

from ._core import Case, CheckResult, Mistake, run_check

__all__ = ["check_gaussian_kl", "check_kl_gradient"]


def _reference_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    mu, logvar = mu.double(), logvar.double()
    q = Normal(mu, torch.exp(0.5 * logvar))
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return kl_divergence(q, prior).sum(-1)


def _reference_gradient(mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu = mu.detach().double().requires_grad_(True)
    logvar = logvar.detach().double().requires_grad_(True)
    with torch.enable_grad():
        # every example's KL depends on its own row only, so the gradient of the sum holds
        # the gradient of each example's KL in that example's row
        grad_mu, grad_logvar = torch.autograd.grad(_reference_kl(mu, logvar).sum(), (mu, logvar))
    return grad_mu, grad_logvar


def _cases() -> list[Case]:
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(3, 4, generator=g)
    logvar = torch.randn(3, 4, generator=g)
    wide = torch.linspace(-6.0, 4.0, 10).reshape(2, 5)
    return [
        Case((mu, logvar), label="a batch of 3 examples with 4 latent dimensions"),
        Case((0.5 * mu[:2, :1] - 1.0, logvar[:2, :1]), label="a batch of 2, one latent dimension"),
        Case((torch.zeros(2, 3), torch.zeros(2, 3)), label="q equal to the prior, where KL = 0"),
        Case((torch.flip(wide, (1,)), wide), label="log-variances from -6 to 4"),
        Case((mu[:1].double(), logvar[:1].double()), label="one example in float64"),
    ]


# -- wrong answers worth naming (each is the full answer with one mistake) ---------------
def _kl_terms(mu, logvar, var=None):
    var = torch.exp(logvar) if var is None else var
    return mu.pow(2) + var - logvar - 1


KL_MISTAKES = [
    Mistake(
        'the "-1" is missing (then q = p gives KL = d/2, not 0)',
        lambda mu, lv: 0.5 * (mu.pow(2) + torch.exp(lv) - lv).sum(-1),
    ),
    Mistake(
        "a flipped sign: you returned -KL (E_q[log p(z) - log q(z)]), which is never positive",
        lambda mu, lv: -0.5 * _kl_terms(mu, lv).sum(-1),
    ),
    Mistake(
        'a flipped sign on the log-variance: "+ log sigma^2" where "- log sigma^2" belongs',
        lambda mu, lv: 0.5 * (mu.pow(2) + torch.exp(lv) + lv - 1).sum(-1),
    ),
    Mistake(
        "sigma used where sigma^2 belongs: the variance is exp(logvar), not exp(logvar / 2)",
        lambda mu, lv: 0.5 * _kl_terms(mu, lv, torch.exp(0.5 * lv)).sum(-1),
    ),
    Mistake(
        "log sigma used where log sigma^2 belongs: logvar is already log sigma^2, do not halve it",
        lambda mu, lv: 0.5 * (mu.pow(2) + torch.exp(lv) - 0.5 * lv - 1).sum(-1),
    ),
    Mistake(
        "a mean over the latent dimensions instead of a sum (the KL of independent dimensions adds up)",
        lambda mu, lv: 0.5 * _kl_terms(mu, lv).mean(-1),
    ),
    Mistake(
        "the batch dimension summed away: return one KL per example, shape (B,), summed over dim=-1 only",
        lambda mu, lv: 0.5 * _kl_terms(mu, lv).sum(),
    ),
    Mistake(
        "the batch dimension averaged away: return one KL per example, shape (B,), summed over dim=-1 only",
        lambda mu, lv: 0.5 * _kl_terms(mu, lv).sum(-1).mean(),
    ),
    Mistake(
        "a sum over the batch dimension (dim=0) instead of the latent dimension (dim=-1)",
        lambda mu, lv: 0.5 * _kl_terms(mu, lv).sum(0),
    ),
    Mistake("the factor 1/2 is missing", lambda mu, lv: _kl_terms(mu, lv).sum(-1)),
]


def check_gaussian_kl(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check fn(mu, logvar) -> KL(N(mu, diag(exp(logvar))) || N(0, I)), shapes (B, d) -> (B,),
    against torch.distributions on five batches. Taught in notebook 02_kl_closed_form."""
    return run_check(
        "check_gaussian_kl",
        fn,
        _reference_kl,
        _cases(),
        KL_MISTAKES,
        grad=(0, 1),
        success="your KL agrees with torch.distributions.kl_divergence on all 5 batches.",
    )


GRADIENT_MISTAKES = [
    Mistake(
        'the "-1" is missing in dKL/dlogvar: it is (exp(logvar) - 1) / 2, zero at the prior',
        lambda mu, lv: (mu, 0.5 * torch.exp(lv)),
    ),
    Mistake(
        "a flipped sign: that is the gradient of -KL (both components have the wrong sign)",
        lambda mu, lv: (-mu, -0.5 * torch.expm1(lv)),
    ),
    Mistake(
        "a flipped sign in dKL/dlogvar: it is (exp(logvar) - 1) / 2, not (1 - exp(logvar)) / 2",
        lambda mu, lv: (mu, -0.5 * torch.expm1(lv)),
    ),
    Mistake("a flipped sign in dKL/dmu: d(mu^2 / 2)/dmu = +mu", lambda mu, lv: (-mu, 0.5 * torch.expm1(lv))),
    Mistake(
        "sigma used where sigma^2 belongs: d exp(logvar)/dlogvar = exp(logvar) is the variance",
        lambda mu, lv: (mu, 0.5 * torch.expm1(0.5 * lv)),
    ),
    Mistake(
        "the derivative with respect to sigma^2 instead of logvar: (1 - 1/sigma^2) / 2 needs "
        "the chain rule factor d sigma^2 / d logvar = sigma^2",
        lambda mu, lv: (mu, 0.5 * (1 - torch.exp(-lv))),
    ),
    Mistake(
        "the gradient of the mean over latent dimensions: the KL sums its dimensions, so no 1/d",
        lambda mu, lv: (mu / mu.shape[-1], 0.5 * torch.expm1(lv) / mu.shape[-1]),
    ),
    Mistake(
        "the batch dimension summed away: return one gradient per example, shaped like mu (B, d)",
        lambda mu, lv: (mu.sum(0), 0.5 * torch.expm1(lv).sum(0)),
    ),
    Mistake(
        "the gradient of the batch-averaged KL (divided by B): each example's KL depends only on "
        "its own mu and logvar, so no 1/B",
        lambda mu, lv: (mu / mu.shape[0], 0.5 * torch.expm1(lv) / mu.shape[0]),
    ),
    Mistake(
        "the factor 1/2 is missing: d(mu^2 / 2)/dmu = mu and d((exp(logvar) - logvar) / 2)/dlogvar "
        "= (exp(logvar) - 1) / 2",
        lambda mu, lv: (2 * mu, torch.expm1(lv)),
    ),
    Mistake(
        "the two gradients are swapped: return (dKL/dmu, dKL/dlogvar) in that order",
        lambda mu, lv: (0.5 * torch.expm1(lv), mu),
    ),
]


def check_kl_gradient(
    fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
) -> CheckResult:
    """Check fn(mu, logvar) -> (dKL/dmu, dKL/dlogvar), each shaped like mu (B, d), against
    autograd through torch.distributions' KL. Taught in notebook 02_kl_closed_form."""
    return run_check(
        "check_kl_gradient",
        fn,
        _reference_gradient,
        _cases(),
        GRADIENT_MISTAKES,
        success="your gradient agrees with autograd through torch.distributions on all 5 batches.",
    )
