"""The checks of notebook 05_reparameterization: the reference solutions pass, each likely
mistake fails with a message that names it, and an unfinished exercise says "not implemented"."""

import pytest
import torch
from check_contract import (
    as_dtype,
    as_numpy,
    assert_a_crash_is_reported_in_one_line,
    assert_fails_and_names,
    assert_passes,
    assert_unfinished_says_so_in_one_line,
    in_place,
    table,
)
from torch.distributions import Exponential, Normal

from vaecourse.checks import check_inverse_cdf_sampler, check_reparameterization_gradient, check_reparameterize


def solution_reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps


def solution_reparameterization_gradient(f, mu, logvar, eps):
    mu = mu.detach().requires_grad_(True)
    logvar = logvar.detach().requires_grad_(True)
    z = mu + torch.exp(0.5 * logvar) * eps
    return torch.autograd.grad(f(z).mean(), (mu, logvar))


def solution_inverse_cdf_sampler(rate, u):
    return -torch.log(1 - u) / rate


def _reparameterization(
    f, mu, logvar, eps, *, std=lambda lv: torch.exp(0.5 * lv), reduce=torch.mean, wrt_sigma=False, noise=True
):
    """A learner's reparameterization estimator with one piece swapped for a wrong one."""
    mu = mu.detach().requires_grad_(True)
    if wrt_sigma:  # differentiates with respect to sigma (or log sigma) as the leaf
        sigma = std(logvar).detach().requires_grad_(True)
        z = mu + sigma * eps
        return torch.autograd.grad(reduce(f(z)), (mu, sigma))
    logvar = logvar.detach().requires_grad_(True)
    z = mu + std(logvar) * eps if noise else mu.expand_as(eps) + 0 * logvar
    return torch.autograd.grad(reduce(f(z)), (mu, logvar))


def _wrt_log_sigma(f, mu, logvar, eps):
    mu = mu.detach().requires_grad_(True)
    log_sigma = (0.5 * logvar).detach().requires_grad_(True)
    z = mu + torch.exp(log_sigma) * eps
    return torch.autograd.grad(f(z).mean(), (mu, log_sigma))


def _score_function(f, mu, logvar, eps):
    std = torch.exp(0.5 * logvar)
    values = f(mu + std * eps).unsqueeze(-1)
    return (values * eps / std).mean(0), (values * 0.5 * (eps**2 - 1)).mean(0)


