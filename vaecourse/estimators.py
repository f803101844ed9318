"""Gradient estimators for d/d(mu, logvar) E_{z ~ N(mu, diag(exp(logvar)))}[f(z)].

Taught in notebooks 04_score_function and 05_reparameterization. Every estimator here has
one signature:

    estimator(f, mu, logvar, num_samples, *, generator=None, per_sample=False)
        -> (grad_mu, grad_logvar)

- ``mu``, ``logvar``: float tensors of one shape (*batch, d), the parameters of q.
- ``f``: a callable taking z of shape (S, *mu.shape) and returning either (S,) (the objective
  is that value) or (S, *b) with b a leading part of mu's shape, up to all of it (the
  objective is the sum of the entries, and entry [s, b] must depend on z[s, b] only, as
  with one loss value per example).
- returns two tensors shaped like mu: the average of ``num_samples`` single-sample
  estimates, each unbiased; with ``per_sample=True``, the single-sample estimates
  themselves, shaped (S, *mu.shape), so that a notebook can measure their variance.

``generator`` and ``per_sample`` are best passed by keyword (the score-function estimator
takes ``baseline`` before ``generator``). The estimators never change ``mu`` or ``logvar``
and build no graph back to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._validation import affordable, float_tensor, gaussian_parameters, positive_int, same_shape

__all__ = ["reparameterize", "score_function_gradient", "reparameterization_gradient"]

Objective = Callable[[torch.Tensor], torch.Tensor]


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw z ~ N(mu, diag(exp(logvar))) as z = mu + exp(logvar / 2) * eps, eps ~ N(0, I).

    The noise eps is a constant leaf of the graph, so gradients reach mu and logvar.
    Shapes: mu, logvar (...) -> z (...). Taught in notebook 05_reparameterization.
    """
    float_tensor("mu", mu)
    float_tensor("logvar", logvar)
    same_shape("mu", mu, "logvar", logvar)
    return _reparameterize(mu, logvar, _sample_eps(mu, None, generator))


def _sample_eps(mu: torch.Tensor, num_samples: int | None, generator: torch.Generator | None) -> torch.Tensor:
    """eps ~ N(0, I) of shape (num_samples, *mu.shape), or mu.shape when num_samples is None."""
    if num_samples is not None:
        affordable("num_samples", num_samples, mu.numel())  # two integer products: free per step
    shape = mu.shape if num_samples is None else (num_samples, *mu.shape)
    return torch.randn(shape, generator=generator, dtype=mu.dtype, device=mu.device)


def _reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, unchecked: the kernel every sampler in the package uses."""
    return mu + torch.exp(0.5 * logvar) * eps


def _check_inputs(f: object, mu: torch.Tensor, logvar: torch.Tensor, num_samples: int) -> int:
    if not callable(f):
        raise ValueError(f"f must be callable (z -> values), got {type(f).__name__}")
    gaussian_parameters(mu, logvar)
    return positive_int("num_samples", num_samples)


def _evaluate(f: Objective, z: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Call f and check that its output is (S,) or (S, *b) with b a leading part of mu's shape."""
    values = f(z)
    num_samples = z.shape[0]
    if not isinstance(values, torch.Tensor):
        raise ValueError(f"f must return a torch.Tensor, got {type(values).__name__}")
    batch = tuple(values.shape[1:])
    if values.dim() == 0 or values.shape[0] != num_samples or batch != tuple(mu.shape[: len(batch)]):
        raise ValueError(
            f"f must map z of shape {tuple(z.shape)} to shape ({num_samples},) or ({num_samples}, *b) "
            f"with b a leading part of {tuple(mu.shape)}, got {tuple(values.shape)}"
        )
    return values


