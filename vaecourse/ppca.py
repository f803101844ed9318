"""Probabilistic PCA: the linear-Gaussian model fitted to data, exactly and by EM.

Taught in notebook 08_not_em ("why a neural network and not EM"). PPCA is the model of
vaecourse.toy, z ~ N(0, I_k), x | z ~ N(W z + b, s^2 I_D), with W, b, s fitted by maximum
likelihood (Tipping & Bishop 1999). With S the sample covariance (1/N) and its eigenvalues
l_1 >= ... >= l_D, eigenvectors U:

    b = mean of x,   s^2 = (l_{k+1} + ... + l_D) / (D - k),   W = U_k (L_k - s^2 I)^(1/2) R

for any rotation R (W is identified only up to R; its column space is not). EM reaches the
same maximum with one E-step and one M-step per iteration, written with S:

    M = W^T W + s^2 I
    W_new = S W (s^2 I + M^-1 W^T S W)^-1
    s2_new = tr(S - S W M^-1 W_new^T) / D

A VAE with a linear encoder and decoder and a learned sigma (``VAE((D,), k, (),
likelihood="gaussian", learn_sigma=True)``), trained by the reparameterization trick, reaches the
same likelihood and the same subspace without either formula. Its decoder is PPCA's model, so its
log-likelihood is exact: ``linear_gaussian_from_vae`` reads W, b and sigma off the decoder into a
vaecourse.LinearGaussianModel, whose log_marginal is log N(x; b, W W^T + sigma^2 I).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._validation import float_tensor, positive_float, positive_int
from .model import VAE
from .toy import LinearGaussianModel
from .train import History, fit

__all__ = [
    "ppca_closed_form",
    "ppca_em_step",
    "ppca_em",
    "ppca_log_likelihood",
    "principal_angles",
    "mean_field_gap",
    "best_diagonal_q",
    "rotated",
    "linear_gaussian_from_vae",
    "fit_with_lr_decay",
]


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
    Taught in notebook 08_not_em.
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
    maximum-likelihood offset). Never decreases the likelihood. Taught in notebook 08_not_em."""
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
    every step (non-decreasing). Taught in notebook 08_not_em."""
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
    angles zero means the same subspace. Taught in notebook 08_not_em.
    """
    float_tensor("A", A)
    float_tensor("B", B)
    if A.dim() != 2 or B.dim() != 2 or A.shape[0] != B.shape[0]:
        raise ValueError(
            f"A and B must be matrices with the same number of rows, got {tuple(A.shape)} and {tuple(B.shape)}"
        )
    qa, _ = torch.linalg.qr(A.to(torch.float64))
    qb, _ = torch.linalg.qr(B.to(torch.float64))
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1, 1)
    return torch.arccos(cosines).flip(0).sort().values


def mean_field_gap(precision: torch.Tensor) -> torch.Tensor:
    """KL(q* || p) for a Gaussian p = N(m, Lambda^-1) and its best diagonal Gaussian q*.

    Over q = N(m', diag(v)), KL(q || p) is smallest at m' = m, v_j = 1 / Lambda_jj (the
    diagonal of the precision, not of the covariance), where it equals

        1/2 (sum_j log Lambda_jj - log det Lambda)  >= 0,  zero iff Lambda is diagonal.

    For PPCA's posterior the precision is I + W^T W / s^2 for every x, so this is the gap
    log p(x) - max over diagonal q of the ELBO, the same for every data point.
    Shapes: precision (..., k, k), symmetric positive definite -> (...). Taught in notebook 08_not_em.
    """
    float_tensor("precision", precision, min_dim=2)
    if precision.shape[-1] != precision.shape[-2]:
        raise ValueError(f"precision must be square matrices (..., k, k), got {tuple(precision.shape)}")
    chol, info = torch.linalg.cholesky_ex(precision)
    if bool((info != 0).any()):
        raise ValueError("precision must be symmetric positive definite")
    log_det = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return 0.5 * (torch.log(torch.diagonal(precision, dim1=-2, dim2=-1)).sum(-1) - log_det)


