"""The widget of notebook 08_not_em: its numbers against the linear-Gaussian model's exact
likelihood and torch.distributions' KL, its figure, and the slider."""

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from vaecourse import LinearGaussianModel
from vaecourse.ppca import ppca_closed_form
from vaecourse.widgets import draw_rotation, rotation_numbers, rotation_widget


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    truth = LinearGaussianModel.random(6, 2, noise_std=0.5, generator=g)
    x, _ = truth.sample(300, g)
    x = x.double()
    return ppca_closed_form(x, 2), x


def test_the_likelihood_does_not_move_and_the_gap_is_the_kl_to_the_posterior(problem):
    model, x = problem
    base = rotation_numbers(model, x, 0)
    turned = rotation_numbers(model, x, 40)
    assert turned["log_likelihood"] == pytest.approx(base["log_likelihood"], abs=1e-9)
    assert base["gap"] == pytest.approx(0.0, abs=1e-9) and base["column_cosine"] == pytest.approx(0.0, abs=1e-9)
    # the gap is KL(q* || p(z|x)) with q* the diagonal Gaussian of variances q_var
    posterior = MultivariateNormal(
        torch.zeros(2, dtype=torch.float64), torch.tensor(turned["posterior_cov"], dtype=torch.float64)
    )
    q = MultivariateNormal(
        torch.zeros(2, dtype=torch.float64), torch.diag(torch.tensor(turned["q_var"], dtype=torch.float64))
    )
    assert turned["gap"] == pytest.approx(kl_divergence(q, posterior).item(), rel=1e-8)
    assert turned["elbo"] == pytest.approx(turned["log_likelihood"] - turned["gap"], abs=1e-9)
    assert turned["gap"] > 0.01 and abs(turned["column_cosine"]) > 0.1


def test_the_figure_draws_both_curves_and_both_ellipses(problem):
    model, x = problem
    ax_curve, ax_q = draw_rotation(model, x, 45, step=15)
    curve_labels = [t.get_text() for t in ax_curve.get_legend().get_texts()]
    assert any("log p(x)" in label for label in curve_labels) and any("ELBO" in label for label in curve_labels)
    flat, elbo = ax_curve.get_lines()[:2]
    assert len(flat.get_xdata()) == 13 and max(flat.get_ydata()) - min(flat.get_ydata()) < 1e-9
    assert max(elbo.get_ydata()) <= max(flat.get_ydata()) + 1e-9
    assert "45 degrees" in ax_q.get_title()
    assert len(ax_q.get_lines()) == 2


def test_moving_the_slider_updates_the_result(problem):
    model, x = problem
    widget = rotation_widget(model, x, degrees=30)
    assert widget.result["degrees"] == 30
    widget.children[0].value = 90.0
    assert widget.result["degrees"] == 90.0
    assert widget.result["gap"] == pytest.approx(0.0, abs=1e-9)


def test_bad_models_and_data_are_refused(problem):
    model, x = problem
    with pytest.raises(ValueError, match="2 latent dimensions"):
        rotation_numbers(LinearGaussianModel.random(6, 3, generator=torch.Generator().manual_seed(1)), x, 0)
    with pytest.raises(ValueError, match="shape"):
        rotation_numbers(model, x[:, :4], 0)
    assert math.isfinite(rotation_numbers(model, x[:1], 10)["elbo"])
