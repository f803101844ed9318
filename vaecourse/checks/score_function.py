"""Checks for the exercises of notebook 04_score_function.

- ``check_score_function_estimator(fn)``: fn(f, mu, logvar, eps) -> (grad_mu, grad_logvar),
  the average over the S rows of eps of f(z) * d log q(z) / d(mu, logvar) with
  z = mu + exp(logvar / 2) * eps; mu, logvar (d,), eps (S, d), f maps (S, d) -> (S,).
- ``check_baseline(fn)``: the same estimate with a leave-one-out mean baseline, each sample's
  f(z_s) minus the mean of f over the other S - 1 samples.

The reference differentiates torch.distributions.Normal.log_prob by autograd at the sampled z
(held fixed), never the learner's function. The noise eps is an argument, so every case is
deterministic. The wrong answers beside each check are the ones the notebook warns about: a
gradient that also flows through f, log q missing its log-variance term or differentiated
with respect to sigma, and a baseline that depends on the sample it multiplies.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Normal

from ._core import Case, CheckResult, Mistake, run_check

__all__ = ["check_score_function_estimator", "check_baseline"]

Estimator = Callable[..., tuple[torch.Tensor, torch.Tensor]]


# -- the reference: autograd through torch.distributions' log-density ----------------------
def _score(mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample d log q(z) / d(mu, logvar) at fixed z, shapes (S, d), by autograd."""
    # one copy of (mu, logvar) per sample: entry [s, j] of log q depends on copy s, entry j only,
    # so the gradient of the sum holds every per-sample score
    mu = mu.detach().double().expand(z.shape).clone().requires_grad_(True)
    logvar = logvar.detach().double().expand(z.shape).clone().requires_grad_(True)
    with torch.enable_grad():
        log_q = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z.detach().double())
        return torch.autograd.grad(log_q.sum(), (mu, logvar))


def _sample(mu, logvar, eps):
    mu, logvar, eps = mu.double(), logvar.double(), eps.double()
    return mu + torch.exp(0.5 * logvar) * eps


def _weights(f, z):
    with torch.no_grad():
        return f(z).double().unsqueeze(-1)


def _reference(f, mu, logvar, eps):
    z = _sample(mu, logvar, eps)
    s_mu, s_logvar = _score(mu, logvar, z)
    values = _weights(f, z)
    return (values * s_mu).mean(0), (values * s_logvar).mean(0)


def _leave_one_out(values: torch.Tensor) -> torch.Tensor:
    return (values.sum(0, keepdim=True) - values) / (values.shape[0] - 1)


def _reference_with_baseline(f, mu, logvar, eps):
    z = _sample(mu, logvar, eps)
    s_mu, s_logvar = _score(mu, logvar, z)
    values = _weights(f, z)
    centred = values - _leave_one_out(values)
    return (centred * s_mu).mean(0), (centred * s_logvar).mean(0)


# -- the cases ---------------------------------------------------------------------------
def _cases(offset: float = 0.0) -> list[Case]:
    g = torch.Generator().manual_seed(4)
    eps3 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    return [
        Case(
            (
                lambda z: z.pow(2).sum(-1) + offset,
                torch.tensor([1.0], dtype=torch.float64),
                torch.tensor([-0.5], dtype=torch.float64),
                torch.randn(6, 1, generator=g, dtype=torch.float64),
            ),
            label="f(z) = z^2, mu = 1, logvar = -0.5, S = 6",
        ),
        Case(
            (
                lambda z: torch.cos(3 * z).sum(-1) + offset,
                torch.tensor([0.5, -1.0], dtype=torch.float64),
                torch.tensor([-0.4, 0.6], dtype=torch.float64),
                torch.randn(4, 2, generator=g, dtype=torch.float64),
            ),
            label="f(z) = sum_j cos(3 z_j), d = 2, S = 4",
        ),
        Case(
            (
                lambda z: z[:, 0] * z[:, 1] + torch.exp(-(z[:, 2] ** 2)) + 2.0 + offset,
                torch.tensor([0.3, 0.8, -0.2], dtype=torch.float64),
                torch.tensor([0.2, -1.0, 0.5], dtype=torch.float64),
                eps3,
            ),
            label="f(z) = z_1 z_2 + exp(-z_3^2) + 2, d = 3, S = 5",
        ),
        Case(
            (
                lambda z: (z - 3).pow(2).sum(-1) + offset,
                torch.tensor([1.0, 0.0]),
                torch.tensor([0.5, -0.5]),
                torch.randn(3, 2, generator=g),
            ),
            label="float32 inputs, f(z) = sum_j (z_j - 3)^2",
        ),
    ]


