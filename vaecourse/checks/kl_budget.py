"""Checks for the exercises of notebook 07_kl_budget.

- ``check_rate_distortion(fn)``: fn(x, logits, mu, logvar) -> (rate, distortion), two scalars
  in nats per example: rate = mean_b KL(N(mu_b, diag(exp(logvar_b))) || N(0, I)),
  distortion = -mean_b log p(x_b | z_b) for a Bernoulli decoder with ``logits`` computed at one
  sample z_b. x, logits (B, D); mu, logvar (B, d).
- ``check_active_units(fn)``: fn(mu, threshold) -> a boolean mask of shape (d,), True where
  the variance over the examples of the posterior mean, Var_n(mu_nj), exceeds ``threshold``
  (Burda et al. 2015). mu (N, d).

References: torch.distributions (Bernoulli, Normal, kl_divergence) for the rate and distortion,
numpy's variance for the active units; never the learner's function. The wrong answers beside each check are the mistakes the notebook warns about.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence

from ._core import Case, CheckResult, Mistake, run_check

__all__ = ["check_rate_distortion", "check_active_units"]


# -- rate and distortion -------------------------------------------------------------------
def _reference_rate_distortion(x, logits, mu, logvar):
    x, logits, mu, logvar = (t.double() for t in (x, logits, mu, logvar))
    rate = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1).mean()
    distortion = -Bernoulli(logits=logits).log_prob(x).sum(-1).mean()
    return rate, distortion


def _rd_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    cases = []
    for batch, pixels, latent, label in [
        (6, 10, 3, "6 examples, 10 pixels, 3 latent dimensions"),
        (1, 16, 2, "a single example"),
        (9, 5, 4, "9 examples, 5 pixels, 4 latent dimensions"),
    ]:
        x = torch.bernoulli(torch.full((batch, pixels), 0.4), generator=g)
        logits = 3 * torch.randn(batch, pixels, generator=g)
        mu = torch.randn(batch, latent, generator=g)
        logvar = torch.randn(batch, latent, generator=g) - 1
        cases.append(Case((x, logits, mu, logvar), label=label))
    return cases


def _kl(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)


def _nll(x, logits):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none")


RATE_DISTORTION_MISTAKES = [
    Mistake(
        "a flipped sign on the distortion: it is minus the reconstruction log-likelihood "
        "(a positive number of nats), not log p(x|z) itself",
        lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), -_nll(x, l).sum(-1).mean()),
    ),
    Mistake(
        "the distortion averaged over pixels instead of summed: log p(x|z) is a sum over "
        "the D pixels, then a mean over the batch",
        lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), _nll(x, l).mean()),
    ),
    Mistake(
        "the rate averaged over latent dimensions instead of summed: the KL of independent "
        "dimensions adds up, then take the mean over the batch",
        lambda x, l, mu, lv: (_kl(mu, lv).mean(), _nll(x, l).sum(-1).mean()),
    ),
    Mistake(
        "sums over the batch: rate and distortion are per example, so take the mean over the batch (dim 0)",
        lambda x, l, mu, lv: (_kl(mu, lv).sum(), _nll(x, l).sum()),
    ),
    Mistake(
        "rate and distortion swapped: return (rate, distortion) in that order",
        lambda x, l, mu, lv: (_nll(x, l).sum(-1).mean(), _kl(mu, lv).sum(-1).mean()),
    ),
    Mistake(
        'the "-1" is missing from the KL (then q = p would cost d/2 nats, not 0)',
        lambda x, l, mu, lv: ((0.5 * (mu.pow(2) + lv.exp() - lv)).sum(-1).mean(), _nll(x, l).sum(-1).mean()),
    ),
    Mistake(
        "sigma used where sigma^2 belongs in the KL: the variance is exp(logvar)",
        lambda x, l, mu, lv: (
            (0.5 * (mu.pow(2) + (0.5 * lv).exp() - lv - 1)).sum(-1).mean(),
            _nll(x, l).sum(-1).mean(),
        ),
    ),
    Mistake(
        "a squared error as the distortion: that is the Gaussian decoder's; a Bernoulli "
        "decoder's distortion is the binary cross-entropy with its logits",
        lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), (x - torch.sigmoid(l)).pow(2).sum(-1).mean()),
    ),
    Mistake(
        "a sigmoid applied before binary_cross_entropy_with_logits: that function takes the "
        "logits themselves and applies the sigmoid inside",
        lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), _nll(x, torch.sigmoid(l)).sum(-1).mean()),
    ),
    Mistake(
        "bits instead of nats: the course measures both in nats (natural logarithms), so do not divide by log 2",
        lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean() / math.log(2), _nll(x, l).sum(-1).mean() / math.log(2)),
    ),
]


def check_rate_distortion(fn: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> CheckResult:
    """Check fn(x, logits, mu, logvar) -> (rate, distortion), the mean KL to the prior and the
    mean negative Bernoulli log-likelihood per example (nats, scalars), against
    torch.distributions on three batches. Taught in notebook 07_kl_budget."""
    return run_check(
        "check_rate_distortion",
        fn,
        _reference_rate_distortion,
        _rd_cases(),
        RATE_DISTORTION_MISTAKES,
        rtol=1e-5,
        atol=1e-5,
        success="your rate and distortion agree with torch.distributions on all 3 batches.",
    )


# -- active units --------------------------------------------------------------------------
def _reference_active(mu, threshold):
    variance = np.var(mu.detach().double().numpy(), axis=0)  # population variance over examples
    return torch.from_numpy(variance > threshold)


def _au_cases() -> list[Case]:
    g = torch.Generator().manual_seed(11)
    # per-dimension spreads and offsets: variances about 1, 0.0025, 0.04, 0, 0.25, 1e-6;
    # the offsets make a unit whose mean is far from 0 but never moves
    scales = torch.tensor([1.0, 0.05, 0.2, 0.0, 0.5, 0.001])
    offsets = torch.tensor([0.0, 0.3, -1.0, 0.8, 0.0, 2.0])
    mu = offsets + scales * torch.randn(300, 6, generator=g)
    collapsed = torch.cat([0.02 * torch.randn(40, 3, generator=g), torch.randn(40, 2, generator=g)], dim=1)
    return [
        Case((mu, 0.01), label="300 examples, 6 latent dimensions, threshold 0.01"),
        Case((mu, 0.1), label="the same means, threshold 0.1"),
        Case((collapsed - 0.5, 0.01), label="40 examples, 3 collapsed units out of 5"),
    ]


ACTIVE_MISTAKES = [
    Mistake(
        "the variance over the latent dimensions (dim=1) instead of over the examples (dim=0): "
        "a unit is active when its mean moves from one input to the next",
        lambda mu, t: mu.var(1) > t,
    ),
    Mistake(
        "the standard deviation compared with the threshold: the criterion is the variance Var_n(mu_nj) > 0.01",
        lambda mu, t: mu.std(0) > t,
    ),
    Mistake(
        "the mean square E[mu^2] instead of the variance: a unit whose mean is the same "
        "non-zero value for every input carries no information; subtract the mean over examples",
        lambda mu, t: mu.pow(2).mean(0) > t,
    ),
    Mistake("the comparison inverted: active units have a variance ABOVE the threshold", lambda mu, t: mu.var(0) < t),
    Mistake(
        "the mean posterior mean compared with the threshold: the criterion is the variance "
        "over examples, not the average",
        lambda mu, t: mu.mean(0).abs() > t,
    ),
    Mistake(
        "one variance over all entries: compute one variance per latent dimension, over dim 0",
        lambda mu, t: mu.var() > t,
    ),
    Mistake(
        "the number of active units returned: return the boolean mask of shape (d,) (its sum is the count)",
        lambda mu, t: (mu.var(0) > t).sum(),
    ),
]


def check_active_units(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Check fn(mu, threshold) -> a boolean mask (d,) of the active units, Var_n(mu_nj) >
    threshold, against numpy's variance on three sets of posterior means (mu of shape (N, d)).
    Taught in notebook 07_kl_budget."""
    return run_check(
        "check_active_units",
        fn,
        _reference_active,
        _au_cases(),
        ACTIVE_MISTAKES,
        rtol=0,
        atol=0,
        success="your mask agrees with numpy's variance on all 3 sets of posterior means.",
    )
