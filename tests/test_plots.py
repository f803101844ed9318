"""Tests for vaecourse.plots: each picture is a Figure with labelled axes showing the right data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vaecourse import (  # noqa: E402
    VAE,
    History,
    plots,  # noqa: E402
)


@pytest.fixture
def model() -> VAE:
    torch.manual_seed(0)
    return VAE((8, 8), 2, (16,))


@pytest.fixture
def x() -> torch.Tensor:
    return torch.bernoulli(torch.full((20, 8, 8), 0.3), generator=torch.Generator().manual_seed(0))


@pytest.fixture
def history() -> History:
    return History(
        epoch=[1, 2, 3],
        step=[2, 4, 6],
        beta=[1.0] * 3,
        train_elbo=[-30.0, -25.0, -22.0],
        train_recon=[-28.0, -22.0, -18.0],
        train_kl=[2.0, 3.0, 4.0],
        val_elbo=[-31.0, -26.0, -24.0],
        val_recon=[-29.0, -23.0, -20.0],
        val_kl=[2.0, 3.0, 4.0],
        step_elbo=[-40.0, -30.0, -28.0, -24.0, -23.0, -21.0],
    )


def _checked(fig: object) -> Figure:
    """Every panel has both axis labels; the figure is closed once checked."""
    assert isinstance(fig, Figure)
    try:
        for ax in fig.axes:
            assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
    finally:
        plt.close(fig)
    assert not plt.fignum_exists(fig.number)
    return fig


def _image(fig: Figure) -> np.ndarray:
    return fig.axes[0].get_images()[0].get_array()


def test_reconstructions_sit_under_their_inputs(model, x):
    fig = plots.plot_reconstructions(model, x, num=5)
    image = _image(fig)
    assert image.shape == (2 * 8 + 1, 5 * 8 + 4)
    np.testing.assert_array_equal(image[:8, :8], x[0].numpy())
    np.testing.assert_allclose(image[9:, :8], model.reconstruct(x[:1])[0].numpy(), rtol=1e-6)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["input", "recon."]
    _checked(fig)


def test_prior_samples_fill_a_grid(model):
    fig = plots.plot_prior_samples(model, num=12, ncols=4, generator=torch.Generator().manual_seed(0))
    assert _image(fig).shape == (3 * 9 - 1, 4 * 9 - 1)
    expected = model.sample(12, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(_image(fig)[:8, 9:17], expected[1].numpy(), rtol=1e-6)
    _checked(fig)


def test_latent_scatter_gives_each_label_its_own_marker(model, x):
    labels = torch.arange(20) % 4
    fig = plots.plot_latent_scatter(model, x, labels)
    collections = fig.axes[0].collections
    assert len(collections) == 4
    assert len({tuple(c.get_paths()[0].vertices.ravel().round(3)) for c in collections}) == 4  # distinct shapes
    mu = model.encode(x)[0].detach().numpy()
    np.testing.assert_allclose(collections[1].get_offsets(), mu[labels.numpy() == 1], rtol=1e-6)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["0", "1", "2", "3"]
    _checked(fig)
    _checked(plots.plot_latent_scatter(model, x))


def test_latent_manifold_decodes_a_grid_of_gaussian_quantiles(model):
    fig = plots.plot_latent_manifold(model, num=5, span=0.9)
    assert _image(fig).shape == (5 * 8, 5 * 8)  # seamless: no gaps between the images
    corner = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor([0.05, 0.95]))  # top-left: (low z_1, high z_2)
    np.testing.assert_allclose(_image(fig)[:8, :8], model.decode_mean(corner[None])[0].detach().numpy(), rtol=1e-5)
    _checked(fig)


def test_latent_manifold_ticks_are_symmetric_and_sit_where_their_z_falls(model):
    fig = plots.plot_latent_manifold(model, num=21, span=0.95, ticks=(-1.5, 0, 1.5))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-1.5", "0", "1.5"]
    x_ticks = ax.get_xticks()
    # 21 cells from quantile 0.025 to 0.975: z = 0 is the middle cell (index 10), centred at
    # pixel 10 * 8 + 3.5; the other two sit symmetrically about it.
    assert x_ticks[1] == pytest.approx(83.5)
    assert x_ticks[0] + x_ticks[2] == pytest.approx(2 * 83.5)
    # z = 1.5 is at quantile 0.9332, i.e. cell (0.9332 - 0.025) / 0.95 * 20 = 19.12
    assert x_ticks[2] == pytest.approx(19.12 * 8 + 3.5, abs=0.05)
    y_ticks = ax.get_yticks()  # top row = largest z_2, so the y axis runs the other way
    assert y_ticks[2] == pytest.approx((20 - 19.12) * 8 + 3.5, abs=0.05)
    assert fig.get_size_inches()[0] >= 7
    _checked(fig)


def test_interpolation_starts_and_ends_at_the_two_codes(model, x):
    fig = plots.plot_interpolation(model, x[0], x[1], steps=6)
    image = _image(fig)
    assert image.shape == (8, 6 * 9 - 1)
    np.testing.assert_allclose(image[:, :8], model.reconstruct(x[:1])[0].numpy(), rtol=1e-5)
    np.testing.assert_allclose(image[:, -8:], model.reconstruct(x[1:2])[0].numpy(), rtol=1e-5)
    _checked(fig)


def test_loss_curves_show_both_terms_for_train_and_validation(history):
    fig = plots.plot_loss_curves(history)
    recon_ax, kl_ax = fig.axes
    train, val = recon_ax.get_lines()
    assert list(train.get_ydata()) == [28.0, 22.0, 18.0]  # -recon: lower is better
    assert list(val.get_ydata()) == [29.0, 23.0, 20.0]
    assert train.get_linestyle() != val.get_linestyle()
    assert list(kl_ax.get_lines()[0].get_ydata()) == [2.0, 3.0, 4.0]
    assert "nats" in recon_ax.get_ylabel() and "nats" in kl_ax.get_ylabel()
    _checked(fig)


def test_loss_curves_without_validation_draw_train_only(history):
    history.val_recon = history.val_kl = history.val_elbo = [None] * 3
    fig = plots.plot_loss_curves(history)
    assert len(fig.axes[0].get_lines()) == 1
    _checked(fig)


def test_elbo_curves_smooth_each_run_with_its_own_line_style(history):
    fig = plots.plot_elbo_curves({"a": history, "b": history}, smooth=2)
    first, second = fig.axes[0].get_lines()
    np.testing.assert_allclose(first.get_ydata(), [-35.0, -29.0, -26.0, -23.5, -22.0])
    np.testing.assert_array_equal(first.get_xdata(), [2, 3, 4, 5, 6])
    assert first.get_linestyle() != second.get_linestyle()
    _checked(fig)


def test_bad_input_raises_value_error(model, x, history):
    with pytest.raises(ValueError, match="latent_dim = 2"):
        plots.plot_latent_scatter(VAE((8, 8), 3, (4,)), x)
    with pytest.raises(ValueError, match="latent_dim = 2"):
        plots.plot_latent_manifold(VAE((8, 8), 3, (4,)))
    with pytest.raises(ValueError, match=r"input_shape \(H, W\)"):
        plots.plot_prior_samples(VAE((64,), 2, (4,)))
    with pytest.raises(ValueError, match="labels must have shape"):
        plots.plot_latent_scatter(model, x, [0, 1])
    with pytest.raises(ValueError, match="span"):
        plots.plot_latent_manifold(model, span=1.0)
    with pytest.raises(ValueError, match="steps"):
        plots.plot_interpolation(model, x[0], x[1], steps=1)
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_loss_curves(History())
    with pytest.raises(ValueError, match="mapping"):
        plots.plot_elbo_curves({})
    assert plt.get_fignums() == []


def test_the_course_style_sets_readable_sizes_and_leaves_matplotlib_usable():
    with plt.style.context("default"):  # restores matplotlib's settings after the test
        plots.use_course_style()
        for key, value in plots.COURSE_STYLE.items():
            expected = list(value) if isinstance(value, tuple) else value
            assert plt.rcParams[key] == expected, key
        assert plt.rcParams["font.size"] >= 10 and plt.rcParams["legend.fontsize"] >= 8
        fig, ax = plt.subplots()
        ax.set_xlabel(r"$\log\sigma^2$")  # mathtext renders it: drawing raises on a bad label
        fig.canvas.draw()
        plt.close(fig)


@pytest.mark.parametrize("where", ["right", "below"])
def test_legend_outside_puts_the_legend_off_the_axes(where):
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 1], [0, 1], label="a")
    ax.plot([0, 1], [1, 0], label="b")
    legend = plots.legend_outside(ax, where)
    fig.canvas.draw()
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    if where == "right":
        assert box.x0 >= axes_box.x1
    else:
        assert box.y1 <= axes_box.y0
    plt.close(fig)


def test_legend_outside_names_the_bad_argument():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="where"):
        plots.legend_outside(ax, "left")
    plt.close(fig)
