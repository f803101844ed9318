"""Checks for the exercises of notebook 03_monte_carlo_reconstruction.

- ``check_bernoulli_log_likelihood(fn)``: fn(logits, x) -> log p(x|z) of Bernoulli pixels, from
  the logits; logits, x (B, D) -> (B,), x anywhere in [0, 1]; includes logits of +-50.
- ``check_gaussian_log_likelihood(fn)``: fn(mean, x, sigma) -> log N(x; mean, sigma^2 I) with
  its constant; mean, x (B, D), sigma a positive float -> (B,).
- ``check_reconstruction_estimate(fn)``: fn(log_likelihood, mu, logvar, eps) -> the L-sample
  estimate (1/L) sum_l log p(x|z_l) with z_l = mu + exp(logvar / 2) * eps[l]; mu, logvar (B, k),
  eps (L, B, k), log_likelihood maps z (L, B, k) to (L, B); returns (B,).

References are independent of the learner's code: torch.distributions for the likelihoods, and
a loop over the L draws, each scored by a tested model (``LinearGaussianModel``,
``TinyDecoder``), for the estimator.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal

from ..reconstruction import TinyDecoder
from ..toy import LinearGaussianModel
from ._core import Case, CheckResult, Mistake, run_check

__all__ = ["check_bernoulli_log_likelihood", "check_gaussian_log_likelihood", "check_reconstruction_estimate"]


# -- Bernoulli ------------------------------------------------------------------------------
def _reference_bernoulli(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return Bernoulli(logits=logits.double(), validate_args=False).log_prob(x.double()).sum(-1)


def _bernoulli_cases() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    logits = 2 * torch.randn(3, 5, generator=g)
    binary = torch.bernoulli(torch.full((3, 5), 0.5), generator=g)
    grey = torch.rand(3, 5, generator=g)
    return [
        Case((logits, binary), label="binary pixels, moderate logits"),
        Case((logits.flip(0), grey), label="grey-level targets in [0, 1], not only 0 or 1"),
        # logits of any size: saturated and moderate logits side by side in one example, some
        # confidently wrong, at sizes where sigmoid rounds to 0 or 1 and exp overflows
        Case(
            (
                torch.tensor([[1000.0, -1000.0, 800.0, -1.0], [-800.0, 1e300, -1e300, 1000.0]], dtype=torch.float64),
                torch.tensor([[0.0, 1.0, 0.5, 1.0], [0.5, 0.0, 0.75, 1.0]], dtype=torch.float64),
            ),
            label="float64 logits of +-800 to +-1e300, some confidently wrong, grey targets",
        ),
        Case(
            (
                torch.tensor(
                    [[50.0, -50.0, 50.0, -50.0, 0.3], [30.0, -30.0, 100.0, -100.0, 2.0], [1e4, -1e30, 1e30, -1e4, -3.0]]
                ),
                torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0], [0.25, 0.75, 1.0, 0.0, 0.5], [0.0, 0.5, 0.25, 1.0, 1.0]]),
            ),
            label="float32 logits of +-30 to +-1e30, some confidently wrong, grey targets",
        ),
    ]


def _log_sigmoid_terms(logits, x):
    return x * F.logsigmoid(logits), (1 - x) * F.logsigmoid(-logits)


BERNOULLI_MISTAKES = [
    Mistake(
        "a mean instead of a sum over pixels: log p(x|z) of independent pixels is the sum of theirs",
        lambda l, x: -F.binary_cross_entropy_with_logits(l, x, reduction="none").mean(-1),
    ),
    Mistake(
        "a flipped sign: that is the binary cross-entropy (a loss); the log-likelihood is minus it",
        lambda l, x: F.binary_cross_entropy_with_logits(l, x, reduction="none").sum(-1),
    ),
    Mistake(
        "the batch dimension summed away: return one log-likelihood per example, shape (B,)",
        lambda l, x: -F.binary_cross_entropy_with_logits(l, x, reduction="sum"),
    ),
    Mistake(
        "the batch dimension averaged away: return one log-likelihood per example, shape (B,)",
        lambda l, x: -F.binary_cross_entropy_with_logits(l, x, reduction="none").sum(-1).mean(),
    ),
    Mistake(
        "a sum over the batch dimension (dim=0) instead of the pixels (dim=-1)",
        lambda l, x: -F.binary_cross_entropy_with_logits(l, x, reduction="none").sum(0),
    ),
    Mistake(
        "the (1 - x) log(1 - sigmoid(l)) term is missing: pixels that are off count too",
        lambda l, x: _log_sigmoid_terms(l, x)[0].sum(-1),
    ),
    Mistake(
        "x and 1 - x swapped: x multiplies log sigmoid(l), (1 - x) multiplies log(1 - sigmoid(l))",
        lambda l, x: (x * F.logsigmoid(-l) + (1 - x) * F.logsigmoid(l)).sum(-1),
    ),
    Mistake(
        "softplus with the wrong sign: log p = x l - softplus(l), and log sigmoid(l) = -softplus(-l)",
        lambda l, x: (x * l - F.softplus(-l)).sum(-1),
    ),
    Mistake(
        "targets treated as exactly 0 or 1 (rounded): grey levels x in [0, 1] need "
        "x log s + (1 - x) log(1 - s) with x itself",
        lambda l, x: -F.binary_cross_entropy_with_logits(l, x.round(), reduction="none").sum(-1),
    ),
    Mistake(
        "targets treated as exactly 0 or 1 (x == 1 picks a branch): grey levels x in [0, 1] need "
        "x log s + (1 - x) log(1 - s) with x itself",
        lambda l, x: torch.where(x == 1, F.logsigmoid(l), F.logsigmoid(-l)).sum(-1),
    ),
]

_SIGMOID_THEN_LOG = (
    "sigmoid then log (or exp of a logit): at large logits sigmoid rounds to exactly 0 or 1, so a log "
    "gives -inf (NaN once multiplied by 0), and exp overflows to inf. Compute from the logits: "
    "log sigmoid(l) = -softplus(-l), log(1 - sigmoid(l)) = -softplus(l) "
    "(F.logsigmoid, or minus F.binary_cross_entropy_with_logits)"
)


def check_bernoulli_log_likelihood(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check fn(logits, x) -> sum over pixels of x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)),
    shapes (B, D) -> (B,), against torch.distributions.Bernoulli, on moderate logits, grey-level
    targets and saturated logits (+-30 to +-1e30 in float32, +-800 to +-1e300 in float64), values and
    gradients with respect to the logits. Taught in notebook 03_monte_carlo_reconstruction."""
    return run_check(
        "check_bernoulli_log_likelihood",
        fn,
        _reference_bernoulli,
        _bernoulli_cases(),
        BERNOULLI_MISTAKES,
        grad=(0,),
        nonfinite=_SIGMOID_THEN_LOG,
        success="all 4 cases agree with torch.distributions.Bernoulli, logits of +-50 included.",
    )


