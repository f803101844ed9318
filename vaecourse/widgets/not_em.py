"""Widget of notebook 08_not_em: rotate the columns of PPCA's W and watch the likelihood stay put
while the ELBO with a diagonal q does not.

- ``rotation_numbers(model, x, degrees)``: the mean log-likelihood, the best diagonal-q ELBO,
  their gap and the cosine between the first two columns of W R; a plain function.
- ``draw_rotation(model, x, degrees, axes)``: both quantities against the angle, and the exact
  posterior's covariance beside the best diagonal q's.
- ``rotation_widget(model, x)``: a slider over the angle around ``draw_rotation``; ``.result``
  holds ``rotation_numbers`` for the selected angle.
"""

from __future__ import annotations

import math

import ipywidgets
import matplotlib.figure
import torch
from IPython.display import display

from ..ppca import best_diagonal_q, mean_field_gap, rotated
from ..toy import LinearGaussianModel
from ._interactive import interactive

__all__ = ["rotation_numbers", "draw_rotation", "rotation_widget"]


def _check(model: object, x: object) -> None:
    if not isinstance(model, LinearGaussianModel) or model.latent_dim != 2:
        raise ValueError("model must be a vaecourse.LinearGaussianModel with 2 latent dimensions")
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != model.data_dim or x.shape[0] < 1:
        raise ValueError(f"x must be a tensor of shape (N, {model.data_dim}) with N >= 1")


@torch.no_grad()
def rotation_numbers(model: LinearGaussianModel, x: torch.Tensor, degrees: float) -> dict:
    """For W R, R the rotation by ``degrees``: log_likelihood = mean_n log p(x_n) (exact, the same
    for every angle), elbo = mean_n of the ELBO at the best diagonal q (exact), gap = their
    difference = mean_field_gap(I + R^T W^T W R / s^2), column_cosine = cosine of the angle between
    the two columns of W R (0 when they are orthogonal), posterior_cov (2x2, as lists) and q_var
    (the best diagonal q's two variances). Taught in notebook 08_not_em."""
    _check(model, x)
    turned = rotated(model, degrees)
    mu, logvar = best_diagonal_q(turned, x)
    _, posterior_cov = turned.posterior(x[:1])
    precision = torch.eye(2, dtype=turned.W.dtype) + turned.W.T @ turned.W / turned.noise_std**2
    columns = turned.W / turned.W.norm(dim=0)
    return {
        "degrees": float(degrees),
        "log_likelihood": turned.log_marginal(x).mean().item(),
        "elbo": turned.elbo(x, mu, logvar).mean().item(),
        "gap": mean_field_gap(precision).item(),
        "column_cosine": (columns[:, 0] @ columns[:, 1]).item(),
        "posterior_cov": posterior_cov.tolist(),
        "q_var": logvar[0].exp().tolist(),
    }


def _ellipse(cov: torch.Tensor, num: int = 100) -> tuple[list[float], list[float]]:
    """The one-standard-deviation ellipse {L u : |u| = 1}, L L^T = cov."""
    t = torch.linspace(0, 2 * math.pi, num, dtype=torch.float64)
    points = torch.linalg.cholesky(cov) @ torch.stack([t.cos(), t.sin()])
    return points[0].tolist(), points[1].tolist()


def draw_rotation(model: LinearGaussianModel, x: torch.Tensor, degrees: float, axes=None, step: float = 5.0):
    """Two panels for W R at ``degrees``: (left) the mean log-likelihood and the best diagonal-q
    ELBO against the angle from 0 to 180 degrees in steps of ``step``, this angle marked; (right)
    the one-standard-deviation ellipses of the exact posterior p(z|x) and of the best diagonal q
    (both centred at 0: only their shapes matter). Returns the two Axes.
    Taught in notebook 08_not_em."""
    _check(model, x)
    if axes is None:
        axes = matplotlib.figure.Figure(figsize=(11, 4), layout="constrained").subplots(1, 2)
    ax_curve, ax_q = axes
    angles = [i * step for i in range(int(180 / step) + 1)]
    curve = [rotation_numbers(model, x, a) for a in angles]
    here = rotation_numbers(model, x, degrees)
    ax_curve.plot(angles, [c["log_likelihood"] for c in curve], color="0.6", lw=4, label="log p(x) (exact)")
    ax_curve.plot(angles, [c["elbo"] for c in curve], "k--", lw=1.5, label="ELBO, best diagonal q (exact)")
    ax_curve.plot([degrees], [here["elbo"]], "ko", ms=8, label=f"this angle: gap {here['gap']:.3f} nats")
    ax_curve.set_xlabel("rotation of W's columns (degrees)")
    ax_curve.set_ylabel("mean over the data (nats per point)")
    ax_curve.set_xticks(range(0, 181, 45))
    ax_curve.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=2, borderaxespad=0, frameon=False)

    cov = torch.tensor(here["posterior_cov"], dtype=torch.float64)
    q = torch.diag(torch.tensor(here["q_var"], dtype=torch.float64))
    ax_q.plot(*_ellipse(cov), color="0.6", lw=4, label="exact posterior p(z|x)")
    ax_q.plot(*_ellipse(q), "k--", lw=1.5, label="best diagonal q(z|x)")
    limit = 1.15 * math.sqrt(max(cov.diagonal().max().item(), q.diagonal().max().item()))
    ax_q.set_xlim(-limit, limit)
    ax_q.set_ylim(-limit, limit)
    ax_q.set_aspect("equal")
    ax_q.set_xlabel("z_1 - posterior mean")
    ax_q.set_ylabel("z_2 - posterior mean")
    ax_q.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    ax_q.set_title(f"{degrees:g} degrees: columns of W R at cosine {here['column_cosine']:+.2f}", fontsize=10)
    return axes


def rotation_widget(model: LinearGaussianModel, x: torch.Tensor, degrees: float = 30.0) -> ipywidgets.interactive:
    """A slider over the rotation angle (0 to 180 degrees, steps of 5) showing ``draw_rotation``;
    ``.result`` holds ``rotation_numbers`` for the selected angle. Taught in notebook 08_not_em."""
    _check(model, x)

    def update(degrees: float) -> dict:
        fig = matplotlib.figure.Figure(figsize=(11, 4), dpi=80, layout="constrained")  # a small image (see kl_budget)
        draw_rotation(model, x, degrees, axes=fig.subplots(1, 2))
        display(fig)
        return rotation_numbers(model, x, degrees)

    slider = ipywidgets.FloatSlider(
        value=float(degrees),
        min=0.0,
        max=180.0,
        step=5.0,
        description="rotation (degrees)",
        style={"description_width": "initial"},
        continuous_update=False,
    )
    return interactive(update, degrees=slider)
