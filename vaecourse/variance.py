"""How noisy a gradient estimator is: exact variances, the functions to measure them on, and
what the noise costs an optimiser.

Taught in notebooks 04_score_function and 05_reparameterization. Everything here is about the
gradient of E_{z ~ N(mu, sigma^2)}[f(z)] with z = mu + sigma * eps, eps ~ N(0, 1):

- :class:`Objective` / :func:`objective`: three families of f, (z - k)^2, cos(kz) and
  exp(-k z^2), whose Gaussian expectation and its gradient are known in closed form;
- :func:`gaussian_expectation`, :func:`exact_gradient`, :func:`optimal_baseline` and
  :func:`exact_gradient_variance`: one-dimensional integrals against N(0, 1), done by numerical
  integration (scipy.integrate.quad), so that the variance of a *single-sample* estimate is a
  number, not a Monte Carlo estimate of one (Mohamed, Rosca, Figurnov and Mnih 2020, section 3);
- :func:`gradient_estimates`: many independent S-sample estimates from the package's
  estimators, the Monte Carlo counterpart of the exact variances;
- :func:`elbo_gradient` and :func:`fit_gaussian`: an ELBO gradient from either estimator, and a
  few Adam steps on (mu, logvar) driven by it, to see what the variance does to an optimiser.

The single-sample estimates, for the parameter theta in (mu, sigma, logvar):

    score function      (f(z) - b) * d log q(z) / d theta, with
                        d log q / d mu = eps / sigma,  d log q / d sigma = (eps^2 - 1) / sigma,
                        d log q / d logvar = (eps^2 - 1) / 2;
    reparameterization  f'(z) * dz / d theta, with dz/dmu = 1, dz/dsigma = eps,
                        dz/dlogvar = sigma * eps / 2.

The package's estimators differentiate with respect to (mu, logvar); a gradient with respect to
sigma follows by the chain rule, d/dsigma = d/dlogvar * dlogvar/dsigma = d/dlogvar * 2 / sigma.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import integrate

from ._validation import gaussian_parameters, positive_float, positive_int

__all__ = [
    "Objective",
    "objective",
    "gaussian_expectation",
    "exact_gradient",
    "optimal_baseline",
    "exact_gradient_variance",
    "gradient_estimates",
    "elbo_gradient",
    "fit_gaussian",
]

ScalarFunction = Callable[[torch.Tensor], torch.Tensor]
_KINDS = ("square", "cos", "peak")
_PARAMETERS = ("mu", "sigma", "logvar")
_ESTIMATORS = ("score_function", "reparameterization")
# eps is integrated over [-12, 12] (the mass outside is 4e-33) in pieces of width 1, so that a
# narrow feature of f, such as the peak of exp(-10 z^2), cannot fall between quadrature nodes.
_EPS_LIMIT = 12.0
_BREAKS = np.arange(-_EPS_LIMIT + 1.0, _EPS_LIMIT)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# -- the functions whose Gaussian expectations are known -------------------------------------
def _as_float64(value: float | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float64)


@dataclass(frozen=True)
class Objective:
    """An elementwise f(z) with E_{N(mu, sigma^2)}[f(z)] and its gradient in closed form.

    ``kind`` is "square" (f = (z - k)^2), "cos" (f = cos(k z)) or "peak" (f = exp(-k z^2),
    k >= 0). Calling it applies f elementwise, so it is an objective for the estimators (which
    sum its entries). Taught in notebook 04_score_function.
    """

    kind: str
    k: float

    @property
    def name(self) -> str:
        """A short plain-text name such as "cos(5z)" for legends and tables."""
        k = f"{self.k:g}"
        if self.kind == "square":
            return "z^2" if self.k == 0 else f"(z - {k})^2" if self.k > 0 else f"(z + {-self.k:g})^2"
        if self.kind == "cos":
            return "cos(z)" if self.k == 1 else f"cos({k}z)"
        return "exp(-z^2)" if self.k == 1 else f"exp(-{k} z^2)"

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """f(z), elementwise: any shape -> the same shape."""
        if self.kind == "square":
            return (z - self.k).pow(2)
        if self.kind == "cos":
            return torch.cos(self.k * z)
        return torch.exp(-self.k * z.pow(2))

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        """f'(z), elementwise: 2 (z - k), -k sin(k z) or -2 k z exp(-k z^2)."""
        if self.kind == "square":
            return 2 * (z - self.k)
        if self.kind == "cos":
            return -self.k * torch.sin(self.k * z)
        return -2 * self.k * z * torch.exp(-self.k * z.pow(2))

    def expectation(self, mu: float | torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """E_{N(mu, sigma^2)}[f(z)] in closed form (float64, broadcasting mu against sigma):

        (z - k)^2:  (mu - k)^2 + sigma^2
        cos(kz):    cos(k mu) exp(-k^2 sigma^2 / 2)        (the characteristic function)
        exp(-kz^2): exp(-k mu^2 / a) / sqrt(a), a = 1 + 2 k sigma^2   (a Gaussian integral)
        """
        mu, sigma = _as_float64(mu), _as_float64(sigma)
        if self.kind == "square":
            return (mu - self.k).pow(2) + sigma.pow(2)
        if self.kind == "cos":
            return torch.cos(self.k * mu) * torch.exp(-0.5 * self.k**2 * sigma.pow(2))
        a = 1 + 2 * self.k * sigma.pow(2)
        return torch.exp(-self.k * mu.pow(2) / a) / torch.sqrt(a)

    def gradient(self, mu: float | torch.Tensor, sigma: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(d/dmu, d/dsigma) of :meth:`expectation`, differentiated by hand:

        (z - k)^2:  2 (mu - k),                      2 sigma
        cos(kz):    -k sin(k mu) e,                  -k^2 sigma cos(k mu) e,   e = exp(-k^2 sigma^2 / 2)
        exp(-kz^2): -2 k mu E / a,                   4 k sigma E (k mu^2 / a^2 - 1 / (2 a))
        (d/dlogvar = d/dsigma * sigma / 2.)
        """
        mu, sigma = _as_float64(mu), _as_float64(sigma)
        if self.kind == "square":
            return 2 * (mu - self.k) + 0 * sigma, 2 * sigma + 0 * mu
        if self.kind == "cos":
            damp = torch.exp(-0.5 * self.k**2 * sigma.pow(2))
            return -self.k * torch.sin(self.k * mu) * damp, -(self.k**2) * sigma * torch.cos(self.k * mu) * damp
        a = 1 + 2 * self.k * sigma.pow(2)
        value = self.expectation(mu, sigma)
        return -2 * self.k * mu * value / a, 4 * self.k * sigma * value * (self.k * mu.pow(2) / a.pow(2) - 0.5 / a)


def objective(kind: str, k: float = 1.0) -> Objective:
    """The objective f of one family: "square" (z - k)^2, "cos" cos(kz), "peak" exp(-k z^2).

    ``k`` is any finite number (k >= 0 for "peak", where k < 0 would not be integrable).
    Taught in notebook 04_score_function.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, _KINDS))}, got {kind!r}")
    if isinstance(k, bool) or not isinstance(k, numbers.Real) or not math.isfinite(k):
        raise ValueError(f"k must be a finite number, got {k!r}")
    if kind == "peak" and k < 0:
        raise ValueError(f"k must be >= 0 for the peak exp(-k z^2), got {k!r}")
    return Objective(kind, float(k))


