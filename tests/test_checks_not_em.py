"""The checks of notebook 08_not_em: the reference solutions pass, each likely mistake fails
with a message that names it, and an unfinished exercise says "not implemented"."""

import pytest
import torch
from check_contract import (
    as_dtype,
    assert_a_crash_is_reported_in_one_line,
    assert_fails_and_names,
    assert_passes,
    assert_unfinished_says_so_in_one_line,
    in_place,
    table,
)

from vaecourse.checks import check_mean_field_gap, check_ppca_em_step


# -- reference solutions, written the way the notebook's task cells ask for them ----------
def solution_ppca_em_step(x, W, noise_var):
    # E-step: q(z_n) = N(M^-1 W^T (x_n - mean), noise_var M^-1) with M = W^T W + noise_var I
    xc = x - x.mean(0)
    N, D = x.shape
    M_inv = torch.linalg.inv(W.T @ W + noise_var * torch.eye(W.shape[1], dtype=W.dtype))
    Ez = xc @ W @ M_inv
    sum_Ezz = N * noise_var * M_inv + Ez.T @ Ez
    # M-step: W and noise_var maximise the expected complete-data log-likelihood
    W_new = xc.T @ Ez @ torch.linalg.inv(sum_Ezz)
    total = xc.pow(2).sum() - 2 * (Ez * (xc @ W_new)).sum() + torch.trace(sum_Ezz @ W_new.T @ W_new)
    return W_new, (total / (N * D)).item()


def solution_mean_field_gap(precision):
    # q* has variances 1 / Lambda_jj; KL(q* || p) = 1/2 (sum_j log Lambda_jj - log det Lambda)
    return 0.5 * (torch.log(torch.diagonal(precision)).sum() - torch.logdet(precision))


def _em_with(**change):
    """The solution with one mistake: a switch for each likely slip."""

    def step(x, W, noise_var):
        xc = x if change.get("no_centre") else x - x.mean(0)
        N, D = x.shape
        in_M = 1.0 if change.get("identity_in_M") else noise_var
        M_inv = torch.linalg.inv(W.T @ W + in_M * torch.eye(W.shape[1], dtype=W.dtype))
        Ez = xc @ W @ M_inv
        cov = 0.0 if change.get("no_cov") else (1.0 if change.get("cov_unscaled") else noise_var) * M_inv
        sum_Ezz = N * cov + Ez.T @ Ez
        W_new = xc.T @ Ez @ torch.linalg.inv(sum_Ezz)
        W_used = W if change.get("old_w") else W_new
        total = xc.pow(2).sum() - 2 * (Ez * (xc @ W_used)).sum() + torch.trace(sum_Ezz @ W_used.T @ W_used)
        return W_new, (total / (N if change.get("per_point") else N * D)).item()

    return step


WRONG_ANSWERS = {
    "check_ppca_em_step": [
        (_em_with(no_cov=True), "posterior covariance left out"),
        (_em_with(cov_unscaled=True), "without its factor sigma^2"),
        (_em_with(identity_in_M=True), "M = W^T W + I"),
        (_em_with(no_centre=True), "not centred"),
        (_em_with(old_w=True), "old W"),
        (_em_with(per_point=True), "divided by N only"),
    ],
    "check_mean_field_gap": [
        (lambda P: 0.5 * (torch.logdet(P) - torch.log(torch.diagonal(P)).sum()), "sign flipped"),
        (lambda P: torch.log(torch.diagonal(P)).sum() - torch.logdet(P), "factor 1/2 missing"),
        (lambda P: 0.5 * (torch.diagonal(P).sum() - torch.logdet(P)), "as the trace"),
        (
            lambda P: (
                0.5 * (torch.logdet(torch.linalg.inv(P)) - torch.log(torch.diagonal(torch.linalg.inv(P))).sum())
                + 0.5 * (torch.diagonal(torch.linalg.inv(P)) * torch.diagonal(P)).sum()
                - 0.5 * P.shape[-1]
            ),
            "diagonal of the covariance instead of the precision",
        ),
    ],
}

CHECKS = {
    "check_ppca_em_step": check_ppca_em_step,
    "check_mean_field_gap": check_mean_field_gap,
}
CORRECT_ANSWERS = {
    "check_ppca_em_step": [solution_ppca_em_step],
    "check_mean_field_gap": [solution_mean_field_gap],
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_a_crashing_answer_is_reported_in_one_line(name):
    result = CHECKS[name](lambda *args: args[0] @ torch.ones(1, 1, 1))  # a shape error
    assert result.status == "failed"
    assert "raised RuntimeError" in result.message


def test_the_em_step_written_with_the_sample_covariance_passes_too():
    def with_covariance(x, W, noise_var):
        xc = x - x.mean(0)
        S = xc.T @ xc / len(x)
        eye = torch.eye(W.shape[1], dtype=W.dtype)
        M_inv = torch.linalg.inv(W.T @ W + noise_var * eye)
        W_new = S @ W @ torch.linalg.inv(noise_var * eye + M_inv @ W.T @ S @ W)
        return W_new, torch.trace(S - S @ W @ M_inv @ W_new.T) / x.shape[1]

    assert check_ppca_em_step(with_covariance).passed


# Wrong answers of the classes every check guards against (issue 14).
WRONG_ANSWERS["check_ppca_em_step"] += [
    (lambda x, W, s2: solution_ppca_em_step(x.sub_(x.mean(0)), W, s2), "changed its argument x in place"),
    (in_place(solution_ppca_em_step, 1), "changed its argument W in place"),
    (lambda x, W, s2: (lambda W_new, s: (W_new.numpy(), s))(*solution_ppca_em_step(x, W, s2)), "got a numpy ndarray"),
    (lambda x, W, s2: (lambda W_new, s: (W_new.float(), s))(*solution_ppca_em_step(x, W, s2)), "should be a float64"),
]
WRONG_ANSWERS["check_mean_field_gap"] += [
    (lambda P: float(solution_mean_field_gap(P)), "got a Python float"),
    (in_place(solution_mean_field_gap, 0), "changed its argument precision in place"),
    (as_dtype(solution_mean_field_gap, torch.float32), "should be a float64 tensor"),
    (lambda P: solution_mean_field_gap(P).reshape(1), "should have shape (), got shape (1,)"),
]
CORRECT_ANSWERS["check_mean_field_gap"] += [
    lambda P: torch.log(torch.diagonal(P)).sum() / 2 - torch.log(torch.diagonal(torch.linalg.cholesky(P))).sum(),
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
