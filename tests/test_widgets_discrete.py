"""The widget of notebook 09_discrete_latents: its exact gradient is the closed form, the
unbiased estimators centre on it, the relaxation's bias moves with the temperature, the figure
shows both, and the widget reacts to its controls."""

import itertools

import matplotlib.figure
import pytest
import torch

from vaecourse.widgets import discrete_estimates, discrete_widget, draw_discrete_estimates, toy_objective

W = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
LOGITS = torch.tensor([0.4, -0.7, 1.2, 0.0], dtype=torch.float64)


def linear(z):
    return z @ W + 5


def test_the_toy_objectives_exact_gradient_matches_a_loop_over_states():
    f, logits = toy_objective()
    p = torch.sigmoid(logits)
    expected = torch.zeros(6, dtype=torch.float64)
    for bits in itertools.product([0.0, 1.0], repeat=6):
        z = torch.tensor(bits, dtype=torch.float64)
        q = torch.prod(torch.where(z == 1, p, 1 - p))
        expected += q * f(z.unsqueeze(0))[0] * (z - p)
    assert discrete_estimates(f, logits, "straight_through", 1, num_estimates=5)["exact"].allclose(expected)


@pytest.mark.parametrize("baseline", ["none", "leave-one-out", "exact E_q[f] (ideal NVIL)"])
def test_the_score_function_centres_on_the_exact_gradient(baseline):
    f, logits = toy_objective()
    numbers = discrete_estimates(f, logits, "score_function", 4, baseline=baseline, num_estimates=4000)
    assert numbers["bias"] < 5 * numbers["bias_se"]


def test_baselines_shrink_the_spread():
    f, logits = toy_objective()
    spread = {
        b: discrete_estimates(f, logits, "score_function", 4, baseline=b)["spread"]
        for b in ["none", "leave-one-out", "exact E_q[f] (ideal NVIL)"]
    }
    assert spread["leave-one-out"] < spread["none"] and spread["exact E_q[f] (ideal NVIL)"] < spread["none"]


def test_straight_through_is_exact_on_a_linear_f():
    numbers = discrete_estimates(linear, LOGITS, "straight_through", 1, num_estimates=20)
    p = torch.sigmoid(LOGITS)
    assert numbers["exact"].allclose(W * p * (1 - p))
    assert numbers["bias"] < 1e-12 and numbers["spread"] < 1e-12


def test_the_concrete_bias_grows_with_the_temperature_and_the_spread_shrinks():
    hot = discrete_estimates(linear, LOGITS, "concrete", 4, temperature=2.0, num_estimates=4000)
    cold = discrete_estimates(linear, LOGITS, "concrete", 4, temperature=0.2, num_estimates=4000)
    assert hot["bias"] > cold["bias"] + 5 * hot["bias_se"]
    assert cold["spread"] > hot["spread"]


def test_a_bad_baseline_is_a_clear_value_error():
    with pytest.raises(ValueError, match="baseline"):
        discrete_estimates(linear, LOGITS, "score_function", 2, baseline="mean")


def test_the_figure_shows_exact_values_and_estimates():
    numbers = discrete_estimates(linear, LOGITS, "concrete", 2, temperature=0.5, num_estimates=50)
    ax = draw_discrete_estimates(numbers, matplotlib.figure.Figure().subplots())
    assert [p.get_height() for p in ax.patches] == pytest.approx(numbers["exact"].tolist())
    assert ax.get_xlabel() and ax.get_ylabel() and "temperature 0.5" in ax.get_title()


def test_moving_the_controls_updates_the_result():
    widget = discrete_widget()
    assert widget.result["estimator"] == "score_function" and widget.result["num_samples"] == 4
    estimator, baseline, num_samples, temperature = widget.children[:4]
    estimator.value = "concrete"
    temperature.value = 2.0
    assert widget.result["estimator"] == "concrete" and widget.result["temperature"] == 2.0
    estimator.value = "score_function"
    num_samples.value = 1
    baseline.value = "leave-one-out"
    assert widget.result["baseline"] == "leave-one-out" and widget.result["num_samples"] == 2
