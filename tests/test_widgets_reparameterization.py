"""The widget of notebook 05_reparameterization: both estimators centre on the closed-form
gradient with their exact spreads, the figure shows both histograms, and the widget reacts."""

import math

import matplotlib.figure
import pytest

from vaecourse.widgets import draw_estimator_comparison, estimator_comparison, estimator_comparison_widget

# exact single-sample variances at mu = sigma = 1 (Mohamed et al. 2020): (score function, reparameterization)
PUBLISHED = {("square", 0): (30.0, 4.0), ("cos", 1): (0.324, 0.268), ("cos", 5): (0.50, 12.5)}


@pytest.mark.parametrize("kind, k", list(PUBLISHED))
def test_both_estimators_centre_on_the_exact_gradient_with_the_published_spreads(kind, k):
    numbers = estimator_comparison(kind, k, 5, num_estimates=4000)
    for estimator, published in zip(("score_function", "reparameterization"), PUBLISHED[(kind, k)]):
        part = numbers[estimator]
        assert part["exact_std"] == pytest.approx(math.sqrt(published / 5), rel=3e-3)
        assert abs(part["mean"] - numbers["exact"]) < 5 * part["exact_std"] / math.sqrt(4000)
        assert part["std"] == pytest.approx(part["exact_std"], rel=0.1)


def test_the_score_function_wins_for_cos_5z_and_loses_for_z_squared():
    high_frequency = estimator_comparison("cos", 5, 10, num_estimates=500)
    assert high_frequency["score_function"]["std"] < high_frequency["reparameterization"]["std"] / 3
    square = estimator_comparison("square", 0, 10, num_estimates=500)
    assert square["reparameterization"]["std"] < square["score_function"]["std"] / 2


def test_the_figure_shows_two_histograms_and_the_exact_value():
    numbers = estimator_comparison("peak", 10, 5, num_estimates=300)
    ax = draw_estimator_comparison(numbers, matplotlib.figure.Figure().subplots())
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any(label.startswith("score function") for label in labels)
    assert any(label.startswith("reparameterization") for label in labels)
    assert ax.lines[0].get_xdata()[0] == pytest.approx(numbers["exact"])
    assert ax.get_xlabel() and ax.get_ylabel() and "S = 5" in ax.get_title()
    assert draw_estimator_comparison(numbers, legend=False).get_legend() is None


def test_moving_the_controls_updates_the_result():
    widget = estimator_comparison_widget(kind="cos", k=5.0, num_samples=10)
    assert widget.result["name"] == "cos(5z)"
    kind, k, num_samples = widget.children[:3]
    num_samples.value = 100
    assert widget.result["num_samples"] == 100
    kind.value = "peak"
    k.value = 1.0
    assert widget.result["name"] == "exp(-z^2)"
