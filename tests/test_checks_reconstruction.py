"""The checks of notebook 03_monte_carlo_reconstruction: the reference solutions pass, each likely
mistake fails with a message that names it, and an unfinished exercise says "not implemented"."""

import math

import pytest
import torch
import torch.nn.functional as F
from check_contract import assert_fails_and_names, assert_passes, assert_unfinished_says_so_in_one_line, table

from vaecourse.checks import (
    check_bernoulli_log_likelihood,
    check_gaussian_log_likelihood,
    check_reconstruction_estimate,
)


def solution_bernoulli(logits, x):
    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1)


def solution_gaussian(mean, x, sigma):
    num_pixels = x.shape[-1]
    return -(x - mean).pow(2).sum(-1) / (2 * sigma**2) - 0.5 * num_pixels * math.log(2 * math.pi * sigma**2)


def solution_estimate(log_likelihood, mu, logvar, eps):
    z = mu + torch.exp(0.5 * logvar) * eps
    return log_likelihood(z).mean(0)


def sigmoid_then_log(logits, x):
    p = torch.sigmoid(logits)
    return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1)


def sigmoid_then_log_with_epsilon(logits, x):
    p = torch.sigmoid(logits)
    return (x * torch.log(p + 1e-7) + (1 - x) * torch.log(1 - p + 1e-7)).sum(-1)


def sigmoid_then_clamp_then_log(logits, x):
    p = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
    return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1)


def _sq(mean, x):
    return (x - mean).pow(2).sum(-1)


WRONG_ANSWERS = {
    "check_bernoulli_log_likelihood": [
        (sigmoid_then_log, "sigmoid then log"),
        (sigmoid_then_log_with_epsilon, "sigmoid then log"),
        (sigmoid_then_clamp_then_log, "sigmoid then log"),
        (lambda l, x: solution_bernoulli(l, x) / x.shape[-1], "mean instead of a sum over pixels"),
        (lambda l, x: -solution_bernoulli(l, x), "flipped sign"),
        (lambda l, x: solution_bernoulli(l, x).sum(), "batch dimension summed away"),
        (lambda l, x: (x * F.logsigmoid(l)).sum(-1), "(1 - x) log(1 - sigmoid(l)) term is missing"),
        (lambda l, x: (x * l - F.softplus(-l)).sum(-1), "softplus with the wrong sign"),
        (lambda l, x: solution_bernoulli(l, (x > 0.5).to(x.dtype)), "targets treated as exactly 0 or 1"),
        (
            lambda l, x: torch.where(x == 1, F.logsigmoid(l), F.logsigmoid(-l)).sum(-1),
            "targets treated as exactly 0 or 1",
        ),
        (lambda l, x: ((1 - x) * F.logsigmoid(l) + x * F.logsigmoid(-l)).sum(-1), "x and 1 - x swapped"),
    ],
    "check_gaussian_log_likelihood": [
        (lambda m, x, s: -_sq(m, x) / (2 * s**2), "constant -D/2 log(2 pi sigma^2) is missing"),
        (
            lambda m, x, s: -_sq(m, x) / (2 * s**2) - x.shape[-1] / 2 * math.log(2 * math.pi),
            "part of the constant is missing",
        ),
        (
            lambda m, x, s: -_sq(m, x) / (2 * s**2) - 0.5 * math.log(2 * math.pi * s**2),
            "once per example, not once per pixel",
        ),
        (lambda m, x, s: solution_gaussian(m, x, s) / x.shape[-1], "mean instead of a sum over pixels"),
        (
            lambda m, x, s: -_sq(m, x) / (2 * s) - x.shape[-1] / 2 * math.log(2 * math.pi * s**2),
            "sigma used where sigma^2 belongs",
        ),
        (
            lambda m, x, s: -_sq(m, x) / (2 * s**2) - x.shape[-1] / 2 * math.log(2 * math.pi * s),
            "log(2 pi sigma) where",
        ),
        (
            lambda m, x, s: -_sq(m, x) / s**2 - x.shape[-1] / 2 * math.log(2 * math.pi * s**2),
            "the 2 in 2 sigma^2 is missing",
        ),
        (lambda m, x, s: -solution_gaussian(m, x, s), "flipped sign"),
        (lambda m, x, s: solution_gaussian(m, x, s).sum(), "batch dimension summed away"),
    ],
    "check_reconstruction_estimate": [
        (lambda f, mu, lv, eps: f(mu + lv.exp() * eps).mean(0), "sigma^2 used where sigma belongs"),
        (lambda f, mu, lv, eps: f(mu + lv * eps).mean(0), "logvar used as the standard deviation"),
        (lambda f, mu, lv, eps: f(mu + (0.5 * lv).exp() * eps).sum(0), "sum over the L draws"),
        (lambda f, mu, lv, eps: f(mu + (0.5 * lv).exp() * eps).mean(), "batch dimension averaged away"),
        (lambda f, mu, lv, eps: f(mu + (0.5 * lv).exp() * eps).mean(1), "mean over the batch (dim=1)"),
        (lambda f, mu, lv, eps: f(mu + (0.5 * lv).exp() * eps[:1]).mean(0), "only the first draw"),
        (lambda f, mu, lv, eps: f(mu[None])[0], "no noise"),
        (
            lambda f, mu, lv, eps: f((mu + (0.5 * lv).exp() * eps).mean(0, keepdim=True))[0],
            "draws averaged before the log-likelihood",
        ),
        (lambda f, mu, lv, eps: -solution_estimate(f, mu, lv, eps), "flipped sign"),
    ],
}

