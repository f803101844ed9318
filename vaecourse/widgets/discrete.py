"""Widget of notebook 09_discrete_latents: the estimates of d/d(logits) E_q[f(z)] for binary
latents against the exact gradient, by estimator, baseline, temperature and sample count.

- ``discrete_estimates(f, logits, estimator, num_samples, ...)``: the numbers, a plain function:
  many independent S-sample estimates, their mean and spread, and the exact gradient by
  enumeration, with the bias and the spread relative to the exact gradient's length.
- ``draw_discrete_estimates(numbers, ax)``: each coordinate's exact value beside the estimates'
  mean +- one standard deviation.
- ``discrete_widget(f, logits)``: pick the estimator, baseline, temperature and S; ``.result``
  holds the latest numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ipywidgets
import matplotlib.figure
import torch
from IPython.display import display

from ..discrete import exact_expectation, exact_gradient, gradient
from ._interactive import interactive

__all__ = ["discrete_estimates", "discrete_widget", "draw_discrete_estimates", "toy_objective"]

ESTIMATOR_NAMES = {
    "score function": "score_function",
    "concrete (Gumbel-softmax)": "concrete",
    "straight-through": "straight_through",
}
BASELINES = ("none", "leave-one-out", "exact E_q[f] (ideal NVIL)")
TEMPERATURES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0)
SAMPLE_COUNTS = (1, 2, 4, 8, 16, 32)


def toy_objective() -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """A small problem with a known answer by enumeration: K = 6 logits and
    f(z) = -||A z - t||^2 + 20 for a fixed A (6 x 6) and target t (seeded), so that the
    widget works without a trained model."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 6, generator=g, dtype=torch.float64)
    t = torch.randn(6, generator=g, dtype=torch.float64)
    logits = torch.randn(6, generator=g, dtype=torch.float64)
    return (lambda z: 20 - (z.to(a.dtype) @ a.T - t).pow(2).sum(-1)), logits


