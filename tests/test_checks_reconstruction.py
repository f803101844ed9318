"""The checks of notebook 03_monte_carlo_reconstruction: the reference solutions pass, each likely
mistake fails with a message that names it, and an unfinished exercise says "not implemented"."""

import math

import pytest
import torch
import torch.nn.functional as F
from check_contract import (
    as_dtype,
    as_numpy,
    as_python,
    assert_a_crash_is_reported_in_one_line,
    assert_fails_and_names,
    assert_passes,
    assert_unfinished_says_so_in_one_line,
    detached,
    in_place,
    table,
)
from torch.distributions import Bernoulli, Normal

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


def nan_gradient_at_large_logits(logits, x):
    """Right values everywhere (the log of the sigmoid only where it is finite), but a NaN
    gradient where the sigmoid saturates: torch.where differentiates both branches."""
    log_p = torch.where(logits > -30, torch.log(torch.sigmoid(logits)), logits)
    log_not_p = torch.where(logits < 30, torch.log(1 - torch.sigmoid(logits)), -logits)
    return (x * log_p + (1 - x) * log_not_p).sum(-1)


def _sq(mean, x):
    return (x - mean).pow(2).sum(-1)


WRONG_ANSWERS = {
    "check_bernoulli_log_likelihood": [
        (sigmoid_then_log, "sigmoid then log"),
        (sigmoid_then_log_with_epsilon, "expected -1.75e+300 at index (1,)"),
        (sigmoid_then_clamp_then_log, "expected -1.75e+300 at index (1,)"),
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


def test_a_crash_at_large_logits_is_reported_as_a_crash():
    def refuses_large_logits(logits, x):
        if logits.abs().max() > 40:
            raise ValueError("logits too large")
        return solution_bernoulli(logits, x)

    result = check_bernoulli_log_likelihood(refuses_large_logits)
    assert result.status == "failed"
    assert "raised ValueError" in result.message


# Wrong answers of the classes every check guards against (issue 14).
WRONG_ANSWERS["check_bernoulli_log_likelihood"] += [
    (lambda l, x: (x * l - torch.log1p(torch.exp(l))).sum(-1), "sigmoid then log"),
    (lambda l, x: -F.binary_cross_entropy(torch.sigmoid(l), x, reduction="none").sum(-1), "expected"),
    (lambda l, x: solution_bernoulli(l.clamp(-60, 60), x), "expected"),
    (detached(solution_bernoulli), "carries no gradient"),
    (nan_gradient_at_large_logits, "gradient with respect to logits is wrong"),
    (
        lambda l, x: (x * F.logsigmoid(l) + (1 - x) * F.logsigmoid(-l.detach())).sum(-1),
        "gradient with respect to logits",
    ),
    (lambda l, x: solution_bernoulli(l, x.clamp_(0, 1).round_()), "changed its argument x in place"),
    (as_numpy(solution_bernoulli), "got a numpy ndarray"),
    (as_dtype(solution_bernoulli, torch.float64), "should be a float32 tensor"),
]
WRONG_ANSWERS["check_gaussian_log_likelihood"] += [
    (detached(solution_gaussian), "carries no gradient"),
    (lambda m, x, s: solution_gaussian(m.detach(), x, s) + 0 * m.sum().detach(), "carries no gradient"),
    (in_place(solution_gaussian, 1), "changed its argument x in place"),
    (as_python(solution_gaussian), "got a Python list"),
    (as_dtype(solution_gaussian, torch.float64), "should be a float32 tensor"),
]
WRONG_ANSWERS["check_reconstruction_estimate"] += [
    (lambda f, mu, lv, eps: f((mu + torch.exp(0.5 * lv) * eps).detach()).mean(0), "carries no gradient"),
    (lambda f, mu, lv, eps: f(mu + torch.exp(0.5 * lv).detach() * eps).mean(0), "no gradient reaches logvar"),
    (lambda f, mu, lv, eps: f(eps.mul_(torch.exp(0.5 * lv)).add_(mu)).mean(0), "changed its argument eps in place"),
    (as_dtype(solution_estimate, torch.float32), "should be a float64 tensor"),
    (as_numpy(solution_estimate), "got a numpy ndarray"),
]
CORRECT_ANSWERS["check_bernoulli_log_likelihood"] += [
    lambda l, x: -F.binary_cross_entropy_with_logits(l, x, reduction="none").sum(-1),
    lambda l, x: (x * l - F.softplus(l)).sum(-1),
    lambda l, x: Bernoulli(logits=l, validate_args=False).log_prob(x).sum(-1),
    lambda l, x: (x * l - l.clamp(min=0) - torch.log1p(torch.exp(-l.abs()))).sum(-1),
]
CORRECT_ANSWERS["check_gaussian_log_likelihood"] += [lambda m, x, s: Normal(m, s).log_prob(x).sum(-1)]
CORRECT_ANSWERS["check_reconstruction_estimate"] += [
    lambda f, mu, lv, eps: torch.stack([f((mu + (0.5 * lv).exp() * e).unsqueeze(0))[0] for e in eps]).mean(0),
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
