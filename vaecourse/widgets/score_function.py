"""Widgets of notebook 04_score_function: how the score-function estimate of
d/dmu E_{N(mu, sigma^2)}[f(z)] scatters around the exact gradient.

- ``score_function_estimates(kind, k, num_samples)``: the numbers, a plain function: many
  independent S-sample estimates, their mean and spread, the exact gradient (closed form) and
  the exact spread sqrt(Var_1 / S) (Var_1 by quadrature).
- ``draw_estimate_histogram(numbers, ax)``: the histogram of the estimates against the exact value.
- ``score_function_widget()``: pick f, k and S; ``.result`` holds the latest numbers.
"""

from __future__ import annotations

import math

import ipywidgets
import matplotlib.figure
import torch
from IPython.display import display

from ..variance import exact_gradient_variance, gradient_estimates, objective
from ._interactive import interactive

__all__ = ["draw_estimate_histogram", "score_function_estimates", "score_function_widget"]

SAMPLE_COUNTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
KINDS = {"(z - k)^2": "square", "cos(kz)": "cos", "exp(-k z^2)": "peak"}


def score_function_estimates(
    kind: str,
    k: float,
    num_samples: int,
    *,
    mu: float = 1.0,
    sigma: float = 1.0,
    num_estimates: int = 2000,
    seed: int = 0,
) -> dict:
    """``num_estimates`` independent score-function estimates of d/dmu E_q[f(z)], each from
    ``num_samples`` draws of q = N(mu, sigma^2), for f = vaecourse.variance.objective(kind, k).

    Returns a dict: name (of f), num_samples, estimates (tensor (num_estimates,)), exact (the
    closed-form gradient), mean and std (of the estimates), exact_std = sqrt(Var_1 / S) with
    Var_1 the exact single-sample variance. Taught in notebook 04_score_function.
    """
    f = objective(kind, k)
    generator = torch.Generator().manual_seed(seed)
    estimates = gradient_estimates(f, mu, sigma, num_samples, num_estimates, "score_function", generator=generator)
    variance = exact_gradient_variance(f, mu, sigma, "score_function")
    return {
        "name": f.name,
        "num_samples": num_samples,
        "estimates": estimates,
        "exact": f.gradient(mu, sigma)[0].item(),
        "mean": estimates.mean().item(),
        "std": estimates.std().item(),
        "exact_std": math.sqrt(variance / num_samples),
    }


def draw_estimate_histogram(numbers: dict, ax=None, *, label: str = "score-function estimates", hatch: str = ""):
    """Histogram of all of ``numbers["estimates"]`` (from :func:`score_function_estimates`, tails
    included; at least +- 4 exact standard deviations wide) with the exact gradient (dashed line)
    and the exact spread (dotted lines at +- one standard deviation); the legend sits beside the
    axes.
    Draws on ``ax`` or on a new figure; returns the Axes. Taught in notebook 04_score_function."""
    if ax is None:
        ax = matplotlib.figure.Figure(figsize=(6, 3.5)).subplots()
    exact, spread = numbers["exact"], numbers["exact_std"]
    estimates = numbers["estimates"]
    low = min(exact - 4 * spread, estimates.min().item())
    high = max(exact + 4 * spread, estimates.max().item())
    # every estimate, the far tails of S = 1 included: the y axis is logarithmic so they show
    ax.hist(
        estimates.numpy(),
        bins=60,
        range=(low, high),
        density=True,
        alpha=0.45,
        color="tab:blue",
        hatch=hatch,
        edgecolor="tab:blue",
        label=label,
    )
    ax.set_yscale("log")
    ax.axvline(exact, color="k", linestyle="--", label=f"exact gradient {exact:.3f}")
    for side in (-1, 1):
        ax.axvline(exact + side * spread, color="0.4", linestyle=":", label=r"exact $\pm$ 1 std" if side < 0 else None)
    ax.set_xlabel(r"estimate of $\partial\,\mathbb{E}[f(z)] / \partial\mu$")
    ax.set_ylabel("density (log scale)")
    ax.set_title(
        f"f = {numbers['name']}, S = {numbers['num_samples']}: std {numbers['std']:.3f} (exact {spread:.3f})",
        fontsize=9,
    )
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    return ax


def estimator_controls(kind: str, k: float, num_samples: int) -> dict[str, ipywidgets.Widget]:
    """The controls both estimator widgets share (notebooks 04 and 05): the family of f, its k,
    and the sample count S."""
    style = {"description_width": "initial"}
    return {
        "kind": ipywidgets.Dropdown(options=list(KINDS.items()), value=kind, description="f", style=style),
        "k": ipywidgets.FloatSlider(value=k, min=0.0, max=6.0, step=0.5, description="k", style=style),
        "num_samples": ipywidgets.SelectionSlider(
            options=list(SAMPLE_COUNTS), value=num_samples, description="samples S", style=style
        ),
    }


def score_function_widget(kind: str = "cos", k: float = 1.0, num_samples: int = 10) -> ipywidgets.interactive:
    """Pick f (a family and its k) and the sample count S; see the histogram of 2,000
    score-function estimates of d/dmu E_{N(1, 1)}[f(z)] against the exact gradient. The
    returned ``ipywidgets.interactive`` keeps the latest :func:`score_function_estimates`
    numbers in ``.result``. Taught in notebook 04_score_function."""

    def update(kind: str, k: float, num_samples: int) -> dict:
        numbers = score_function_estimates(kind, k, num_samples)
        ax = draw_estimate_histogram(numbers)
        ax.figure.tight_layout()
        display(ax.figure)
        return numbers

    return interactive(update, **estimator_controls(kind, k, num_samples))
