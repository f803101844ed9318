"""Widgets of notebook 07_kl_budget: move along VAEs trained with different KL weights beta and
see what each keeps of its input.

- ``budget_numbers(model, x)``: rate, distortion, ELBO, the KL and the activity of every latent
  dimension, and the number of active units; a plain function.
- ``sweep_numbers(models, x)``: the same for every model of a {beta: model} mapping.
- ``draw_rate_distortion(numbers, ax)``: distortion against rate, one marker per beta.
- ``draw_kl_bars(numbers, ax)``: one model's KL per latent dimension, sorted, inactive units marked.
- ``draw_image_rows(rows, ax)``: rows of small images with a label per row.
- ``draw_budget(models, x, beta, axes)``: the three panels the widget shows for one beta.
- ``kl_budget_widget(models, x)``: a slider over the trained betas around ``draw_budget``;
  ``.result`` holds ``budget_numbers`` for the selected model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets
import matplotlib.figure
import torch
from IPython.display import display
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..budget import kl_per_dimension, posterior_mean_variance, rate_distortion
from ..model import VAE
from ._interactive import interactive

__all__ = [
    "budget_numbers",
    "sweep_numbers",
    "draw_rate_distortion",
    "draw_kl_bars",
    "kl_bar_legend",
    "draw_image_rows",
    "budget_axes",
    "draw_budget",
    "kl_budget_widget",
]

_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*")
_FIGSIZE = (12, 7.5)


def budget_axes(fig) -> tuple:
    """The widget's layout on ``fig``: the rate-distortion curve and the KL bars side by side
    on top, the images across the bottom (large enough to judge 28x28 digits). Returns the three
    Axes in ``draw_budget``'s order. Taught in notebook 07_kl_budget."""
    grid = fig.add_gridspec(
        2,
        2,
        height_ratios=[1, 1.25],
        width_ratios=[1, 1],
        left=0.07,
        right=0.98,
        top=0.9,
        bottom=0.04,
        wspace=0.75,
        hspace=0.35,
    )
    return fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])


def kl_bar_legend(threshold: float = 0.01) -> tuple[list, list[str]]:
    """Legend entries (handles, labels) for ``draw_kl_bars``: an active unit's filled bar, and an
    inactive unit's hatched bar with its "x" mark. For a legend shared by several panels:
    ``fig.legend(*kl_bar_legend(), loc="outside upper center", ncol=2)``.
    Taught in notebook 07_kl_budget."""
    handles = [
        Patch(facecolor="0.25", edgecolor="k"),
        (Patch(facecolor="white", edgecolor="k", hatch="//"), Line2D([], [], color="k", marker="x", linestyle="none")),
    ]
    return handles, [f"active (Var mu_j > {threshold:g})", "inactive"]


def budget_numbers(model: VAE, x: torch.Tensor, threshold: float = 0.01, num_samples: int = 1, seed: int = 0) -> dict:
    """What a model spends and keeps on data x (N, *input_shape), N >= 2.

    Returns a dict: rate R = mean KL(q(z|x) || p(z)) and distortion D = -mean E_q[log p(x|z)]
    (nats per example, D by Monte Carlo with ``num_samples`` draws seeded by ``seed``),
    elbo = -(R + D), kl_per_dim (list of d floats, summing to R), activity (list of d floats,
    Var_n mu_j(x_n)), active (list of d bools, activity > threshold), active_units (int),
    threshold. Taught in notebook 07_kl_budget.
    """
    result = rate_distortion(model, x, num_samples, torch.Generator().manual_seed(seed))
    activity = posterior_mean_variance(model, x)
    return {
        "rate": result.rate,
        "distortion": result.distortion,
        "elbo": result.elbo,
        "kl_per_dim": kl_per_dimension(model, x).tolist(),
        "activity": activity.tolist(),
        "active": (activity > threshold).tolist(),
        "active_units": int((activity > threshold).sum().item()),
        "threshold": float(threshold),
    }


def _models(models: object) -> dict[float, VAE]:
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty mapping {beta: trained VAE}")
    for beta, model in models.items():
        if not isinstance(model, VAE):
            raise ValueError(f"models[{beta!r}] must be a vaecourse.VAE, got {type(model).__name__}")
    return {float(beta): model for beta, model in sorted(models.items())}


def sweep_numbers(
    models: Mapping[float, VAE], x: torch.Tensor, threshold: float = 0.01, num_samples: int = 1, seed: int = 0
) -> dict:
    """``budget_numbers`` for every model of {beta: model}, keyed by beta (ascending).
    Taught in notebook 07_kl_budget."""
    return {
        beta: budget_numbers(model, x, threshold, num_samples=num_samples, seed=seed)
        for beta, model in _models(models).items()
    }


