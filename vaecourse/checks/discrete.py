"""Checks for the exercises of notebook 09_discrete_latents.

- ``check_exact_gradient(fn)``: fn(f, logits) -> grad, the exact gradient of
  E_{z ~ q}[f(z)] with respect to logits (K,), by enumerating all 2^K states z of
  q(z) = prod_k Bernoulli(z_k; sigmoid(logits_k)); f maps states (N, K) -> (N,).
- ``check_leave_one_out(fn)``: fn(f, logits, z) -> grad, the score-function estimate from the
  S given samples z (S, K) with a leave-one-out baseline: the mean over s of
  (f(z_s) - b_s) * d log q(z_s) / d logits, b_s the mean of f over the other S - 1 samples.

The reference differentiates torch.distributions.Bernoulli.log_prob by autograd (and, for the
exact gradient, sums q(z) f(z) over states built with itertools), never the learner's function.
The samples are an argument, so every case is deterministic. The wrong answers beside each
check are the ones the notebook warns about: the score taken with respect to the probabilities,
a flipped sign, the states weighted equally instead of by q(z), and a baseline that includes the
sample it multiplies.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch.distributions import Bernoulli

from ._core import Case, CheckResult, Mistake, run_check

__all__ = ["check_exact_gradient", "check_leave_one_out"]


# -- the references: autograd through torch.distributions ---------------------------------
def _states(k: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=k)), dtype=torch.float64)


def _scores(logits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """d log q(z_s) / d logits for each row of z, (S, K), by autograd at fixed z."""
    leaf = logits.detach().double().expand(z.shape).clone().requires_grad_(True)
    with torch.enable_grad():
        log_q = Bernoulli(logits=leaf).log_prob(z.double())
        return torch.autograd.grad(log_q.sum(), leaf)[0]


def _values(f, z):
    with torch.no_grad():
        return f(z).double()


def _reference_exact(f, logits):
    states = _states(len(logits))
    leaf = logits.detach().double().requires_grad_(True)
    with torch.enable_grad():
        q = Bernoulli(logits=leaf).log_prob(states).sum(-1).exp()
        return torch.autograd.grad((q * _values(f, states.to(logits.dtype))).sum(), leaf)[0]


def _leave_one_out(values):
    return (values.sum(0, keepdim=True) - values) / (len(values) - 1)


def _reference_loo(f, logits, z):
    values = _values(f, z)
    return ((values - _leave_one_out(values)).unsqueeze(-1) * _scores(logits, z)).mean(0)


# -- the cases -----------------------------------------------------------------------------
def _functions():
    return [
        (lambda z: 3 * z[:, 0] * z[:, 1] - 2 * z[:, 1] + 1.5, "f = 3 z_1 z_2 - 2 z_2 + 1.5, K = 2"),
        (
            lambda z: (z * torch.tensor([1.0, -2.0, 0.5], dtype=z.dtype)).sum(-1).pow(2) + 10,
            "f = (z . w)^2 + 10, K = 3",
        ),
        (lambda z: torch.cos(2 * z.sum(-1)) + z[:, 3] * z[:, 0] - 4, "f = cos(2 sum z) + z_4 z_1 - 4, K = 4"),
    ]


def _exact_cases() -> list[Case]:
    logits = [
        torch.tensor([0.7, -1.3], dtype=torch.float64),
        torch.tensor([0.0, 2.0, -0.5], dtype=torch.float64),
        torch.tensor([1.5, -0.2, 0.4, -2.5]),  # float32
    ]
    return [Case((f, l), label=label) for (f, label), l in zip(_functions(), logits)]


def _loo_cases() -> list[Case]:
    g = torch.Generator().manual_seed(9)
    cases = []
    for (f, label), l, s in zip(_functions(), [[0.7, -1.3], [0.0, 2.0, -0.5], [1.5, -0.2, 0.4, -2.5]], [5, 4, 6]):
        logits = torch.tensor(l, dtype=torch.float64)
        z = (torch.rand(s, len(l), generator=g, dtype=torch.float64) < torch.sigmoid(logits)).double()
        cases.append(Case((f, logits, z), label=f"{label}, S = {s}"))
    return cases


# -- wrong answers worth naming ------------------------------------------------------------
def _by_enumeration(weight, score):
    """sum over states of weight(q, states) * f(z) * score(z, p)."""

    def estimate(f, logits):
        states = _states(len(logits))
        p = torch.sigmoid(logits.double())
        q = Bernoulli(probs=p).log_prob(states).sum(-1).exp()
        return (weight(q, states) * _values(f, states.to(logits.dtype))).unsqueeze(-1).mul(score(states, p)).sum(0)

    return estimate


def _right_score(z, p):
    return z - p


def _q(q, states):
    return q


def _slope_times_mean(f, logits):
    p = torch.sigmoid(logits.double())
    states = _states(len(logits))
    mean = (Bernoulli(probs=p).log_prob(states).sum(-1).exp() * _values(f, states.to(logits.dtype))).sum()
    return p * (1 - p) * mean


EXACT_MISTAKES = [
    Mistake(
        "the states are weighted equally: E_q[f] = sum_z q(z) f(z) weighs each state by its probability q(z)",
        _by_enumeration(lambda q, s: torch.full_like(q, 1.0 / len(q)), _right_score),
    ),
    Mistake(
        "the score is taken with respect to the probabilities p, z / p - (1 - z) / (1 - p); with respect "
        "to the logits it is z - sigmoid(logits)",
        _by_enumeration(_q, lambda z, p: z / p - (1 - z) / (1 - p)),
    ),
    Mistake(
        "a flipped sign: d log q(z) / d logits = z - sigmoid(logits), not sigmoid(logits) - z",
        _by_enumeration(_q, lambda z, p: p - z),
    ),
    Mistake(
        "f(z) is missing: the gradient is sum_z q(z) f(z) (z - p), and sum_z q(z) (z - p) is always 0",
        lambda f, logits: torch.zeros(len(logits), dtype=torch.float64),
    ),
    Mistake(
        "the chain rule was applied outside the sum: p (1 - p) * E_q[f] is not the gradient; the score "
        "z - p goes inside the sum, sum_z q(z) f(z) (z - p)",
        lambda f, logits: _slope_times_mean(f, logits),
    ),
]


def check_exact_gradient(fn: Callable) -> CheckResult:
    """Check fn(f, logits) -> grad (K,), the exact gradient of E_q[f(z)] with respect to the
    logits (K,) of q = prod_k Bernoulli(sigmoid(logits_k)), by enumerating the 2^K states;
    f maps states (N, K) -> (N,). The reference is autograd through
    torch.distributions.Bernoulli.log_prob. Taught in notebook 09_discrete_latents."""
    return run_check(
        "check_exact_gradient",
        fn,
        _reference_exact,
        _exact_cases(),
        EXACT_MISTAKES,
        success="your enumeration agrees with autograd through torch.distributions on all 3 cases.",
    )


def _score_estimate(centre, score=_right_score, reduce=torch.mean):
    def estimate(f, logits, z):
        values = centre(_values(f, z))
        return reduce(values.unsqueeze(-1) * score(z.double(), torch.sigmoid(logits.double())), 0)

    return estimate


LOO_MISTAKES = [
    Mistake(
        "the baseline is the mean over all S samples, including f(z_s) itself: it depends on the sample it "
        "multiplies, so the estimate is biased (shrunk by (S - 1) / S); leave sample s out of its baseline",
        _score_estimate(lambda v: v - v.mean(0, keepdim=True)),
    ),
    Mistake(
        "no baseline was subtracted: use f(z_s) - b_s with b_s the mean of f over the other S - 1 samples",
        _score_estimate(lambda v: v),
    ),
    Mistake(
        "the leave-one-out mean divides by S instead of S - 1 (there are S - 1 other samples)",
        _score_estimate(lambda v: v - (v.sum(0, keepdim=True) - v) / len(v)),
    ),
    Mistake(
        "the score is taken with respect to the probabilities p, z / p - (1 - z) / (1 - p); with respect "
        "to the logits it is z - sigmoid(logits)",
        _score_estimate(lambda v: v - _leave_one_out(v), lambda z, p: z / p - (1 - z) / (1 - p)),
    ),
    Mistake(
        "a flipped sign: d log q(z) / d logits = z - sigmoid(logits), not sigmoid(logits) - z",
        _score_estimate(lambda v: v - _leave_one_out(v), lambda z, p: p - z),
    ),
    Mistake(
        "a sum over the S samples instead of their mean (the estimate is S times too large)",
        _score_estimate(lambda v: v - _leave_one_out(v), reduce=torch.sum),
    ),
]


def check_leave_one_out(fn: Callable) -> CheckResult:
    """Check fn(f, logits, z) -> grad (K,), the score-function estimate from the samples z
    (S, K) with a leave-one-out baseline: mean_s (f(z_s) - b_s) (z_s - sigmoid(logits)), b_s the
    mean of f over the other S - 1 samples. The reference is autograd through
    torch.distributions.Bernoulli.log_prob. Taught in notebook 09_discrete_latents."""
    return run_check(
        "check_leave_one_out",
        fn,
        _reference_loo,
        _loo_cases(),
        LOO_MISTAKES,
        success="your estimate agrees with the reference on all 3 cases, and its baseline keeps it unbiased.",
    )
