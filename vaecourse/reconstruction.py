"""The reconstruction term E_q[log p(x|z)] by Monte Carlo, and a small fixed neural decoder.

Taught in notebook 03_monte_carlo_reconstruction. With z_l = mu + exp(logvar / 2) * eps_l and
eps_l ~ N(0, I),

    E_{z ~ q}[log p(x|z)]  ~  (1/L) sum_{l=1..L} log p(x|z_l),

an unbiased estimate for every L, whose standard error falls like 1/sqrt(L). Once the decoder
is a neural network the expectation has no closed form; ``TinyDecoder`` is such a network,
small enough (two latent dimensions) that the notebook can still compute the exact value by
quadrature and measure the estimator's error against it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._validation import float_tensor, gaussian_parameters, in_unit_interval, positive_int
from .estimators import _reparameterize, _sample_eps
from .likelihoods import _bernoulli_log_prob

__all__ = ["TinyDecoder", "monte_carlo_reconstruction"]


def monte_carlo_reconstruction(
    log_likelihood: Callable[[torch.Tensor], torch.Tensor],
    mu: torch.Tensor,
    logvar: torch.Tensor,
    num_samples: int,
    generator: torch.Generator | None = None,
    *,
    per_sample: bool = False,
) -> torch.Tensor:
    """Estimate E_q[log p(x|z)] for q = N(mu, diag(exp(logvar))) from L = ``num_samples`` draws.

    Formula: (1/L) sum_l log p(x|z_l), z_l = mu + exp(logvar / 2) * eps_l, eps_l ~ N(0, I).
    ``log_likelihood`` maps z of shape (L, *mu.shape) to log p(x|z) of shape
    (L, *mu.shape[:-1]), one value per draw and example, e.g.
    ``lambda z: model.log_likelihood(x, z)`` for a decoder that broadcasts over leading axes.
    The draws are reparameterized, so gradients reach mu, logvar and the decoder.
    Shapes: mu, logvar (..., k) -> (...); with ``per_sample=True`` the L single-draw
    estimates (L, ...), whose spread gives the standard error.
    Taught in notebook 03_monte_carlo_reconstruction.
    """
    if not callable(log_likelihood):
        raise ValueError(f"log_likelihood must be callable (z -> log p(x|z)), got {type(log_likelihood).__name__}")
    gaussian_parameters(mu, logvar)
    num_samples = positive_int("num_samples", num_samples)
    z = _reparameterize(mu, logvar, _sample_eps(mu, num_samples, generator))
    values = log_likelihood(z)
    expected = (num_samples, *mu.shape[:-1])
    if not isinstance(values, torch.Tensor) or tuple(values.shape) != expected:
        got = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(
            f"log_likelihood must map z of shape {tuple(z.shape)} to one value per draw and example, "
            f"shape {expected}, got {got}"
        )
    return values if per_sample else values.mean(0)


class TinyDecoder(torch.nn.Module):
    """A small fixed neural decoder with Bernoulli pixels: logits = W2 tanh(W1 z + b1) + b2.

    Its weights are drawn once from ``generator`` (standard normal, scaled so the logits are
    of order one) and then left alone: it stands in for a trained decoder whose reconstruction
    term E_q[log p(x|z)] has no closed form (a tanh inside a softplus).

    Args:
        latent_dim: k, the size of z.
        hidden_dim: the width of the hidden layer.
        data_dim: D, the number of pixels.
        generator: makes the weights reproducible.
        dtype: the dtype of the weights (float64 by default, for exact comparisons).
    Taught in notebook 03_monte_carlo_reconstruction.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden_dim: int = 32,
        data_dim: int = 16,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        latent_dim = positive_int("latent_dim", latent_dim)
        hidden_dim = positive_int("hidden_dim", hidden_dim)
        data_dim = positive_int("data_dim", data_dim)

        def draw(*shape: int, scale: float) -> torch.nn.Parameter:
            return torch.nn.Parameter(scale * torch.randn(shape, generator=generator, dtype=dtype))

        self.W1 = draw(hidden_dim, latent_dim, scale=1.5)
        self.b1 = draw(hidden_dim, scale=0.5)
        self.W2 = draw(data_dim, hidden_dim, scale=3.0 / math.sqrt(hidden_dim))
        self.b2 = draw(data_dim, scale=0.5)

    @property
    def latent_dim(self) -> int:
        return self.W1.shape[1]

    @property
    def data_dim(self) -> int:
        return self.W2.shape[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The logits of the D pixels. Shapes: z (..., k) -> (..., D)."""
        return torch.tanh(z @ self.W1.T + self.b1) @ self.W2.T + self.b2

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) = sum_i x_i l_i - softplus(l_i) with l = logits(z), x in [0, 1].

        x (..., D) and z (..., k) broadcast over their leading axes, as in
        ``LinearGaussianModel.log_likelihood``: x (B, D) with z (L, B, k) gives (L, B).
        """
        float_tensor("x", x, min_dim=1)
        float_tensor("z", z, min_dim=1)
        if x.shape[-1] != self.data_dim or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"x and z must end in {self.data_dim} pixels and {self.latent_dim} latents, "
                f"got shapes {tuple(x.shape)} and {tuple(z.shape)}"
            )
        in_unit_interval("x", x)
        logits = self(z.to(self.W1.dtype))  # inputs of another dtype are taken in the decoder's
        return _bernoulli_log_prob(logits, x.to(logits.dtype))

    def sample(self, num: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw (x, z) from z ~ N(0, I), x | z ~ Bernoulli(sigmoid(logits(z))): shapes (num, D), (num, k)."""
        num = positive_int("num", num)
        with torch.no_grad():
            z = torch.randn(num, self.latent_dim, generator=generator, dtype=self.W1.dtype)
            x = torch.bernoulli(torch.sigmoid(self(z)), generator=generator)
        return x, z
