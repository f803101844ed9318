"""The KL term as an information budget, and the linear VAE set against probabilistic PCA.

Taught in notebook 07_kl_budget. For a data set x_1..x_N and an encoder q(z|x) over d latent
dimensions, with the prior p(z) = N(0, I):

    rate        R = (1/N) sum_n KL(q(z|x_n) || p(z))                 (nats per example)
    distortion  D = -(1/N) sum_n E_q[log p(x_n|z)]                   (nats per example)
    -ELBO = R + D;  a beta-VAE minimises D + beta R.

R is what the codes cost: (1/N) sum_n KL(q(z|x_n) || p(z)) >= I_q(x; z), the mutual information
between an example and its code under the encoder (Alemi et al. 2018, "Fixing a broken ELBO").
It splits over latent dimensions, R = sum_j R_j, because q and p factorise.

A latent dimension j is *active* (Burda, Grosse & Salakhutdinov 2015) when its
posterior mean moves with the input:

    A_j = Var_n( E_q[z_j | x_n] ) = Var_n( mu_j(x_n) ) > threshold = 0.01

(a population variance, 1/N). An inactive dimension carries no information about x: its mean
is the same for every input. Since KL_j(x) >= mu_j(x)^2 / 2, R_j >= A_j / 2, so an active unit
costs rate; a collapsed one (q(z_j|x) = p(z_j) for every x) has R_j = A_j = 0.

The second half compares a VAE with a linear encoder and decoder and a Gaussian decoder of
learned noise with PPCA (vaecourse.ppca). A linear-Gaussian decoder makes p(x) Gaussian, so the
VAE's log-likelihood is exact: ``linear_gaussian_from_vae`` reads W, b and sigma off the decoder
into a vaecourse.LinearGaussianModel, whose log_marginal is log N(x; b, W W^T + sigma^2 I).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch import nn

from ._validation import positive_float, positive_int
from .kl import gaussian_kl_per_dim
from .model import VAE
from .toy import LinearGaussianModel
from .train import History, fit

__all__ = [
    "RateDistortion",
    "rate_distortion",
    "kl_per_dimension",
    "posterior_mean_variance",
    "active_units",
    "LearnedNoiseVAE",
    "linear_gaussian_from_vae",
    "fit_with_lr_decay",
]

_LOG_2PI = math.log(2 * math.pi)


class RateDistortion(NamedTuple):
    """Rate and distortion of a model on a data set, in nats per example (floats)."""

    rate: float
    distortion: float

    @property
    def elbo(self) -> float:
        """The ELBO, -(rate + distortion)."""
        return -(self.rate + self.distortion)


def _model(model: object) -> VAE:
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a vaecourse.VAE, got {type(model).__name__}")
    return model


@torch.no_grad()
def rate_distortion(
    model: VAE, x: torch.Tensor, num_samples: int = 1, generator: torch.Generator | None = None
) -> RateDistortion:
    """Rate R = mean_n KL(q(z|x_n) || p(z)) and distortion D = -mean_n E_q[log p(x_n|z)].

    R is exact (the closed-form KL); D is a Monte Carlo estimate with ``num_samples`` draws
    z = mu + sigma * eps per example (eps from ``generator``, as ``model.elbo`` draws them).
    Shapes: x (N, *input_shape) -> two floats, nats per example. Taught in notebook 07_kl_budget.
    """
    terms = _model(model).elbo(x, num_samples=num_samples, generator=generator)
    return RateDistortion(terms.kl.mean().item(), -terms.recon.mean().item())


@torch.no_grad()
def kl_per_dimension(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """R_j = mean_n KL(q(z_j|x_n) || N(0, 1)) for every latent dimension j; they sum to the rate.

    KL_j = 1/2 (mu_j^2 + exp(logvar_j) - logvar_j - 1) (notebook 02).
    Shapes: x (N, *input_shape) -> (d,), nats. Taught in notebook 07_kl_budget.
    """
    mu, logvar = _model(model).encode(x)
    return gaussian_kl_per_dim(mu, logvar).mean(0)


@torch.no_grad()
def posterior_mean_variance(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """A_j = Var_n(mu_j(x_n)), the variance over the data of each posterior mean (1/N).

    Burda et al.'s activity statistic. Shapes: x (N, *input_shape) with N >= 2 -> (d,).
    Taught in notebook 07_kl_budget.
    """
    model = _model(model)
    if isinstance(x, torch.Tensor) and x.dim() >= 1 and x.shape[0] < 2:
        raise ValueError(f"x must hold at least 2 examples to measure a variance, got {x.shape[0]}")
    mu, _ = model.encode(x)
    return mu.var(0, correction=0)


def active_units(model: VAE, x: torch.Tensor, threshold: float = 0.01) -> int:
    """The number of active latent dimensions: those with Var_n(mu_j(x_n)) > threshold.

    Burda, Grosse & Salakhutdinov (2015) use threshold = 0.01. Shapes: x (N, *input_shape),
    N >= 2 -> int in [0, d]. Taught in notebook 07_kl_budget.
    """
    threshold = positive_float("threshold", threshold)
    return int((posterior_mean_variance(model, x) > threshold).sum().item())


class LearnedNoiseVAE(VAE):
    """A VAE with a Gaussian decoder whose noise standard deviation sigma is learned.

    p(x|z) = N(x; m(z), sigma^2 I) with log sigma a parameter trained with the rest:

        log p(x|z) = -||x - m(z)||^2 / (2 sigma^2) - D/2 log(2 pi sigma^2).

    Args as ``VAE`` (the likelihood is always "gaussian"); ``sigma`` is the starting value.
    ``hidden_dims=()`` gives a linear encoder and decoder: probabilistic PCA with an amortized,
    diagonal posterior. ``noise_std`` reads the current sigma. (``config`` keeps the starting
    sigma, so save_checkpoint's rebuild-from-config does not restore this class.)
    Taught in notebook 07_kl_budget.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        latent_dim: int,
        hidden_dims: Sequence[int] = (512, 256),
        sigma: float = 1.0,
    ) -> None:
        super().__init__(input_shape, latent_dim, hidden_dims, likelihood="gaussian", sigma=sigma)
        self.log_sigma = nn.Parameter(torch.tensor(math.log(self.sigma)))

    @property
    def noise_std(self) -> float:
        """The decoder's current noise standard deviation sigma = exp(log_sigma)."""
        return math.exp(self.log_sigma.item())

    def _log_px(self, out: torch.Tensor, x_flat: torch.Tensor) -> torch.Tensor:
        log_sigma = self.log_sigma.to(out.dtype)
        squared_error = (x_flat - out).pow(2).sum(-1)
        return -0.5 * squared_error * torch.exp(-2 * log_sigma) - 0.5 * self.num_pixels * (_LOG_2PI + 2 * log_sigma)

    def extra_repr(self) -> str:
        return super().extra_repr().replace(f"sigma={self.sigma:g}", f"learned sigma={self.noise_std:.4g}")


