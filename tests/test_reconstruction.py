"""The Monte Carlo reconstruction estimator and the small fixed decoder, against exact answers:
the linear-Gaussian model's closed-form reconstruction term, Gauss-Hermite quadrature, and
torch.distributions."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli

from vaecourse import LinearGaussianModel
from vaecourse.reconstruction import TinyDecoder, monte_carlo_reconstruction


@pytest.fixture
def toy():
    g = torch.Generator().manual_seed(0)
    model = LinearGaussianModel.random(data_dim=4, latent_dim=2, noise_std=0.6, generator=g)
    x, _ = model.sample(3, generator=g)
    mu = torch.randn(3, 2, generator=g, dtype=torch.float64)
    logvar = torch.randn(3, 2, generator=g, dtype=torch.float64) - 1
    return model, x, mu, logvar


def _gauss_hermite_2d(f, mu, logvar, n=80):
    # E_{z ~ N(mu, diag(exp(logvar)))}[f(z)] for 2-D z by a tensor-product rule
    t, w = np.polynomial.hermite_e.hermegauss(n)
    t, w = torch.tensor(t), torch.tensor(w) / math.sqrt(2 * math.pi)
    nodes = torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    weights = (w[:, None] * w[None, :]).reshape(-1)
    z = mu + torch.exp(0.5 * logvar) * nodes[:, None, :]
    return (weights[:, None] * f(z)).sum(0)


def test_the_estimate_is_unbiased_on_the_linear_gaussian_model(toy):
    model, x, mu, logvar = toy
    exact = model.expected_log_likelihood(x, mu, logvar)
    g = torch.Generator().manual_seed(1)
    draws = monte_carlo_reconstruction(lambda z: model.log_likelihood(x, z), mu, logvar, 20_000, g, per_sample=True)
    std_error = draws.std(0) / math.sqrt(draws.shape[0])
    assert ((draws.mean(0) - exact).abs() < 4 * std_error).all()


def test_the_average_is_the_mean_of_the_single_draw_estimates(toy):
    model, x, mu, logvar = toy
    f = lambda z: model.log_likelihood(x, z)  # noqa: E731
    draws = monte_carlo_reconstruction(f, mu, logvar, 7, torch.Generator().manual_seed(2), per_sample=True)
    estimate = monte_carlo_reconstruction(f, mu, logvar, 7, torch.Generator().manual_seed(2))
    assert draws.shape == (7, 3) and estimate.shape == (3,)
    torch.testing.assert_close(estimate, draws.mean(0))


def test_the_standard_error_falls_like_one_over_root_l(toy):
    model, x, mu, logvar = toy
    f = lambda z: model.log_likelihood(x, z)  # noqa: E731
    g = torch.Generator().manual_seed(3)
    spread = {
        L: torch.stack([monte_carlo_reconstruction(f, mu, logvar, L, g) for _ in range(400)]).std(0) for L in (1, 16)
    }
    ratio = spread[1] / spread[16]
    assert ((ratio > 3.0) & (ratio < 5.3)).all(), ratio


def test_a_point_mass_q_gives_the_likelihood_at_the_mean(toy):
    model, x, mu, _ = toy
    tiny = torch.full_like(mu, -60.0)
    estimate = monte_carlo_reconstruction(lambda z: model.log_likelihood(x, z), mu, tiny, 3)
    torch.testing.assert_close(estimate, model.log_likelihood(x, mu))


def test_gradients_reach_mu_logvar_and_the_decoder(toy):
    _, x, mu, logvar = toy
    decoder = TinyDecoder(latent_dim=2, hidden_dim=5, data_dim=4, generator=torch.Generator().manual_seed(4))
    mu, logvar = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    x01 = (x > 0).double()
    estimate = monte_carlo_reconstruction(lambda z: decoder.log_likelihood(x01, z), mu, logvar, 3)
    estimate.sum().backward()
    assert mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0 and decoder.W1.grad.abs().sum() > 0


def test_bad_inputs_are_named(toy):
    model, x, mu, logvar = toy
    f = lambda z: model.log_likelihood(x, z)  # noqa: E731
    with pytest.raises(ValueError, match="log_likelihood must be callable"):
        monte_carlo_reconstruction("not a function", mu, logvar, 2)
    with pytest.raises(ValueError, match="same shape"):
        monte_carlo_reconstruction(f, mu, logvar[:, :1], 2)
    with pytest.raises(ValueError, match="num_samples"):
        monte_carlo_reconstruction(f, mu, logvar, 0)
    with pytest.raises(ValueError, match=r"shape \(2, 3\), got \(2,\)"):
        monte_carlo_reconstruction(lambda z: f(z).sum(-1), mu, logvar, 2)
    with pytest.raises(ValueError, match="finite"):
        monte_carlo_reconstruction(f, mu * float("nan"), logvar, 2)


def test_the_decoder_likelihood_is_torch_distributions_bernoulli():
    g = torch.Generator().manual_seed(5)
    decoder = TinyDecoder(generator=g)
    x, _ = decoder.sample(3, generator=g)
    z = torch.randn(4, 3, 2, generator=g, dtype=torch.float64)
    with torch.no_grad():
        expected = Bernoulli(logits=decoder(z)).log_prob(x.expand(4, 3, 16)).sum(-1)
        got = decoder.log_likelihood(x, z)
    assert got.shape == (4, 3)
    torch.testing.assert_close(got, expected)
    grey = torch.rand(3, 16, generator=g, dtype=torch.float64)
    with torch.no_grad():
        expected = Bernoulli(logits=decoder(z), validate_args=False).log_prob(grey.expand(4, 3, 16)).sum(-1)
        torch.testing.assert_close(decoder.log_likelihood(grey, z), expected)


def test_the_decoder_is_reproducible_and_samples_binary_pixels():
    a = TinyDecoder(generator=torch.Generator().manual_seed(6))
    b = TinyDecoder(generator=torch.Generator().manual_seed(6))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    x, z = a.sample(50, generator=torch.Generator().manual_seed(7))
    assert x.shape == (50, 16) and z.shape == (50, 2)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    assert (a.latent_dim, a.data_dim) == (2, 16)


def test_the_estimate_matches_quadrature_on_the_neural_decoder():
    g = torch.Generator().manual_seed(8)
    decoder = TinyDecoder(generator=g)
    x, z = decoder.sample(2, generator=g)
    mu, logvar = 0.8 * z, torch.full_like(z, math.log(0.3))
    with torch.no_grad():
        f = lambda zz: decoder.log_likelihood(x, zz)  # noqa: E731
        exact = _gauss_hermite_2d(f, mu, logvar)
        draws = monte_carlo_reconstruction(f, mu, logvar, 20_000, g, per_sample=True)
    std_error = draws.std(0) / math.sqrt(draws.shape[0])
    assert ((draws.mean(0) - exact).abs() < 4 * std_error).all()


def test_quadrature_recovers_the_linear_gaussian_closed_form(toy):
    # the oracle used above is itself checked against the toy model's exact answer
    model, x, mu, logvar = toy
    quad = _gauss_hermite_2d(lambda z: model.log_likelihood(x, z), mu, logvar, n=20)
    torch.testing.assert_close(quad, model.expected_log_likelihood(x, mu, logvar))
