"""The ELBO-gap widget of notebook 01_elbo: move q's mean and log-variance on a toy model
with a one-dimensional latent and watch the ELBO, log p(x) and the gap between them."""

from __future__ import annotations

import torch

from ..toy import LinearGaussianModel

__all__ = ["elbo_gap", "plot_elbo_gap", "elbo_widget"]


def _one_latent(model: LinearGaussianModel, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(model, LinearGaussianModel) or model.latent_dim != 1:
        raise ValueError("model must be a LinearGaussianModel with latent_dim 1")
    if not isinstance(x, torch.Tensor) or x.shape != (model.data_dim,):
        raise ValueError(f"x must be one data point of shape ({model.data_dim},)")
    return x.to(model.W.dtype)


def elbo_gap(model: LinearGaussianModel, x: torch.Tensor, mu: float, logvar: float) -> dict[str, float]:
    """The numbers the widget shows, for q = N(mu, exp(logvar)) on a model with latent_dim 1.

    Returns log p(x), the ELBO, its reconstruction and KL terms, and the gap
    log p(x) - ELBO = KL(q || p(z|x)), each rounded to 4 decimals. Taught in notebook 01_elbo.
    """
    x = _one_latent(model, x)
    m = torch.tensor([float(mu)], dtype=model.W.dtype)
    lv = torch.tensor([float(logvar)], dtype=model.W.dtype)
    recon = model.expected_log_likelihood(x, m, lv).item()
    elbo = model.elbo(x, m, lv).item()
    log_px = model.log_marginal(x).item()
    return {
        "log p(x)": round(log_px, 4),
        "ELBO": round(elbo, 4),
        "reconstruction": round(recon, 4),
        "KL(q || p(z))": round(recon - elbo, 4),
        "gap = KL(q || p(z|x))": round(model.kl_to_posterior(x, m, lv).item(), 4),
    }


def plot_elbo_gap(model: LinearGaussianModel, x: torch.Tensor, mu: float, logvar: float):
    """Left: q against the exact posterior p(z|x). Right: log p(x), the ELBO and the gap.

    Returns the matplotlib Figure. Taught in notebook 01_elbo.
    """
    import matplotlib.pyplot as plt

    x = _one_latent(model, x)
    numbers = elbo_gap(model, x, mu, logvar)
    post_mean, post_cov = model.posterior(x)
    pm, ps = post_mean.item(), post_cov.item() ** 0.5
    qs = float(torch.exp(torch.tensor(logvar / 2)))
    lo, hi = min(pm - 4 * ps, mu - 4 * qs), max(pm + 4 * ps, mu + 4 * qs)
    z = torch.linspace(lo, hi, 400, dtype=torch.float64)
    normal = lambda mean, std: torch.exp(-0.5 * ((z - mean) / std) ** 2) / (std * (2 * torch.pi) ** 0.5)  # noqa: E731

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    left.plot(z, normal(pm, ps), color="black", linestyle="-", label=r"exact posterior $p(z \mid x)$")
    left.plot(z, normal(mu, qs), color="tab:blue", linestyle="--", label=r"$q(z) = \mathcal{N}(\mu, \sigma^2)$")
    left.set_xlabel(r"latent $z$")
    left.set_ylabel("density")
    # below the panel, off both curves wherever the sliders put q
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, fontsize=9, frameon=False)
    left.set_title(r"$q$ against the posterior")

    names = [r"$\log p(x)$", "ELBO"]
    values = [numbers["log p(x)"], numbers["ELBO"]]
    bars = right.bar(names, values, color=["0.3", "0.75"], edgecolor="black", hatch="")
    bars[1].set_hatch("//")
    right.set_ylabel("nats")
    right.axhline(0, color="black", linewidth=0.5)
    right.set_title(rf"gap = KL$(q \,\|\, p(z \mid x))$ = {numbers['gap = KL(q || p(z|x))']:.3f} nats")
    fig.tight_layout()
    return fig


def elbo_widget(model: LinearGaussianModel, x: torch.Tensor):
    """Sliders for q's mean and log-variance; the figure and the numbers follow them.

    Returns an ``ipywidgets.interactive``; ``.result`` holds the numbers of the latest
    update (the dict of :func:`elbo_gap`). Taught in notebook 01_elbo.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from ._interactive import interactive

    x = _one_latent(model, x)

    def update(mu: float, logvar: float) -> dict[str, float]:
        fig = plot_elbo_gap(model, x, mu, logvar)
        plt.show()
        plt.close(fig)
        return elbo_gap(model, x, mu, logvar)

    style = {"description_width": "initial"}  # the whole description, never cut off
    return interactive(
        update,
        mu=widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.05, description="mu", style=style),
        logvar=widgets.FloatSlider(value=0.0, min=-5.0, max=2.0, step=0.05, description="log sigma^2", style=style),
    )
