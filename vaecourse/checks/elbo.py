"""Checks for the exercises of notebook 01_elbo.

- ``check_log_marginal``: log p(x) of the linear-Gaussian model, x ~ N(b, W W^T + s^2 I).
- ``check_monte_carlo_elbo``: the ELBO by Monte Carlo from given noise eps.
The references are torch.distributions, not the package's own toy model.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import MultivariateNormal, Normal

from ._core import Case, CheckResult, Mistake, run_check

__all__ = ["check_log_marginal", "check_monte_carlo_elbo"]


def _problem(seed: int, data_dim: int, latent_dim: int, batch: int):
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(data_dim, latent_dim, generator=gen, dtype=torch.float64)
    b = torch.randn(data_dim, generator=gen, dtype=torch.float64)
    x = torch.randn(batch, data_dim, generator=gen, dtype=torch.float64) * 2
    return W, b, x, gen


def _mvn_log_prob(x, mean, cov):
    return MultivariateNormal(mean, cov).log_prob(x)


# -- exercise 1: log p(x) -------------------------------------------------------------------
def _log_marginal(W, b, noise_std, x):
    return _mvn_log_prob(x, b, W @ W.T + noise_std**2 * torch.eye(W.shape[0], dtype=W.dtype))


_LOG_MARGINAL_MISTAKES = [
    Mistake(
        "the noise added as s instead of s^2 (the covariance is W W^T + s^2 I)",
        lambda W, b, s, x: _mvn_log_prob(x, b, W @ W.T + s * torch.eye(W.shape[0], dtype=W.dtype)),
    ),
    Mistake(
        "the noise term forgotten (the covariance is W W^T + s^2 I, not W W^T)",
        lambda W, b, s, x: _mvn_log_prob(x, b, W @ W.T),
    ),
    Mistake(
        "the mean b forgotten (x is centred at b: use x - b)",
        lambda W, b, s, x: _mvn_log_prob(x, torch.zeros_like(b), W @ W.T + s**2 * torch.eye(W.shape[0], dtype=W.dtype)),
    ),
    Mistake(
        "the constant -D/2 log(2 pi) missing",
        lambda W, b, s, x: _log_marginal(W, b, s, x) + W.shape[0] / 2 * math.log(2 * math.pi),
    ),
    Mistake(
        "log det C used where -1/2 log det C belongs",
        lambda W, b, s, x: (
            _log_marginal(W, b, s, x) + 1.5 * torch.logdet(W @ W.T + s**2 * torch.eye(W.shape[0], dtype=W.dtype))
        ),
    ),
    Mistake(
        "the log-density summed over the batch (return one value per row of x)",
        lambda W, b, s, x: _log_marginal(W, b, s, x).sum(),
    ),
]


def check_log_marginal(log_marginal) -> CheckResult:
    """Check ``log_marginal(W, b, noise_std, x) -> (B,)``, the exact log p(x) of the
    linear-Gaussian model, against torch.distributions.MultivariateNormal on three models
    (including one whose W W^T alone is singular). Taught in notebook 01_elbo."""
    cases = []
    for seed, (d, k, s) in enumerate([(3, 1, 0.5), (2, 2, 1.3), (5, 2, 0.2)]):
        W, b, x, _ = _problem(seed, d, k, 4)
        cases.append(Case((W, b, s, x), label=f"D={d}, k={k}, s={s}"))
    return run_check(
        "check_log_marginal",
        log_marginal,
        _log_marginal,
        cases,
        _LOG_MARGINAL_MISTAKES,
        success="log p(x) matches N(x; b, W W^T + s^2 I) on 3 models.",
    )


# -- exercise 2: the ELBO by Monte Carlo ------------------------------------------------------
def _log_joint(W, b, s, x, z):
    return Normal(z @ W.T + b, s).log_prob(x).sum(-1) + Normal(0.0, 1.0).log_prob(z).sum(-1)


def _mc_elbo(W, b, s, x, mu, logvar, eps, *, std=None, prior=True, log_q_sign=-1.0, use_mu=False):
    std = torch.exp(0.5 * logvar) if std is None else std
    z = mu.expand_as(eps) if use_mu else mu + std * eps
    log_q = Normal(mu, std).log_prob(z).sum(-1)
    log_p = _log_joint(W, b, s, x, z) if prior else Normal(z @ W.T + b, s).log_prob(x).sum(-1)
    return (log_p + log_q_sign * log_q).mean(0)


_ELBO_MISTAKES = [
    Mistake(
        "exp(logvar) used as the standard deviation (sigma = exp(logvar / 2))",
        lambda *a: _mc_elbo(*a, std=torch.exp(a[5])),
    ),
    Mistake(
        "the prior log p(z) left out (the ELBO needs log p(x, z) = log p(x|z) + log p(z))",
        lambda *a: _mc_elbo(*a, prior=False),
    ),
    Mistake("log q(z) added instead of subtracted", lambda *a: _mc_elbo(*a, log_q_sign=1.0)),
    Mistake("log q(z) left out (the ELBO is E_q[log p(x, z) - log q(z)])", lambda *a: _mc_elbo(*a, log_q_sign=0.0)),
    Mistake("z = mu used instead of a sample z = mu + sigma * eps", lambda *a: _mc_elbo(*a, use_mu=True)),
    Mistake("a sum over the samples instead of their mean", lambda *a: _mc_elbo(*a) * a[6].shape[0]),
]


def check_monte_carlo_elbo(monte_carlo_elbo) -> CheckResult:
    """Check ``monte_carlo_elbo(W, b, noise_std, x, mu, logvar, eps) -> (B,)``: the mean over
    the S rows of eps (shape (S, B, k)) of log p(x, z) - log q(z), z = mu + exp(logvar/2) eps,
    against torch.distributions.Normal log-densities. Taught in notebook 01_elbo."""
    cases = []
    for seed, (d, k, s, num) in enumerate([(3, 1, 0.5, 4), (4, 2, 0.8, 7), (2, 3, 1.5, 1)]):
        W, b, x, gen = _problem(seed + 10, d, k, 3)
        mu = torch.randn(3, k, generator=gen, dtype=torch.float64)
        logvar = torch.randn(3, k, generator=gen, dtype=torch.float64) - 0.5
        eps = torch.randn(num, 3, k, generator=gen, dtype=torch.float64)
        cases.append(Case((W, b, s, x, mu, logvar, eps), label=f"D={d}, k={k}, S={num}"))
    return run_check(
        "check_monte_carlo_elbo",
        monte_carlo_elbo,
        _mc_elbo,
        cases,
        _ELBO_MISTAKES,
        success="the Monte Carlo ELBO matches on 3 models and sample counts.",
    )