# -- integrals against N(0, 1) by quadrature ----------------------------------------------------
def _real(name: str, value: object) -> float:
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _checked_f(f: object) -> ScalarFunction:
    if not callable(f):
        raise ValueError(f"f must be callable (an elementwise z -> f(z) on torch tensors), got {type(f).__name__}")
    return f  # type: ignore[return-value]


def _value(f: ScalarFunction, z: float) -> float:
    out = f(torch.tensor(z, dtype=torch.float64))
    value = out.item() if isinstance(out, torch.Tensor) else out
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"f must map a number to a number, got {type(out).__name__}")
    return float(value)


def _slope(f: ScalarFunction, z: float) -> float:
    """f'(z): from f.derivative when f has one (an :class:`Objective`), else by autograd, so
    that any differentiable torch f can be integrated."""
    derivative = getattr(f, "derivative", None)
    if callable(derivative):
        return _value(derivative, z)
    point = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        out = f(point)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return 0.0
        (grad,) = torch.autograd.grad(out, point, allow_unused=True)
    return 0.0 if grad is None else grad.item()


def _standard_normal_mean(g: Callable[[float], float]) -> float:
    """E[g(eps)] for eps ~ N(0, 1), by adaptive quadrature over [-12, 12]."""

    def integrand(eps: float) -> float:
        return g(eps) * math.exp(-0.5 * eps * eps - _LOG_SQRT_2PI)

    value, error, info, *message = integrate.quad(
        integrand, -_EPS_LIMIT, _EPS_LIMIT, points=_BREAKS, limit=2000, epsabs=1e-13, epsrel=1e-11, full_output=1
    )
    edge = max(abs(integrand(-_EPS_LIMIT)), abs(integrand(_EPS_LIMIT)))
    if not math.isfinite(value) or error > 1e-7 * max(1.0, abs(value)) or edge > 1e-12 * max(1.0, abs(value)):
        raise ValueError(
            "the integral did not converge: f must be finite, must not oscillate too fast, and must "
            "grow slowly enough that f(mu + sigma eps) N(eps; 0, 1) vanishes by |eps| = 12 "
            f"(estimate {value:g} +- {error:g})"
        )
    return value


