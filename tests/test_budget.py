"""Rate, distortion and active units of notebook 07, against independent oracles:
torch.distributions and the linear-Gaussian model's closed forms."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Bernoulli, Normal, kl_divergence

from vaecourse import VAE
from vaecourse.budget import (
    RateDistortion,
    active_units,
    kl_per_dimension,
    posterior_mean_variance,
    rate_distortion,
)
from vaecourse.ppca import linear_gaussian_from_vae


def _bernoulli_vae(seed=0, latent_dim=3):
    torch.manual_seed(seed)
    return VAE((4, 4), latent_dim, (12,))


def _binary_images(n=50, seed=1):
    return torch.bernoulli(torch.full((n, 4, 4), 0.4), generator=torch.Generator().manual_seed(seed))


def _linear_vae(D=6, k=2, seed=0, sigma=0.7):
    torch.manual_seed(seed)
    return VAE((D,), k, (), likelihood="gaussian", sigma=sigma)


def _oracle_posterior(model, x):
    with torch.no_grad():
        out = model.encoder(x.reshape(len(x), -1))
    mu, logvar = out.double().chunk(2, dim=-1)
    return Normal(mu, torch.exp(0.5 * logvar))


def test_the_rate_is_the_mean_kl_to_the_prior_as_torch_distributions_computes_it():
    model, x = _bernoulli_vae(), _binary_images()
    q = _oracle_posterior(model, x)
    expected = kl_divergence(q, Normal(0.0, 1.0)).sum(-1).mean().item()
    assert rate_distortion(model, x).rate == pytest.approx(expected, rel=1e-5)


def test_the_distortion_is_the_negative_expected_bernoulli_log_likelihood():
    model, x = _bernoulli_vae(), _binary_images()
    g = torch.Generator().manual_seed(3)
    estimate = rate_distortion(model, x, num_samples=4000, generator=g).distortion
    # an independent Monte Carlo estimate with torch.distributions and its own draws
    q = _oracle_posterior(model, x)
    z = q.sample((4000,)).float()
    with torch.no_grad():
        logits = model.decoder(z)
    log_px = Bernoulli(logits=logits).log_prob(x.reshape(len(x), -1)).sum(-1)
    oracle = -log_px.mean().item()
    standard_error = log_px.mean(1).std().item() / math.sqrt(4000)
    assert estimate == pytest.approx(oracle, abs=5 * standard_error + 1e-3)


def test_the_distortion_of_a_linear_gaussian_vae_matches_the_closed_form():
    model = _linear_vae()
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    exact_model = linear_gaussian_from_vae(model)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    exact = -exact_model.expected_log_likelihood(x.double(), mu.double(), logvar.double()).mean().item()
    estimate = rate_distortion(model, x, num_samples=20000, generator=torch.Generator().manual_seed(1)).distortion
    assert estimate == pytest.approx(exact, rel=2e-3)


def test_rate_plus_distortion_is_minus_the_elbo():
    result = RateDistortion(rate=3.5, distortion=20.25)
    assert result.elbo == -23.75
    model, x = _bernoulli_vae(), _binary_images()
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    with torch.no_grad():
        elbo = model.elbo(x, num_samples=3, generator=g2).elbo.mean().item()
    assert rate_distortion(model, x, num_samples=3, generator=g1).elbo == pytest.approx(elbo, rel=1e-6)


def test_the_per_dimension_kl_matches_torch_distributions_and_sums_to_the_rate():
    model, x = _bernoulli_vae(latent_dim=5), _binary_images()
    per_dim = kl_per_dimension(model, x)
    oracle = kl_divergence(_oracle_posterior(model, x), Normal(0.0, 1.0)).mean(0)
    assert per_dim.shape == (5,)
    assert torch.allclose(per_dim.double(), oracle, rtol=1e-5, atol=1e-7)
    assert per_dim.sum().item() == pytest.approx(rate_distortion(model, x).rate, rel=1e-5)


def _encoder_with_mean_scales(scales, D=3, seed=0):
    """A linear encoder with mu_j(x) = scales_j * x_1 and logvar = 0."""
    torch.manual_seed(seed)
    model = VAE((D,), len(scales), (), likelihood="gaussian")
    with torch.no_grad():
        weight = torch.zeros(2 * len(scales), D)
        weight[: len(scales), 0] = torch.tensor(scales)
        model.encoder[0].weight.copy_(weight)
        model.encoder[0].bias.zero_()
        model.encoder[0].bias[: len(scales)] = 0.5  # a constant offset moves no unit
    return model


def test_the_activity_statistic_is_the_population_variance_of_the_posterior_means():
    scales = [1.0, 0.3, 0.05, 0.0]
    model = _encoder_with_mean_scales(scales)
    x = torch.randn(500, 3, generator=torch.Generator().manual_seed(2))
    variance = np.var(x[:, 0].numpy().astype(np.float64))  # numpy's default is 1/N
    expected = torch.tensor([s**2 * variance for s in scales])
    assert torch.allclose(posterior_mean_variance(model, x).double(), expected.double(), rtol=1e-4, atol=1e-9)


def test_active_units_counts_the_dimensions_whose_mean_moves_more_than_the_threshold():
    model = _encoder_with_mean_scales([1.0, 0.3, 0.05, 0.0, 0.2])  # variances ~1, 0.09, 0.0025, 0, 0.04
    x = torch.randn(2000, 3, generator=torch.Generator().manual_seed(3))
    assert active_units(model, x) == 3
    assert active_units(model, x, threshold=0.05) == 2
    assert active_units(model, x, threshold=2.0) == 0


def test_a_collapsed_posterior_has_no_active_unit_and_no_rate():
    model = _encoder_with_mean_scales([0.0, 0.0])
    with torch.no_grad():
        model.encoder[0].bias.zero_()  # q(z|x) = N(0, I) = p(z) for every x
    x = torch.randn(100, 3, generator=torch.Generator().manual_seed(4))
    assert active_units(model, x) == 0
    assert torch.equal(kl_per_dimension(model, x), torch.zeros(2))


@settings(max_examples=25, deadline=None)
@given(st.floats(1e-4, 1.0), st.floats(1e-4, 1.0))
def test_a_higher_threshold_never_counts_more_units(t1, t2):
    model = _bernoulli_vae(latent_dim=6)
    x = _binary_images(40)
    low, high = sorted((t1, t2))
    assert active_units(model, x, threshold=high) <= active_units(model, x, threshold=low)


def test_each_active_unit_costs_at_least_half_its_activity_in_rate():
    model, x = _bernoulli_vae(latent_dim=6), _binary_images()
    assert bool((kl_per_dimension(model, x) >= 0.5 * posterior_mean_variance(model, x) - 1e-7).all())


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, x: active_units(m, x, threshold=0.0), "threshold"),
        (lambda m, x: active_units(m, x, threshold=-1.0), "threshold"),
        (lambda m, x: active_units(m, x[:1]), "at least 2 examples"),
        (lambda m, x: rate_distortion("not a model", x), "vaecourse.VAE"),
        (lambda m, x: kl_per_dimension(m, x.reshape(len(x), -1)), "shape"),
        (lambda m, x: rate_distortion(m, x, num_samples=0), "num_samples"),
    ],
)
def test_bad_inputs_are_refused_with_a_message_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call(_bernoulli_vae(), _binary_images(10))