def best_diagonal_q(model: LinearGaussianModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))) with the largest ELBO under a
    linear-Gaussian model: mu = the exact posterior mean, logvar_j = -log Lambda_jj with
    Lambda = I + W^T W / s^2 the posterior precision. ELBO(x, q*) = log p(x) - mean_field_gap(Lambda).
    Shapes: x (N, D) -> mu (N, k), logvar (N, k). Taught in notebook 08_not_em.
    """
    if not isinstance(model, LinearGaussianModel):
        raise ValueError(f"model must be a vaecourse.LinearGaussianModel, got {type(model).__name__}")
    mu, _ = model.posterior(x)
    precision = torch.eye(model.latent_dim, dtype=model.W.dtype) + model.W.T @ model.W / model.noise_std**2
    logvar = -torch.log(torch.diagonal(precision)).expand_as(mu)
    return mu, logvar


def rotated(model: LinearGaussianModel, degrees: float) -> LinearGaussianModel:
    """The same model with W replaced by W R, R the rotation by ``degrees`` in the plane of the
    first two latent dimensions. W R R^T W^T = W W^T, so p(x) (and the likelihood of any data)
    does not change; the posterior's correlations do. Taught in notebook 08_not_em.
    """
    if not isinstance(model, LinearGaussianModel) or model.latent_dim < 2:
        raise ValueError("model must be a vaecourse.LinearGaussianModel with at least 2 latent dimensions")
    if isinstance(degrees, bool) or not isinstance(degrees, (int, float)) or not math.isfinite(degrees):
        raise ValueError(f"degrees must be a finite number, got {degrees!r}")
    angle = math.radians(degrees)
    R = torch.eye(model.latent_dim, dtype=model.W.dtype)
    R[0, 0], R[0, 1], R[1, 0], R[1, 1] = math.cos(angle), -math.sin(angle), math.sin(angle), math.cos(angle)
    return LinearGaussianModel(model.W @ R, model.b, model.noise_std)


def linear_gaussian_from_vae(model: VAE) -> LinearGaussianModel:
    """The generative model of a linear Gaussian VAE as a LinearGaussianModel (float64).

    For hidden_dims = () the decoder is m(z) = W z + b, so with z ~ N(0, I) and
    x | z ~ N(W z + b, sigma^2 I) the marginal is p(x) = N(x; b, W W^T + sigma^2 I): its
    log_marginal is the VAE's exact log-likelihood. sigma is the model's ``noise_std`` (learned
    or fixed). Shapes: W (D, d), b (D,), D the number of pixels. Taught in notebook 08_not_em.
    """
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a vaecourse.VAE, got {type(model).__name__}")
    if model.hidden_dims != () or model.likelihood != "gaussian":
        raise ValueError(
            "model must be a linear Gaussian VAE (hidden_dims=(), likelihood='gaussian'), got "
            f"hidden_dims={model.hidden_dims}, likelihood={model.likelihood!r}"
        )
    layer = model.decoder[0]
    return LinearGaussianModel(
        layer.weight.detach().double().cpu(), layer.bias.detach().double().cpu(), model.noise_std
    )


def fit_with_lr_decay(
    model: VAE,
    x_train: torch.Tensor,
    *,
    epochs: int,
    decay_epochs: int,
    batch_size: int,
    lr: float,
    final_lr: float,
    seed: int = 0,
    device: str | torch.device = "auto",
    on_epoch: Callable[[VAE, History], None] | None = None,
) -> History:
    """``fit`` at a constant Adam learning rate ``lr`` for ``epochs``, then ``decay_epochs``
    more with the rate decayed geometrically to ``final_lr`` (one Adam, moments kept).

    lr_e = lr * (final_lr / lr)^(e / decay_epochs) in decay epoch e = 1..decay_epochs. A small
    final rate lets the single-sample gradient noise average out, so the parameters settle at
    the optimum instead of jittering around it. ``on_epoch(model, history)``, if given, is called
    after every epoch (to record what the model has reached). Returns the History of all epochs.
    Taught in notebook 08_not_em.
    """
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a vaecourse.VAE, got {type(model).__name__}")
    epochs = positive_int("epochs", epochs)
    decay_epochs = positive_int("decay_epochs", decay_epochs)
    lr = positive_float("lr", lr)
    final_lr = positive_float("final_lr", final_lr)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    options = dict(batch_size=batch_size, optimizer=optimizer, seed=seed, device=device, progress=False)
    if on_epoch is not None and not callable(on_epoch):
        raise ValueError(f"on_epoch must be a function (model, history) or None, got {type(on_epoch).__name__}")
    # one fit call per epoch: fit continues a run exactly, so this equals one long call
    history = None
    for e in range(1, epochs + decay_epochs + 1):
        if e > epochs:
            for group in optimizer.param_groups:
                group["lr"] = lr * (final_lr / lr) ** ((e - epochs) / decay_epochs)
        history = fit(model, x_train, epochs=1, history=history, **options)
        if on_epoch is not None:
            on_epoch(model, history)
    return history
