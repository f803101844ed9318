"""Checks for the exercises of notebook 05_reparameterization.

- ``check_reparameterize(fn)``: fn(mu, logvar, eps) -> z = mu + exp(logvar / 2) * eps, any
  shapes that broadcast (eps may carry extra leading sample dimensions); z must carry gradients
  to mu and logvar and must use the given eps.
- ``check_reparameterization_gradient(fn)``: fn(f, mu, logvar, eps) -> (grad_mu, grad_logvar), the
  average over the S rows of eps of the gradient of f(mu + exp(logvar / 2) * eps_s);
  mu, logvar (d,), eps (S, d), f maps (S, d) -> (S,).
- ``check_inverse_cdf_sampler(fn)``: fn(rate, u) -> z = F^-1(u), the inverse CDF of the
  exponential distribution with that rate, z = -log(1 - u) / rate, differentiable in rate.

The references are torch.distributions' own inverse CDFs (``Normal.icdf`` of the standard
normal CDF of eps, ``Exponential.icdf``), differentiated by autograd for the gradient: another
route to the same numbers, never the learner's function.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Exponential, Normal

from ._core import FAILED, Case, CheckResult, Mistake, copies, run_check

__all__ = ["check_reparameterize", "check_reparameterization_gradient", "check_inverse_cdf_sampler"]

_STANDARD = Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))


def _by_icdf(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The Gaussian sample with quantile Phi(eps): Normal(mu, sigma).icdf(Phi(eps))."""
    return Normal(mu.double(), torch.exp(0.5 * logvar.double())).icdf(_STANDARD.cdf(eps.double()))


def _own_noise(name: str, fn: Callable, args: tuple) -> CheckResult | None:
    """Two calls with the same inputs must agree (the noise is an argument). None when they do,
    or when the function is unfinished or fails (run_check reports those)."""
    try:
        first, second = fn(*copies(args)), fn(*copies(args))
    except Exception:
        return None
    if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) and not torch.equal(first, second):
        mistake = "your function draws its own noise: use the eps (or u) argument, so that the same input gives the same sample"
        return CheckResult(name, FAILED, f"looks like {mistake}.", mistake)
    return None


# -- reparameterize ------------------------------------------------------------------------
def _reparameterize_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    mu, logvar = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    return [
        Case((mu, logvar, torch.randn(3, 4, generator=g)), label="a batch of 3 examples, 4 latent dimensions"),
        Case((torch.tensor([1.0]), torch.tensor([-1.0]), torch.tensor([0.5])), label="mu = 1, logvar = -1, eps = 0.5"),
        Case(
            (mu[0].double(), 2 * logvar[0].double(), torch.randn(5, 4, generator=g, dtype=torch.float64)),
            label="5 samples of one q (eps of shape (5, 4), float64)",
        ),
        Case((torch.zeros(2), torch.tensor([2.0, -3.0]), torch.tensor([1.5, -2.0])), label="mu = 0, logvar = (2, -3)"),
    ]


REPARAMETERIZE_MISTAKES = [
    Mistake(
        "exp(logvar) was used as the standard deviation: that is the variance; sigma = exp(logvar / 2)",
        lambda mu, lv, eps: mu + torch.exp(lv) * eps,
    ),
    Mistake(
        "0.5 * exp(logvar) is not exp(0.5 * logvar): the standard deviation is exp(logvar / 2)",
        lambda mu, lv, eps: mu + 0.5 * torch.exp(lv) * eps,
    ),
    Mistake("logvar was used as the standard deviation: sigma = exp(logvar / 2)", lambda mu, lv, eps: mu + lv * eps),
    Mistake(
        "1 / sigma was used: exp(-logvar / 2) is the inverse standard deviation; sigma = exp(logvar / 2)",
        lambda mu, lv, eps: mu + torch.exp(-0.5 * lv) * eps,
    ),
    Mistake("mu is missing: z = mu + sigma * eps", lambda mu, lv, eps: torch.exp(0.5 * lv) * eps),
    Mistake(
        "the noise was added, not scaled: z = mu + sigma * eps, not mu + sigma + eps",
        lambda mu, lv, eps: mu + torch.exp(0.5 * lv) + eps,
    ),
    Mistake(
        "mu - sigma * eps has the same distribution, but the convention (and the check) is z = mu + sigma * eps",
        lambda mu, lv, eps: mu - torch.exp(0.5 * lv) * eps,
    ),
    Mistake("eps was returned unchanged: z = mu + sigma * eps", lambda mu, lv, eps: eps + 0 * mu),
]