CHECKS = {
    "check_bernoulli_log_likelihood": check_bernoulli_log_likelihood,
    "check_gaussian_log_likelihood": check_gaussian_log_likelihood,
    "check_reconstruction_estimate": check_reconstruction_estimate,
}
CORRECT_ANSWERS = {
    "check_bernoulli_log_likelihood": [solution_bernoulli],
    "check_gaussian_log_likelihood": [solution_gaussian],
    "check_reconstruction_estimate": [solution_estimate],
}


def test_minus_bce_with_logits_passes_the_bernoulli_check():
    assert check_bernoulli_log_likelihood(
        lambda l, x: -F.binary_cross_entropy_with_logits(l, x, reduction="none").sum(-1)
    ).passed


def test_the_written_out_softplus_form_passes_the_bernoulli_check():
    assert check_bernoulli_log_likelihood(lambda l, x: (x * l - F.softplus(l)).sum(-1)).passed


def test_sigmoid_then_log_is_only_caught_at_large_logits():
    # right on moderate logits, so the message blames the numerics, on the +-50 case
    result = check_bernoulli_log_likelihood(sigmoid_then_log)
    assert "case 4" in result.message and "+-50" in result.message
    assert result.mistake == "sigmoid then log"


def test_a_crash_at_large_logits_is_reported_as_a_crash():
    def refuses_large_logits(logits, x):
        if logits.abs().max() > 40:
            raise ValueError("logits too large")
        return solution_bernoulli(logits, x)

    result = check_bernoulli_log_likelihood(refuses_large_logits)
    assert result.status == "failed"
    assert "raised ValueError" in result.message


def test_the_checks_do_not_let_an_in_place_edit_change_the_reference():
    def edits_in_place(mean, x, sigma):
        out = solution_gaussian(mean, x, sigma)
        x.zero_()
        return out

    assert check_gaussian_log_likelihood(edits_in_place).passed


@pytest.mark.parametrize(("name", "answer", "words"), table(CORRECT_ANSWERS))
def test_correct_answers_pass(name, answer, words):
    assert_passes(CHECKS[name], answer)


@pytest.mark.parametrize(("name", "answer", "words"), table(WRONG_ANSWERS))
def test_each_wrong_answer_fails_and_its_message_names_the_mistake(name, answer, words):
    assert_fails_and_names(CHECKS[name], answer, words)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_an_unfinished_exercise_says_not_implemented_in_one_line(name):
    assert_unfinished_says_so_in_one_line(CHECKS[name])
