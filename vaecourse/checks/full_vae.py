"""Checks for the exercises of notebook 06_full_vae.

- ``check_negative_elbo(fn)``: fn(x, logits, mu, logvar) -> the VAE loss, a scalar: the mean
  over the batch of [ -sum_pixels log Bernoulli(x | sigmoid(logits)) + KL(N(mu, exp(logvar)) || N(0, I)) ],
  x, logits (B, D), mu, logvar (B, d). Sums per example, then a mean over the batch.
- ``check_importance_weighted_bound(fn)``: fn(log_weights) -> log (1/K) sum_k exp(w_k) for
  log-weights (K, B), returning (B,); includes log-weights of +-1000.

References are independent of the learner's code: torch.distributions (Bernoulli and the
Normal-Normal KL) for the loss, the package's tested ``iwae_bound`` for the bound.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence

from ..bounds import iwae_bound
from ._core import FAILED, Case, CheckResult, Mistake, run_check

__all__ = ["check_negative_elbo", "check_importance_weighted_bound"]


# -- the loss ---------------------------------------------------------------------------------
def _reference_loss(x, logits, mu, logvar):
    x, logits, mu, logvar = (t.double() for t in (x, logits, mu, logvar))
    recon = Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1)
    q = Normal(mu, torch.exp(0.5 * logvar))
    kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)
    return (kl - recon).mean()


def _loss_cases() -> list[Case]:
    g = torch.Generator().manual_seed(6)
    x = torch.bernoulli(torch.full((4, 6), 0.4), generator=g)
    logits = 1.5 * torch.randn(4, 6, generator=g)
    mu, logvar = torch.randn(4, 3, generator=g), 0.8 * torch.randn(4, 3, generator=g)
    grey = torch.rand(3, 5, generator=g, dtype=torch.float64)
    return [
        Case((x, logits, mu, logvar), label="4 binary images of 6 pixels, 3 latent dimensions"),
        Case(
            (
                grey,
                2 * torch.randn(3, 5, generator=g, dtype=torch.float64),
                torch.randn(3, 2, generator=g, dtype=torch.float64),
                torch.randn(3, 2, generator=g, dtype=torch.float64),
            ),
            label="grey-level targets, float64",
        ),
        Case((x[:2], logits[:2], torch.zeros(2, 3), torch.zeros(2, 3)), label="q equal to the prior: KL = 0"),
    ]


def _bce(x, logits, reduction="none"):
    return F.binary_cross_entropy_with_logits(logits, x, reduction=reduction)


def _kl(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(-1)


LOSS_MISTAKES = [
    Mistake(
        "the ELBO itself: the loss to minimise is its negative, -ELBO = -recon + KL",
        lambda x, l, m, v: (-_bce(x, l).sum(-1) - _kl(m, v)).mean(),
    ),
    Mistake(
        "the KL term with the wrong sign: -ELBO = -recon + KL, the KL is added to the loss",
        lambda x, l, m, v: (_bce(x, l).sum(-1) - _kl(m, v)).mean(),
    ),
    Mistake(
        "the KL term is missing: without it the model is a plain autoencoder",
        lambda x, l, m, v: _bce(x, l).sum(-1).mean(),
    ),
    Mistake(
        "a mean over pixels instead of a sum: F.binary_cross_entropy_with_logits averages by "
        "default, which shrinks the reconstruction term by D against the KL; use reduction='none' "
        "and .sum(-1) per example",
        lambda x, l, m, v: _bce(x, l, "mean") + _kl(m, v).mean(),
    ),
    Mistake(
        "a mean over pixels and latent dimensions instead of sums: sum per example, then average over the batch",
        lambda x, l, m, v: _bce(x, l, "mean") + (_kl(m, v) / m.shape[-1]).mean(),
    ),
    Mistake(
        "the KL summed over the batch but the reconstruction averaged: both terms need the same "
        "reduction, a sum per example then a mean over the batch",
        lambda x, l, m, v: _bce(x, l).sum(-1).mean() + _kl(m, v).sum(),
    ),
    Mistake(
        "the reconstruction summed over the batch but the KL averaged: both terms need the same "
        "reduction, a sum per example then a mean over the batch",
        lambda x, l, m, v: _bce(x, l, "sum") + _kl(m, v).mean(),
    ),
    Mistake(
        "a sum over the batch instead of a mean (reduction='sum', as in the PyTorch example): the "
        "loss then grows with the batch size; sum per example, then average over the batch",
        lambda x, l, m, v: _bce(x, l, "sum") + _kl(m, v).sum(),
    ),
    Mistake(
        "the sigmoid applied twice: binary_cross_entropy_with_logits takes the logits themselves, not sigmoid(logits)",
        lambda x, l, m, v: (_bce(x, torch.sigmoid(l)).sum(-1) + _kl(m, v)).mean(),
    ),
    Mistake(
        "the KL's factor 1/2 is missing: KL = 1/2 sum_j (mu^2 + exp(logvar) - logvar - 1)",
        lambda x, l, m, v: (_bce(x, l).sum(-1) + 2 * _kl(m, v)).mean(),
    ),
    Mistake(
        "the -1 inside the KL is missing: KL = 1/2 sum_j (mu^2 + exp(logvar) - logvar - 1), zero at the prior",
        lambda x, l, m, v: (_bce(x, l).sum(-1) + _kl(m, v) + 0.5 * m.shape[-1]).mean(),
    ),
    Mistake(
        "logvar used as log sigma: the encoder outputs log sigma^2, so sigma^2 = exp(logvar)",
        lambda x, l, m, v: (_bce(x, l).sum(-1) + _kl(m, 2 * v)).mean(),
    ),
    Mistake(
        "exp(logvar) and logvar swapped in sign: KL = 1/2 sum_j (mu^2 + exp(logvar) - logvar - 1)",
        lambda x, l, m, v: (_bce(x, l).sum(-1) + 0.5 * (m.pow(2) - v.exp() + v - 1).sum(-1)).mean(),
    ),
    Mistake(
        "mu^2 is missing from the KL: KL = 1/2 sum_j (mu^2 + exp(logvar) - logvar - 1)",
        lambda x, l, m, v: (_bce(x, l).sum(-1) + _kl(torch.zeros_like(m), v)).mean(),
    ),
]

_LOGITS_AS_PROBABILITIES = (
    "logits passed to F.binary_cross_entropy, which expects probabilities in [0, 1]: use "
    "F.binary_cross_entropy_with_logits(logits, x), which also stays accurate where sigmoid saturates"
)


def check_negative_elbo(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check fn(x, logits, mu, logvar) -> mean over the batch of (-log p(x|z) + KL), a scalar,
    against torch.distributions on binary and grey-level targets and at the prior.
    Computing sigmoid(logits) then the binary cross-entropy passes on these moderate logits.
    Taught in notebook 06_full_vae."""
    name = "check_negative_elbo"
    result = run_check(
        name,
        fn,
        _reference_loss,
        _loss_cases(),
        LOSS_MISTAKES,
        grad=(1, 2, 3),
        rtol=1e-4,
        atol=1e-5,
        success="all 3 cases agree with torch.distributions: -recon + KL, summed per example, averaged over the batch.",
    )
    if result.status == FAILED and result.mistake is None and "between 0 and 1" in result.message:
        where = result.message.split(": your function raised")[0]
        return dataclasses.replace(
            result, message=f"{where}: looks like {_LOGITS_AS_PROBABILITIES}.", mistake="logits passed as probabilities"
        )
    return result