def _against_z(values: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Reshape f's output (S, *b) to (S, *b, 1, ..., 1) so that it broadcasts against z."""
    return values.reshape(values.shape + (1,) * (mu.dim() + 1 - values.dim()))


def score_function_gradient(
    f: Objective,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    num_samples: int,
    baseline: float | torch.Tensor | str | None = None,
    generator: torch.Generator | None = None,
    *,
    per_sample: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The score-function (REINFORCE, log-derivative) estimator.

    grad E_q[f(z)] = E_q[(f(z) - b) grad log q(z)], with, for z = mu + sigma * eps,
        d log q / d mu     = (z - mu) / sigma^2 = eps / sigma,
        d log q / d logvar = ((z - mu)^2 / sigma^2 - 1) / 2 = (eps^2 - 1) / 2.
    f needs no gradient (it is evaluated without one). ``baseline`` b is None (b = 0), a
    constant (a number, or a tensor broadcastable to f's output, such as one value per
    example), or ``"mean"``: for each
    sample the mean of f over the other S - 1 samples (leave-one-out, so it does not depend
    on the sample it multiplies and the estimate stays unbiased; needs S >= 2).
    Shapes and return value: see the module docstring. Taught in notebook 04_score_function.
    """
    num_samples = _check_inputs(f, mu, logvar, num_samples)
    mu, logvar = mu.detach(), logvar.detach()
    eps = _sample_eps(mu, num_samples, generator)
    std = torch.exp(0.5 * logvar)
    with torch.no_grad():
        values = _evaluate(f, _reparameterize(mu, logvar, eps), mu)
    values = _against_z(_minus_baseline(values, baseline, num_samples), mu)
    grad_mu = values * eps / std
    grad_logvar = values * 0.5 * (eps.pow(2) - 1)
    if per_sample:
        return grad_mu, grad_logvar
    return grad_mu.mean(0), grad_logvar.mean(0)


def reparameterization_gradient(
    f: Objective,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    num_samples: int,
    generator: torch.Generator | None = None,
    *,
    per_sample: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reparameterization estimator (Mohamed et al. 2020 call it the pathwise estimator).

    With z = mu + exp(logvar / 2) * eps and eps ~ N(0, I) independent of the parameters,
    grad E_q[f(z)] = E_eps[grad f(mu + sigma * eps)], so autograd differentiates each sample:
        d f / d mu = f'(z),   d f / d logvar = f'(z) * sigma * eps / 2.
    f must be differentiable by autograd. Every sample gets its own copy of (mu, logvar),
    which is how the per-sample gradients come out of one backward pass.
    Shapes and return value: see the module docstring. Taught in notebook 05_reparameterization.
    """
    num_samples = _check_inputs(f, mu, logvar, num_samples)
    eps = _sample_eps(mu, num_samples, generator)
    with torch.enable_grad():
        mu_s = mu.detach().expand(num_samples, *mu.shape).clone().requires_grad_(True)
        logvar_s = logvar.detach().expand(num_samples, *mu.shape).clone().requires_grad_(True)
        values = _evaluate(f, _reparameterize(mu_s, logvar_s, eps), mu)
        if not values.requires_grad:
            raise ValueError("f must be differentiable in z by autograd (its output carries no gradient)")
        grad_mu, grad_logvar = torch.autograd.grad(values.sum(), (mu_s, logvar_s), allow_unused=True)
    grad_mu = torch.zeros_like(mu_s) if grad_mu is None else grad_mu
    grad_logvar = torch.zeros_like(logvar_s) if grad_logvar is None else grad_logvar
    if per_sample:
        return grad_mu.detach(), grad_logvar.detach()
    return grad_mu.detach().mean(0), grad_logvar.detach().mean(0)


def _minus_baseline(
    values: torch.Tensor, baseline: float | torch.Tensor | str | None, num_samples: int
) -> torch.Tensor:
    """values (S, ...) minus the baseline, checked: None (nothing), a finite number or tensor, or
    "mean": for each draw the mean of the other S - 1 draws (leave-one-out), independent of the
    draw it multiplies. Shared by vaecourse.discrete."""
    if baseline is None:
        return values
    if isinstance(baseline, torch.Tensor):
        float_tensor("baseline", baseline)
        return values - baseline.detach()
    if baseline == "mean":
        if num_samples < 2:
            raise ValueError("baseline='mean' needs num_samples >= 2 (a leave-one-out mean)")
        return values - (values.sum(0, keepdim=True) - values) / (num_samples - 1)
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float)):
        raise ValueError(f"baseline must be None, a number, a tensor or 'mean', got {baseline!r}")
    if not math.isfinite(baseline):
        raise ValueError(f"baseline must be a finite number, got {baseline}")
    return values - baseline