def _scale(mu: object, sigma: object) -> tuple[float, float]:
    return _real("mu", mu), positive_float("sigma", sigma)


def _score(wrt: str, sigma: float) -> tuple[Callable[[float], float], float]:
    """d log q / d theta as a function of eps, and its mean square E[score^2]."""
    if wrt == "mu":
        return (lambda eps: eps / sigma), 1 / sigma**2
    if wrt == "sigma":
        return (lambda eps: (eps * eps - 1) / sigma), 2 / sigma**2
    if wrt == "logvar":
        return (lambda eps: 0.5 * (eps * eps - 1)), 0.5
    raise ValueError(f"wrt must be one of {', '.join(map(repr, _PARAMETERS))}, got {wrt!r}")


def _path(wrt: str, sigma: float) -> Callable[[float], float]:
    """dz / d theta as a function of eps, for z = mu + sigma * eps."""
    return {"mu": lambda eps: 1.0, "sigma": lambda eps: eps, "logvar": lambda eps: 0.5 * sigma * eps}[wrt]


def gaussian_expectation(f: ScalarFunction, mu: float, sigma: float) -> float:
    """E_{N(mu, sigma^2)}[f(z)] = E_{eps ~ N(0, 1)}[f(mu + sigma * eps)], by quadrature.

    f is elementwise on torch tensors (it is called on 0-d float64 tensors). Returns a float.
    Taught in notebook 04_score_function.
    """
    f = _checked_f(f)
    mu, sigma = _scale(mu, sigma)
    return _standard_normal_mean(lambda eps: _value(f, mu + sigma * eps))


def exact_gradient(f: ScalarFunction, mu: float, sigma: float, wrt: str = "mu") -> float:
    """d/d theta E_{N(mu, sigma^2)}[f(z)] for theta = ``wrt`` in ("mu", "sigma", "logvar"),
    by quadrature of the log-derivative identity E[f(z) d log q(z) / d theta] (no derivative
    of f needed). Returns a float. Taught in notebook 04_score_function.
    """
    f = _checked_f(f)
    mu, sigma = _scale(mu, sigma)
    score, _ = _score(wrt, sigma)
    return _standard_normal_mean(lambda eps: _value(f, mu + sigma * eps) * score(eps))


def optimal_baseline(f: ScalarFunction, mu: float, sigma: float, wrt: str = "mu") -> float:
    """The constant b that minimises the variance of the score-function estimate for ``wrt``:

        Var[(f - b) s] = E[f^2 s^2] - 2 b E[f s^2] + b^2 E[s^2] - (grad)^2 is smallest at
        b* = E[f(z) s(z)^2] / E[s(z)^2],   s = d log q / d theta,

    a weighted mean of f, not E[f] (so the mean baseline is not the best constant, and can be
    worse than none). Returns a float. Taught in notebook 04_score_function.
    """
    f = _checked_f(f)
    mu, sigma = _scale(mu, sigma)
    score, mean_square = _score(wrt, sigma)
    return _standard_normal_mean(lambda eps: _value(f, mu + sigma * eps) * score(eps) ** 2) / mean_square


