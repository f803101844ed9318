"""The ELBO-gap widget (notebook 01): its numbers against the toy model's exact answers,
and the widget reacting to its sliders without a browser."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch.distributions import Normal  # noqa: E402

from vaecourse import LinearGaussianModel  # noqa: E402
from vaecourse.widgets import elbo_gap, elbo_widget, plot_elbo_gap  # noqa: E402


@pytest.fixture
def model_and_x():
    W = torch.tensor([[1.5], [-0.5], [0.8]], dtype=torch.float64)
    model = LinearGaussianModel(W, torch.tensor([0.2, 0.0, -0.3], dtype=torch.float64), 0.6)
    return model, torch.tensor([1.0, -0.4, 0.5], dtype=torch.float64)


def test_gap_is_zero_at_the_exact_posterior_and_positive_elsewhere(model_and_x):
    model, x = model_and_x
    # Posterior of a one-dimensional latent by Bayes' rule on a grid: an independent oracle.
    z = torch.linspace(-8, 8, 40001, dtype=torch.float64)
    prior = Normal(0.0, 1.0).log_prob(z)
    lik = Normal(z.unsqueeze(-1) * model.W.squeeze(-1) + model.b, 0.6).log_prob(x).sum(-1)
    density = torch.exp(prior + lik - (prior + lik).max())
    density = density / torch.trapezoid(density, z)
    mean = torch.trapezoid(density * z, z).item()
    var = torch.trapezoid(density * (z - mean) ** 2, z).item()
    at_posterior = elbo_gap(model, x, mean, torch.log(torch.tensor(var)).item())
    assert at_posterior["gap = KL(q || p(z|x))"] == pytest.approx(0, abs=1e-4)
    assert at_posterior["ELBO"] == pytest.approx(at_posterior["log p(x)"], abs=1e-4)
    away = elbo_gap(model, x, mean + 1.0, 0.0)
    assert away["gap = KL(q || p(z|x))"] > 0.1
    assert away["ELBO"] + away["gap = KL(q || p(z|x))"] == pytest.approx(away["log p(x)"], abs=2e-4)
    assert away["reconstruction"] - away["KL(q || p(z))"] == pytest.approx(away["ELBO"], abs=2e-4)


def test_widget_updates_its_numbers_when_a_slider_moves(model_and_x):
    model, x = model_and_x
    widget = elbo_widget(model, x)
    widget.update()
    before = widget.result
    mu_slider = next(c for c in widget.children if getattr(c, "description", "") == "mu")
    mu_slider.value = 2.0
    after = widget.result
    assert after != before
    assert after == elbo_gap(model, x, 2.0, 0.0)


def test_static_figure_is_labelled(model_and_x):
    import matplotlib.pyplot as plt

    model, x = model_and_x
    fig = plot_elbo_gap(model, x, 0.3, -0.5)
    left, right = fig.axes
    assert left.get_xlabel() and left.get_ylabel() and left.get_legend() is not None
    assert right.get_ylabel() == "nats"
    plt.close(fig)


def test_widget_logic_rejects_a_model_with_more_than_one_latent_dimension():
    model = LinearGaussianModel.random(3, 2)
    with pytest.raises(ValueError, match="latent_dim 1"):
        elbo_gap(model, torch.zeros(3, dtype=torch.float64), 0.0, 0.0)


def test_slider_descriptions_are_never_cut_off(model_and_x):
    model, x = model_and_x
    widget = elbo_widget(model, x)
    sliders = [c for c in widget.children if hasattr(c, "description") and c.description]
    assert {s.description for s in sliders} == {"mu", "log sigma^2"}
    assert all(s.style.description_width == "initial" for s in sliders)