def linear_gaussian_from_vae(model: VAE) -> LinearGaussianModel:
    """The generative model of a linear Gaussian VAE as a LinearGaussianModel (float64).

    For hidden_dims = () the decoder is m(z) = W z + b, so with z ~ N(0, I) and
    x | z ~ N(W z + b, sigma^2 I) the marginal is p(x) = N(x; b, W W^T + sigma^2 I): its
    log_marginal is the VAE's exact log-likelihood. sigma is ``noise_std`` for a
    LearnedNoiseVAE, else the fixed ``sigma``. Shapes: W (D, d), b (D,), D the number of
    pixels. Taught in notebook 07_kl_budget.
    """
    model = _model(model)
    if model.hidden_dims != () or model.likelihood != "gaussian":
        raise ValueError(
            "model must be a linear Gaussian VAE (hidden_dims=(), likelihood='gaussian'), got "
            f"hidden_dims={model.hidden_dims}, likelihood={model.likelihood!r}"
        )
    layer = model.decoder[0]
    noise_std = model.noise_std if isinstance(model, LearnedNoiseVAE) else model.sigma
    return LinearGaussianModel(layer.weight.detach().double().cpu(), layer.bias.detach().double().cpu(), noise_std)


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
) -> History:
    """``fit`` at a constant Adam learning rate ``lr`` for ``epochs``, then ``decay_epochs``
    more with the rate decayed geometrically to ``final_lr`` (one Adam, moments kept).

    lr_e = lr * (final_lr / lr)^(e / decay_epochs) in decay epoch e = 1..decay_epochs. A small
    final rate lets the single-sample gradient noise average out, so the parameters settle at
    the optimum instead of jittering around it. Returns the History of all epochs.
    Taught in notebook 07_kl_budget.
    """
    epochs = positive_int("epochs", epochs)
    decay_epochs = positive_int("decay_epochs", decay_epochs)
    lr = positive_float("lr", lr)
    final_lr = positive_float("final_lr", final_lr)
    optimizer = torch.optim.Adam(_model(model).parameters(), lr=lr)
    options = dict(batch_size=batch_size, optimizer=optimizer, seed=seed, device=device, progress=False)
    history = fit(model, x_train, epochs=epochs, **options)
    for e in range(1, decay_epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = lr * (final_lr / lr) ** (e / decay_epochs)
        history = fit(model, x_train, epochs=1, history=history, **options)
    return history