# -- Gaussian --------------------------------------------------------------------------------
def _reference_gaussian(mean: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    return Normal(mean.double(), float(sigma)).log_prob(x.double()).sum(-1)


def _gaussian_cases() -> list[Case]:
    g = torch.Generator().manual_seed(4)
    mean, x = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    return [
        Case((mean, x, 0.5), label="sigma = 0.5"),
        Case((mean[:2], x[:2] + 1.0, 2.0), label="sigma = 2"),
        Case((mean.double().T, x.double().T, 1.0), label="4 examples of 3 pixels, sigma = 1, float64"),
        Case((mean[:1], mean[:1].clone(), 0.1), label="x equal to the mean, sigma = 0.1"),
    ]


def _sq(mean, x):
    return (x - mean).pow(2).sum(-1)


def _const(x, sigma, per_pixel=True):
    return (x.shape[-1] if per_pixel else 1) * 0.5 * math.log(2 * math.pi * sigma**2)


GAUSSIAN_MISTAKES = [
    Mistake(
        "the constant -D/2 log(2 pi sigma^2) is missing: it does not change the gradient for the "
        "decoder's mean, but without it the value is not a log-density (and sigma cannot be learned)",
        lambda m, x, s: -_sq(m, x) / (2 * s**2),
    ),
    Mistake(
        "part of the constant is missing: it is -D/2 log(2 pi sigma^2), with sigma^2 inside the log",
        lambda m, x, s: -_sq(m, x) / (2 * s**2) - x.shape[-1] * 0.5 * math.log(2 * math.pi),
    ),
    Mistake(
        "the constant added once per example, not once per pixel: it is -D/2 log(2 pi sigma^2)",
        lambda m, x, s: -_sq(m, x) / (2 * s**2) - _const(x, s, per_pixel=False),
    ),
    Mistake(
        "a mean instead of a sum over pixels: log p(x|z) of independent pixels is the sum of theirs",
        lambda m, x, s: (-(x - m).pow(2) / (2 * s**2)).mean(-1) - _const(x, s, per_pixel=False),
    ),
    Mistake(
        "sigma used where sigma^2 belongs in the squared-error term: -||x - mean||^2 / (2 sigma^2)",
        lambda m, x, s: -_sq(m, x) / (2 * s) - _const(x, s),
    ),
    Mistake(
        "log(2 pi sigma) where log(2 pi sigma^2) belongs in the constant",
        lambda m, x, s: -_sq(m, x) / (2 * s**2) - x.shape[-1] * 0.5 * math.log(2 * math.pi * s),
    ),
    Mistake(
        "the 2 in 2 sigma^2 is missing: -||x - mean||^2 / (2 sigma^2)", lambda m, x, s: -_sq(m, x) / s**2 - _const(x, s)
    ),
    Mistake(
        "a flipped sign: that is the negative log-likelihood (a loss)",
        lambda m, x, s: _sq(m, x) / (2 * s**2) + _const(x, s),
    ),
    Mistake(
        "the batch dimension summed away: return one log-likelihood per example, shape (B,)",
        lambda m, x, s: (-_sq(m, x) / (2 * s**2) - _const(x, s)).sum(),
    ),
    Mistake(
        "a sum over the batch dimension (dim=0) instead of the pixels (dim=-1)",
        lambda m, x, s: (-(x - m).pow(2) / (2 * s**2) - 0.5 * math.log(2 * math.pi * s**2)).sum(0),
    ),
]


def check_gaussian_log_likelihood(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Check fn(mean, x, sigma) -> log N(x; mean, sigma^2 I) = -||x - mean||^2 / (2 sigma^2)
    - D/2 log(2 pi sigma^2), shapes (B, D) -> (B,), against torch.distributions.Normal.
    Taught in notebook 03_monte_carlo_reconstruction."""
    return run_check(
        "check_gaussian_log_likelihood",
        fn,
        _reference_gaussian,
        _gaussian_cases(),
        GAUSSIAN_MISTAKES,
        grad=(0,),
        success="all 4 cases agree with torch.distributions.Normal, constant included.",
    )


# -- the L-sample estimator --------------------------------------------------------------------
def _reference_estimate(log_likelihood, mu, logvar, eps):
    # one draw at a time: z_l = mu + sigma * eps_l, scored on its own, then the average
    std = torch.exp(0.5 * logvar)
    draws = [log_likelihood((mu + std * eps[l]).unsqueeze(0))[0] for l in range(eps.shape[0])]
    return torch.stack(draws).mean(0)


def _estimator_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    toy = LinearGaussianModel.random(data_dim=3, latent_dim=2, noise_std=0.7, generator=g)
    x_toy, _ = toy.sample(3, generator=g)
    decoder = TinyDecoder(latent_dim=2, hidden_dim=8, data_dim=6, generator=g)
    x_dec, _ = decoder.sample(2, generator=g)

    def toy_log_likelihood(z):
        return toy.log_likelihood(x_toy, z)

    def decoder_log_likelihood(z):
        return decoder.log_likelihood(x_dec, z)

    mu, logvar = (
        torch.randn(3, 2, generator=g, dtype=torch.float64),
        torch.randn(3, 2, generator=g, dtype=torch.float64),
    )
    eps = torch.randn(4, 3, 2, generator=g, dtype=torch.float64)
    return [
        Case((toy_log_likelihood, mu, logvar, eps), label="linear-Gaussian decoder, L = 4 draws, batch of 3"),
        Case(
            (decoder_log_likelihood, mu[:2], logvar[:2] - 1, torch.randn(5, 2, 2, generator=g, dtype=torch.float64)),
            label="small neural Bernoulli decoder, L = 5, batch of 2",
        ),
        Case((toy_log_likelihood, mu, logvar, eps[:1]), label="L = 1"),
    ]


def _z(mu, logvar, eps, std=None):
    return mu + (torch.exp(0.5 * logvar) if std is None else std) * eps


ESTIMATOR_MISTAKES = [
    Mistake(
        "sigma^2 used where sigma belongs: z = mu + exp(logvar / 2) * eps, since exp(logvar) is the variance",
        lambda f, mu, lv, eps: f(_z(mu, lv, eps, torch.exp(lv))).mean(0),
    ),
    Mistake(
        "logvar used as the standard deviation: sigma = exp(logvar / 2)",
        lambda f, mu, lv, eps: f(_z(mu, lv, eps, lv)).mean(0),
    ),
    Mistake(
        "a sum over the L draws instead of their mean: the estimate of an expectation is an average",
        lambda f, mu, lv, eps: f(_z(mu, lv, eps)).sum(0),
    ),
    Mistake(
        "the batch dimension averaged away: return one estimate per example, shape (B,), a mean over dim 0",
        lambda f, mu, lv, eps: f(_z(mu, lv, eps)).mean(),
    ),
    Mistake(
        "a mean over the batch (dim=1) instead of over the L draws (dim=0)",
        lambda f, mu, lv, eps: f(_z(mu, lv, eps)).mean(1),
    ),
    Mistake(
        "only the first draw used: average log p(x|z_l) over all L rows of eps",
        lambda f, mu, lv, eps: f(_z(mu, lv, eps[:1])).mean(0),
    ),
    Mistake(
        "no noise: log p(x|mu) is not E_q[log p(x|z)]; draw z = mu + sigma * eps",
        lambda f, mu, lv, eps: f(mu.unsqueeze(0))[0],
    ),
    Mistake(
        "the draws averaged before the log-likelihood, log p(x | mean of z_l): average the "
        "log-likelihoods of the draws instead",
        lambda f, mu, lv, eps: f(_z(mu, lv, eps).mean(0, keepdim=True))[0],
    ),
    Mistake(
        "a flipped sign: that is the reconstruction loss; the estimate is of E_q[log p(x|z)]",
        lambda f, mu, lv, eps: -f(_z(mu, lv, eps)).mean(0),
    ),
]


def check_reconstruction_estimate(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check fn(log_likelihood, mu, logvar, eps) -> (1/L) sum_l log p(x|z_l), z_l = mu +
    exp(logvar / 2) * eps[l], shapes mu, logvar (B, k), eps (L, B, k) -> (B,), against a loop
    over the draws on a linear-Gaussian and a small neural decoder.
    Taught in notebook 03_monte_carlo_reconstruction."""
    return run_check(
        "check_reconstruction_estimate",
        fn,
        _reference_estimate,
        _estimator_cases(),
        ESTIMATOR_MISTAKES,
        grad=(1, 2),
        success="all 3 cases agree with a draw-by-draw reference (linear-Gaussian and neural decoders).",
    )
