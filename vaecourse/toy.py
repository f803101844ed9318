"""A latent-variable model with exact answers: the linear-Gaussian model.

Taught in notebook 01_elbo (and reused in 03, 04, 05, 07).

    z ~ N(0, I_k),   x | z ~ N(W z + b, s^2 I_D)

Everything the ELBO is about is available in closed form here:
- the marginal  p(x) = N(x; b, W W^T + s^2 I)  (a Gaussian pushed through a linear map);
- the posterior p(z|x) = N(m, S) with S = (I + W^T W / s^2)^-1 and m = S W^T (x - b) / s^2;
- for q = N(mu, diag(v)):  E_q[log p(x|z)] = -D/2 log(2 pi s^2)
      - (||x - W mu - b||^2 + sum_j v_j ||W_j||^2) / (2 s^2),
  so ELBO(q) = E_q[log p(x|z)] - KL(q || N(0, I)) and log p(x) - ELBO(q) = KL(q || p(z|x)).
"""

from __future__ import annotations

import math

import torch

from ._validation import float_tensor, gaussian_parameters, positive_float, positive_int
from .bounds import iwae_bound
from .estimators import _reparameterize, _sample_eps
from .kl import gaussian_kl
from .likelihoods import _gaussian_log_prob

__all__ = ["LinearGaussianModel"]

_LOG_2PI = math.log(2 * math.pi)


