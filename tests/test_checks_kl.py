"""The checks of notebook 02_kl_closed_form: the reference solution passes, each likely mistake
fails with a message that names it, and an unfinished exercise says "not implemented"."""

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
    detached,
    in_place,
    table,
)
from torch.distributions import Normal, kl_divergence

from vaecourse.checks import check_gaussian_kl, check_kl_gradient


def solution_gaussian_kl(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(-1)


def solution_kl_gradient(mu, logvar):
    return mu, 0.5 * (logvar.exp() - 1)


def _kl_terms(mu, logvar):
    return mu.pow(2) + logvar.exp() - logvar - 1


WRONG_ANSWERS = {
    "check_gaussian_kl": [
        (lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - lv).sum(-1), '"-1" is missing'),
        (lambda mu, lv: -0.5 * _kl_terms(mu, lv).sum(-1), "flipped sign"),
        (lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() + lv - 1).sum(-1), "flipped sign"),
        (lambda mu, lv: 0.5 * (mu.pow(2) + (0.5 * lv).exp() - lv - 1).sum(-1), "sigma used where sigma^2 belongs"),
        (lambda mu, lv: 0.5 * _kl_terms(mu, lv).mean(-1), "mean over the latent dimensions"),
        (lambda mu, lv: 0.5 * _kl_terms(mu, lv).sum(), "batch dimension summed away"),
        (lambda mu, lv: 0.5 * _kl_terms(mu, lv).sum(-1).mean(), "batch dimension averaged away"),
        (lambda mu, lv: 0.5 * _kl_terms(mu, lv).sum(0), "sum over the batch dimension"),
        (lambda mu, lv: _kl_terms(mu, lv).sum(-1), "factor 1/2 is missing"),
        (lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 0.5 * lv - 1).sum(-1), "log sigma used where log sigma^2"),
    ],
    "check_kl_gradient": [
        (lambda mu, lv: (mu, 0.5 * lv.exp()), '"-1" is missing'),
        (lambda mu, lv: (-mu, 0.5 * (1 - lv.exp())), "flipped sign"),
        (lambda mu, lv: (mu, 0.5 * (1 - lv.exp())), "flipped sign in dKL/dlogvar"),
        (lambda mu, lv: (mu, 0.5 * ((0.5 * lv).exp() - 1)), "sigma used where sigma^2 belongs"),
        (lambda mu, lv: (mu / mu.shape[1], 0.5 * (lv.exp() - 1) / mu.shape[1]), "mean over latent dimensions"),
        (lambda mu, lv: (mu.sum(0), 0.5 * (lv.exp() - 1).sum(0)), "batch dimension summed away"),
        (lambda mu, lv: (mu / len(mu), 0.5 * (lv.exp() - 1) / len(mu)), "batch-averaged KL"),
        (lambda mu, lv: (mu, 0.5 * (1 - 1 / lv.exp())), "with respect to sigma^2 instead of logvar"),
        (lambda mu, lv: (2 * mu, lv.exp() - 1), "factor 1/2 is missing"),
        (lambda mu, lv: (0.5 * (lv.exp() - 1), mu), "swapped"),
    ],
}

CHECKS = {"check_gaussian_kl": check_gaussian_kl, "check_kl_gradient": check_kl_gradient}
CORRECT_ANSWERS = {"check_gaussian_kl": [solution_gaussian_kl], "check_kl_gradient": [solution_kl_gradient]}


def test_an_autograd_gradient_is_accepted():
    def by_autograd(mu, logvar):
        mu, logvar = mu.requires_grad_(True), logvar.requires_grad_(True)
        return torch.autograd.grad(solution_gaussian_kl(mu, logvar).sum(), (mu, logvar))

    assert check_kl_gradient(by_autograd).passed


# Wrong answers of the classes every check guards against (issue 14).
WRONG_ANSWERS["check_gaussian_kl"] += [
    (detached(solution_gaussian_kl), "carries no gradient"),
    (lambda mu, lv: 0.5 * (mu.pow(2) + lv.detach().exp() - lv - 1).sum(-1), "gradient with respect to logvar is wrong"),
    (lambda mu, lv: solution_gaussian_kl(torch.from_numpy(mu.detach().numpy().copy()), lv), "no gradient reaches mu"),
    (lambda mu, lv: 0.5 * (mu.pow_(2) + lv.exp() - lv - 1).sum(-1), "changed its argument mu in place"),
    (in_place(solution_gaussian_kl, 1), "changed its argument logvar in place"),
    (as_dtype(solution_gaussian_kl, torch.float64), "should be a float32 tensor"),
    (as_numpy(solution_gaussian_kl), "got a numpy ndarray"),
    (lambda mu, lv: solution_gaussian_kl(mu, lv).unsqueeze(-1), "should have shape (3,), got shape (3, 1)"),
]
WRONG_ANSWERS["check_kl_gradient"] += [
    (as_numpy(solution_kl_gradient), "got a numpy ndarray"),
    (as_python(solution_kl_gradient), "got a Python list"),
    (as_dtype(solution_kl_gradient, torch.float64), "should be a float32 tensor"),
    (in_place(solution_kl_gradient, 0), "changed its argument mu in place"),
    (lambda mu, lv: torch.stack(solution_kl_gradient(mu, lv)), "should be a pair of 2 values"),
]
CORRECT_ANSWERS["check_gaussian_kl"] += [
    lambda mu, lv: kl_divergence(Normal(mu, torch.exp(0.5 * lv)), Normal(0.0, 1.0)).sum(-1),
    lambda mu, lv: 0.5 * torch.sum(mu * mu + torch.expm1(lv) - lv, dim=1),
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
