"""The widget of notebook 07_kl_budget: its numbers against torch.distributions and a collapsed
model with a known answer, its figures, and the slider moving between trained betas."""

import matplotlib.figure
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vaecourse import VAE
from vaecourse.widgets import (
    budget_numbers,
    draw_budget,
    draw_image_rows,
    draw_kl_bars,
    draw_rate_distortion,
    kl_bar_legend,
    kl_budget_widget,
    sweep_numbers,
)


def _model(seed):
    torch.manual_seed(seed)
    return VAE((4, 4), 3, (10,))


def _collapsed(seed):
    """q(z|x) = N(0, I) = p(z) for every x: no rate, no active unit."""
    model = _model(seed)
    with torch.no_grad():
        model.encoder[-1].weight.zero_()
        model.encoder[-1].bias.zero_()
    return model


@pytest.fixture(scope="module")
def data():
    return torch.bernoulli(torch.full((30, 4, 4), 0.3), generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def models():
    return {0.5: _model(1), 1.0: _model(2), 10.0: _collapsed(3)}


def test_the_numbers_match_torch_distributions(data):
    model = _model(1)
    numbers = budget_numbers(model, data)
    with torch.no_grad():
        mu, logvar = model.encoder(data.reshape(30, -1)).double().chunk(2, dim=-1)
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    assert numbers["kl_per_dim"] == pytest.approx(kl.mean(0).tolist(), rel=1e-5)
    assert numbers["rate"] == pytest.approx(kl.sum(-1).mean().item(), rel=1e-5)
    assert numbers["activity"] == pytest.approx(mu.var(0, correction=0).tolist(), rel=1e-4)
    assert numbers["elbo"] == pytest.approx(-(numbers["rate"] + numbers["distortion"]))
    assert numbers["active_units"] == sum(numbers["active"]) == sum(a > 0.01 for a in numbers["activity"])


def test_a_collapsed_model_has_no_rate_and_no_active_unit(data):
    numbers = budget_numbers(_collapsed(0), data)
    assert numbers["rate"] == 0.0 and numbers["active_units"] == 0
    assert numbers["kl_per_dim"] == [0.0, 0.0, 0.0]


def test_the_numbers_are_reproducible_for_a_seed(data):
    model = _model(4)
    assert budget_numbers(model, data, seed=3) == budget_numbers(model, data, seed=3)


def test_the_sweep_is_keyed_by_beta_in_order(models, data):
    numbers = sweep_numbers({10: models[10.0], 0.5: models[0.5]}, data)
    assert list(numbers) == [0.5, 10.0]
    assert numbers[10.0]["active_units"] == 0


def test_the_rate_distortion_figure_has_a_marker_per_beta_and_labelled_axes(models, data):
    numbers = sweep_numbers(models, data)
    ax = draw_rate_distortion(numbers, highlight=1.0)
    assert "rate" in ax.get_xlabel() and "nats" in ax.get_xlabel()
    assert "distortion" in ax.get_ylabel() and "nats" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [label for label in labels if label.startswith("beta")] == ["beta = 0.5", "beta = 1", "beta = 10"]
    best = max(numbers.values(), key=lambda n: n["elbo"])
    assert any(f"R + D = {-best['elbo']:.2f}" in label for label in labels)


def test_the_image_rows_are_tiled_with_a_label_each():
    ax = draw_image_rows({"a": torch.zeros(3, 2, 2), "b": torch.ones(2, 2, 2)})
    image = ax.get_images()[0].get_array()
    assert image.shape == (2 * 3 - 1, 3 * 3 - 1)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="one shape"):
        draw_image_rows({"a": torch.zeros(3, 2, 2), "b": torch.ones(2, 3, 3)})


def test_the_budget_panels_show_the_selected_model(models, data):
    ax_rd, ax_kl, ax_img = draw_budget(models, data, 10.0)
    assert "0 of 3 units active" in ax_kl.get_title()
    assert ax_kl.get_ylabel() == "KL_j (nats)"
    assert [t.get_text() for t in ax_img.get_yticklabels()] == ["input", "recon.", "sample"]
    # the collapsed model reconstructs every input as the same image
    image = ax_img.get_images()[0].get_array()
    row = image[5:9]
    assert all((row[:, c * 5 : c * 5 + 4] == row[:, :4]).all() for c in range(6))


def test_draw_budget_goes_on_given_axes_and_refuses_an_untrained_beta(models, data):
    axes = matplotlib.figure.Figure().subplots(1, 3)
    assert list(draw_budget(models, data, 0.5, axes=axes)) == list(axes)
    with pytest.raises(ValueError, match="trained betas"):
        draw_budget(models, data, 2.0)


def test_moving_the_slider_updates_the_result(models, data):
    widget = kl_budget_widget(models, data, beta=0.5)
    assert widget.result["beta"] == 0.5
    slider = widget.children[0]
    slider.value = 10.0
    assert widget.result["beta"] == 10.0
    assert widget.result["active_units"] == 0
    assert widget.result["rate"] == budget_numbers(models[10.0], data)["rate"]


def test_the_widget_starts_in_the_middle_and_refuses_bad_models(models, data):
    assert kl_budget_widget(models, data).result["beta"] == 1.0
    with pytest.raises(ValueError, match="non-empty mapping"):
        kl_budget_widget({}, data)
    with pytest.raises(ValueError, match="vaecourse.VAE"):
        kl_budget_widget({1.0: "a model"}, data)


def test_the_kl_bars_are_sorted_and_mark_every_inactive_unit():
    numbers = {"kl_per_dim": [0.2, 0.0, 1.5, 0.001], "active": [True, False, True, False], "threshold": 0.01}
    ax = draw_kl_bars(numbers)
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == [1.5, 0.2, 0.001, 0.0]  # sorted by KL; here the active ones come first
    hatched = [patch.get_hatch() for patch in ax.patches]
    assert hatched == [None, None, "//", "//"]
    marks = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [3, 4]  # ranks of the two inactive units
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["active (Var mu_j > 0.01)", "inactive"]
    with pytest.raises(ValueError, match="budget_numbers"):
        draw_kl_bars({"rate": 1.0})


def test_the_shared_legend_names_both_kinds_of_unit():
    handles, labels = kl_bar_legend(0.05)
    assert labels == ["active (Var mu_j > 0.05)", "inactive"] and len(handles) == 2