# -- wrong answers worth naming ------------------------------------------------------------
def _with_scores(score_mu, score_logvar, *, std=lambda lv: torch.exp(0.5 * lv), centre=lambda v: v):
    """An estimator built from given scores (as functions of eps, std, logvar) and baseline."""

    def estimate(f, mu, logvar, eps):
        mu, logvar, eps = mu.double(), logvar.double(), eps.double()
        sd = std(logvar)
        values = centre(_weights(f, mu + sd * eps))
        return (values * score_mu(eps, sd)).mean(0), (values * score_logvar(eps, sd)).mean(0)

    return estimate


def _right_mu(eps, sd):
    return eps / sd


def _right_logvar(eps, sd):
    return 0.5 * (eps.pow(2) - 1)


def _surrogate(f, mu, logvar, eps, *, stop_f: bool, stop_z: bool):
    """The surrogate-loss route, mean(f(z) * log q(z)) differentiated by autograd, with the
    sample z = mu + sigma * eps detached or not where f and log q see it."""
    mu = mu.detach().double().requires_grad_(True)
    logvar = logvar.detach().double().requires_grad_(True)
    with torch.enable_grad():
        std = torch.exp(0.5 * logvar)
        z = mu + std * eps.double()
        values = f(z.detach() if stop_f else z)
        log_q = Normal(mu, std).log_prob(z.detach() if stop_z else z).sum(-1)
        return torch.autograd.grad((values * log_q).mean(), (mu, logvar), allow_unused=True)


ESTIMATOR_MISTAKES = [
    Mistake(
        "the gradient also flows through f(z): in the surrogate mean(f(z) * log q(z)) use f(z).detach() "
        "(f is a black box to the score-function estimator; only log q is differentiated)",
        lambda f, mu, lv, eps: _surrogate(f, mu, lv, eps, stop_f=False, stop_z=True),
    ),
    Mistake(
        "log q(z) was evaluated at z = mu + sigma * eps without detaching z, so mu cancels inside it "
        "and d log q / d mu comes out 0: use log q(z.detach())",
        lambda f, mu, lv, eps: _surrogate(f, mu, lv, eps, stop_f=True, stop_z=False),
    ),
    Mistake(
        "nothing was detached: in mean(f(z) * log q(z)) both f(z) and the z inside log q must be constants",
        lambda f, mu, lv, eps: _surrogate(f, mu, lv, eps, stop_f=False, stop_z=False),
    ),
    Mistake(
        "log q is missing its log-variance term -logvar / 2, so d log q / d logvar lost its -1/2: "
        "it is ((z - mu)^2 / sigma^2 - 1) / 2",
        _with_scores(_right_mu, lambda eps, sd: 0.5 * eps.pow(2)),
    ),
    Mistake(
        "the score for logvar is d log q / d sigma = ((z - mu)^2 / sigma^2 - 1) / sigma; with respect to "
        "logvar it is ((z - mu)^2 / sigma^2 - 1) / 2",
        _with_scores(_right_mu, lambda eps, sd: (eps.pow(2) - 1) / sd),
    ),
    Mistake(
        "the score for logvar is missing its factor 1/2: d log q / d logvar = ((z - mu)^2 / sigma^2 - 1) / 2",
        _with_scores(_right_mu, lambda eps, sd: eps.pow(2) - 1),
    ),
    Mistake(
        "the score for mu divides by sigma, not sigma^2: d log q / d mu = (z - mu) / sigma^2 = eps / sigma",
        _with_scores(lambda eps, sd: eps, _right_logvar),
    ),
    Mistake(
        "a flipped sign in the score for mu: d log q / d mu = (z - mu) / sigma^2, not (mu - z) / sigma^2",
        _with_scores(lambda eps, sd: -eps / sd, _right_logvar),
    ),
    Mistake(
        "exp(logvar) was used as the standard deviation: sigma = exp(logvar / 2)",
        _with_scores(_right_mu, _right_logvar, std=torch.exp),
    ),
    Mistake(
        "f(z) is missing: the estimate is the average of f(z) * score, not of the score alone",
        _with_scores(_right_mu, _right_logvar, centre=lambda v: torch.ones_like(v)),
    ),
]


