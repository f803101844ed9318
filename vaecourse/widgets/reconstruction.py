"""Widgets of notebook 03_monte_carlo_reconstruction: how the minibatch estimate of the
reconstruction term spreads, for L draws per example and a batch of B examples.

The problem is a linear-Gaussian model (``vaecourse.LinearGaussianModel``) with a data set and,
for each data point, a fixed q (the exact posterior mean and mean-field variances, as a good
encoder would give), so the target, the data-set average of E_q[log p(x|z)], is known exactly.
One estimate is (1/B) sum_b (1/L) sum_l log p(x_b | z_bl), with the B examples drawn uniformly
(with replacement) from the data set.

- ``toy_reconstruction_problem(...)``: the model, data, q and exact target.
- ``minibatch_estimates(num_samples, batch_size, ...)``: many estimates and their spread.
- ``draw_minibatch_histogram(result, ax)``: their histogram, the target marked.
- ``reconstruction_widget()``: sliders for L and B around the two; ``.result`` holds the numbers.
"""

from __future__ import annotations

import ipywidgets
import matplotlib.figure
import torch
from IPython.display import display

from .._validation import positive_int
from ..toy import LinearGaussianModel
from ._interactive import interactive

__all__ = ["draw_minibatch_histogram", "minibatch_estimates", "reconstruction_widget", "toy_reconstruction_problem"]

SIZES = (1, 2, 4, 8, 16, 32)


def toy_reconstruction_problem(
    num_points: int = 200, data_dim: int = 8, latent_dim: int = 2, seed: int = 0
) -> dict[str, object]:
    """A linear-Gaussian model, ``num_points`` data points drawn from it, and for each point
    q = N(posterior mean, diag(1 / diag(posterior precision))), the best diagonal q.

    Returns a dict: model, x (N, D), mu and logvar (N, k), exact (N,) the exact
    E_q[log p(x_n|z)] of each point, and target, their mean (a float).
    Taught in notebook 03_monte_carlo_reconstruction.
    """
    g = torch.Generator().manual_seed(seed)
    model = LinearGaussianModel.random(data_dim, latent_dim, noise_std=0.5, generator=g)
    x, _ = model.sample(positive_int("num_points", num_points), generator=g)
    mu, _ = model.posterior(x)
    precision = torch.eye(latent_dim, dtype=x.dtype) + model.W.T @ model.W / model.noise_std**2
    logvar = (-torch.log(torch.diagonal(precision))).expand_as(mu).clone()
    exact = model.expected_log_likelihood(x, mu, logvar)
    return {"model": model, "x": x, "mu": mu, "logvar": logvar, "exact": exact, "target": exact.mean().item()}


def minibatch_estimates(
    num_samples: int,
    batch_size: int,
    num_repeats: int = 1000,
    seed: int = 0,
    problem: dict[str, object] | None = None,
) -> dict[str, object]:
    """``num_repeats`` independent minibatch estimates of the data-set average reconstruction term.

    Each is (1/B) sum_b (1/L) sum_l log p(x_b | z_bl), z_bl = mu_b + sigma_b * eps_bl, with
    B = ``batch_size`` examples drawn uniformly with replacement and L = ``num_samples``.
    Returns a dict: estimates (R,), mean, std, target, bias (mean - target), budget (L * B),
    num_samples, batch_size. Taught in notebook 03_monte_carlo_reconstruction.
    """
    num_samples = positive_int("num_samples", num_samples)
    batch_size = positive_int("batch_size", batch_size)
    num_repeats = positive_int("num_repeats", num_repeats)
    problem = toy_reconstruction_problem() if problem is None else problem
    model, x, mu, logvar = problem["model"], problem["x"], problem["mu"], problem["logvar"]
    g = torch.Generator().manual_seed(seed)
    index = torch.randint(0, x.shape[0], (num_repeats, batch_size), generator=g)
    eps = torch.randn(num_repeats, num_samples, batch_size, mu.shape[-1], generator=g, dtype=mu.dtype)
    z = mu[index].unsqueeze(1) + torch.exp(0.5 * logvar[index]).unsqueeze(1) * eps  # (R, L, B, k)
    estimates = model.log_likelihood(x[index].unsqueeze(1), z).mean((1, 2))
    mean = estimates.mean().item()
    return {
        "estimates": estimates,
        "mean": mean,
        "std": estimates.std().item(),
        "target": problem["target"],
        "bias": mean - problem["target"],
        "budget": num_samples * batch_size,
        "num_samples": num_samples,
        "batch_size": batch_size,
    }


def draw_minibatch_histogram(
    result: dict[str, object],
    ax=None,
    *,
    value_range: tuple[float, float] | None = None,
    linestyle: str = "-",
    label: str | None = None,
):
    """A step histogram of ``result["estimates"]`` (from ``minibatch_estimates``), the exact
    target as a vertical line. Draws on ``ax`` or a new figure; returns the Axes.
    Taught in notebook 03_monte_carlo_reconstruction."""
    if ax is None:
        ax = matplotlib.figure.Figure(figsize=(6, 3.5)).subplots()
    estimates = result["estimates"].numpy()
    if label is None:
        label = f"L = {result['num_samples']}, B = {result['batch_size']}: std {result['std']:.2f}"
    ax.hist(
        estimates,
        bins=60,
        range=value_range,
        density=True,
        histtype="step",
        color="k",
        linestyle=linestyle,
        linewidth=1.5,
        label=label,
    )
    if not any(line.get_label() == "exact target" for line in ax.lines):
        ax.axvline(result["target"], color="grey", linestyle="-.", linewidth=1, zorder=0, label="exact target")
    if value_range is not None:
        ax.set_xlim(*value_range)
    ax.set_xlabel(r"minibatch estimate of the average $\mathbb{E}_q[\log p(x \mid z)]$ (nats)")
    ax.set_ylabel("density")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    return ax


def reconstruction_widget(num_samples: int = 1, batch_size: int = 8, num_repeats: int = 1000) -> ipywidgets.interactive:
    """Sliders for L (draws per example) and B (examples per batch), each 1 to 32, showing the
    histogram of ``num_repeats`` minibatch estimates; ``.result`` holds ``minibatch_estimates``'
    numbers for the latest values. Taught in notebook 03_monte_carlo_reconstruction."""
    problem = toy_reconstruction_problem()
    widest = minibatch_estimates(1, 1, num_repeats, problem=problem)
    estimates = widest["estimates"]  # L = B = 1 has the largest spread: its extremes set the range
    value_range = (
        min(estimates.min().item(), widest["target"] - 4 * widest["std"]),
        max(estimates.max().item(), widest["target"] + 4 * widest["std"]),
    )

    def update(num_samples: int, batch_size: int) -> dict[str, object]:
        result = minibatch_estimates(num_samples, batch_size, num_repeats, problem=problem)
        ax = draw_minibatch_histogram(result, value_range=value_range)
        ax.set_title(
            f"budget L x B = {result['budget']}: mean {result['mean']:.2f}, target "
            f"{result['target']:.2f}, std {result['std']:.2f}",
            fontsize=10,
        )
        ax.figure.tight_layout()
        display(ax.figure)
        return result

    style = {"description_width": "initial"}
    return interactive(
        update,
        num_samples=ipywidgets.SelectionSlider(options=SIZES, value=num_samples, description="L (draws)", style=style),
        batch_size=ipywidgets.SelectionSlider(options=SIZES, value=batch_size, description="B (batch)", style=style),
    )
