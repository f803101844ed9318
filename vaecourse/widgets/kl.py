"""Widgets of notebook 02_kl_closed_form: a one-dimensional q = N(mu, exp(logvar)) against the
prior N(0, 1), and the KL between them.

- ``kl_1d(mu, logvar)``: the numbers (KL and its two parts), a plain function.
- ``draw_kl_1d(mu, logvar, ax)``: q and the prior on one axis, KL in the title.
- ``kl_widget()``: sliders for mu and log sigma^2 around the two; ``.result`` holds
  ``kl_1d``'s numbers for the latest slider values.
"""

from __future__ import annotations

import math

import ipywidgets
import matplotlib.figure
import torch
from IPython.display import display

from ..kl import gaussian_kl
from ._interactive import interactive

__all__ = ["draw_kl_1d", "kl_1d", "kl_widget"]


def kl_1d(mu: float, logvar: float) -> dict[str, float]:
    """KL(N(mu, exp(logvar)) || N(0, 1)) and its two parts.

    Formula: KL = mu^2 / 2 + (sigma^2 - log sigma^2 - 1) / 2: the mean part grows with the
    distance from the prior's mean, the spread part with the distance of sigma^2 from 1 (in
    either direction). Returns a dict with keys mu, logvar, variance, kl, mean_term,
    spread_term (floats). Taught in notebook 02_kl_closed_form.
    """
    mu_t = torch.tensor([[float(mu)]], dtype=torch.float64)
    logvar_t = torch.tensor([[float(logvar)]], dtype=torch.float64)
    kl = gaussian_kl(mu_t, logvar_t).item()
    mean_term = 0.5 * float(mu) ** 2
    return {
        "mu": float(mu),
        "logvar": float(logvar),
        "variance": math.exp(logvar),
        "kl": kl,
        "mean_term": mean_term,
        "spread_term": kl - mean_term,
    }


def _normal_pdf(z: torch.Tensor, mean: float, variance: float) -> torch.Tensor:
    return torch.exp(-0.5 * (z - mean) ** 2 / variance) / math.sqrt(2 * math.pi * variance)


def draw_kl_1d(mu: float, logvar: float, ax=None, *, z_range: tuple[float, float] = (-5.0, 5.0)):
    """Draw the density of q = N(mu, exp(logvar)) (solid) and of the prior N(0, 1) (dashed),
    with the KL in the title. Draws on ``ax`` (a matplotlib Axes) or on a new figure; returns
    the Axes. Taught in notebook 02_kl_closed_form."""
    numbers = kl_1d(mu, logvar)
    if ax is None:
        ax = matplotlib.figure.Figure(figsize=(6, 3.5)).subplots()
    z = torch.linspace(*z_range, 801, dtype=torch.float64)
    q = _normal_pdf(z, numbers["mu"], numbers["variance"])
    ax.fill_between(z, q, color="tab:blue", alpha=0.15)
    ax.plot(z, q, color="tab:blue", linestyle="-", label=r"$q(z) = \mathcal{N}(\mu, \sigma^2)$")
    # the dashed prior on top: where q is the prior, both curves stay visible
    ax.plot(z, _normal_pdf(z, 0.0, 1.0), "k--", zorder=3, label=r"prior $p(z) = \mathcal{N}(0, 1)$")
    ax.set_xlim(*z_range)
    ax.set_ylim(0, max(0.45, min(float(q.max()) * 1.05, 4.0)))
    ax.set_xlabel(r"latent value $z$")
    ax.set_ylabel("density")
    ax.set_title(
        rf"$\mu$ = {numbers['mu']:.2f}, $\log\sigma^2$ = {numbers['logvar']:.2f}" f"\nKL = {numbers['kl']:.3f} nats",
        fontsize=10,
    )
    ax.legend(loc="upper left" if numbers["mu"] >= 0 else "upper right", fontsize=8)
    return ax


def kl_widget(mu: float = 1.0, logvar: float = -1.0) -> ipywidgets.interactive:
    """Sliders for mu (-3 to 3) and log sigma^2 (-4 to 3) of a 1-D q, showing q against the
    prior and the KL; the returned ``ipywidgets.interactive`` keeps ``kl_1d``'s numbers for the
    latest values in ``.result``. Taught in notebook 02_kl_closed_form."""

    def update(mu: float, logvar: float) -> dict[str, float]:
        ax = draw_kl_1d(mu, logvar)
        ax.figure.tight_layout()
        display(ax.figure)
        return kl_1d(mu, logvar)

    style = {"description_width": "initial"}
    return interactive(
        update,
        mu=ipywidgets.FloatSlider(value=mu, min=-3.0, max=3.0, step=0.05, description="mu", style=style),
        logvar=ipywidgets.FloatSlider(
            value=logvar, min=-4.0, max=3.0, step=0.05, description="log sigma^2", style=style
        ),
    )
