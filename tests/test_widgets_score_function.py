"""The widget of notebook 04_score_function: its estimates centre on the closed-form gradient,
their spread is the exact sqrt(Var_1 / S), the figure shows both, and the widget reacts."""

import math

import matplotlib.figure
import pytest

from vaecourse.widgets import draw_estimate_histogram, score_function_estimates, score_function_widget


@pytest.mark.parametrize(
    "kind, k, exact", [("square", 0, 2.0), ("square", 3, -4.0), ("cos", 1, -math.sin(1) * math.exp(-0.5))]
)
@pytest.mark.parametrize("num_samples", [1, 20])
def test_estimates_centre_on_the_exact_gradient_with_the_exact_spread(kind, k, exact, num_samples):
    numbers = score_function_estimates(kind, k, num_samples, num_estimates=4000)
    assert numbers["exact"] == pytest.approx(exact, rel=1e-12)
    assert numbers["estimates"].shape == (4000,)
    assert abs(numbers["mean"] - exact) < 5 * numbers["exact_std"] / math.sqrt(4000)
    assert numbers["std"] == pytest.approx(numbers["exact_std"], rel=0.15)


def test_the_spread_shrinks_like_one_over_root_s():
    # Var_1 = 30 for f = z^2 at mu = sigma = 1 (Mohamed et al. 2020), so the spread is sqrt(30 / S)
    for s in (1, 4, 100):
        assert score_function_estimates("square", 0, s, num_estimates=10)["exact_std"] == pytest.approx(
            math.sqrt(30 / s)
        )


def test_the_estimates_are_reproducible():
    a = score_function_estimates("cos", 5, 3, num_estimates=50, seed=1)["estimates"]
    b = score_function_estimates("cos", 5, 3, num_estimates=50, seed=1)["estimates"]
    assert a.equal(b)


def test_the_figure_shows_the_histogram_and_the_exact_value():
    numbers = score_function_estimates("peak", 10, 5, num_estimates=500)
    ax = draw_estimate_histogram(numbers, matplotlib.figure.Figure().subplots())
    assert ax.patches, "no histogram drawn"
    assert [line.get_xdata()[0] for line in ax.lines][0] == pytest.approx(numbers["exact"])
    assert ax.get_xlabel() and ax.get_ylabel()
    assert "exp(-10 z^2)" in ax.get_title() and "S = 5" in ax.get_title()


def test_the_histogram_shows_every_estimate_tails_included():
    numbers = score_function_estimates("square", 3, 1, num_estimates=2000)
    ax = draw_estimate_histogram(numbers, matplotlib.figure.Figure().subplots())
    # the bins span every estimate: the central-99% range cut off the S = 1 tail below -55
    assert min(patch.get_x() for patch in ax.patches) <= numbers["estimates"].min().item()
    assert max(patch.get_x() + patch.get_width() for patch in ax.patches) >= numbers["estimates"].max().item()
    assert ax.get_yscale() == "log"  # so the few estimates far out in the tails stay visible


def test_moving_the_controls_updates_the_result():
    widget = score_function_widget(kind="cos", k=1.0, num_samples=10)
    assert widget.result["name"] == "cos(z)" and widget.result["num_samples"] == 10
    kind, k, num_samples = widget.children[:3]
    kind.value = "square"
    assert widget.result["name"] == "(z - 1)^2"
    k.value = 3.0
    assert widget.result["exact"] == pytest.approx(-4.0)
    num_samples.value = 100
    assert widget.result["num_samples"] == 100