# -- the importance-weighted bound --------------------------------------------------------------
def _reference_bound(log_weights):
    return iwae_bound(log_weights.double(), dim=0)


def _bound_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    return [
        Case((2 * torch.randn(5, 3, generator=g, dtype=torch.float64),), label="K = 5 draws for 3 examples"),
        Case((torch.randn(1, 4, generator=g, dtype=torch.float64),), label="K = 1: the bound is the ELBO"),
        Case(
            (torch.cat([torch.randn(40, 2, generator=g) - 90.0, torch.linspace(-1000.0, 1000.0, 40).unsqueeze(1)], 1),),
            label="K = 40 log-weights near -90, and from -1000 to 1000 in one example, float32",
        ),
        Case(
            (
                torch.tensor(
                    [[1000.0, -1000.0, -1000.0], [999.0, -1001.0, 1000.0], [-1000.0, -1003.0, 0.0]], dtype=torch.float64
                ),
            ),
            label="log-weights of +-1000, mixed within an example, float64",
        ),
    ]


_OVERFLOW = (
    "exp overflows: exp(w) is inf for w above 88 in float32 (709 in float64) and 0 below -104 (-745), so "
    "a log of a mean of exp(w) is inf or -inf unless each example is first shifted by its own largest "
    "log-weight; use torch.logsumexp(w, 0) - log K"
)

BOUND_MISTAKES = [
    Mistake(
        "the mean of the log-weights: that is the ELBO (the K = 1 bound), not the log of the mean "
        "of the weights; the importance-weighted bound averages exp(w) inside the log",
        lambda w: w.mean(0),
    ),
    Mistake(
        "exp overflows: log(mean(exp(w))) computed directly gives inf or -inf for log-weights of "
        "+-1000 (exp(1000) overflows, exp(-1000) rounds to 0); use torch.logsumexp(w, 0) - log K",
        lambda w: torch.log(torch.exp(w).mean(0)),
    ),
    Mistake(
        "the -log K is missing: logsumexp gives the log of the sum of the weights; the bound is the log of their mean",
        lambda w: torch.logsumexp(w, 0),
    ),
    Mistake(
        "a division by K instead of subtracting log K: log((1/K) sum exp(w)) = logsumexp(w) - log K",
        lambda w: torch.logsumexp(w, 0) / w.shape[0],
    ),
    Mistake(
        "the largest log-weight alone: log-sum-exp starts from the max, then adds log of the mean of exp(w - max)",
        lambda w: w.max(0).values,
    ),
    Mistake(
        "a reduction over the examples (dim=1) instead of the K draws (dim=0)",
        lambda w: torch.logsumexp(w, 1) - math.log(w.shape[1]),
    ),
    Mistake(
        "a reduction over the examples (dim=1) instead of the K draws (dim=0)",
        lambda w: torch.logsumexp(w, 1) - math.log(w.shape[0]),
    ),
    Mistake(
        "log(K) added instead of subtracted: log((1/K) sum exp(w)) = logsumexp(w) - log K",
        lambda w: torch.logsumexp(w, 0) + math.log(w.shape[0]),
    ),
]


def check_importance_weighted_bound(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check fn(log_weights) -> log (1/K) sum_k exp(w_k) per example, shapes (K, B) -> (B,),
    against vaecourse.iwae_bound, including K = 1 and log-weights of +-1000.
    Taught in notebook 06_full_vae."""
    name = "check_importance_weighted_bound"
    result = run_check(
        name,
        fn,
        _reference_bound,
        _bound_cases(),
        BOUND_MISTAKES,
        nonfinite=_OVERFLOW,
        rtol=1e-5,
        atol=1e-4,
        success="all 4 cases agree with log-sum-exp minus log K, log-weights of +-1000 included.",
    )
    return result