def discrete_estimates(
    f: Callable[[torch.Tensor], torch.Tensor],
    logits: torch.Tensor,
    estimator: str,
    num_samples: int,
    *,
    baseline: str = "none",
    temperature: float = 0.5,
    num_estimates: int = 500,
    seed: int = 0,
) -> dict:
    """``num_estimates`` independent estimates of grad_logits E_q[f(z)] for one example
    (logits (K,)), each from ``num_samples`` draws, by ``estimator`` ("score_function",
    "concrete" or "straight_through"); ``baseline`` (score function only) is one of
    :data:`BASELINES`; ``temperature`` is the concrete relaxation's.

    Returns a dict: estimator, baseline, temperature, num_samples, estimates (num_estimates, K),
    exact (K,), mean (K,), std (K,), and three numbers relative to |exact| (the Euclidean
    length of the exact gradient): bias = |mean - exact|, bias_se (the standard error of that
    difference's length when the estimator is unbiased, sqrt(sum std^2 / n)), spread =
    sqrt(sum std^2) (one estimate's typical distance from its mean). Taught in notebook
    09_discrete_latents.
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    rows = logits.detach().expand(num_estimates, *logits.shape)
    options: dict = {"generator": torch.Generator().manual_seed(seed)}
    if estimator == "score_function":
        if baseline == "leave-one-out":
            options["baseline"] = "mean"
        elif baseline != "none":
            options["baseline"] = exact_expectation(f, rows).detach()
    elif estimator == "concrete":
        options["temperature"] = temperature
    estimates = gradient(estimator, f, rows, num_samples, **options)
    exact = exact_gradient(f, logits.detach())
    mean, std = estimates.mean(0), estimates.std(0)
    length = exact.norm().item()
    return {
        "estimator": estimator,
        "baseline": baseline if estimator == "score_function" else "none",
        "temperature": temperature if estimator == "concrete" else None,
        "num_samples": num_samples,
        "estimates": estimates,
        "exact": exact,
        "mean": mean,
        "std": std,
        "bias": (mean - exact).norm().item() / length,
        "bias_se": math.sqrt(std.pow(2).sum().item() / num_estimates) / length,
        "spread": std.pow(2).sum().sqrt().item() / length,
    }


def draw_discrete_estimates(numbers: dict, ax=None):
    """Each coordinate k: the exact gradient (black bar) and the estimates' mean +- one standard
    deviation (error bar); the title gives the relative bias and spread. Draws on ``ax`` or a new
    figure; returns the Axes. Taught in notebook 09_discrete_latents."""
    if ax is None:
        ax = matplotlib.figure.Figure(figsize=(6.5, 3.2)).subplots()
    k = torch.arange(len(numbers["exact"]))
    ax.bar(k.numpy(), numbers["exact"].numpy(), width=0.5, color="0.8", edgecolor="k", label="exact (enumeration)")
    ax.errorbar(
        k.numpy(),
        numbers["mean"].numpy(),
        yerr=numbers["std"].numpy(),
        fmt="o",
        color="tab:red",
        capsize=3,
        label=r"estimates: mean $\pm$ 1 std",
    )
    ax.axhline(0, color="k", linewidth=0.5)
    ax.set_xlabel("latent k")
    ax.set_ylabel(r"$\partial\,\mathbb{E}_q[f(z)] / \partial \ell_k$")
    label = numbers["estimator"].replace("_", " ")
    if numbers["temperature"] is not None:
        label += f", temperature {numbers['temperature']:g}"
    if numbers["baseline"] != "none":
        label += f", baseline {numbers['baseline']}"
    ax.set_title(
        f"{label}, S = {numbers['num_samples']}: bias {numbers['bias']:.3f}, spread {numbers['spread']:.3f} (relative)",
        fontsize=8,
    )
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    return ax


def discrete_widget(
    f: Callable[[torch.Tensor], torch.Tensor] | None = None,
    logits: torch.Tensor | None = None,
    estimator: str = "score_function",
    baseline: str = "none",
    temperature: float = 0.5,
    num_samples: int = 4,
) -> ipywidgets.interactive:
    """Pick the estimator, the baseline (score function), the temperature (concrete) and the
    sample count S (the leave-one-out baseline uses at least S = 2); see 500 estimates of the
    gradient of E_q[f(z)] beside the exact one.
    f and logits (K,) default to :func:`toy_objective`. The returned ``ipywidgets.interactive``
    keeps the latest :func:`discrete_estimates` numbers in ``.result``. Taught in notebook
    09_discrete_latents."""
    if f is None or logits is None:
        f, logits = toy_objective()
    style = {"description_width": "initial"}
    controls = {
        "estimator": ipywidgets.Dropdown(
            options=list(ESTIMATOR_NAMES.items()), value=estimator, description="estimator", style=style
        ),
        "baseline": ipywidgets.Dropdown(options=list(BASELINES), value=baseline, description="baseline", style=style),
        # S before the temperature (ipywidgets orders the controls by update's parameters): S changes
        # the estimates of every estimator, the temperature only the concrete one's.
        "num_samples": ipywidgets.SelectionSlider(
            options=list(SAMPLE_COUNTS), value=num_samples, description="samples S", style=style
        ),
        "temperature": ipywidgets.SelectionSlider(
            options=list(TEMPERATURES), value=temperature, description="temperature", style=style
        ),
    }

    def update(estimator: str, baseline: str, num_samples: int, temperature: float) -> dict:
        if baseline == "leave-one-out" and num_samples < 2:
            num_samples = 2  # a leave-one-out mean needs another sample
        numbers = discrete_estimates(f, logits, estimator, num_samples, baseline=baseline, temperature=temperature)
        ax = draw_discrete_estimates(numbers)
        ax.figure.tight_layout()
        display(ax.figure)
        return numbers

    return interactive(update, **controls)
