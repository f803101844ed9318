"""The variational autoencoder: an MLP encoder to (mu, logvar), a sampler, an MLP decoder.

Taught in notebook 06_full_vae. For one example x (D pixels) and a latent code z (d numbers),

    q(z|x) = N(z; mu(x), diag(exp(logvar(x))))          the encoder
    p(z)   = N(z; 0, I)                                 the prior
    p(x|z) = prod_i Bernoulli(x_i; sigmoid(l_i(z)))     the decoder (logits l), or
             N(x; m(z), sigma^2 I)                      with a fixed or learned sigma

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x),

with the expectation estimated by z = mu + exp(logvar / 2) * eps, eps ~ N(0, I), and the KL
in closed form (notebook 02). The reference configuration of pytorch/examples (784-400-20)
is ``VAE((28, 28), 20, (400,))``.

Every formula here is one kernel shared with the functions the notebooks teach:
``kl._kl_per_dim`` (gaussian_kl), ``likelihoods._bernoulli_log_prob`` and ``_gaussian_log_prob``
(bernoulli_log_likelihood, gaussian_log_likelihood), ``estimators._reparameterize``
(reparameterize). Those public functions check their inputs on every call; the model checks
``x`` once, at its public entry points, and calls the kernels unchecked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from ._validation import float_tensor, positive_float, positive_int
from .bounds import iwae_bound
from .estimators import _reparameterize, _sample_eps
from .kl import _kl_per_dim
from .likelihoods import _bernoulli_log_prob, _gaussian_log_prob

__all__ = ["VAE", "ElboTerms", "clamp_logvar"]

LIKELIHOODS = ("bernoulli", "gaussian")
# logvar is clamped to this range: exp(logvar / 2), the KL and the decoder input all stay
# finite even when an encoder output runs off to +-1000 (gaussian_kl is finite on it too).
# Inside the range the clamp is the identity; beyond it, clamp_logvar passes the gradient
# through (notebook 02, section 5), so such an output is never left with a zero gradient.
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


def clamp_logvar(logvar: torch.Tensor) -> torch.Tensor:
    """logvar clamped to [LOGVAR_MIN, LOGVAR_MAX] = [-30, 20] in value, with the gradient of
    the identity (straight through): an output beyond the range gets the loss's gradient at
    the bound, which points back into the range, where a plain ``clamp`` gives exactly zero.
    Inside the range value and gradient are those of ``logvar`` itself, bit for bit.
    Taught in notebook 02_kl_closed_form."""
    return logvar.detach().clamp(LOGVAR_MIN, LOGVAR_MAX) + (logvar - logvar.detach())


class ElboTerms(NamedTuple):
    """Per-example ELBO and its two parts, each of shape (B,): elbo = recon - kl (nats).
    Taught in notebook 06_full_vae."""

    elbo: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i > 0:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """A VAE with a diagonal-Gaussian encoder and a Bernoulli or Gaussian (fixed or learned sigma) decoder.

    Args:
        input_shape: the shape of one example, e.g. (28, 28) or (8, 8); D = its product.
        latent_dim: d, the number of latent dimensions.
        hidden_dims: widths of the encoder's hidden layers (ReLU); the decoder mirrors them.
            () gives a linear encoder and decoder. Default (512,): D-512-d, which with
            fit's defaults reaches a better test ELBO in 10 epochs than 784-400-20 trained as in
            pytorch/examples (tests/benchmarks/bench_training.py).
        likelihood: "bernoulli" (decoder outputs logits; data in [0, 1]) or "gaussian"
            (decoder outputs means; fixed standard deviation ``sigma``).
        sigma: the Gaussian decoder's fixed standard deviation (ignored for Bernoulli), or
            its starting value when ``learn_sigma``.
        learn_sigma: Gaussian only: train log sigma with the other parameters (one more
            parameter, ``log_sigma``, saved in the state dict; ``noise_std`` reads it).
            Notebook 07 shows how a learned sigma lets the posterior collapse at beta = 1
            (Lucas et al. 2019).

    Shapes: x is (B, *input_shape), z is (B, d). Taught in notebook 06_full_vae.

    What training uses (``fit``, ``training_loss``, ``budget.rate_distortion``): four pieces on
    flat data x (B, D) that has passed ``check_input``, unchecked because they run every step.
    A subclass changes the model by overriding them (and keeps fit, elbo and log_likelihood):

        encode_flat(x) -> (mu, logvar)     q(z|x)'s parameters, each (B, d), logvar clamped
        decoder(z) -> out                  an nn.Module: logits or means (..., B, D) for z (..., B, d)
        log_px(out, x) -> (..., B)         log p(x|z) from the decoder's output
        kl_per_dim(mu, logvar) -> (B, d)   KL(q(z|x) || p(z)) per latent dimension
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        latent_dim: int,
        hidden_dims: Sequence[int] = (512,),
        likelihood: str = "bernoulli",
        sigma: float = 0.1,
        learn_sigma: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(input_shape, int) or not isinstance(input_shape, Sequence) or len(input_shape) == 0:
            raise ValueError(f"input_shape must be a non-empty sequence of ints such as (28, 28), got {input_shape!r}")
        input_shape = tuple(positive_int("input_shape entries", n) for n in input_shape)
        latent_dim = positive_int("latent_dim", latent_dim)
        if isinstance(hidden_dims, int) or not isinstance(hidden_dims, Sequence):
            raise ValueError(f"hidden_dims must be a sequence of ints such as (400,), got {hidden_dims!r}")
        hidden_dims = tuple(positive_int("hidden_dims entries", n) for n in hidden_dims)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.input_shape = input_shape
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.likelihood = likelihood
        self.sigma = positive_float("sigma", sigma)
        if not isinstance(learn_sigma, bool) or (learn_sigma and likelihood != "gaussian"):
            raise ValueError(
                f"learn_sigma must be True or False, and True only with likelihood='gaussian', got {learn_sigma!r}"
            )
        self.learn_sigma = learn_sigma
        self.num_pixels = math.prod(input_shape)
        self.encoder = _mlp((self.num_pixels, *hidden_dims, 2 * latent_dim))
        self.decoder = _mlp((latent_dim, *hidden_dims[::-1], self.num_pixels))
        if learn_sigma:
            self.log_sigma = nn.Parameter(torch.tensor(math.log(self.sigma)))

    # ------------------------------------------------------------------ description
    @property
    def config(self) -> dict:
        """The constructor arguments as plain Python values: ``VAE(**model.config)`` rebuilds it."""
        return {
            "input_shape": list(self.input_shape),
            "latent_dim": self.latent_dim,
            "hidden_dims": list(self.hidden_dims),
            "likelihood": self.likelihood,
            "sigma": self.sigma,
            "learn_sigma": self.learn_sigma,
        }

    @property
    def noise_std(self) -> float:
        """The Gaussian decoder's current standard deviation: exp(log_sigma) when learned, else sigma."""
        return math.exp(self.log_sigma.item()) if self.learn_sigma else self.sigma

    @property
    def device(self) -> torch.device:
        """Where the parameters live."""
        return next(self.parameters()).device

    def extra_repr(self) -> str:
        sizes = "-".join(str(n) for n in (self.num_pixels, *self.hidden_dims, self.latent_dim))
        return f"{sizes}, likelihood={self.likelihood!r}" + (
            f", {'learned sigma' if self.learn_sigma else 'sigma'}={self.noise_std:.4g}"
            if self.likelihood == "gaussian"
            else ""
        )

    # ------------------------------------------------------------------ input checks
    def check_input(self, x: object, name: str = "x") -> torch.Tensor:
        """Return x as a (B, *input_shape) tensor on the model's device and in its dtype, or raise
        a ValueError.

        Rejects a wrong shape, non-finite values, integer pixels (raw 0-255 bytes) and, for
        the Bernoulli decoder, values outside [0, 1].
        """
        if isinstance(x, torch.Tensor) and not x.is_floating_point():
            raise ValueError(
                f"{name} must be a floating-point tensor with pixels in [0, 1], got dtype {x.dtype}"
                + ("; for raw 0-255 bytes use x.float() / 255" if x.dtype == torch.uint8 else "")
            )
        float_tensor(name, x, finite=False)
        assert isinstance(x, torch.Tensor)
        if x.dim() != len(self.input_shape) + 1 or tuple(x.shape[1:]) != self.input_shape or x.shape[0] < 1:
            raise ValueError(
                f"{name} must have shape (B, {', '.join(map(str, self.input_shape))}) with B >= 1 "
                f"(a batch of examples of shape {self.input_shape}), got {tuple(x.shape)}"
            )
        # One pass over the data: NaN propagates into both extremes, inf shows in one of them.
        lo, hi = (v.item() for v in torch.aminmax(x))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
        if self.likelihood == "bernoulli":
            if lo < 0 or hi > 1:
                raise ValueError(
                    f"{name} must lie in [0, 1] for a Bernoulli decoder, got values in [{lo:g}, {hi:g}]"
                    + ("; scale raw 0-255 pixels by 1/255 first" if hi > 1 else "")
                )
        param = next(self.parameters())
        return x.to(device=param.device, dtype=param.dtype)

    # ------------------------------------------------------------------ what training uses
    def encode_flat(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x) for flat, checked x (B, D): each (B, d), logvar clamped to
        [-30, 20] by ``clamp_logvar``. Unchecked (the inner loop); ``encode`` checks."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, clamp_logvar(logvar)

    def log_px(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) from decoder outputs (..., B, D) and flat data (B, D) -> (..., B), unchecked.

        Bernoulli: sum_i x_i log s(l_i) + (1 - x_i) log(1 - s(l_i)) (bernoulli_log_likelihood);
        Gaussian: -||x - m||^2 / (2 sigma^2) - D/2 log(2 pi sigma^2) (gaussian_log_likelihood),
        with sigma = exp(log_sigma) when learned.
        """
        if self.likelihood == "bernoulli":
            return _bernoulli_log_prob(out, x)
        log_sigma = self.log_sigma.to(out.dtype) if self.learn_sigma else math.log(self.sigma)
        return _gaussian_log_prob(out, x, log_sigma)

    def kl_per_dim(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(N(mu_j, exp(logvar_j)) || N(0, 1)) per dimension, (B, d) -> (B, d), unchecked:
        1/2 (mu^2 + exp(logvar) - logvar - 1), accurate near the prior (gaussian_kl_per_dim)."""
        return _kl_per_dim(mu, logvar)

    # ------------------------------------------------------------------ the model
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters of q(z|x) = N(mu, diag(exp(logvar))).

        Shapes: x (B, *input_shape) -> mu, logvar (B, d); logvar is clamped to [-30, 20]
        (``clamp_logvar``: the gradient passes the clamp).
        Taught in notebook 06_full_vae.
        """
        x = self.check_input(x)
        return self.encode_flat(x.reshape(x.shape[0], -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's output: Bernoulli logits l(z), or Gaussian means m(z).

        Shapes: z (B, d) -> (B, *input_shape). Taught in notebook 06_full_vae.
        """
        float_tensor("z", z)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z).reshape(z.shape[0], *self.input_shape)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z], the image a code stands for: sigmoid(logits) (Bernoulli) or the mean (Gaussian).

        Shapes: z (B, d) -> (B, *input_shape). Taught in notebook 06_full_vae.
        """
        out = self.decode(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def _q(self, x_flat: torch.Tensor, q: tuple[torch.Tensor, torch.Tensor] | None):
        """(mu, logvar) from the encoder, or the given q checked against x."""
        if q is None:
            return self.encode_flat(x_flat)
        if not isinstance(q, (tuple, list)) or len(q) != 2:
            raise ValueError("q must be a pair (mu, logvar) of tensors of shape (B, latent_dim)")
        mu, logvar = q
        for name, t in (("q[0] (mu)", mu), ("q[1] (logvar)", logvar)):
            float_tensor(name, t)
            if tuple(t.shape) != (x_flat.shape[0], self.latent_dim):
                raise ValueError(f"{name} must have shape ({x_flat.shape[0]}, {self.latent_dim}), got {tuple(t.shape)}")
        return mu.to(x_flat), logvar.to(x_flat).clamp(LOGVAR_MIN, LOGVAR_MAX)

    def elbo(
        self,
        x: torch.Tensor,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
        q: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> ElboTerms:
        """Per-example ELBO with its reconstruction and KL parts, in nats.

        recon = (1/S) sum_s log p(x | z_s),  z_s = mu + exp(logvar / 2) * eps_s,  eps_s ~ N(0, I)
        kl    = 1/2 sum_j (mu_j^2 + exp(logvar_j) - logvar_j - 1)      (closed form)
        elbo  = recon - kl
        q: optional (mu, logvar), each (B, d), used instead of the encoder's output (a q fitted
        to each x on its own, as for the amortization gap in notebook 06).
        Differentiable (this is the training objective). Shapes: x (B, *input_shape) -> three
        tensors of shape (B,). Taught in notebook 06_full_vae.
        """
        x = self.check_input(x)
        num_samples = positive_int("num_samples", num_samples)
        x_flat = x.reshape(x.shape[0], -1)
        mu, logvar = self._q(x_flat, q)
        z = _reparameterize(mu, logvar, _sample_eps(mu, num_samples, generator))
        recon = self.log_px(self.decoder(z), x_flat).mean(0)
        kl = self.kl_per_dim(mu, logvar).sum(-1)
        return ElboTerms(recon - kl, recon, kl)

    def _log_weights(
        self,
        x_flat: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        num_samples: int,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        eps = _sample_eps(mu, num_samples, generator)
        z = _reparameterize(mu, logvar, eps)
        return self.log_px(self.decoder(z), x_flat) + 0.5 * (eps.pow(2) + logvar - z.pow(2)).sum(-1)

    @torch.no_grad()
    def log_weights(self, x: torch.Tensor, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Importance log-weights w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x), z_k ~ q(z|x).

        With z_k = mu + sigma * eps_k the 2 pi constants cancel:
        log p(z) - log q(z|x) = sum_j (eps_j^2 + logvar_j - z_j^2) / 2.
        Their mean estimates the ELBO; iwae_bound of them is the importance-weighted bound.
        All K draws at once (use ``log_likelihood`` for large K).
        Shapes: x (B, *input_shape) -> (K, B). Taught in notebook 06_full_vae.
        """
        x = self.check_input(x)
        num_samples = positive_int("num_samples", num_samples)
        x_flat = x.reshape(x.shape[0], -1)
        mu, logvar = self.encode_flat(x_flat)
        return self._log_weights(x_flat, mu, logvar, num_samples, generator)

    @torch.no_grad()
    def log_likelihood(
        self,
        x: torch.Tensor,
        num_samples: int = 1000,
        batch_size: int = 16384,
        generator: torch.Generator | None = None,
        q: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) with K = ``num_samples`` draws from q(z|x).

        L_K = log (1/K) sum_k exp(w_k)  (iwae_bound of ``log_weights``),
        ELBO <= E[L_K] <= E[L_{K+1}] <= log p(x), and L_K -> log p(x) as K grows.
        At most ``batch_size`` decoder evaluations (example, draw) at a time, so K = 5000 fits
        in memory: the draws are split into chunks whose bounds are combined by log-sum-exp.
        q: optional (mu, logvar), each (B, d), as the proposal instead of the encoder's q(z|x).
        Shapes: x (B, *input_shape) -> (B,). Taught in notebook 06_full_vae.
        """
        x = self.check_input(x)
        num_samples = positive_int("num_samples", num_samples)
        batch_size = positive_int("batch_size", batch_size)
        x_flat = x.reshape(x.shape[0], -1)
        examples = min(x.shape[0], batch_size)
        draws = max(1, batch_size // examples)
        mu_all, logvar_all = self._q(x_flat, q)
        results = []
        for start in range(0, x.shape[0], examples):
            xb = x_flat[start : start + examples]
            mu, logvar = mu_all[start : start + examples], logvar_all[start : start + examples]
            chunk_bounds, chunk_sizes = [], []
            for k0 in range(0, num_samples, draws):
                k = min(draws, num_samples - k0)
                chunk_bounds.append(iwae_bound(self._log_weights(xb, mu, logvar, k, generator), dim=0))
                chunk_sizes.append(k)
            # log (1/K) sum_c k_c exp(L_c): the chunks' bounds weighted by their sizes.
            log_sizes = torch.tensor(chunk_sizes, dtype=mu.dtype, device=mu.device).log()
            stacked = torch.stack(chunk_bounds) + log_sizes[:, None]
            results.append(torch.logsumexp(stacked, dim=0) - math.log(num_samples))
        return torch.cat(results)

    @torch.no_grad()
    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """num images from the model: z ~ N(0, I), then E[x|z] (pixel probabilities for Bernoulli).

        Shapes: -> (num, *input_shape). Taught in notebook 06_full_vae.
        """
        num = positive_int("num", num)
        param = next(self.parameters())
        z = torch.randn((num, self.latent_dim), generator=generator, dtype=param.dtype, device=param.device)
        return self.decode_mean(z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """E[x|z] at z = mu(x), the posterior mean: what the model keeps of each input.

        Shapes: x (B, *input_shape) -> (B, *input_shape). Taught in notebook 06_full_vae.
        """
        mu, _ = self.encode(x)
        return self.decode_mean(mu)