class LinearGaussianModel:
    """z ~ N(0, I_k), x | z ~ N(W z + b, noise_std^2 I_D), with every quantity exact.

    Args:
        W: (D, k) loading matrix.
        b: (D,) offset.
        noise_std: s > 0, the observation noise standard deviation.
    Data x has shape (..., D); a variational q = N(mu, diag(exp(logvar))) has mu, logvar of
    shape (..., k) matching x's leading dimensions. Taught in notebook 01_elbo.
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor, noise_std: float) -> None:
        float_tensor("W", W)
        float_tensor("b", b)
        if W.dim() != 2:
            raise ValueError(f"W must have shape (D, k), got {tuple(W.shape)}")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape ({W.shape[0]},) to match W, got {tuple(b.shape)}")
        self.W, self.b = W, b.to(W.dtype)
        self.noise_std = positive_float("noise_std", noise_std)

    @classmethod
    def random(
        cls,
        data_dim: int,
        latent_dim: int,
        noise_std: float = 0.5,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> LinearGaussianModel:
        """A model with standard-normal W and b (reproducible with ``generator``)."""
        data_dim = positive_int("data_dim", data_dim)
        latent_dim = positive_int("latent_dim", latent_dim)
        W = torch.randn(data_dim, latent_dim, generator=generator, dtype=dtype)
        b = torch.randn(data_dim, generator=generator, dtype=dtype)
        return cls(W, b, noise_std)

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    # -- checks --------------------------------------------------------------------------
    def _x(self, x: torch.Tensor) -> torch.Tensor:
        float_tensor("x", x, min_dim=1)
        if x.shape[-1] != self.data_dim:
            raise ValueError(f"x must have shape (..., {self.data_dim}), got {tuple(x.shape)}")
        return x.to(self.W.dtype)

    def _q(self, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> None:
        gaussian_parameters(mu, logvar)
        expected = (*x.shape[:-1], self.latent_dim)
        if tuple(mu.shape) != expected:
            raise ValueError(f"mu and logvar must have shape {expected} to match x, got {tuple(mu.shape)}")

    # -- the generative model -------------------------------------------------------------
    def sample(self, num: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw (x, z) from the joint: shapes (num, D) and (num, k)."""
        num = positive_int("num", num)
        z = torch.randn(num, self.latent_dim, generator=generator, dtype=self.W.dtype)
        noise = torch.randn(num, self.data_dim, generator=generator, dtype=self.W.dtype)
        return z @ self.W.T + self.b + self.noise_std * noise, z

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) = log N(x; W z + b, s^2 I). Shapes: x (..., D), z (..., k) -> (...), broadcasting."""
        x = self._x(x)
        float_tensor("z", z, min_dim=1)
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have shape (..., {self.latent_dim}), got {tuple(z.shape)}")
        return _gaussian_log_prob(z @ self.W.T + self.b, x, math.log(self.noise_std))

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I). Shapes: (..., k) -> (...)."""
        return _gaussian_log_prob(0.0, z, 0.0)

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) = log p(x|z) + log p(z). Shapes: x (..., D), z (..., k) -> (...)."""
        return self.log_likelihood(x, z) + self.log_prior(z)

    def marginal_covariance(self) -> torch.Tensor:
        """Cov[x] = W W^T + s^2 I, shape (D, D)."""
        eye = torch.eye(self.data_dim, dtype=self.W.dtype)
        return self.W @ self.W.T + self.noise_std**2 * eye

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) = log N(x; b, W W^T + s^2 I), by a Cholesky factor.

        Formula: -1/2 (D log 2 pi + log det C + (x - b)^T C^-1 (x - b)). Shapes: (..., D) -> (...).
        """
        x = self._x(x)
        chol = torch.linalg.cholesky(self.marginal_covariance())
        centred = (x - self.b).unsqueeze(-1)
        solved = torch.linalg.solve_triangular(chol, centred.reshape(-1, self.data_dim).T, upper=False)
        mahalanobis = solved.pow(2).sum(0).reshape(x.shape[:-1])
        log_det = 2 * torch.log(torch.diagonal(chol)).sum()
        return -0.5 * (self.data_dim * _LOG_2PI + log_det + mahalanobis)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact p(z|x) = N(m, S): S = (I + W^T W / s^2)^-1, m = S W^T (x - b) / s^2.

        Shapes: x (..., D) -> m (..., k), S (k, k) (the same for every x).
        """
        x = self._x(x)
        var = self.noise_std**2
        precision = torch.eye(self.latent_dim, dtype=self.W.dtype) + self.W.T @ self.W / var
        cov = torch.linalg.inv(precision)
        cov = 0.5 * (cov + cov.T)
        mean = (x - self.b) @ self.W @ cov / var
        return mean, cov

    # -- the ELBO and its gap ---------------------------------------------------------------
    def expected_log_likelihood(self, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """E_q[log p(x|z)] for q = N(mu, diag(exp(logvar))), exactly (the reconstruction term)."""
        x = self._x(x)
        self._q(x, mu, logvar)
        var = self.noise_std**2
        residual = x - (mu @ self.W.T + self.b)
        spread = (logvar.exp() * self.W.pow(2).sum(0)).sum(-1)
        return -0.5 * ((residual.pow(2).sum(-1) + spread) / var + self.data_dim * (_LOG_2PI + math.log(var)))

    def elbo(self, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """The ELBO of q = N(mu, diag(exp(logvar))) in closed form: reconstruction - KL(q || p(z)).

        Shapes: x (..., D), mu, logvar (..., k) -> (...).
        """
        return self.expected_log_likelihood(x, mu, logvar) - gaussian_kl(mu, logvar)

    def monte_carlo_elbo(
        self,
        x: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        num_samples: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The ELBO by Monte Carlo: the mean over S draws z ~ q of log p(x, z) - log q(z).

        Shapes: x (..., D), mu, logvar (..., k) -> (...).
        """
        return self.log_weights(x, mu, logvar, num_samples, generator).mean(0)

    def log_weights(
        self,
        x: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        num_samples: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Importance log-weights log p(x, z_s) - log q(z_s), z_s ~ q: shape (S, ...)."""
        x = self._x(x)
        self._q(x, mu, logvar)
        num_samples = positive_int("num_samples", num_samples)
        eps = _sample_eps(mu, num_samples, generator)
        z = _reparameterize(mu, logvar, eps)
        log_q = -0.5 * (eps.pow(2) + logvar + _LOG_2PI).sum(-1)
        return self.log_joint(x, z) - log_q

    def importance_weighted_bound(
        self,
        x: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        num_samples: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One draw of the importance-weighted bound L_K with K = ``num_samples``. Shapes as elbo."""
        return iwae_bound(self.log_weights(x, mu, logvar, num_samples, generator), dim=0)

    def kl_to_posterior(self, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q || p(z|x)) for q = N(mu, diag(exp(logvar))), the gap log p(x) - ELBO(q).

        Formula: 1/2 (tr(S^-1 V) + (m - mu)^T S^-1 (m - mu) - k + log det S - sum_j logvar_j),
        with V = diag(exp(logvar)). Shapes: x (..., D), mu, logvar (..., k) -> (...).
        """
        x = self._x(x)
        self._q(x, mu, logvar)
        mean, cov = self.posterior(x)
        precision = torch.linalg.inv(cov)
        diff = mean - mu
        trace = (torch.diagonal(precision) * logvar.exp()).sum(-1)
        quad = ((diff @ precision) * diff).sum(-1)
        log_det = torch.linalg.slogdet(cov)[1]
        return 0.5 * (trace + quad - self.latent_dim + log_det - logvar.sum(-1))
