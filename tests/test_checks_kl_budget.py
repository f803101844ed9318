"""The checks of notebook 07_kl_budget: the reference solutions pass, each likely mistake fails
with a message that names it, and an unfinished exercise says "not implemented"."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_contract import (
    as_dtype,
    as_python,
    assert_a_crash_is_reported_in_one_line,
    assert_fails_and_names,
    assert_passes,
    assert_unfinished_says_so_in_one_line,
    in_place,
    table,
)

from vaecourse.checks import check_active_units, check_rate_distortion


# -- reference solutions, written the way the notebook's task cells ask for them ----------
def solution_rate_distortion(x, logits, mu, logvar):
    rate = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(-1).mean()
    distortion = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
    return rate, distortion


def solution_active_units(mu, threshold):
    return mu.var(0, correction=0) > threshold


def _kl(mu, lv):
    return 0.5 * (mu.pow(2) + lv.exp() - lv - 1)


def _bce(x, logits):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none")


WRONG_ANSWERS = {
    "check_rate_distortion": [
        (
            lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), -_bce(x, l).sum(-1).mean()),
            "flipped sign on the distortion",
        ),
        (lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), _bce(x, l).mean()), "averaged over pixels"),
        (lambda x, l, mu, lv: (_kl(mu, lv).mean(), _bce(x, l).sum(-1).mean()), "rate averaged over latent dimensions"),
        (lambda x, l, mu, lv: (_kl(mu, lv).sum(), _bce(x, l).sum()), "sums over the batch"),
        (lambda x, l, mu, lv: (_bce(x, l).sum(-1).mean(), _kl(mu, lv).sum(-1).mean()), "swapped"),
        (
            lambda x, l, mu, lv: ((0.5 * (mu**2 + lv.exp() - lv)).sum(-1).mean(), _bce(x, l).sum(-1).mean()),
            '"-1" is missing',
        ),
        (lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), (x - l.sigmoid()).pow(2).sum(-1).mean()), "squared error"),
        (
            lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), _bce(x, l.sigmoid()).sum(-1).mean()),
            "sigmoid applied before",
        ),
        (
            lambda x, l, mu, lv: tuple(t / math.log(2) for t in solution_rate_distortion(x, l, mu, lv)),
            "bits instead of nats",
        ),
        (
            lambda x, l, mu, lv: (
                (0.5 * (mu**2 + (0.5 * lv).exp() - lv - 1)).sum(-1).mean(),
                _bce(x, l).sum(-1).mean(),
            ),
            "sigma used where sigma^2 belongs",
        ),
    ],
    "check_active_units": [
        (lambda mu, t: mu.var(1, correction=0) > t, "over the latent dimensions"),
        (lambda mu, t: mu.std(0) > t, "standard deviation"),
        (lambda mu, t: (mu**2).mean(0) > t, "mean square"),
        (lambda mu, t: mu.var(0) <= t, "comparison inverted"),
        (lambda mu, t: mu.mean(0).abs() > t, "mean posterior mean"),
        (lambda mu, t: mu.var() > t, "one variance over all entries"),
        (lambda mu, t: int((mu.var(0) > t).sum()), "number of active units returned"),
    ],
}

CHECKS = {
    "check_rate_distortion": check_rate_distortion,
    "check_active_units": check_active_units,
}
CORRECT_ANSWERS = {
    "check_rate_distortion": [solution_rate_distortion],
    "check_active_units": [solution_active_units],
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_a_crashing_answer_is_reported_in_one_line(name):
    result = CHECKS[name](lambda *args: args[0] @ torch.ones(1, 1, 1))  # a shape error
    assert result.status == "failed"
    assert "raised RuntimeError" in result.message


def test_the_distortion_by_torch_distributions_passes_too():
    def with_distributions(x, logits, mu, logvar):
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        rate = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1).mean()
        return rate, -torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1).mean()

    assert check_rate_distortion(with_distributions).passed


def test_an_unbiased_variance_is_accepted_for_the_active_units():
    assert check_active_units(lambda mu, t: mu.var(0) > t).passed


# Wrong answers of the classes every check guards against (issue 14).
WRONG_ANSWERS["check_rate_distortion"] += [
    (lambda *a: tuple(t.item() for t in solution_rate_distortion(*a)), "got a Python float"),
    (lambda *a: torch.stack(solution_rate_distortion(*a)), "should be a pair of 2 values"),
    (in_place(solution_rate_distortion, 1), "changed its argument logits in place"),
    (as_dtype(solution_rate_distortion, torch.float64), "should be a float32 tensor"),
]
WRONG_ANSWERS["check_active_units"] += [
    (lambda mu, t: solution_active_units(mu, t).float(), "should be a bool tensor"),
    (lambda mu, t: np.var(mu.numpy(), axis=0) > t, "got a numpy ndarray"),
    (as_python(solution_active_units), "got a Python list"),
    (lambda mu, t: mu.sub_(mu.mean(0)).pow(2).mean(0) > t, "changed its argument mu in place"),
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
