"""Probabilistic PCA: the linear-Gaussian model fitted to data, exactly and by EM.

Taught in notebook 07_kl_budget ("why a neural network and not EM"). PPCA is the model of
vaecourse.toy, z ~ N(0, I_k), x | z ~ N(W z + b, s^2 I_D), with W, b, s fitted by maximum
likelihood (Tipping & Bishop 1999). With S the sample covariance (1/N) and its eigenvalues
l_1 >= ... >= l_D, eigenvectors U:

    b = mean of x,   s^2 = (l_{k+1} + ... + l_D) / (D - k),   W = U_k (L_k - s^2 I)^(1/2) R

for any rotation R (W is identified only up to R; its column space is not). EM reaches the
same maximum with one E-step and one M-step per iteration, written with S:

    M = W^T W + s^2 I
    W_new = S W (s^2 I + M^-1 W^T S W)^-1
    s2_new = tr(S - S W M^-1 W_new^T) / D

A VAE with a linear encoder and decoder trained by the reparameterization trick reaches the
same likelihood and the same subspace without either formula.
"""

from __future__ import annotations

import math

import torch

from ._validation import float_tensor, positive_int
from .toy import LinearGaussianModel

__all__ = ["ppca_closed_form", "ppca_em_step", "ppca_em", "ppca_log_likelihood", "principal_angles"]


def _data(x: torch.Tensor, latent_dim: int | None = None) -> torch.Tensor:
    float_tensor("x", x)
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape (N, D) with N >= 2, got {tuple(x.shape)}")
    if latent_dim is not None and not 1 <= latent_dim < x.shape[1]:
        raise ValueError(f"latent_dim must be in [1, {x.shape[1] - 1}] for D = {x.shape[1]}, got {latent_dim}")
    return x


def _covariance(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]


def ppca_closed_form(x: torch.Tensor, latent_dim: int) -> LinearGaussianModel:
    """The maximum-likelihood PPCA model of data x (N, D), by an eigendecomposition.

    Returns a LinearGaussianModel (W (D, k) with orthogonal columns, b, noise_std = s).
    Taught in notebook 07_kl_budget.
    """
    latent_dim = positive_int("latent_dim", latent_dim)
    x = _data(x, latent_dim)
    mean, cov = _covariance(x)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)  # ascending
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    noise_var = eigenvalues[latent_dim:].mean().clamp_min(torch.finfo(x.dtype).tiny)
    scale = (eigenvalues[:latent_dim] - noise_var).clamp_min(0).sqrt()
    W = eigenvectors[:, :latent_dim] * scale
    return LinearGaussianModel(W, mean, math.sqrt(noise_var.item()))


def ppca_log_likelihood(x: torch.Tensor, model: LinearGaussianModel) -> torch.Tensor:
    """Mean log-likelihood per data point, (1/N) sum_n log N(x_n; b, W W^T + s^2 I), a scalar."""
    x = _data(x)
    return model.log_marginal(x).mean()


def _em_update(S: torch.Tensor, W: torch.Tensor, s2: float) -> tuple[torch.Tensor, float]:
    k, D = W.shape[1], W.shape[0]
    eye = torch.eye(k, dtype=S.dtype)
    M_inv = torch.linalg.inv(W.T @ W + s2 * eye)
    SW = S @ W
    W_new = SW @ torch.linalg.inv(s2 * eye + M_inv @ W.T @ SW)
    s2_new = torch.trace(S - SW @ M_inv @ W_new.T).item() / D
    return W_new, max(s2_new, torch.finfo(S.dtype).tiny)


def _mean_log_likelihood(S: torch.Tensor, W: torch.Tensor, s2: float) -> float:
    """-1/2 (D log 2 pi + log det C + tr(C^-1 S)) with C = W W^T + s^2 I: the mean
    log-likelihood at the maximum-likelihood offset, from the sample covariance alone."""
    D = S.shape[0]
    C = W @ W.T + s2 * torch.eye(D, dtype=S.dtype)
    chol = torch.linalg.cholesky(C)
    log_det = 2 * torch.log(torch.diagonal(chol)).sum()
    return -0.5 * (D * math.log(2 * math.pi) + log_det + torch.trace(torch.cholesky_solve(S, chol))).item()


def ppca_em_step(x: torch.Tensor, model: LinearGaussianModel) -> LinearGaussianModel:
    """One EM iteration for PPCA from ``model`` (its b is replaced by the data mean, the
    maximum-likelihood offset). Never decreases the likelihood. Taught in notebook 07_kl_budget."""
    x = _data(x)
    if not isinstance(model, LinearGaussianModel) or model.data_dim != x.shape[1]:
        raise ValueError(f"model must be a LinearGaussianModel with data_dim {x.shape[1]}")
    mean, S = _covariance(x)
    W_new, s2_new = _em_update(S, model.W.to(x.dtype), model.noise_std**2)
    return LinearGaussianModel(W_new, mean, math.sqrt(s2_new))


def ppca_em(
    x: torch.Tensor,
    latent_dim: int,
    num_steps: int,
    generator: torch.Generator | None = None,
) -> tuple[LinearGaussianModel, list[float]]:
    """EM for PPCA from a random start: the final model and the mean log-likelihood after
    every step (non-decreasing). Taught in notebook 07_kl_budget."""
    latent_dim = positive_int("latent_dim", latent_dim)
    num_steps = positive_int("num_steps", num_steps)
    x = _data(x, latent_dim)
    mean, S = _covariance(x)  # EM only ever needs the sample covariance
    W = torch.randn(x.shape[1], latent_dim, generator=generator, dtype=x.dtype)
    s2 = float(torch.diagonal(S).mean())
    trace = []
    for _ in range(num_steps):
        W, s2 = _em_update(S, W, s2)
        trace.append(_mean_log_likelihood(S, W, s2))
    return LinearGaussianModel(W, mean, math.sqrt(s2)), trace


def principal_angles(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, ascending) between the column spaces of A (D, k) and B (D, m).

    The cosines are the singular values of Q_A^T Q_B, with Q from QR decompositions; all
    angles zero means the same subspace. Taught in notebook 07_kl_budget.
    """
    float_tensor("A", A)
    float_tensor("B", B)
    if A.dim() != 2 or B.dim() != 2 or A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must be matrices with the same number of rows, got {tuple(A.shape)} and {tuple(B.shape)}")
    qa, _ = torch.linalg.qr(A.to(torch.float64))
    qb, _ = torch.linalg.qr(B.to(torch.float64))
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1, 1)
    return torch.arccos(cosines).flip(0).sort().values
