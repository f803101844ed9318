"""Checks for the exercises of notebook 08_not_em.

- ``check_ppca_em_step(fn)``: fn(x, W, noise_var) -> (W_new, noise_var_new), one EM iteration
  for probabilistic PCA from (W, sigma^2) on data x (N, D), W (D, k).
- ``check_mean_field_gap(fn)``: fn(precision) -> KL(q* || p), where p = N(m, precision^-1)
  and q* is the best Gaussian with a diagonal covariance; precision (k, k).

References: vaecourse.ppca.ppca_em_step (tested against scikit-learn's PCA and the likelihood's
stationarity) for the EM step; torch.distributions' KL between multivariate normals, at the
optimal diagonal q, for the gap; never the learner's function. The wrong answers beside each
check are the mistakes the notebook warns about.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.distributions import MultivariateNormal, kl_divergence

from ..ppca import ppca_em_step
from ..toy import LinearGaussianModel
from ._core import Case, CheckResult, Mistake, run_check

__all__ = ["check_ppca_em_step", "check_mean_field_gap"]


# -- one EM step for probabilistic PCA -----------------------------------------------------
def _reference_em(x, W, noise_var):
    new = ppca_em_step(x, LinearGaussianModel(W, x.mean(0), math.sqrt(noise_var)))
    return new.W, new.noise_std**2


def _em_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    truth = LinearGaussianModel.random(6, 2, noise_std=0.4, generator=g)
    x, _ = truth.sample(200, g)
    x2 = 3.0 + 0.5 * torch.randn(50, 4, generator=g, dtype=torch.float64)
    return [
        Case(
            (x, torch.randn(6, 2, generator=g, dtype=torch.float64), 1.0),
            label="200 points in 6-D, k = 2, from a random start",
        ),
        Case(
            (x, truth.W + 0.3 * torch.randn(6, 2, generator=g, dtype=torch.float64), 0.3),
            label="the same data, started near the truth",
        ),
        Case(
            (x2, torch.randn(4, 1, generator=g, dtype=torch.float64), 0.5), label="50 points in 4-D with mean 3, k = 1"
        ),
    ]


def _em_parts(x, W, s2, *, centre=True, posterior_cov=True, s2_in_M=True, cov_scale=True):
    """E-step and M-step written out, with switches for the likely mistakes."""
    k = W.shape[1]
    xc = x - x.mean(0) if centre else x
    M = W.T @ W + (s2 if s2_in_M else 1.0) * torch.eye(k, dtype=W.dtype)
    M_inv = torch.linalg.inv(M)
    Ez = xc @ W @ M_inv.T  # E[z_n] = M^-1 W^T (x_n - mean), rows
    cov = (s2 if cov_scale else 1.0) * M_inv if posterior_cov else torch.zeros_like(M_inv)
    sum_Ezz = len(x) * cov + Ez.T @ Ez  # sum_n E[z_n z_n^T]
    W_new = (xc.T @ Ez) @ torch.linalg.inv(sum_Ezz)
    return xc, Ez, sum_Ezz, W_new


def _em_noise(xc, Ez, sum_Ezz, W_used, denominator):
    total = xc.pow(2).sum() - 2 * (Ez * (xc @ W_used)).sum() + torch.trace(sum_Ezz @ W_used.T @ W_used)
    return (total / denominator).item()


def _em_variant(**switches):
    old_w = switches.pop("old_w", False)
    per_point = switches.pop("per_point", False)

    def step(x, W, s2):
        xc, Ez, sum_Ezz, W_new = _em_parts(x, W, s2, **switches)
        denominator = len(x) if per_point else len(x) * x.shape[1]
        return W_new, _em_noise(xc, Ez, sum_Ezz, W if old_w else W_new, denominator)

    return step


EM_MISTAKES = [
    Mistake(
        "the posterior covariance left out of E[z z^T]: it is sigma^2 M^-1 + E[z] E[z]^T, "
        "not E[z] E[z]^T alone (the E-step's uncertainty about z)",
        _em_variant(posterior_cov=False),
    ),
    Mistake(
        "the posterior covariance without its factor sigma^2: Cov[z|x] = sigma^2 M^-1", _em_variant(cov_scale=False)
    ),
    Mistake("M = W^T W + I: the noise variance belongs there, M = W^T W + sigma^2 I", _em_variant(s2_in_M=False)),
    Mistake(
        "the data not centred: subtract the mean of x (the maximum-likelihood offset b) first",
        _em_variant(centre=False),
    ),
    Mistake("the old W in the noise-variance update: sigma^2_new uses W_new", _em_variant(old_w=True)),
    Mistake("the noise variance divided by N only: it is a mean over the N*D coordinates", _em_variant(per_point=True)),
]


def check_ppca_em_step(fn: Callable[..., tuple[torch.Tensor, float]]) -> CheckResult:
    """Check fn(x, W, noise_var) -> (W_new, noise_var_new), one EM iteration for probabilistic
    PCA (x (N, D), W (D, k), noise_var = sigma^2 a float), against vaecourse.ppca.ppca_em_step
    on three problems. Taught in notebook 08_not_em."""
    return run_check(
        "check_ppca_em_step",
        fn,
        _reference_em,
        _em_cases(),
        EM_MISTAKES,
        rtol=1e-6,
        atol=1e-8,
        success="your EM step agrees with vaecourse.ppca.ppca_em_step on all 3 problems.",
    )


# -- the mean-field gap --------------------------------------------------------------------
def _reference_gap(precision):
    precision = precision.double()
    k = precision.shape[-1]
    p = MultivariateNormal(torch.zeros(k, dtype=torch.float64), precision_matrix=precision)
    q = MultivariateNormal(
        torch.zeros(k, dtype=torch.float64), covariance_matrix=torch.diag(1 / torch.diagonal(precision))
    )
    return kl_divergence(q, p)


def _gap_cases() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    A = torch.randn(3, 3, generator=g, dtype=torch.float64)
    W = torch.randn(6, 2, generator=g, dtype=torch.float64)
    return [
        Case((torch.tensor([[2.0, 0.9], [0.9, 1.5]], dtype=torch.float64),), label="a 2x2 precision with correlation"),
        Case((A @ A.T + 0.5 * torch.eye(3, dtype=torch.float64),), label="a random 3x3 precision"),
        Case((torch.eye(2, dtype=torch.float64) + W.T @ W / 0.25,), label="PPCA's posterior precision I + W^T W / s^2"),
    ]


def _half_log(precision):
    return torch.log(torch.diagonal(precision)).sum(), torch.logdet(precision)


GAP_MISTAKES = [
    Mistake(
        "the diagonal of the covariance instead of the precision: the best diagonal q has "
        "variances 1 / Lambda_jj, which are smaller than the posterior's marginal variances",
        lambda P: (
            0.5 * (torch.logdet(torch.linalg.inv(P)) - torch.log(torch.diagonal(torch.linalg.inv(P))).sum())
            + 0.5 * (torch.diagonal(torch.linalg.inv(P)) * torch.diagonal(P)).sum()
            - 0.5 * P.shape[-1]
        ),
    ),
    Mistake(
        "the sign flipped: KL(q* || p) = 1/2 (sum_j log Lambda_jj - log det Lambda) is >= 0",
        lambda P: 0.5 * (torch.logdet(P) - torch.log(torch.diagonal(P)).sum()),
    ),
    Mistake("the factor 1/2 missing", lambda P: torch.log(torch.diagonal(P)).sum() - torch.logdet(P)),
    Mistake(
        "log of the determinant of the diagonal part taken as the trace: use sum_j log Lambda_jj",
        lambda P: 0.5 * (torch.diagonal(P).sum() - torch.logdet(P)),
    ),
]


def check_mean_field_gap(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check fn(precision) -> KL(q* || p) for p = N(m, precision^-1) and q* its best diagonal
    Gaussian, against torch.distributions' KL of the two multivariate normals (q* with variances
    1 / precision_jj) on three precisions. Taught in notebook 08_not_em."""
    return run_check(
        "check_mean_field_gap",
        fn,
        _reference_gap,
        _gap_cases(),
        GAP_MISTAKES,
        rtol=1e-6,
        atol=1e-9,
        success="your gap agrees with torch.distributions' KL at the best diagonal q on all 3 precisions.",
    )