def _own_noise(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def _no_gradient(mu, logvar, eps):
    with torch.no_grad():
        return mu + torch.exp(0.5 * logvar) * eps


WRONG_ANSWERS = {
    "check_reparameterize": [
        (lambda mu, lv, eps: mu + torch.exp(lv) * eps, "exp(logvar) was used as the standard deviation"),
        (lambda mu, lv, eps: mu + 0.5 * torch.exp(lv) * eps, "0.5 * exp(logvar) is not exp(0.5 * logvar)"),
        (lambda mu, lv, eps: mu + lv * eps, "logvar was used as the standard deviation"),
        (lambda mu, lv, eps: mu + eps / torch.exp(0.5 * lv), "1 / sigma was used"),
        (lambda mu, lv, eps: torch.exp(0.5 * lv) * eps, "mu is missing"),
        (lambda mu, lv, eps: mu + torch.exp(0.5 * lv) + eps, "added, not scaled"),
        (lambda mu, lv, eps: mu - torch.sqrt(torch.exp(lv)) * eps, "mu - sigma * eps"),
        (_own_noise, "draws its own noise"),
        (_no_gradient, "carries no gradient"),
        (lambda mu, lv, eps: torch.distributions.Normal(mu, torch.exp(0.5 * lv)).sample(), "draws its own noise"),
    ],
    "check_reparameterization_gradient": [
        (lambda f, mu, lv, eps: _reparameterization(f, mu, lv, eps, reduce=torch.sum), "a sum over the S samples"),
        (
            lambda f, mu, lv, eps: _reparameterization(f, mu, lv, eps, std=torch.exp),
            "exp(logvar) was used as the standard deviation",
        ),
        (
            lambda f, mu, lv, eps: _reparameterization(f, mu, lv, eps, wrt_sigma=True),
            "with respect to sigma, not logvar",
        ),
        (_wrt_log_sigma, "with respect to log sigma"),
        (lambda f, mu, lv, eps: _reparameterization(f, mu, lv, eps, noise=False), "differentiated at z = mu"),
        (_score_function, "score-function estimate"),
    ],
    "check_inverse_cdf_sampler": [
        (lambda rate, u: -torch.log(u) / rate, "u was used where 1 - u belongs"),
        (lambda rate, u: -torch.log(1 - u) * rate, "the rate multiplies instead of divides"),
        (lambda rate, u: torch.log(1 - u) / rate, "a missing minus sign"),
        (lambda rate, u: 1 - torch.exp(-rate * u), "that is the CDF"),
        (lambda rate, u: -torch.log(1 - u) + 0 * rate, "the rate is missing"),
        (lambda rate, u: -torch.log(1 - torch.rand_like(u)) / rate, "draws its own noise"),
        (
            lambda rate, u: -torch.log(1 - u) / rate.item() if rate.dim() == 0 else -torch.log(1 - u) / rate.detach(),
            "carries no gradient",
        ),
    ],
}

CHECKS = {
    "check_reparameterize": check_reparameterize,
    "check_reparameterization_gradient": check_reparameterization_gradient,
    "check_inverse_cdf_sampler": check_inverse_cdf_sampler,
}
CORRECT_ANSWERS = {
    "check_reparameterize": [solution_reparameterize],
    "check_reparameterization_gradient": [solution_reparameterization_gradient],
    "check_inverse_cdf_sampler": [solution_inverse_cdf_sampler],
}


def test_other_correct_answers_pass_too():
    assert check_reparameterize(lambda mu, lv, eps: mu + torch.sqrt(torch.exp(lv)) * eps).passed
    assert check_inverse_cdf_sampler(lambda rate, u: -torch.log1p(-u) / rate).passed
    assert check_inverse_cdf_sampler(lambda rate, u: torch.distributions.Exponential(rate).icdf(u)).passed

    def by_backward(f, mu, logvar, eps):
        mu, logvar = mu.requires_grad_(True), logvar.requires_grad_(True)
        f(solution_reparameterize(mu, logvar, eps)).mean().backward()
        return mu.grad, logvar.grad

    assert check_reparameterization_gradient(by_backward).passed


def test_a_crashing_answer_is_reported_in_one_line():
    result = check_reparameterize(lambda mu, logvar, eps: mu @ logvar @ eps)
    assert result.status == "failed"
    assert "raised RuntimeError" in result.message


def test_a_reparameterization_answer_that_detaches_z_is_reported_not_raised():
    def detached(f, mu, logvar, eps):
        mu, logvar = mu.requires_grad_(True), logvar.requires_grad_(True)
        z = (mu + torch.exp(0.5 * logvar) * eps).detach()
        return torch.autograd.grad(f(z).mean(), (mu, logvar))

    result = check_reparameterization_gradient(detached)
    assert result.status == "failed" and "raised RuntimeError" in result.message


# Wrong answers of the classes every check guards against (issue 14).
WRONG_ANSWERS["check_reparameterize"] += [
    (lambda mu, lv, eps: mu + torch.exp(0.5 * lv).detach() * eps, "no gradient reaches logvar"),
    (lambda mu, lv, eps: solution_reparameterize(mu, lv, eps).detach().requires_grad_(), "no gradient reaches mu"),
    (lambda mu, lv, eps: eps.mul_(torch.exp(0.5 * lv)).add_(mu), "changed its argument eps in place"),
    (as_numpy(solution_reparameterize), "got a numpy ndarray"),
    (as_dtype(solution_reparameterize, torch.float64), "should be a float32 tensor"),
]
WRONG_ANSWERS["check_reparameterization_gradient"] += [
    (in_place(solution_reparameterization_gradient, 3), "changed its argument eps in place"),
    (as_numpy(solution_reparameterization_gradient), "got a numpy ndarray"),
    (as_dtype(solution_reparameterization_gradient, torch.float64), "should be a float32 tensor"),
    (lambda *a: torch.stack(solution_reparameterization_gradient(*a)), "should be a pair of 2 values"),
]
WRONG_ANSWERS["check_inverse_cdf_sampler"] += [
    (lambda rate, u: solution_inverse_cdf_sampler(rate, u).detach().requires_grad_(), "no gradient reaches rate"),
    (lambda rate, u: -torch.log1p(-u) * (1 / rate).detach(), "carries no gradient"),
    (lambda rate, u: u.neg_().log1p_().neg_().div_(rate), "changed its argument u in place"),
    (as_numpy(solution_inverse_cdf_sampler), "got a numpy ndarray"),
    (as_dtype(solution_inverse_cdf_sampler, torch.float32), "should be a float64 tensor"),
]
CORRECT_ANSWERS["check_reparameterize"] += [
    lambda mu, lv, eps: torch.addcmul(mu, torch.sqrt(lv.exp()), eps),
    lambda mu, lv, eps: Normal(mu, torch.exp(0.5 * lv)).rsample() * 0 + mu + (0.5 * lv).exp() * eps,
]
CORRECT_ANSWERS["check_inverse_cdf_sampler"] += [
    lambda rate, u: Exponential(rate).icdf(u),
    lambda rate, u: -torch.log1p(-u) / rate,
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
