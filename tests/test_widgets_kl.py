"""The widget of notebook 02_kl_closed_form: its numbers against torch.distributions, its figure,
and the interactive widget reacting to a slider."""

import math

import matplotlib.figure
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vaecourse.widgets import draw_kl_1d, kl_1d, kl_widget


def _oracle_kl(mu, logvar):
    q = Normal(torch.tensor(mu, dtype=torch.float64), torch.tensor(math.exp(0.5 * logvar), dtype=torch.float64))
    return kl_divergence(q, Normal(0.0, 1.0)).item()


@pytest.mark.parametrize("mu, logvar", [(0.0, 0.0), (1.5, -1.0), (-2.0, 2.5), (0.3, -4.0)])
def test_the_widget_kl_matches_torch_distributions(mu, logvar):
    numbers = kl_1d(mu, logvar)
    assert numbers["kl"] == pytest.approx(_oracle_kl(mu, logvar), rel=1e-12, abs=1e-14)
    assert numbers["variance"] == pytest.approx(math.exp(logvar))


def test_the_two_parts_add_up_and_each_vanishes_at_the_prior():
    numbers = kl_1d(1.2, 0.7)
    assert numbers["mean_term"] + numbers["spread_term"] == pytest.approx(numbers["kl"])
    assert numbers["mean_term"] == pytest.approx(0.72)
    assert kl_1d(0.0, 0.7)["mean_term"] == 0.0
    assert kl_1d(1.2, 0.0)["spread_term"] == pytest.approx(0.0, abs=1e-15)


def test_the_figure_shows_q_and_the_prior_with_the_kl_in_the_title():
    ax = draw_kl_1d(1.0, -1.0)
    assert len(ax.lines) == 2
    assert ax.get_xlabel() and ax.get_ylabel()
    assert f"KL = {kl_1d(1.0, -1.0)['kl']:.3f}" in ax.get_title()
    # the drawn q integrates to one over the plotted range and peaks at mu
    (q_line,) = [line for line in ax.lines if line.get_label().startswith("$q(z)")]
    z, q = q_line.get_data()
    assert float(torch.trapezoid(torch.as_tensor(q), torch.as_tensor(z))) == pytest.approx(1.0, abs=1e-3)
    assert float(torch.as_tensor(z)[torch.as_tensor(q).argmax()]) == pytest.approx(1.0, abs=0.02)
    # the dashed prior is drawn above q, so it stays visible where q is the prior
    (prior_line,) = [line for line in ax.lines if line.get_label().startswith("prior")]
    assert prior_line.get_zorder() > q_line.get_zorder()


def test_the_figure_can_go_on_a_given_axes():
    ax = matplotlib.figure.Figure().subplots()
    assert draw_kl_1d(0.0, 0.0, ax=ax) is ax


def test_moving_a_slider_updates_the_result():
    widget = kl_widget(mu=1.0, logvar=-1.0)
    assert widget.result["kl"] == pytest.approx(_oracle_kl(1.0, -1.0))
    mu_slider, logvar_slider = widget.children[:2]
    mu_slider.value = 0.0
    assert widget.result["mu"] == 0.0
    logvar_slider.value = 0.0
    assert widget.result["kl"] == pytest.approx(0.0, abs=1e-15)
