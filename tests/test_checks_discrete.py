"""The checks of notebook 09_discrete_latents: the reference solutions pass (written by hand,
by a loop over states and by a surrogate loss), each likely mistake fails with a message that
names it, and an unfinished exercise says "not implemented"."""

import itertools

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

from vaecourse.checks import check_exact_gradient, check_leave_one_out


def solution_exact_gradient(f, logits):
    p = torch.sigmoid(logits)
    z = torch.tensor(list(itertools.product([0.0, 1.0], repeat=len(logits))), dtype=logits.dtype)
    q = torch.prod(torch.where(z == 1, p, 1 - p), dim=-1)
    return ((q * f(z)).unsqueeze(-1) * (z - p)).sum(0)


def solution_leave_one_out(f, logits, z):
    values = f(z)
    baseline = (values.sum() - values) / (len(values) - 1)
    return ((values - baseline).unsqueeze(-1) * (z - torch.sigmoid(logits))).mean(0)


def _exact_by_autograd(f, logits):
    """Another route: write E_q[f] as a sum over states and let autograd differentiate it."""
    logits = logits.detach().requires_grad_(True)
    p = torch.sigmoid(logits)
    total = 0.0
    for bits in itertools.product([0.0, 1.0], repeat=len(logits)):
        z = torch.tensor(bits, dtype=logits.dtype)
        total = total + torch.prod(torch.where(z == 1, p, 1 - p)) * f(z.unsqueeze(0))[0]
    return torch.autograd.grad(total, logits)[0]


def _exact(f, logits, *, weight=None, score=None):
    p = torch.sigmoid(logits)
    z = torch.tensor(list(itertools.product([0.0, 1.0], repeat=len(logits))), dtype=logits.dtype)
    q = torch.prod(torch.where(z == 1, p, 1 - p), dim=-1)
    w = q if weight is None else weight(q)
    s = z - p if score is None else score(z, p)
    return ((w * f(z)).unsqueeze(-1) * s).sum(0)


def _loo(f, logits, z, *, centre=None, score=None, reduce=torch.mean):
    values = f(z)
    centred = values - (values.sum() - values) / (len(values) - 1) if centre is None else centre(values)
    p = torch.sigmoid(logits)
    s = z - p if score is None else score(z, p)
    return reduce(centred.unsqueeze(-1) * s, 0)


WRONG_ANSWERS = {
    "check_exact_gradient": [
        (lambda f, l: _exact(f, l, weight=lambda q: torch.ones_like(q) / len(q)), "weighted equally"),
        (lambda f, l: _exact(f, l, score=lambda z, p: z / p - (1 - z) / (1 - p)), "with respect to the probabilities"),
        (lambda f, l: _exact(f, l, score=lambda z, p: p - z), "flipped sign"),
        (lambda f, l: _exact(lambda z: torch.ones(len(z), dtype=z.dtype), l), "f(z) is missing"),
        (
            lambda f, l: (
                torch.sigmoid(l) * (1 - torch.sigmoid(l)) * _exact(f, l, score=lambda z, p: torch.ones_like(z))[0]
            ),
            "outside the sum",
        ),
    ],
    "check_leave_one_out": [
        (lambda f, l, z: _loo(f, l, z, centre=lambda v: v - v.mean()), "including f(z_s) itself"),
        (lambda f, l, z: _loo(f, l, z, centre=lambda v: v), "no baseline"),
        (lambda f, l, z: _loo(f, l, z, centre=lambda v: v - (v.sum() - v) / len(v)), "divides by S instead of S - 1"),
        (
            lambda f, l, z: _loo(f, l, z, score=lambda z, p: z / p - (1 - z) / (1 - p)),
            "with respect to the probabilities",
        ),
        (lambda f, l, z: _loo(f, l, z, score=lambda z, p: p - z), "flipped sign"),
        (lambda f, l, z: _loo(f, l, z, reduce=torch.sum), "a sum over the S samples"),
    ],
}

CHECKS = {"check_exact_gradient": check_exact_gradient, "check_leave_one_out": check_leave_one_out}
CORRECT_ANSWERS = {"check_exact_gradient": [solution_exact_gradient], "check_leave_one_out": [solution_leave_one_out]}


def test_a_solution_by_autograd_passes_too():
    assert check_exact_gradient(_exact_by_autograd).passed


def test_a_surrogate_loss_solution_passes_too():
    def by_surrogate(f, logits, z):
        logits = logits.detach().requires_grad_(True)
        values = f(z).detach()
        centred = values - (values.sum() - values) / (len(values) - 1)
        log_q = torch.distributions.Bernoulli(logits=logits).log_prob(z).sum(-1)
        return torch.autograd.grad((centred * log_q).mean(), logits)[0]

    assert check_leave_one_out(by_surrogate).passed


def test_an_answer_that_draws_its_own_samples_is_not_accepted():
    def own_samples(f, logits, z):
        return solution_leave_one_out(f, logits, torch.bernoulli(torch.sigmoid(logits).expand(z.shape)))

    assert check_leave_one_out(own_samples).status == "failed"


# Wrong answers of the classes every check guards against (issue 14).
WRONG_ANSWERS["check_exact_gradient"] += [
    (in_place(solution_exact_gradient, 1), "changed its argument logits in place"),
    (as_numpy(solution_exact_gradient), "got a numpy ndarray"),
    (as_python(solution_exact_gradient), "got a Python list"),
    (as_dtype(solution_exact_gradient, torch.float64), "should be a float32 tensor"),
]
WRONG_ANSWERS["check_leave_one_out"] += [
    (in_place(solution_leave_one_out, 2), "changed its argument z in place"),
    (as_numpy(solution_leave_one_out), "got a numpy ndarray"),
    (as_dtype(solution_leave_one_out, torch.float32), "should be a float64 tensor"),
    (lambda f, l, z: solution_leave_one_out(f, l, z).unsqueeze(0), "should have shape (2,), got shape (1, 2)"),
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