def draw_rate_distortion(numbers: Mapping[float, dict], ax=None, highlight: float | None = None):
    """Distortion against rate, one marker per beta joined in order of beta, with the line
    R + D = const through the point of best ELBO (slope -1: moving along it keeps the ELBO).
    ``highlight`` circles one beta. Draws on ``ax`` or a new figure; returns the Axes.
    Taught in notebook 07_kl_budget."""
    if not isinstance(numbers, Mapping) or not numbers:
        raise ValueError("numbers must be a non-empty mapping {beta: budget_numbers(...)}")
    if ax is None:
        ax = matplotlib.figure.Figure(figsize=(5, 3.5)).subplots()
    betas = sorted(numbers)
    rates = [numbers[b]["rate"] for b in betas]
    distortions = [numbers[b]["distortion"] for b in betas]
    ax.plot(rates, distortions, color="0.6", linestyle=":", zorder=1)
    for i, (beta, r, d) in enumerate(zip(betas, rates, distortions)):
        ax.plot(
            r,
            d,
            linestyle="none",
            marker=_MARKERS[i % len(_MARKERS)],
            ms=7,
            color=f"C{i}",
            label=f"beta = {beta:g}",
            zorder=2,
        )
    best = max(betas, key=lambda b: numbers[b]["elbo"])
    total = -numbers[best]["elbo"]
    span = max(rates) - min(rates) or 1.0
    r_line = torch.linspace(min(rates) - 0.05 * span, max(rates) + 0.05 * span, 2).tolist()
    ax.plot(r_line, [total - r for r in r_line], "k--", lw=1, label=f"R + D = {total:.2f} (best ELBO)")
    if highlight is not None:
        h = numbers[float(highlight)]
        ax.plot(h["rate"], h["distortion"], marker="o", ms=16, mfc="none", mec="k", mew=1.5, linestyle="none")
    ax.set_ylim(
        min(distortions) - 0.1 * (max(distortions) - min(distortions) + 1),
        max(distortions) + 0.1 * (max(distortions) - min(distortions) + 1),
    )
    ax.set_xlabel("rate R = KL(q(z|x) || p(z))  (nats)")
    ax.set_ylabel("distortion D = -E[log p(x|z)]  (nats)")
    ax.set_title("rate against distortion")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)  # off the data
    return ax


def draw_kl_bars(numbers: Mapping, ax=None, ymax: float | None = None, legend: bool = True):
    """One model's KL per latent dimension (``budget_numbers``), sorted from the largest down:
    filled bars for active units (Var_n mu_j > threshold), white hatched bars with an "x" on the
    axis for inactive ones, so a unit that carries nothing is still visible. ``ymax`` fixes the
    top of the axis (to compare panels); the legend goes above the axes, off the bars.
    Draws on ``ax`` or a new figure; returns the Axes. Taught in notebook 07_kl_budget."""
    if not isinstance(numbers, Mapping) or "kl_per_dim" not in numbers or "active" not in numbers:
        raise ValueError("numbers must be one model's budget_numbers(...) dict")
    if ax is None:
        ax = matplotlib.figure.Figure(figsize=(5, 3)).subplots()
    order = sorted(range(len(numbers["kl_per_dim"])), key=lambda j: -numbers["kl_per_dim"][j])
    kl = [numbers["kl_per_dim"][j] for j in order]
    active = [numbers["active"][j] for j in order]
    ranks = list(range(1, len(kl) + 1))
    ax.bar([r for r, a in zip(ranks, active) if a], [v for v, a in zip(kl, active) if a], color="0.25", edgecolor="k")
    ax.bar(
        [r for r, a in zip(ranks, active) if not a],
        [v for v, a in zip(kl, active) if not a],
        color="white",
        edgecolor="k",
        hatch="//",
    )
    top = ymax if ymax is not None else max(1.0, max(kl) * 1.05)
    inactive = [r for r, a in zip(ranks, active) if not a]
    ax.plot(inactive, [0.0] * len(inactive), linestyle="none", marker="x", color="k", ms=6, clip_on=False, zorder=3)
    ax.set_ylim(0, top)
    ax.set_xlim(0.4, len(kl) + 0.6)
    ax.set_xticks(ranks if len(ranks) <= 10 else [1, *range(5, len(ranks) + 1, 5)])
    ax.set_xlabel("latent dimensions, sorted by KL_j")
    ax.set_ylabel("KL_j (nats)")
    if legend:
        ax.legend(
            *kl_bar_legend(numbers["threshold"]),
            fontsize=7,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.01),
            ncol=2,
            borderaxespad=0,
            frameon=False,
        )
    return ax


