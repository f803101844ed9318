"""The checks of notebook 06_full_vae: the reference solutions pass, each likely mistake fails with
a message that names it, and an unfinished exercise says "not implemented"."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_contract import (
    as_dtype,
    as_numpy,
    assert_a_crash_is_reported_in_one_line,
    assert_fails_and_names,
    assert_passes,
    assert_unfinished_says_so_in_one_line,
    detached,
    in_place,
    table,
)
from torch.distributions import Bernoulli, Normal, kl_divergence

from vaecourse.checks import check_importance_weighted_bound, check_negative_elbo


def solution_negative_elbo(x, logits, mu, logvar):
    recon = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(-1)
    return (kl - recon).mean()


def solution_bound(log_weights):
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def _bce(x, logits, reduction="none"):
    return F.binary_cross_entropy_with_logits(logits, x, reduction=reduction)


def _kl(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(-1)


def sigmoid_then_bce(x, logits, mu, logvar):
    recon = -F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum(-1)
    return (_kl(mu, logvar) - recon).mean()


def sigmoid_then_bce_kl_sign_flipped(x, logits, mu, logvar):
    bce = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum(-1)
    return (bce - _kl(mu, logvar)).mean()


def logits_passed_as_probabilities(x, logits, mu, logvar):
    return (F.binary_cross_entropy(logits, x, reduction="none").sum(-1) + _kl(mu, logvar)).mean()


def pytorch_example_loss(x, logits, mu, logvar):
    bce = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def naive_log_mean_exp(log_weights):
    return torch.log(torch.exp(log_weights).sum(0) / log_weights.shape[0])


def naive_with_nan(log_weights):
    weights = torch.exp(log_weights)
    return torch.log(weights.mean(0)) * weights.sum(0) / weights.sum(0)  # inf / inf = nan


WRONG_ANSWERS = {
    "check_negative_elbo": [
        (lambda x, l, m, v: -solution_negative_elbo(x, l, m, v), "the ELBO itself"),
        (sigmoid_then_bce_kl_sign_flipped, "KL term with the wrong sign"),
        (lambda x, l, m, v: _bce(x, l).sum(-1).mean(), "KL term is missing"),
        (
            lambda x, l, m, v: F.binary_cross_entropy_with_logits(l, x) + _kl(m, v).mean(),
            "mean over pixels instead of a sum",
        ),
        (lambda x, l, m, v: _bce(x, l).mean(-1).mean() + _kl(m, v).mean(), "mean over pixels instead of a sum"),
        (
            lambda x, l, m, v: _bce(x, l).mean() + 0.5 * (m.pow(2) + v.exp() - v - 1).mean(),
            "mean over pixels and latent dimensions",
        ),
        (lambda x, l, m, v: _bce(x, l).sum(-1).mean() + _kl(m, v).sum(), "KL summed over the batch"),
        (pytorch_example_loss, "sum over the batch instead of a mean"),
        (lambda x, l, m, v: (_bce(x, torch.sigmoid(l)).sum(-1) + _kl(m, v)).mean(), "sigmoid applied twice"),
        (logits_passed_as_probabilities, "logits passed to F.binary_cross_entropy"),
        (
            lambda x, l, m, v: (_bce(x, l).sum(-1) + (m.pow(2) + v.exp() - v - 1).sum(-1)).mean(),
            "factor 1/2 is missing",
        ),
        (
            lambda x, l, m, v: (_bce(x, l).sum(-1) + 0.5 * (m.pow(2) + v.exp() - v).sum(-1)).mean(),
            "-1 inside the KL is missing",
        ),
        (
            lambda x, l, m, v: (_bce(x, l).sum(-1) + 0.5 * (m.pow(2) + (2 * v).exp() - 2 * v - 1).sum(-1)).mean(),
            "logvar used as log sigma",
        ),
    ],
    "check_importance_weighted_bound": [
        (lambda w: w.mean(0), "that is the ELBO"),
        (naive_log_mean_exp, "exp overflows"),
        (lambda w: torch.log(torch.mean(torch.exp(w), dim=0)), "exp overflows"),
        (naive_with_nan, "exp overflows"),
        (lambda w: torch.logsumexp(w, dim=0), "-log K is missing"),
        (lambda w: torch.logsumexp(w, dim=0) / w.shape[0], "division by K"),
        (lambda w: w.max(dim=0).values, "largest log-weight alone"),
        (lambda w: torch.logsumexp(w, dim=1) - math.log(w.shape[1]), "over the examples (dim=1)"),
    ],
}

CHECKS = {
    "check_negative_elbo": check_negative_elbo,
    "check_importance_weighted_bound": check_importance_weighted_bound,
}
CORRECT_ANSWERS = {"check_negative_elbo": [solution_negative_elbo], "check_importance_weighted_bound": [solution_bound]}


def test_sigmoid_then_bce_passes_on_moderate_logits():
    assert check_negative_elbo(sigmoid_then_bce).passed


def test_the_kl_written_as_in_the_paper_passes():
    def paper(x, logits, mu, logvar):
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
        return (_bce(x, logits).sum(1) + kld).mean()

    assert check_negative_elbo(paper).passed


def test_the_max_shifted_log_mean_exp_passes():
    def by_hand(w):
        m = w.max(0).values
        return m + torch.log(torch.exp(w - m).mean(0))

    assert check_importance_weighted_bound(by_hand).passed


def test_the_naive_bound_is_caught_on_the_large_log_weights():
    result = check_importance_weighted_bound(naive_log_mean_exp)
    assert "+-1000" in result.message or "-90" in result.message


# Wrong answers of the classes every check guards against (issue 14).
WRONG_ANSWERS["check_negative_elbo"] += [
    (detached(solution_negative_elbo), "carries no gradient"),
    (lambda x, l, m, v: (_bce(x, l).sum(-1) + _kl(m, v).detach()).mean(), "no gradient reaches mu"),
    (lambda x, l, m, v: (_bce(x, l).sum(-1) + _kl(m, v.detach())).mean(), "no gradient reaches logvar"),
    (lambda x, l, m, v: solution_negative_elbo(x, l, m, v).item(), "got a Python float"),
    (lambda x, l, m, v: solution_negative_elbo(x, l, m, v).reshape(1), "should have shape (), got shape (1,)"),
    (in_place(solution_negative_elbo, 2), "changed its argument mu in place"),
    (as_dtype(solution_negative_elbo, torch.float64), "should be a float32 tensor"),
]
WRONG_ANSWERS["check_importance_weighted_bound"] += [
    (lambda w: w.mean(0) + torch.log(torch.exp(w - w.mean(0)).mean(0)), "exp overflows"),
    (lambda w: w[0] + torch.log(torch.exp(w - w[0]).mean(0)), "exp overflows"),
    (lambda w: w.max() + torch.log(torch.exp(w - w.max()).mean(0)), "exp overflows"),
    (lambda w: torch.log(torch.exp(w.double()).mean(0)).to(w.dtype), "exp overflows"),
    (in_place(solution_bound, 0), "changed its argument log_weights in place"),
    (as_dtype(solution_bound, torch.float64), "should be a float32 tensor"),
    (as_numpy(solution_bound), "got a numpy ndarray"),
]
CORRECT_ANSWERS["check_negative_elbo"] += [
    lambda x, l, m, v: (
        kl_divergence(Normal(m, (0.5 * v).exp()), Normal(0.0, 1.0)).sum(-1)
        - Bernoulli(logits=l, validate_args=False).log_prob(x).sum(-1)
    ).mean(),
]
CORRECT_ANSWERS["check_importance_weighted_bound"] += [
    lambda w: torch.logsumexp(w - math.log(w.shape[0]), dim=0),
    lambda w: torch.from_numpy(np.logaddexp.reduce(w.numpy(), axis=0) - np.log(w.shape[0]).astype(w.numpy().dtype)),
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