def _summed(estimate):
    def wrong(f, mu, logvar, eps):
        return tuple(g * eps.shape[0] for g in estimate(f, mu, logvar, eps))

    return wrong


ESTIMATOR_MISTAKES.append(
    Mistake("a sum over the S samples instead of their mean (the estimate is S times too large)", _summed(_reference))
)


def check_score_function_estimator(fn: Estimator) -> CheckResult:
    """Check fn(f, mu, logvar, eps) -> (grad_mu, grad_logvar), the score-function estimate
    mean_s f(z_s) * d log q(z_s) / d(mu, logvar) with z_s = mu + exp(logvar / 2) * eps_s;
    mu, logvar (d,), eps (S, d), f: (S, d) -> (S,), outputs (d,) each. The reference is
    autograd through torch.distributions.Normal.log_prob. Taught in notebook 04_score_function.
    """
    return run_check(
        "check_score_function_estimator",
        fn,
        _reference,
        _cases(),
        ESTIMATOR_MISTAKES,
        success="your estimate agrees with autograd through torch.distributions' log q on all 4 cases.",
    )


def _centre_with(baseline):
    return _with_scores(_right_mu, _right_logvar, centre=baseline)


BASELINE_MISTAKES = [
    Mistake(
        "the baseline is the mean over all S samples, including f(z_s) itself: it depends on the sample it "
        "multiplies, so the estimate is biased (shrunk by (S - 1) / S); leave sample s out of its baseline",
        _centre_with(lambda v: v - v.mean(0, keepdim=True)),
    ),
    Mistake(
        "the baseline is the sample's own f(z_s), which depends on the sample (and cancels f completely)",
        _centre_with(lambda v: v - v),
    ),
    Mistake(
        "the baseline was added instead of subtracted: use f(z_s) - b_s",
        _centre_with(lambda v: v + _leave_one_out(v)),
    ),
    Mistake(
        "the leave-one-out mean divides by S instead of S - 1 (there are S - 1 other samples)",
        _centre_with(lambda v: v - (v.sum(0, keepdim=True) - v) / v.shape[0]),
    ),
    Mistake(
        "no baseline was subtracted: this is the plain score-function estimate",
        _reference,
    ),
]


def _after_product(f, mu, logvar, eps):
    """The baseline subtracted from f(z) * score instead of from f(z)."""
    mu, logvar, eps = mu.double(), logvar.double(), eps.double()
    sd = torch.exp(0.5 * logvar)
    values = _weights(f, mu + sd * eps)
    b = _leave_one_out(values)
    return (values * _right_mu(eps, sd) - b).mean(0), (values * _right_logvar(eps, sd) - b).mean(0)


BASELINE_MISTAKES.append(
    Mistake(
        "the baseline was subtracted from f(z) * score rather than from f(z): use (f(z_s) - b_s) * score",
        _after_product,
    )
)


def check_baseline(fn: Estimator) -> CheckResult:
    """Check fn(f, mu, logvar, eps) -> (grad_mu, grad_logvar), the score-function estimate with a
    leave-one-out mean baseline: mean_s (f(z_s) - b_s) * d log q(z_s) / d(mu, logvar), where b_s
    is the mean of f over the other S - 1 samples. Shapes as in
    :func:`check_score_function_estimator`. Taught in notebook 04_score_function.
    """
    return run_check(
        "check_baseline",
        fn,
        _reference_with_baseline,
        _cases(offset=10.0),
        BASELINE_MISTAKES,
        success="your baseline keeps the estimate unbiased and agrees with the reference on all 4 cases.",
    )
