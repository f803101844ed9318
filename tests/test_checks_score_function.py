"""The checks of notebook 04_score_function: the reference solutions pass (written by hand and
by a surrogate loss), each likely mistake fails with a message that names it, and an
unfinished exercise says "not implemented"."""

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

from vaecourse.checks import check_baseline, check_score_function_estimator


def solution_score_function_estimator(f, mu, logvar, eps):
    std = torch.exp(0.5 * logvar)
    z = mu + std * eps
    values = f(z).detach().unsqueeze(-1)
    score_mu = (z - mu) / std**2
    score_logvar = 0.5 * ((z - mu) ** 2 / std**2 - 1)
    return (values * score_mu).mean(0), (values * score_logvar).mean(0)


def solution_baseline(f, mu, logvar, eps):
    std = torch.exp(0.5 * logvar)
    z = mu + std * eps
    values = f(z).detach().unsqueeze(-1)
    baseline = (values.sum(0) - values) / (len(values) - 1)
    return ((values - baseline) * eps / std).mean(0), ((values - baseline) * 0.5 * (eps**2 - 1)).mean(0)


def _by_surrogate(f, mu, logvar, eps, *, detach_f=True, detach_z=True, baseline=None):
    """The learner's other route: a surrogate loss whose gradient is the estimate."""
    mu = mu.detach().requires_grad_(True)
    logvar = logvar.detach().requires_grad_(True)
    std = torch.exp(0.5 * logvar)
    z = mu + std * eps
    values = f(z.detach() if detach_f else z)
    if baseline is not None:
        values = values - baseline(values)
    log_q = torch.distributions.Normal(mu, std).log_prob(z.detach() if detach_z else z).sum(-1)
    return torch.autograd.grad((values * log_q).mean(), (mu, logvar))


def _hand(f, mu, logvar, eps, *, std=None, score_mu=None, score_logvar=None, weight=None, reduce="mean"):
    """The hand-written estimator with one piece swapped for a wrong one."""
    std = torch.exp(0.5 * logvar) if std is None else std(logvar)
    z = mu + std * eps
    values = f(z).unsqueeze(-1)
    values = values if weight is None else weight(values)
    s_mu = (z - mu) / std**2 if score_mu is None else score_mu(z, mu, std)
    s_lv = 0.5 * ((z - mu) ** 2 / std**2 - 1) if score_logvar is None else score_logvar(z, mu, std)
    op = torch.mean if reduce == "mean" else torch.sum
    return op(values * s_mu, 0), op(values * s_lv, 0)


def _product_baseline(f, mu, logvar, eps):
    std = torch.exp(0.5 * logvar)
    z = mu + std * eps
    values = f(z).unsqueeze(-1)
    b = (values.sum(0) - values) / (len(values) - 1)
    return (values * eps / std - b).mean(0), (values * 0.5 * (eps**2 - 1) - b).mean(0)


WRONG_ANSWERS = {
    "check_score_function_estimator": [
        (lambda f, mu, lv, eps: _by_surrogate(f, mu, lv, eps, detach_f=False), "gradient also flows through f(z)"),
        (lambda f, mu, lv, eps: _by_surrogate(f, mu, lv, eps, detach_z=False), "without detaching z"),
        (lambda f, mu, lv, eps: _by_surrogate(f, mu, lv, eps, detach_f=False, detach_z=False), "nothing was detached"),
        (
            lambda f, mu, lv, eps: _hand(f, mu, lv, eps, score_logvar=lambda z, m, s: 0.5 * (z - m) ** 2 / s**2),
            "missing its log-variance term",
        ),
        (
            lambda f, mu, lv, eps: _hand(f, mu, lv, eps, score_logvar=lambda z, m, s: ((z - m) ** 2 / s**2 - 1) / s),
            "d log q / d sigma",
        ),
        (
            lambda f, mu, lv, eps: _hand(f, mu, lv, eps, score_logvar=lambda z, m, s: (z - m) ** 2 / s**2 - 1),
            "missing its factor 1/2",
        ),
        (lambda f, mu, lv, eps: _hand(f, mu, lv, eps, score_mu=lambda z, m, s: (z - m) / s), "not sigma^2"),
        (lambda f, mu, lv, eps: _hand(f, mu, lv, eps, score_mu=lambda z, m, s: (m - z) / s**2), "flipped sign"),
        (lambda f, mu, lv, eps: _hand(f, mu, lv, eps, std=torch.exp), "exp(logvar) was used as the standard deviation"),
        (lambda f, mu, lv, eps: _hand(f, mu, lv, eps, weight=torch.ones_like), "f(z) is missing"),
        (lambda f, mu, lv, eps: _hand(f, mu, lv, eps, reduce="sum"), "a sum over the S samples"),
    ],
    "check_baseline": [
        (lambda f, mu, lv, eps: _hand(f, mu, lv, eps, weight=lambda v: v - v.mean(0)), "including f(z_s) itself"),
        (lambda f, mu, lv, eps: _by_surrogate(f, mu, lv, eps, baseline=lambda v: v.mean()), "biased"),
        (lambda f, mu, lv, eps: _hand(f, mu, lv, eps, weight=lambda v: v - v), "the sample's own f(z_s)"),
        (
            lambda f, mu, lv, eps: _hand(f, mu, lv, eps, weight=lambda v: v + (v.sum(0) - v) / (len(v) - 1)),
            "added instead of subtracted",
        ),
        (
            lambda f, mu, lv, eps: _hand(f, mu, lv, eps, weight=lambda v: v - (v.sum(0) - v) / len(v)),
            "divides by S instead of S - 1",
        ),
        (solution_score_function_estimator, "no baseline was subtracted"),
        (_product_baseline, "subtracted from f(z) * score"),
    ],
}


CHECKS = {"check_score_function_estimator": check_score_function_estimator, "check_baseline": check_baseline}
CORRECT_ANSWERS = {
    "check_score_function_estimator": [solution_score_function_estimator],
    "check_baseline": [solution_baseline],
}


def test_a_surrogate_loss_solution_passes_too():
    assert check_score_function_estimator(_by_surrogate).passed
    leave_one_out = lambda v: (v.sum(0) - v) / (len(v) - 1)  # noqa: E731
    assert check_baseline(lambda f, mu, lv, eps: _by_surrogate(f, mu, lv, eps, baseline=leave_one_out)).passed


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_an_answer_that_ignores_eps_is_not_accepted(name):
    def own_noise(f, mu, logvar, eps):
        return CORRECT_ANSWERS[name][0](f, mu, logvar, torch.randn_like(eps))

    assert CHECKS[name](own_noise).status == "failed"


def test_a_crashing_answer_is_reported_in_one_line():
    result = check_score_function_estimator(lambda f, mu, logvar, eps: mu @ eps)
    assert result.status == "failed"
    assert "raised RuntimeError" in result.message


# Wrong answers of the classes every check guards against (issue 14).
for _name, _solution in [
    ("check_score_function_estimator", solution_score_function_estimator),
    ("check_baseline", solution_baseline),
]:
    WRONG_ANSWERS[_name] += [
        (in_place(_solution, 3), "changed its argument eps in place"),
        (in_place(_solution, 1), "changed its argument mu in place"),
        (as_numpy(_solution), "got a numpy ndarray"),
        (as_python(_solution), "got a Python list"),
        (as_dtype(_solution, torch.float64), "should be a float32 tensor"),
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
