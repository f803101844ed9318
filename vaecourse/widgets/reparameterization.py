"""Widgets of notebook 05_reparameterization: the score-function and the reparameterization estimates of
d/dmu E_{N(mu, sigma^2)}[f(z)] side by side, as the number of samples changes.

- ``estimator_comparison(kind, k, num_samples)``: the numbers, a plain function: for each
  estimator, many independent S-sample estimates, their mean and spread, and the exact spread
  sqrt(Var_1 / S) (Var_1 by quadrature); the exact gradient in closed form.
- ``draw_estimator_comparison(numbers, ax)``: both histograms on one axis, against the exact value.
- ``estimator_comparison_widget()``: pick f, k and S; ``.result`` holds the latest numbers.
"""

from __future__ import annotations

import math

import ipywidgets
import matplotlib.figure
import torch
from IPython.display import display

from ..variance import exact_gradient_variance, gradient_estimates, objective
from ._interactive import interactive
from .score_function import estimator_controls

__all__ = ["draw_estimator_comparison", "estimator_comparison", "estimator_comparison_widget"]

ESTIMATORS = ("score_function", "reparameterization")
_LABELS = {"score_function": "score function", "reparameterization": "reparameterization"}


def estimator_comparison(
    kind: str,
    k: float,
    num_samples: int,
    *,
    mu: float = 1.0,
    sigma: float = 1.0,
    num_estimates: int = 2000,
    seed: int = 0,
) -> dict:
    """Both estimators of d/dmu E_q[f(z)], q = N(mu, sigma^2), f = vaecourse.variance.objective(kind, k):
    ``num_estimates`` independent estimates each, every one the average of ``num_samples`` draws.

    Returns a dict: name (of f), num_samples, exact (the closed-form gradient), and for each of
    "score_function" and "reparameterization" a dict with estimates (tensor (num_estimates,)), mean, std
    and exact_std = sqrt(Var_1 / S). Taught in notebook 05_reparameterization.
    """
    f = objective(kind, k)
    numbers: dict = {"name": f.name, "num_samples": num_samples, "exact": f.gradient(mu, sigma)[0].item()}
    for estimator in ESTIMATORS:
        generator = torch.Generator().manual_seed(seed)
        estimates = gradient_estimates(f, mu, sigma, num_samples, num_estimates, estimator, generator=generator)
        numbers[estimator] = {
            "estimates": estimates,
            "mean": estimates.mean().item(),
            "std": estimates.std().item(),
            "exact_std": math.sqrt(exact_gradient_variance(f, mu, sigma, estimator) / num_samples),
        }
    return numbers


def draw_estimator_comparison(numbers: dict, ax=None, *, legend: bool = True):
    """Histograms of both estimators' estimates (from :func:`estimator_comparison`; all of them,
    tails included, at least +- 4 exact standard deviations wide, on a logarithmic density
    axis): score function filled, reparameterization hatched, with the exact gradient as a dashed line
    drawn under them; the legend sits beside the axes. Draws on ``ax`` or on a new figure;
    returns the Axes. Taught in notebook 05_reparameterization."""
    if ax is None:
        ax = matplotlib.figure.Figure(figsize=(6, 3.5)).subplots()
    exact = numbers["exact"]
    low = min(min(exact - 4 * numbers[e]["exact_std"], numbers[e]["estimates"].min().item()) for e in ESTIMATORS)
    high = max(max(exact + 4 * numbers[e]["exact_std"], numbers[e]["estimates"].max().item()) for e in ESTIMATORS)
    styles = {
        "score_function": dict(histtype="stepfilled", alpha=0.4, color="tab:blue"),
        "reparameterization": dict(histtype="step", hatch="///", color="tab:orange", linewidth=1.5),
    }
    for estimator in ESTIMATORS:
        ax.hist(
            numbers[estimator]["estimates"].numpy(),
            bins=60,
            range=(low, high),
            density=True,
            label=_LABELS[estimator],
            **styles[estimator],
        )
    ax.axvline(exact, color="k", linestyle="--", linewidth=1, zorder=0, label=f"exact gradient {exact:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel(r"estimate of $\partial\,\mathbb{E}[f(z)] / \partial\mu$")
    ax.set_ylabel("density (log scale)")
    stds = ", ".join(f"{_LABELS[e]} {numbers[e]['std']:.3f}" for e in ESTIMATORS)
    ax.set_title(f"f = {numbers['name']}, S = {numbers['num_samples']}\nstd: {stds}", fontsize=10)
    if legend:
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    return ax


def estimator_comparison_widget(kind: str = "cos", k: float = 5.0, num_samples: int = 10) -> ipywidgets.interactive:
    """Pick f (a family and its k) and the sample count S; see 2,000 score-function and 2,000
    reparameterization estimates of d/dmu E_{N(1, 1)}[f(z)] against the exact gradient. The returned
    ``ipywidgets.interactive`` keeps the latest :func:`estimator_comparison` numbers in
    ``.result``. Taught in notebook 05_reparameterization."""

    def update(kind: str, k: float, num_samples: int) -> dict:
        numbers = estimator_comparison(kind, k, num_samples)
        ax = draw_estimator_comparison(numbers)
        ax.figure.tight_layout()
        display(ax.figure)
        return numbers

    return interactive(update, **estimator_controls(kind, k, num_samples))
