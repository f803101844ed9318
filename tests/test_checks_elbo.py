"""Checks of notebook 01's exercises: the solution passes, plausible wrong answers fail with a
message that names the mistake, and an unfinished exercise says so in one line."""

import math

import pytest
import torch
from check_contract import (
    as_dtype,
    as_numpy,
    as_python,
    assert_a_crash_is_reported_in_one_line,
    assert_fails_and_names,
    assert_passes,
    assert_unfinished_says_so_in_one_line,
    in_place,
    table,
)
from torch.distributions import MultivariateNormal

from vaecourse.checks import check_log_marginal, check_monte_carlo_elbo

LOG_2PI = math.log(2 * math.pi)


def log_marginal(W, b, s, x, *, noise=None, centre=True, constant=True):
    """A learner's log N(x; b, W W^T + s^2 I) written with Cholesky, with optional mistakes."""
    D = W.shape[0]
    cov = W @ W.T + (s**2 if noise is None else noise) * torch.eye(D, dtype=W.dtype)
    chol = torch.linalg.cholesky(cov)
    r = (x - b) if centre else x
    sol = torch.linalg.solve_triangular(chol, r.T, upper=False)
    out = -0.5 * (sol**2).sum(0) - torch.log(torch.diagonal(chol)).sum()
    return out - D / 2 * LOG_2PI if constant else out


def mc_elbo(W, b, s, x, mu, logvar, eps, *, std_fn=lambda lv: torch.exp(lv / 2), prior=True, q_sign=-1, reduce="mean"):
    z = mu + std_fn(logvar) * eps
    log_lik = (-0.5 * ((x - (z @ W.T + b)) / s) ** 2 - math.log(s) - 0.5 * LOG_2PI).sum(-1)
    log_prior = (-0.5 * z**2 - 0.5 * LOG_2PI).sum(-1)
    std = std_fn(logvar)
    log_q = (-0.5 * ((z - mu) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI).sum(-1)
    total = log_lik + (log_prior if prior else 0) + q_sign * log_q
    return total.mean(0) if reduce == "mean" else total.sum(0)


WRONG_ANSWERS = {
    "check_log_marginal": [
        (lambda W, b, s, x: log_marginal(W, b, s, x, noise=s), "s instead of s^2"),
        (lambda W, b, s, x: log_marginal(W, b, s, x, centre=False), "mean b forgotten"),
        (lambda W, b, s, x: log_marginal(W, b, s, x, constant=False), "constant -D/2 log(2 pi) missing"),
        (lambda W, b, s, x: log_marginal(W, b, s, x).sum(), "summed over the batch"),
    ],
    "check_monte_carlo_elbo": [
        (lambda *a: mc_elbo(*a, std_fn=torch.exp), "exp(logvar) used as the standard deviation"),
        (lambda *a: mc_elbo(*a, prior=False), "prior log p(z) left out"),
        (lambda *a: mc_elbo(*a, q_sign=+1), "log q(z) added instead of subtracted"),
        (lambda *a: mc_elbo(*a, reduce="sum"), "sum over the samples"),
    ],
}
CHECKS = {"check_log_marginal": check_log_marginal, "check_monte_carlo_elbo": check_monte_carlo_elbo}
CORRECT_ANSWERS = {"check_log_marginal": [log_marginal], "check_monte_carlo_elbo": [mc_elbo]}


def test_an_unrecognised_wrong_answer_shows_expected_and_received_values():
    result = check_log_marginal(lambda W, b, s, x: torch.zeros(x.shape[0], dtype=x.dtype))
    assert result.status == "failed" and result.mistake is None
    assert "expected" in result.message and "got" in result.message


def test_an_answer_that_returns_nothing_is_told_its_return_is_missing():
    def forgot_return(W, b, s, x):
        log_marginal(W, b, s, x)

    result = check_log_marginal(forgot_return)
    assert result.status == "failed" and "return" in result.message


def test_a_crashing_answer_is_reported_in_one_line():
    result = check_monte_carlo_elbo(lambda *a: 1 / 0)
    assert result.status == "failed" and "ZeroDivisionError" in result.message


# Wrong answers of the classes every check guards against (issue 14).
WRONG_ANSWERS["check_log_marginal"] += [
    (in_place(log_marginal, 3), "changed its argument x in place"),
    (as_numpy(log_marginal), "got a numpy ndarray"),
    (as_dtype(log_marginal, torch.float32), "should be a float64 tensor"),
    (as_python(log_marginal), "got a Python list"),
]
WRONG_ANSWERS["check_monte_carlo_elbo"] += [
    (in_place(mc_elbo, 6), "changed its argument eps in place"),
    (as_numpy(mc_elbo), "got a numpy ndarray"),
    (as_dtype(mc_elbo, torch.float32), "should be a float64 tensor"),
    (lambda *a: mc_elbo(*a).unsqueeze(0), "should have shape (3,), got shape (1, 3)"),
]
CORRECT_ANSWERS["check_log_marginal"] += [
    lambda W, b, s, x: MultivariateNormal(b, W @ W.T + s**2 * torch.eye(len(b), dtype=W.dtype)).log_prob(x),
]


@pytest.mark.parametrize(("name", "answer", "words"), table(CORRECT_ANSWERS))
def test_correct_answers_pass(name, answer, words):
    assert_passes(CHECKS[name], answer)


@pytest.mark.parametrize(("name", "answer", "words"), table(WRONG_ANSWERS))
def test_each_wrong_answer_fails_and_its_message_names_the_mistake(name, answer, words):
    assert_fails_and_names(CHECKS[name], answer, words)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_an_unfinished_exercise_says_not_implemented_in_one_line(name):
    assert_unfinished_says_so_in_one_line(CHECKS[name])


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_a_crash_is_reported_in_one_line(name):
    assert_a_crash_is_reported_in_one_line(CHECKS[name])
