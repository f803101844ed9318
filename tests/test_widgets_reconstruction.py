"""The widget of notebook 03_monte_carlo_reconstruction: its estimates against the toy model's
exact reconstruction term, its figure, and the interactive widget reacting to a slider."""

import math

import matplotlib.figure
import pytest
import torch

from vaecourse.widgets import (
    draw_minibatch_histogram,
    minibatch_estimates,
    reconstruction_widget,
    toy_reconstruction_problem,
)


@pytest.fixture(scope="module")
def problem():
    return toy_reconstruction_problem(num_points=100, data_dim=5)


def test_the_problem_holds_the_best_diagonal_q(problem):
    model, x, mu, logvar = problem["model"], problem["x"], problem["mu"], problem["logvar"]
    mu = mu.clone().requires_grad_(True)
    logvar = logvar.clone().requires_grad_(True)
    # the exact ELBO is stationary in (mu, logvar) at the mean-field optimum
    grads = torch.autograd.grad(model.elbo(x, mu, logvar).sum(), (mu, logvar))
    assert all(g.abs().max() < 1e-10 for g in grads)
    assert problem["target"] == pytest.approx(problem["exact"].mean().item())


def test_the_estimates_are_unbiased(problem):
    result = minibatch_estimates(2, 4, num_repeats=4000, problem=problem)
    assert result["estimates"].shape == (4000,)
    assert abs(result["bias"]) < 4 * result["std"] / math.sqrt(4000)


def test_more_examples_beat_more_draws_at_the_same_budget(problem):
    many_draws = minibatch_estimates(16, 1, num_repeats=2000, problem=problem)
    many_examples = minibatch_estimates(1, 16, num_repeats=2000, problem=problem)
    assert many_draws["budget"] == many_examples["budget"] == 16
    assert many_examples["std"] < many_draws["std"]


def test_the_spread_of_a_single_draw_estimate_falls_like_one_over_root_b_for_independent_examples(problem):
    one = minibatch_estimates(1, 1, num_repeats=4000, problem=problem)["std"]
    sixteen = minibatch_estimates(1, 16, num_repeats=4000, problem=problem)["std"]
    assert one / sixteen == pytest.approx(4.0, rel=0.1)


def test_the_estimates_are_reproducible(problem):
    a = minibatch_estimates(3, 2, num_repeats=50, seed=1, problem=problem)["estimates"]
    b = minibatch_estimates(3, 2, num_repeats=50, seed=1, problem=problem)["estimates"]
    assert torch.equal(a, b)


def test_bad_sizes_are_named(problem):
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_estimates(1, 0, problem=problem)


def test_the_histogram_marks_the_target(problem):
    result = minibatch_estimates(1, 4, num_repeats=200, problem=problem)
    ax = draw_minibatch_histogram(result, value_range=(result["target"] - 5, result["target"] + 5))
    assert ax.get_xlabel() and ax.get_ylabel()
    assert any(line.get_label() == "exact target" for line in ax.lines)
    assert len(ax.patches) == 1  # one step outline
    ax2 = matplotlib.figure.Figure().subplots()
    assert draw_minibatch_histogram(result, ax=ax2, label="x") is ax2


def test_moving_a_slider_updates_the_result():
    widget = reconstruction_widget(num_samples=1, batch_size=8, num_repeats=200)
    assert widget.result["budget"] == 8
    std_before = widget.result["std"]
    widget.children[1].value = 32  # the batch-size slider
    assert widget.result["batch_size"] == 32 and widget.result["budget"] == 32
    assert widget.result["std"] < std_before
    widget.children[0].value = 4
    assert widget.result["num_samples"] == 4
