"""Pictures of a trained VAE: reconstructions, prior samples, the latent space, the decoded
manifold, interpolations, and training curves; and the course's figure style.

``use_course_style()`` (called once in the first cell of every notebook) sets the sizes, fonts
and line widths that every figure of the course shares; ``legend_outside(ax)`` puts a legend
beside or below its axes, off the data.

Taught in notebook 06_full_vae. Every function returns the matplotlib Figure (made with
pyplot, so ``plt.show()`` displays it and ``plt.close(fig)`` frees it), with labelled axes,
and stays readable in grey scale: images are grey, curves differ by line style and marker.
Images need a model whose ``input_shape`` is (H, W).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ._validation import positive_int
from .model import VAE
from .train import History

__all__ = [
    "COURSE_STYLE",
    "use_course_style",
    "legend_outside",
    "plot_reconstructions",
    "plot_prior_samples",
    "plot_latent_scatter",
    "plot_latent_manifold",
    "plot_interpolation",
    "plot_loss_curves",
    "plot_elbo_curves",
]

_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">")
_LINES = ("-", "--", ":", "-.")


# The course's matplotlib style: figures readable on a laptop screen (11 pt text at 100 dpi),
# math in labels typeset by mathtext, no top and right spines, legends without a frame.
COURSE_STYLE: dict[str, object] = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "mathtext.fontset": "dejavusans",
    "hist.bins": 60,
}


def use_course_style() -> None:
    """Apply :data:`COURSE_STYLE` to matplotlib (``plt.style.use``); every notebook calls it
    once, in its first cell. It changes matplotlib's settings and nothing else; use
    ``with plt.style.context(COURSE_STYLE):`` to apply it to one block only. Taught in every
    notebook from 01_elbo on."""
    plt.style.use(COURSE_STYLE)


def legend_outside(ax, where: str = "right", **kwargs):
    """Draw the legend of ``ax`` beside it (``where="right"``) or below it (``"below"``), off
    the data, and return it. Extra keyword arguments go to ``ax.legend``. Taught in every
    notebook from 01_elbo on."""
    if where == "right":
        placement = dict(loc="center left", bbox_to_anchor=(1.02, 0.5))
    elif where == "below":
        handles = len(ax.get_legend_handles_labels()[0])
        placement = dict(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=min(max(handles, 1), 3))
    else:
        raise ValueError(f"where must be 'right' or 'below', got {where!r}")
    return ax.legend(**{**placement, **kwargs})


def _image_shape(model: VAE) -> tuple[int, int]:
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a vaecourse.VAE, got {type(model).__name__}")
    if len(model.input_shape) != 2:
        raise ValueError(f"images need a model with input_shape (H, W), got {model.input_shape}")
    return model.input_shape  # type: ignore[return-value]


def _tile(images: torch.Tensor, ncols: int, pad: int = 1) -> np.ndarray:
    """(N, H, W) -> one array with the images in rows of ``ncols``, separated by ``pad`` pixels."""
    images = images.detach().cpu().clamp(0, 1).numpy()
    num, height, width = images.shape
    nrows = -(-num // ncols)
    canvas = np.ones((nrows * (height + pad) - pad, ncols * (width + pad) - pad), dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (height + pad) : r * (height + pad) + height, c * (width + pad) : c * (width + pad) + width] = image
    return canvas


def _show(ax, canvas: np.ndarray, **kwargs) -> None:
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest", **kwargs)


def _tick_centres(count: int, size: int, pad: int = 1) -> list[float]:
    return [i * (size + pad) + (size - 1) / 2 for i in range(count)]


def plot_reconstructions(model: VAE, x: torch.Tensor, num: int = 8, figsize=(6, 1.8)) -> Figure:
    """The first ``num`` inputs (top row) above their reconstructions E[x | z = mu(x)] (bottom row).
    Taught in notebook 06_full_vae."""
    height, width = _image_shape(model)
    num = min(positive_int("num", num), len(x))
    x = model.check_input(x[:num])
    recon = model.reconstruct(x)
    fig, ax = plt.subplots(figsize=figsize)
    _show(ax, _tile(torch.cat([x, recon.to(x.dtype)]), ncols=num))
    ax.set_yticks(_tick_centres(2, height), ["input", "recon."])
    ax.set_xticks(_tick_centres(num, width), [str(i) for i in range(num)])
    ax.set_xlabel("example")
    ax.set_ylabel("image")
    ax.set_title("inputs and their reconstructions")
    fig.tight_layout()
    return fig


def plot_prior_samples(
    model: VAE, num: int = 32, ncols: int = 8, generator: torch.Generator | None = None, figsize=(6, 3)
) -> Figure:
    """A grid of E[x|z] for z ~ N(0, I): what the model generates from the prior.
    Taught in notebook 06_full_vae."""
    _image_shape(model)
    ncols = positive_int("ncols", ncols)
    samples = model.sample(positive_int("num", num), generator=generator)
    fig, ax = plt.subplots(figsize=figsize)
    _show(ax, _tile(samples, ncols=ncols))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{len(samples)} draws z ~ N(0, I), decoded (pixel means)")
    ax.set_ylabel("samples")
    ax.set_title("samples from the prior")
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_latent_scatter(
    model: VAE, x: torch.Tensor, labels: torch.Tensor | Sequence[int] | None = None, figsize=(5, 4)
) -> Figure:
    """The posterior means mu(x) of a 2-D latent model, one marker and colour per label.
    Taught in notebook 06_full_vae."""
    if not isinstance(model, VAE) or model.latent_dim != 2:
        raise ValueError("plot_latent_scatter needs a vaecourse.VAE with latent_dim = 2")
    mu = model.encode(x)[0].cpu().numpy()
    if labels is not None:
        labels = np.asarray(torch.as_tensor(labels).cpu())
        if labels.shape != (len(mu),):
            raise ValueError(f"labels must have shape ({len(mu)},), got {labels.shape}")
    fig, ax = plt.subplots(figsize=figsize)
    if labels is None:
        ax.scatter(mu[:, 0], mu[:, 1], s=6, marker="o", alpha=0.6)
    else:
        cmap = plt.get_cmap("tab10")
        for i, label in enumerate(np.unique(labels)):
            keep = labels == label
            ax.scatter(
                mu[keep, 0],
                mu[keep, 1],
                s=10,
                marker=_MARKERS[i % len(_MARKERS)],
                color=cmap(i % 10),
                alpha=0.7,
                label=str(label),
            )
        ax.legend(title="label", fontsize="small", markerscale=1.5, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_xlabel("z_1 (posterior mean)")
    ax.set_ylabel("z_2 (posterior mean)")
    ax.set_title("the latent space")
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_latent_manifold(
    model: VAE, num: int = 20, span: float = 0.95, ticks: Sequence[float] = (-2, -1, 0, 1, 2), figsize=(7.5, 7.5)
) -> Figure:
    """E[x|z] on a num x num grid of a 2-D latent space, drawn as one seamless image.

    The grid's z_1 and z_2 sit at the Gaussian quantiles (1 - span)/2 ... (1 + span)/2, so the
    grid covers the prior's mass evenly (Kingma & Welling 2013, Fig. 4); the axes are therefore
    not linear in z, and their ticks mark the values ``ticks`` (symmetric about 0) where they
    fall on that scale. Taught in notebook 06_full_vae.
    """
    height, width = _image_shape(model)
    if model.latent_dim != 2:
        raise ValueError("plot_latent_manifold needs a model with latent_dim = 2")
    num = positive_int("num", num)
    if not 0 < span < 1:
        raise ValueError(f"span must lie in (0, 1), got {span!r}")
    param = next(model.parameters())
    normal = torch.distributions.Normal(0.0, 1.0)
    low, high = (1 - span) / 2, (1 + span) / 2
    probs = torch.linspace(low, high, num, dtype=torch.float64)
    values = normal.icdf(probs).to(param.dtype)
    z1, z2 = torch.meshgrid(values, values.flip(0), indexing="xy")  # top row = largest z_2
    z = torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1).to(param.device)
    fig, ax = plt.subplots(figsize=figsize)
    _show(ax, _tile(model.decode_mean(z), ncols=num, pad=0))
    # A grid cell k (0 ... num-1) holds probability low + k (high - low) / (num - 1); its centre is
    # at pixel k * size + (size - 1) / 2. A tick value t sits where Phi(t) falls on that scale.
    shown = [t for t in ticks if abs(t) <= values.abs().max().item() + 1e-9]
    cells = [(normal.cdf(torch.tensor(float(t))).item() - low) / (high - low) * (num - 1) for t in shown]
    labels = [f"{t:g}" for t in shown]
    ax.set_xticks([k * width + (width - 1) / 2 for k in cells], labels)
    ax.set_yticks([(num - 1 - k) * height + (height - 1) / 2 for k in cells], labels)
    ax.set_xlabel(r"$z_1$ (grid at the prior's quantiles)")
    ax.set_ylabel(r"$z_2$ (grid at the prior's quantiles)")
    ax.set_title(f"the decoded latent space: {num} x {num} codes")
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_interpolation(
    model: VAE, x_start: torch.Tensor, x_end: torch.Tensor, steps: int = 8, figsize=(6, 1.5)
) -> Figure:
    """E[x|z_t] along z_t = (1 - t) mu(x_start) + t mu(x_end), t from 0 to 1.

    x_start, x_end: single images of shape input_shape. Taught in notebook 06_full_vae.
    """
    height, width = _image_shape(model)
    steps = positive_int("steps", steps)
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    ends = model.check_input(torch.stack([x_start, x_end]), "x_start and x_end")
    mu = model.encode(ends)[0]
    t = torch.linspace(0, 1, steps, dtype=mu.dtype, device=mu.device)[:, None]
    images = model.decode_mean((1 - t) * mu[0] + t * mu[1])
    fig, ax = plt.subplots(figsize=figsize)
    _show(ax, _tile(images, ncols=steps))
    ax.set_xticks(_tick_centres(steps, width), [f"{v:.2f}" for v in t[:, 0].tolist()])
    ax.set_yticks([])
    ax.set_xlabel("t  (z_t = (1 - t) mu(first) + t mu(second))")
    ax.set_ylabel("decoded")
    ax.set_title("interpolation between two codes")
    fig.tight_layout()
    return fig


def _check_history(history: object) -> History:
    if not isinstance(history, History) or len(history) == 0:
        raise ValueError("history must be a non-empty vaecourse.History (from fit)")
    return history


def plot_loss_curves(history: History, figsize=(9, 3.2)) -> Figure:
    """Both loss terms per epoch: the reconstruction term -E_q[log p(x|z)] and the KL, in nats
    per example, on the training set (solid, circles) and the validation set (dashed, squares).
    Taught in notebook 06_full_vae."""
    history = _check_history(history)
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    panels = (("recon", -1.0, "reconstruction  -E[log p(x|z)] (nats)"), ("kl", 1.0, "KL(q(z|x) || p(z)) (nats)"))
    for ax, (term, sign, ylabel) in zip(axes, panels):
        ax.plot(history.epoch, [sign * v for v in getattr(history, f"train_{term}")], "-o", ms=4, label="train")
        val = [(e, sign * v) for e, v in zip(history.epoch, getattr(history, f"val_{term}")) if v is not None]
        if val:
            ax.plot(*zip(*val), "--s", ms=4, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.legend()
    axes[0].set_title("reconstruction term (lower is better)")
    axes[1].set_title("KL term")
    fig.tight_layout()
    return fig


def plot_elbo_curves(histories: Mapping[str, History], smooth: int = 1, figsize=(6, 3.5)) -> Figure:
    """The minibatch ELBO against optimizer steps for several runs (one line style each),
    averaged over a moving window of ``smooth`` steps. Taught in notebook 06_full_vae."""
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories must be a non-empty mapping {label: History}")
    smooth = positive_int("smooth", smooth)
    fig, ax = plt.subplots(figsize=figsize)
    for i, (label, history) in enumerate(histories.items()):
        values = np.asarray(_check_history(history).step_elbo, dtype=np.float64)
        width = min(smooth, len(values))
        averaged = np.convolve(values, np.ones(width) / width, mode="valid")
        steps = np.arange(width, len(values) + 1)
        ax.plot(
            steps,
            averaged,
            linestyle=_LINES[i % len(_LINES)],
            color=f"C{i}",
            label=label,
            marker=_MARKERS[i % len(_MARKERS)],
            markevery=max(1, len(steps) // 8),
            ms=4,
        )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("minibatch ELBO (nats per example)")
    ax.set_title("ELBO during training" + (f" ({smooth}-step moving average)" if smooth > 1 else ""))
    ax.legend()
    fig.tight_layout()
    return fig