def draw_image_rows(rows: Mapping[str, torch.Tensor], ax=None, pad: int = 1):
    """Rows of grey images (each a tensor (n, H, W) with values in [0, 1]), labelled on the left.
    Draws on ``ax`` or a new figure; returns the Axes. Taught in notebook 07_kl_budget."""
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError("rows must be a non-empty mapping {label: images of shape (n, H, W)}")
    images = [torch.as_tensor(v).detach().cpu().float() for v in rows.values()]
    if any(im.dim() != 3 or im.shape[1:] != images[0].shape[1:] for im in images):
        raise ValueError("every row must hold images of one shape (n, H, W)")
    height, width = images[0].shape[1:]
    ncols = max(len(im) for im in images)
    canvas = torch.ones(len(images) * (height + pad) - pad, ncols * (width + pad) - pad)
    for r, row in enumerate(images):
        for c, image in enumerate(row):
            top, left = r * (height + pad), c * (width + pad)
            canvas[top : top + height, left : left + width] = image.clamp(0, 1)
    if ax is None:
        ax = matplotlib.figure.Figure(figsize=(6, 0.7 * len(images) + 0.5)).subplots()
    ax.imshow(canvas.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks([r * (height + pad) + (height - 1) / 2 for r in range(len(images))], list(rows))
    ax.set_xticks([])
    return ax


@torch.no_grad()
def draw_budget(
    models: Mapping[float, VAE],
    x: torch.Tensor,
    beta: float,
    axes: Sequence | None = None,
    numbers: Mapping[float, dict] | None = None,
    num_images: int = 8,
    seed: int = 0,
):
    """The three panels of the widget for the model trained at ``beta``: the rate-distortion
    curve of all models with this one circled; its KL per latent dimension (filled bars: active
    units, Var_n mu_j > threshold; hatched: inactive); its reconstructions E[x | z = mu(x)] of
    the first ``num_images`` inputs and as many samples from the prior (seeded by ``seed``).
    ``numbers`` (from ``sweep_numbers``) saves recomputing them. Returns the three Axes.
    Taught in notebook 07_kl_budget."""
    models = _models(models)
    beta = float(beta)
    if beta not in models:
        raise ValueError(f"beta must be one of the trained betas {list(models)}, got {beta!r}")
    numbers = sweep_numbers(models, x) if numbers is None else numbers
    if axes is None:
        axes = budget_axes(matplotlib.figure.Figure(figsize=_FIGSIZE))
    ax_rd, ax_kl, ax_img = axes
    here = numbers[beta]
    draw_rate_distortion(numbers, ax_rd, highlight=beta)

    draw_kl_bars(here, ax_kl, ymax=max(1.0, max(n for v in numbers.values() for n in v["kl_per_dim"]) * 1.05))
    ax_kl.set_title(
        f"beta = {beta:g}: {here['active_units']} of {len(here['kl_per_dim'])} units active", fontsize=10, pad=22
    )

    model = models[beta]
    shown = x[:num_images]
    rows = {
        "input": shown,
        "recon.": model.reconstruct(shown),
        "sample": model.sample(len(shown), generator=torch.Generator().manual_seed(seed)),
    }
    draw_image_rows(rows, ax_img)
    ax_img.set_title(f"R = {here['rate']:.2f}, D = {here['distortion']:.2f} nats", fontsize=10)
    ax_img.set_xlabel("examples")
    return axes


def kl_budget_widget(
    models: Mapping[float, VAE],
    x: torch.Tensor,
    beta: float | None = None,
    num_images: int = 8,
    num_samples: int = 1,
    seed: int = 0,
) -> ipywidgets.interactive:
    """A slider over the trained betas showing ``draw_budget`` for the selected model; the
    returned ``ipywidgets.interactive`` holds its ``budget_numbers`` in ``.result`` (plus the
    key "beta"). The numbers of every model are computed once, when the widget is made, with
    ``num_samples`` draws per example for the distortion.
    Taught in notebook 07_kl_budget."""
    models = _models(models)
    numbers = sweep_numbers(models, x, num_samples=num_samples, seed=seed)
    betas = list(models)
    start = betas[len(betas) // 2] if beta is None else float(beta)
    if start not in models:
        raise ValueError(f"beta must be one of the trained betas {betas}, got {beta!r}")

    def update(beta: float) -> dict:
        # 80 dpi keeps the widget's image small: large images in widget output make notebook
        # runners (nbclient) lose messages now and then
        fig = matplotlib.figure.Figure(figsize=_FIGSIZE, dpi=80)
        draw_budget(models, x, beta, axes=budget_axes(fig), numbers=numbers, num_images=num_images, seed=seed)
        display(fig)
        return {"beta": beta, **numbers[beta]}

    slider = ipywidgets.SelectionSlider(
        options=[(f"{b:g}", b) for b in betas],
        value=start,
        description="beta",
        style={"description_width": "initial"},
        continuous_update=False,
    )
    return interactive(update, beta=slider)
