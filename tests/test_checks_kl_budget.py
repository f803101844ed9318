"""The checks of notebook 07_kl_budget: the reference solutions pass, each likely mistake fails
with a message that names it, and an unfinished exercise says "not implemented"."""

import math

import pytest
import torch
import torch.nn.functional as F

from vaecourse.checks import check_active_units, check_ppca_em_step, check_rate_distortion

from check_contract import *  # noqa: F401,F403  (the tests every check module owes)


# -- reference solutions, written the way the notebook's task cells ask for them ----------
def solution_rate_distortion(x, logits, mu, logvar):
    rate = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(-1).mean()
    distortion = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
    return rate, distortion


def solution_active_units(mu, threshold):
    return mu.var(0, correction=0) > threshold


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


def _kl(mu, lv):
    return 0.5 * (mu.pow(2) + lv.exp() - lv - 1)


def _bce(x, logits):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none")


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
    "check_rate_distortion": [
        (lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), -_bce(x, l).sum(-1).mean()), "flipped sign on the distortion"),
        (lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), _bce(x, l).mean()), "averaged over pixels"),
        (lambda x, l, mu, lv: (_kl(mu, lv).mean(), _bce(x, l).sum(-1).mean()), "rate averaged over latent dimensions"),
        (lambda x, l, mu, lv: (_kl(mu, lv).sum(), _bce(x, l).sum()), "sums over the batch"),
        (lambda x, l, mu, lv: (_bce(x, l).sum(-1).mean(), _kl(mu, lv).sum(-1).mean()), "swapped"),
        (lambda x, l, mu, lv: ((0.5 * (mu**2 + lv.exp() - lv)).sum(-1).mean(), _bce(x, l).sum(-1).mean()), '"-1" is missing'),
        (lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), (x - l.sigmoid()).pow(2).sum(-1).mean()), "squared error"),
        (lambda x, l, mu, lv: (_kl(mu, lv).sum(-1).mean(), _bce(x, l.sigmoid()).sum(-1).mean()), "sigmoid applied before"),
        (lambda x, l, mu, lv: tuple(t / math.log(2) for t in solution_rate_distortion(x, l, mu, lv)), "bits instead of nats"),
        (lambda x, l, mu, lv: ((0.5 * (mu**2 + (0.5 * lv).exp() - lv - 1)).sum(-1).mean(), _bce(x, l).sum(-1).mean()),
         "sigma used where sigma^2 belongs"),
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
    "check_ppca_em_step": [
        (_em_with(no_cov=True), "posterior covariance left out"),
        (_em_with(cov_unscaled=True), "without its factor sigma^2"),
        (_em_with(identity_in_M=True), "M = W^T W + I"),
        (_em_with(no_centre=True), "not centred"),
        (_em_with(old_w=True), "old W"),
        (_em_with(per_point=True), "divided by N only"),
    ],
}

CHECKS = {
    "check_rate_distortion": check_rate_distortion,
    "check_active_units": check_active_units,
    "check_ppca_em_step": check_ppca_em_step,
}
SOLUTIONS = {
    "check_rate_distortion": solution_rate_distortion,
    "check_active_units": solution_active_units,
    "check_ppca_em_step": solution_ppca_em_step,
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


def test_the_em_step_written_with_the_sample_covariance_passes_too():
    def with_covariance(x, W, noise_var):
        xc = x - x.mean(0)
        S = xc.T @ xc / len(x)
        eye = torch.eye(W.shape[1], dtype=W.dtype)
        M_inv = torch.linalg.inv(W.T @ W + noise_var * eye)
        W_new = S @ W @ torch.linalg.inv(noise_var * eye + M_inv @ W.T @ S @ W)
        return W_new, torch.trace(S - S @ W @ M_inv @ W_new.T) / x.shape[1]

    assert check_ppca_em_step(with_covariance).passed


def test_the_checks_do_not_let_an_in_place_edit_change_the_reference():
    def edits_in_place(x, W, noise_var):
        out = solution_ppca_em_step(x, W, noise_var)
        x.mul_(0)
        W.mul_(0)
        return out

    assert check_ppca_em_step(edits_in_place).passed

    def zeroes_mu(mu, threshold):
        out = solution_active_units(mu, threshold)
        mu.zero_()
        return out

    assert check_active_units(zeroes_mu).passed