def exact_gradient_variance(
    f: ScalarFunction,
    mu: float,
    sigma: float,
    estimator: str = "score_function",
    *,
    wrt: str = "mu",
    baseline: float | str | None = None,
    dim: int = 1,
) -> float:
    """The exact variance of ONE single-sample estimate of d/d theta E_q[sum_j f(z_j)].

    q = N(mu, sigma^2) in each of ``dim`` independent coordinates (all with the same mu and
    sigma), theta = ``wrt`` ("mu", "sigma" or "logvar") of the first coordinate. An average of
    S independent estimates has this variance divided by S.

    estimator="score_function": h = (F(z) - b) s(z_1), F = sum_j f(z_j), s = d log q / d theta,
        with ``baseline`` b = None (0), a number, "mean" (b = E[F], the exact mean) or
        "optimal" (the variance-minimising constant, see :func:`optimal_baseline`). Writing
        F = f(z_1) + R, R independent of z_1 with mean (dim - 1) m and variance (dim - 1) v
        (m, v the mean and variance of f(z_j)):
            Var[h] = E[(f(z_1) - c)^2 s^2] - grad^2 + (dim - 1) v E[s^2],  c = b - (dim - 1) m,
        so the other coordinates add their noise to every coordinate's gradient.
    estimator="reparameterization": h = f'(z_1) dz_1/d theta (f' from ``f.derivative`` if f has one, else
        by autograd), which the other coordinates do not touch; ``baseline`` must be None.

    All expectations are 1-d integrals against N(0, 1) done by quadrature (scipy.integrate.quad);
    f is elementwise on torch tensors. Returns a float. Taught in notebooks 04_score_function
    and 05_reparameterization.
    """
    f = _checked_f(f)
    mu, sigma = _scale(mu, sigma)
    dim = positive_int("dim", dim)
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(map(repr, _ESTIMATORS))}, got {estimator!r}")
    score, mean_square = _score(wrt, sigma)

    def f_at(eps: float) -> float:
        return _value(f, mu + sigma * eps)

    if estimator == "reparameterization":
        if baseline is not None:
            raise ValueError("baseline must be None for the reparameterization estimator (it has no baseline)")
        path = _path(wrt, sigma)

        def single(eps: float) -> float:
            return _slope(f, mu + sigma * eps) * path(eps)

        grad = _standard_normal_mean(single)
        return max(0.0, _standard_normal_mean(lambda eps: (single(eps) - grad) ** 2))

    needs_moments = dim > 1 or baseline == "mean"
    mean = _standard_normal_mean(f_at) if needs_moments else 0.0
    spread = _standard_normal_mean(lambda eps: (f_at(eps) - mean) ** 2) if dim > 1 else 0.0
    if baseline is None:
        b = 0.0
    elif baseline == "mean":
        b = dim * mean
    elif baseline == "optimal":
        b = optimal_baseline(f, mu, sigma, wrt) + (dim - 1) * mean
    elif isinstance(baseline, str):
        raise ValueError(f"baseline must be None, a number, 'mean' or 'optimal', got {baseline!r}")
    else:
        b = _real("baseline", baseline)
    c = b - (dim - 1) * mean
    grad = _standard_normal_mean(lambda eps: f_at(eps) * score(eps))
    own = _standard_normal_mean(lambda eps: ((f_at(eps) - c) * score(eps) - grad) ** 2)
    return max(0.0, own + (dim - 1) * spread * mean_square)