def check_reparameterize(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check fn(mu, logvar, eps) -> z = mu + exp(logvar / 2) * eps (shapes broadcast) against
    torch.distributions.Normal(mu, sigma).icdf(Phi(eps)), and that z carries gradients to mu
    and logvar and uses the given eps. Taught in notebook 05_reparameterization."""
    name = "check_reparameterize"
    probe = _own_noise(name, fn, _reparameterize_cases()[0].args)
    if probe is not None:
        return probe
    return run_check(
        name,
        fn,
        _by_icdf,
        _reparameterize_cases(),
        REPARAMETERIZE_MISTAKES,
        grad=(0, 1),
        success="your z equals torch.distributions' Normal quantile of the same noise in all 4 cases, "
        "and gradients reach mu and logvar.",
    )


# -- the reparameterization gradient -------------------------------------------------------------------
def _reference_reparameterization(f, mu, logvar, eps):
    mu = mu.detach().double().requires_grad_(True)
    logvar = logvar.detach().double().requires_grad_(True)
    with torch.enable_grad():
        return torch.autograd.grad(f(_by_icdf(mu, logvar, eps)).mean(), (mu, logvar))


def _reparameterization_cases() -> list[Case]:
    g = torch.Generator().manual_seed(6)
    return [
        Case(
            (
                lambda z: z.pow(2).sum(-1),
                torch.tensor([1.0], dtype=torch.float64),
                torch.tensor([-0.5], dtype=torch.float64),
                torch.randn(6, 1, generator=g, dtype=torch.float64),
            ),
            label="f(z) = z^2, mu = 1, logvar = -0.5, S = 6",
        ),
        Case(
            (
                lambda z: torch.cos(3 * z).sum(-1),
                torch.tensor([0.5, -1.0], dtype=torch.float64),
                torch.tensor([-0.4, 0.6], dtype=torch.float64),
                torch.randn(4, 2, generator=g, dtype=torch.float64),
            ),
            label="f(z) = sum_j cos(3 z_j), d = 2, S = 4",
        ),
        Case(
            (
                lambda z: z[:, 0] * z[:, 1] + torch.exp(-(z[:, 2] ** 2)),
                torch.tensor([0.3, 0.8, -0.2], dtype=torch.float64),
                torch.tensor([0.2, -1.0, 0.5], dtype=torch.float64),
                torch.randn(5, 3, generator=g, dtype=torch.float64),
            ),
            label="f(z) = z_1 z_2 + exp(-z_3^2), d = 3, S = 5",
        ),
        Case(
            (
                lambda z: (z - 3).pow(2).sum(-1),
                torch.tensor([1.0, 0.0]),
                torch.tensor([0.5, -0.5]),
                torch.randn(3, 2, generator=g),
            ),
            label="float32 inputs, f(z) = sum_j (z_j - 3)^2",
        ),
    ]


def _slopes(f, mu, logvar, eps, *, std=lambda lv: torch.exp(0.5 * lv)):
    """Per-sample f'(z) (S, d) and the pieces of dz/dtheta, at z = mu + std(logvar) * eps."""
    mu, logvar, eps = mu.double(), logvar.double(), eps.double()
    sd = std(logvar)
    z = (mu + sd * eps).detach().requires_grad_(True)
    with torch.enable_grad():
        (slope,) = torch.autograd.grad(f(z).sum(), z)
    return slope, sd, eps


def _chain(d_logvar, *, std=lambda lv: torch.exp(0.5 * lv)):
    """A reparameterization estimate whose d/dlogvar factor is d_logvar(sd, eps) instead of sd * eps / 2."""

    def estimate(f, mu, logvar, eps):
        slope, sd, e = _slopes(f, mu, logvar, eps, std=std)
        return slope.mean(0), (slope * d_logvar(sd, e)).mean(0)

    return estimate


def _at_the_mean(f, mu, logvar, eps):
    slope, _, _ = _slopes(f, mu, logvar, torch.zeros_like(eps))
    return slope.mean(0), torch.zeros_like(slope).mean(0)


def _score_function(f, mu, logvar, eps):
    mu, logvar, eps = mu.double(), logvar.double(), eps.double()
    sd = torch.exp(0.5 * logvar)
    with torch.no_grad():
        values = f(mu + sd * eps).unsqueeze(-1)
    return (values * eps / sd).mean(0), (values * 0.5 * (eps.pow(2) - 1)).mean(0)


def _summed(f, mu, logvar, eps):
    return tuple(g * eps.shape[0] for g in _reference_reparameterization(f, mu, logvar, eps))


PATHWISE_MISTAKES = [
    Mistake("a sum over the S samples instead of their mean (the estimate is S times too large)", _summed),
    Mistake(
        "exp(logvar) was used as the standard deviation: sigma = exp(logvar / 2), so dz/dlogvar = sigma * eps / 2",
        _chain(lambda sd, e: sd * e, std=torch.exp),
    ),
    Mistake(
        "the gradient is with respect to sigma, not logvar: dz/dsigma = eps, but dz/dlogvar = sigma * eps / 2",
        _chain(lambda sd, e: e),
    ),
    Mistake(
        "the gradient is with respect to log sigma, not logvar = log sigma^2: the factor 1/2 in "
        "dz/dlogvar = sigma * eps / 2 is missing",
        _chain(lambda sd, e: sd * e),
    ),
    Mistake(
        "f was differentiated at z = mu: the noise must stay in, z = mu + sigma * eps, and the "
        "gradient is the average of f'(z) over the samples",
        _at_the_mean,
    ),
    Mistake(
        "this is the score-function estimate of notebook 04 (right on average, different numbers): "
        "differentiate f(mu + sigma * eps) by autograd instead",
        _score_function,
    ),
]


def check_reparameterization_gradient(fn: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> CheckResult:
    """Check fn(f, mu, logvar, eps) -> (grad_mu, grad_logvar), the reparameterization estimate
    mean_s grad f(mu + exp(logvar / 2) * eps_s); mu, logvar (d,), eps (S, d), f: (S, d) -> (S,),
    outputs (d,) each. The reference differentiates f at torch.distributions' Normal quantile of
    the same noise. Taught in notebook 05_reparameterization."""
    return run_check(
        "check_reparameterization_gradient",
        fn,
        _reference_reparameterization,
        _reparameterization_cases(),
        PATHWISE_MISTAKES,
        success="your reparameterization gradient agrees with autograd through torch.distributions on all 4 cases.",
    )


# -- the inverse-CDF sampler -------------------------------------------------------------------
def _reference_exponential(rate: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return Exponential(rate.double()).icdf(u.double())


def _exponential_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    return [
        Case(
            (torch.tensor([0.5, 1.0, 4.0], dtype=torch.float64), torch.rand(5, 3, generator=g, dtype=torch.float64)),
            label="rates (0.5, 1, 4), 5 draws each",
        ),
        Case(
            (torch.tensor(2.0, dtype=torch.float64), torch.tensor([0.001, 0.5, 0.999], dtype=torch.float64)),
            label="rate 2, u near 0, at 1/2 and near 1",
        ),
        Case((torch.tensor([3.0]), torch.tensor([0.25])), label="float32, rate 3, u = 0.25"),
    ]


EXPONENTIAL_MISTAKES = [
    Mistake(
        "u was used where 1 - u belongs: -log(u) / rate has the same distribution (u and 1 - u are both "
        "uniform), but it is not the inverse CDF, which grows with u: F^-1(u) = -log(1 - u) / rate",
        lambda rate, u: -torch.log(u) / rate,
    ),
    Mistake(
        "the rate multiplies instead of divides: the mean of Exponential(rate) is 1 / rate, so "
        "F^-1(u) = -log(1 - u) / rate",
        lambda rate, u: -torch.log1p(-u) * rate,
    ),
    Mistake(
        "a missing minus sign: log(1 - u) < 0, so the samples came out negative; F^-1(u) = -log(1 - u) / rate",
        lambda rate, u: torch.log1p(-u) / rate,
    ),
    Mistake(
        "that is the CDF F(u) = 1 - exp(-rate * u), not its inverse: solve u = F(z) for z",
        lambda rate, u: 1 - torch.exp(-rate * u),
    ),
    Mistake(
        "the rate is missing: -log(1 - u) is the sample for rate 1; divide by the rate",
        lambda rate, u: -torch.log1p(-u) + 0 * rate,
    ),
]


def check_inverse_cdf_sampler(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check fn(rate, u) -> z = F^-1(u) = -log(1 - u) / rate, the exponential distribution's
    inverse CDF (rate and u broadcast), against torch.distributions.Exponential(rate).icdf(u),
    and that z carries a gradient to the rate. Taught in notebook 05_reparameterization."""
    name = "check_inverse_cdf_sampler"
    probe = _own_noise(name, fn, _exponential_cases()[0].args)
    if probe is not None:
        return probe
    return run_check(
        name,
        fn,
        _reference_exponential,
        _exponential_cases(),
        EXPONENTIAL_MISTAKES,
        grad=(0,),
        success="your sampler equals torch.distributions.Exponential(rate).icdf(u) in all 3 cases, "
        "and gradients reach the rate.",
    )