def gradient_estimates(
    f: ScalarFunction,
    mu: float,
    sigma: float,
    num_samples: int,
    num_estimates: int,
    estimator: str = "score_function",
    *,
    wrt: str = "mu",
    baseline: float | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``num_estimates`` independent estimates of d/d theta E_{N(mu, sigma^2)}[f(z)], each the
    average of ``num_samples`` single-sample estimates, from vaecourse.estimators.

    theta = ``wrt`` ("mu", "sigma" or "logvar"; sigma by the chain rule d/dsigma = d/dlogvar *
    2 / sigma). ``baseline`` as in score_function_gradient (a leave-one-out "mean" is taken
    within each estimate's S samples); None for the reparameterization estimator. f is elementwise.
    Returns a float64 tensor of shape (num_estimates,), whose variance approaches
    exact_gradient_variance(...) / num_samples. Taught in notebooks 04_score_function and
    05_reparameterization.
    """
    from .estimators import reparameterization_gradient, score_function_gradient

    f = _checked_f(f)
    mu, sigma = _scale(mu, sigma)
    num_samples = positive_int("num_samples", num_samples)
    num_estimates = positive_int("num_estimates", num_estimates)
    _score(wrt, sigma)  # validates wrt
    mu_t = torch.tensor([mu], dtype=torch.float64)
    logvar_t = torch.tensor([2 * math.log(sigma)], dtype=torch.float64)
    if estimator == "reparameterization":
        if baseline is not None:
            raise ValueError("baseline must be None for the reparameterization estimator (it has no baseline)")
        g_mu, g_logvar = reparameterization_gradient(
            f, mu_t, logvar_t, num_estimates * num_samples, generator, per_sample=True
        )
    elif estimator == "score_function":
        if isinstance(baseline, str) and baseline == "mean":
            # one row per estimate, so the leave-one-out mean stays within its S samples
            g_mu, g_logvar = score_function_gradient(
                f, mu_t.expand(num_estimates, 1), logvar_t.expand(num_estimates, 1), num_samples, "mean", generator
            )
            g_mu, g_logvar = g_mu.reshape(num_estimates, 1), g_logvar.reshape(num_estimates, 1)
            num_samples = 1
        else:
            g_mu, g_logvar = score_function_gradient(
                f, mu_t, logvar_t, num_estimates * num_samples, baseline, generator, per_sample=True
            )
    else:
        raise ValueError(f"estimator must be one of {', '.join(map(repr, _ESTIMATORS))}, got {estimator!r}")
    per_sample = {"mu": g_mu, "logvar": g_logvar, "sigma": g_logvar * 2 / sigma}[wrt]
    return per_sample.reshape(num_estimates, num_samples).mean(1)


# -- what the noise does to an optimiser -----------------------------------------------------
def elbo_gradient(
    log_likelihood: ScalarFunction,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    num_samples: int,
    estimator: str = "reparameterization",
    *,
    baseline: float | str | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """An estimate of (d/dmu, d/dlogvar) of ELBO = E_q[log p(x|z)] - KL(q || N(0, I)).

    The reconstruction term goes through ``estimator`` ("reparameterization" or "score_function", with
    ``baseline`` for the latter) from vaecourse.estimators with ``num_samples`` draws; the KL
    term is differentiated exactly: dKL/dmu = mu, dKL/dlogvar = (exp(logvar) - 1) / 2.
    ``log_likelihood`` maps z (S, *mu.shape) to log p(x|z) of shape (S,) or (S, batch).
    Shapes: mu, logvar (..., d) -> two tensors like mu. Taught in notebooks 04_score_function
    and 05_reparameterization.
    """
    from .estimators import reparameterization_gradient, score_function_gradient

    if estimator == "reparameterization":
        if baseline is not None:
            raise ValueError("baseline must be None for the reparameterization estimator (it has no baseline)")
        g_mu, g_logvar = reparameterization_gradient(log_likelihood, mu, logvar, num_samples, generator)
    elif estimator == "score_function":
        g_mu, g_logvar = score_function_gradient(log_likelihood, mu, logvar, num_samples, baseline, generator)
    else:
        raise ValueError(f"estimator must be one of {', '.join(map(repr, _ESTIMATORS))}, got {estimator!r}")
    return g_mu - mu.detach(), g_logvar - 0.5 * torch.expm1(logvar.detach())


GradientFunction = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def fit_gaussian(
    gradient: GradientFunction,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    steps: int,
    lr: float,
    record: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Maximise an objective over (mu, logvar) with Adam, driven by ``gradient``.

    ``gradient(mu, logvar)`` returns an estimate of (d/dmu, d/dlogvar) of the objective (exact
    or noisy); each step feeds it to torch.optim.Adam(maximize=True, lr=lr). ``record(mu,
    logvar)``, if given, is evaluated (without gradients) before the first step and after every
    step, e.g. the exact ELBO. The inputs are not changed.
    Returns (mu, logvar, history): the final parameters, shaped like the inputs, and the recorded
    values stacked, shape (steps + 1, *record's shape) (empty if ``record`` is None).
    Taught in notebooks 04_score_function and 05_reparameterization.
    """
    if not callable(gradient):
        raise ValueError(f"gradient must be callable (mu, logvar) -> (d/dmu, d/dlogvar), got {type(gradient).__name__}")
    gaussian_parameters(mu, logvar)
    steps = positive_int("steps", steps)
    lr = positive_float("lr", lr)
    mu = mu.detach().clone().requires_grad_(True)
    logvar = logvar.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([mu, logvar], lr=lr, maximize=True)
    history = []

    def remember() -> None:
        if record is not None:
            with torch.no_grad():
                history.append(torch.as_tensor(record(mu.detach(), logvar.detach())).detach().clone())

    remember()
    for _ in range(steps):
        g_mu, g_logvar = gradient(mu.detach(), logvar.detach())
        if g_mu.shape != mu.shape or g_logvar.shape != logvar.shape:
            raise ValueError(
                f"gradient must return two tensors of shape {tuple(mu.shape)}, "
                f"got {tuple(g_mu.shape)} and {tuple(g_logvar.shape)}"
            )
        mu.grad = g_mu.detach().to(mu.dtype)
        logvar.grad = g_logvar.detach().to(logvar.dtype)
        optimizer.step()
        remember()
    stacked = torch.stack(history) if history else torch.empty(0)
    return mu.detach(), logvar.detach(), stacked
