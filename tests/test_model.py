"""Tests for vaecourse.model: the VAE against torch.distributions and an exact linear-Gaussian model."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Bernoulli, Normal, kl_divergence

import vaecourse
from vaecourse import VAE, LinearGaussianModel
from vaecourse.model import ElboTerms, clamp_logvar


def _binary_images(n: int, shape=(4, 3), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, *shape), 0.4), generator=g)


def _small_model(likelihood: str = "bernoulli", shape=(4, 3), latent_dim: int = 2, hidden=(5,)) -> VAE:
    torch.manual_seed(1)
    return VAE(shape, latent_dim, hidden, likelihood=likelihood, sigma=0.3).double()


def _linear_gaussian_vae(toy: LinearGaussianModel, exact_posterior: bool) -> VAE:
    """A VAE with a linear decoder equal to the toy model, and (optionally) the exact posterior
    as its encoder (exact when W has orthogonal columns, so the posterior covariance is diagonal)."""
    data_dim, latent_dim = toy.W.shape
    model = VAE((data_dim,), latent_dim, (), likelihood="gaussian", sigma=toy.noise_std).double()
    with torch.no_grad():
        model.decoder[0].weight.copy_(toy.W)
        model.decoder[0].bias.copy_(toy.b)
        if exact_posterior:
            cov = toy.posterior(toy.b)[1]
            gain = cov @ toy.W.T / toy.noise_std**2  # m(x) = gain (x - b)
            enc = model.encoder[0]
            enc.weight.zero_()
            enc.weight[:latent_dim] = gain
            enc.bias[:latent_dim] = -gain @ toy.b
            enc.bias[latent_dim:] = torch.diagonal(cov).log()
    return model


def _orthogonal_toy(data_dim=5, latent_dim=2, noise_std=0.7) -> LinearGaussianModel:
    g = torch.Generator().manual_seed(3)
    q, _ = torch.linalg.qr(torch.randn(data_dim, latent_dim, generator=g, dtype=torch.float64))
    W = q * torch.tensor([2.0, 0.8], dtype=torch.float64)
    return LinearGaussianModel(W, torch.randn(data_dim, generator=g, dtype=torch.float64), noise_std)


# ---------------------------------------------------------------- architecture


def test_reference_configuration_is_784_400_20():
    model = VAE((28, 28), 20, (400,))
    sizes = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert sizes == [(784, 400), (400, 40), (20, 400), (400, 784)]
    assert (
        sum(p.numel() for p in model.parameters()) == 784 * 400 + 400 + 400 * 40 + 40 + 20 * 400 + 400 + 400 * 784 + 784
    )
    assert "784-400-20" in repr(model)


def test_config_rebuilds_the_same_architecture():
    model = VAE((8, 8), 3, (16, 8), likelihood="gaussian", sigma=0.2)
    rebuilt = VAE(**model.config)
    assert rebuilt.config == model.config
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
    assert all(isinstance(v, (int, float, str, list)) for v in model.config.values())


def test_empty_hidden_dims_give_a_linear_encoder_and_decoder():
    model = VAE((6,), 2, ())
    assert [type(m).__name__ for m in model.encoder] == ["Linear"]
    assert [type(m).__name__ for m in model.decoder] == ["Linear"]


def test_shapes_of_encode_decode_sample_reconstruct():
    model = _small_model()
    x = _binary_images(7)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (7, 2)
    assert model.decode(mu).shape == (7, 4, 3)
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, 4, 3) and 0 <= samples.min() and samples.max() <= 1
    assert model.reconstruct(x).shape == (7, 4, 3)
    terms = model.elbo(x)
    assert isinstance(terms, ElboTerms) and all(t.shape == (7,) for t in terms)
    assert model.log_likelihood(x, num_samples=3).shape == (7,)


def test_sample_is_reproducible_with_a_generator():
    model = _small_model()
    a = model.sample(4, generator=torch.Generator().manual_seed(5))
    b = model.sample(4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_reconstruct_decodes_the_posterior_mean():
    model = _small_model()
    x = _binary_images(3)
    mu, _ = model.encode(x)
    assert torch.allclose(model.reconstruct(x), torch.sigmoid(model.decode(mu)))


# ---------------------------------------------------------------- the ELBO


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("num_samples", [1, 3])
def test_elbo_terms_match_torch_distributions(likelihood, num_samples):
    model = _small_model(likelihood)
    x = (_binary_images(6) * 0.9 + 0.05).double()  # grey levels are fine for both decoders
    terms = model.elbo(x, num_samples, generator=torch.Generator().manual_seed(2))

    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((num_samples, *mu.shape), generator=torch.Generator().manual_seed(2), dtype=mu.dtype)
    recon = []
    for s in range(num_samples):
        out = model.decode(mu + std * eps[s])
        dist = Bernoulli(logits=out, validate_args=False) if likelihood == "bernoulli" else Normal(out, model.sigma)
        recon.append(dist.log_prob(x).flatten(1).sum(1))
    recon = torch.stack(recon).mean(0)
    kl = kl_divergence(Normal(mu, std), Normal(torch.zeros_like(mu), torch.ones_like(std))).sum(1)
    torch.testing.assert_close(terms.recon, recon)
    torch.testing.assert_close(terms.kl, kl)
    torch.testing.assert_close(terms.elbo, recon - kl)


def test_elbo_terms_match_the_package_functions():
    model = _small_model()
    x = _binary_images(6)
    terms = model.elbo(x, generator=torch.Generator().manual_seed(4))
    mu, logvar = model.encode(x)
    z = vaecourse.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(terms.recon, vaecourse.bernoulli_log_likelihood(model.decode(z), x))
    torch.testing.assert_close(terms.kl, vaecourse.gaussian_kl(mu, logvar))


def test_gaussian_decoder_matches_the_package_likelihood():
    model = _small_model("gaussian")
    x = torch.rand(4, 4, 3, dtype=torch.float64) * 3 - 1  # any real values
    terms = model.elbo(x, generator=torch.Generator().manual_seed(4))
    mu, logvar = model.encode(x)
    z = vaecourse.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(terms.recon, vaecourse.gaussian_log_likelihood(model.decode(z), x, model.sigma))


def test_one_backward_pass_reaches_encoder_and_decoder():
    model = _small_model()
    (-model.elbo(_binary_images(5)).elbo.mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_elbo_equals_log_marginal_when_encoder_is_the_exact_posterior():
    toy = _orthogonal_toy()
    model = _linear_gaussian_vae(toy, exact_posterior=True)
    x, _ = toy.sample(8, generator=torch.Generator().manual_seed(0))
    exact = toy.log_marginal(x)
    # With q = p(z|x) every log-weight equals log p(x), so a few draws are exact; the ELBO
    # (closed-form KL, sampled reconstruction) equals log p(x) in expectation.
    torch.testing.assert_close(model.log_likelihood(x, num_samples=7, batch_size=10), exact)
    elbo = model.elbo(x, num_samples=20000, generator=torch.Generator().manual_seed(1)).elbo
    torch.testing.assert_close(elbo, exact, atol=0.03, rtol=0)


def test_importance_weighted_estimate_tightens_from_the_elbo_towards_log_marginal():
    toy = _orthogonal_toy()
    model = _linear_gaussian_vae(toy, exact_posterior=True)
    with torch.no_grad():  # spoil the encoder: q too wide and shifted (a fair proposal)
        model.encoder[0].bias[2:] += 1.0
        model.encoder[0].bias[:2] += 0.3
    x, _ = toy.sample(4, generator=torch.Generator().manual_seed(0))
    exact = toy.log_marginal(x)
    elbo = model.elbo(x, num_samples=20000, generator=torch.Generator().manual_seed(1)).elbo
    iw = [model.log_likelihood(x, num_samples=10, generator=torch.Generator().manual_seed(s)) for s in range(300)]
    iw10 = torch.stack(iw).mean(0)
    iw5000 = model.log_likelihood(x, num_samples=5000, generator=torch.Generator().manual_seed(2))
    assert (elbo < iw10 - 0.05).all()  # the gap is large on purpose
    assert (iw10 < iw5000).all()
    assert ((iw5000 - exact).abs() < 0.1).all()
    assert (exact - iw5000 < 0.1 * (exact - elbo)).all()


def test_log_likelihood_chunks_combine_like_one_logsumexp():
    model = _small_model()
    x = _binary_images(3)
    num_samples, batch_size = 7, 6  # two draws per chunk: chunks of 2, 2, 2, 1
    got = model.log_likelihood(x, num_samples, batch_size=batch_size, generator=torch.Generator().manual_seed(9))

    g = torch.Generator().manual_seed(9)
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    q = Normal(mu, std)
    prior = Normal(torch.zeros_like(mu), torch.ones_like(std))
    log_w = []
    for k in (2, 2, 2, 1):
        z = mu + std * torch.randn((k, *mu.shape), generator=g, dtype=mu.dtype)
        for s in range(k):
            lik = Bernoulli(logits=model.decode(z[s]), validate_args=False).log_prob(x).flatten(1).sum(1)
            log_w.append(lik + prior.log_prob(z[s]).sum(1) - q.log_prob(z[s]).sum(1))
    expected = torch.logsumexp(torch.stack(log_w), 0) - math.log(num_samples)
    torch.testing.assert_close(got, expected)


def test_log_likelihood_with_5000_samples_fits_in_memory_for_the_reference_model():
    torch.manual_seed(0)
    model = VAE((28, 28), 20, (400,))
    x = torch.bernoulli(torch.full((3, 28, 28), 0.2))
    ll = model.log_likelihood(x, num_samples=5000, batch_size=4096)
    elbo = model.elbo(x, num_samples=50).elbo.detach()
    assert torch.isfinite(ll).all()
    assert (ll > elbo).all()


def test_log_weights_average_to_the_elbo_and_give_the_bound():
    model = _small_model()
    x = _binary_images(3)
    log_w = model.log_weights(x, 20000, generator=torch.Generator().manual_seed(0))
    assert log_w.shape == (20000, 3)
    elbo = model.elbo(x, num_samples=20000, generator=torch.Generator().manual_seed(1)).elbo.detach()
    torch.testing.assert_close(log_w.mean(0), elbo, atol=0.05, rtol=0)
    few = model.log_weights(x, 9, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(
        vaecourse.iwae_bound(few), model.log_likelihood(x, 9, generator=torch.Generator().manual_seed(2))
    )


@pytest.mark.parametrize("value", [1000.0, -1000.0])
def test_extreme_logvar_stays_finite(value):
    model = _small_model()
    with torch.no_grad():
        model.encoder[-1].bias[2:] = value
    x = _binary_images(4)
    terms = model.elbo(x)
    assert all(torch.isfinite(t).all() for t in terms)
    (-terms.elbo.mean()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert torch.isfinite(model.log_likelihood(x, num_samples=5)).all()


def test_logvar_clamp_is_the_identity_inside_its_range_and_passes_the_gradient_beyond_it():
    raw = torch.tensor([-1000.0, -30.5, -29.0, 0.0, 3.7, 19.5, 20.5, 1000.0], dtype=torch.float64, requires_grad=True)
    clamped = clamp_logvar(raw)
    inside = (raw > -30) & (raw < 20)
    assert torch.equal(clamped[inside], raw[inside])  # bit for bit: same values as no clamp
    assert clamped[~inside].tolist() == [-30.0, -30.0, 20.0, 20.0]
    weights = torch.arange(1.0, 9.0, dtype=torch.float64)
    (grad,) = torch.autograd.grad((weights * clamped).sum(), raw)
    torch.testing.assert_close(grad, weights)  # a plain clamp would give 0 at the four ends


@pytest.mark.parametrize("value", [1000.0, -1000.0])
def test_an_encoder_output_beyond_the_clamp_gets_a_gradient_pointing_back(value):
    # with a plain clamp, both biases got exactly zero gradient: the unit could never come back
    model = _small_model()
    with torch.no_grad():
        model.encoder[-1].bias[2:] = value
    x = _binary_images(4)
    (-model.elbo(x).elbo.mean()).backward()
    bias_grad = model.encoder[-1].bias.grad[2:]
    if value < 0:
        # at logvar = -30 the loss is the KL's (exp(-30) - 1)/2 plus a reconstruction pull of order
        # sigma = exp(-15); gradient descent raises the bias, back into the range
        torch.testing.assert_close(bias_grad, torch.full_like(bias_grad, (math.exp(-30) - 1) / 2), atol=1e-4, rtol=0)
    else:
        assert (bias_grad > 0).all()  # the KL's (exp(20) - 1)/2 dominates: descent lowers it


@settings(max_examples=20, deadline=None)
@given(mu=st.floats(-5, 5), logvar=st.floats(-10, 5))
def test_kl_is_never_negative_and_zero_at_the_prior(mu, logvar):
    kl = VAE((1,), 1).kl_per_dim(torch.tensor([mu], dtype=torch.float64), torch.tensor([logvar], dtype=torch.float64))
    assert kl.item() >= 0
    assert VAE((1,), 1).kl_per_dim(torch.zeros(1), torch.zeros(1)).item() == 0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"likelihood": "poisson"}, "likelihood must be one of"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden_dims": 400}, "hidden_dims"),
        ({"hidden_dims": (400, 0)}, "hidden_dims"),
        ({"input_shape": 784}, "input_shape"),
        ({"input_shape": ()}, "input_shape"),
        ({"sigma": 0.0}, "sigma"),
    ],
)
def test_bad_constructor_arguments_raise_value_error(kwargs, message):
    args = {"input_shape": (28, 28), "latent_dim": 20, "hidden_dims": (400,)} | kwargs
    with pytest.raises(ValueError, match=message):
        VAE(**args)


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.rand(5, 28, 28), r"shape \(B, 4, 3\)"),
        (torch.rand(5, 12), r"shape \(B, 4, 3\)"),
        (torch.rand(4, 3), r"shape \(B, 4, 3\)"),
        (torch.rand(0, 4, 3), "B >= 1"),
        (torch.randint(0, 256, (5, 4, 3), dtype=torch.uint8), "x.float\\(\\) / 255"),
        (torch.randint(0, 256, (5, 4, 3)).float(), "scale raw 0-255 pixels"),
        (torch.full((5, 4, 3), -0.5), r"\[0, 1\]"),
        (torch.full((5, 4, 3), float("nan")), "finite"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_bad_input_raises_value_error_naming_what_was_expected(x, message):
    model = _small_model()
    for method in (model.encode, model.elbo, model.log_likelihood, model.reconstruct):
        with pytest.raises(ValueError, match=message):
            method(x)


def test_gaussian_decoder_accepts_values_outside_the_unit_interval():
    model = _small_model("gaussian")
    assert torch.isfinite(model.elbo(torch.full((2, 4, 3), 3.0, dtype=torch.float64)).elbo).all()


def test_bad_latent_codes_and_counts_raise_value_error():
    model = _small_model()
    with pytest.raises(ValueError, match=r"z must have shape \(B, 2\)"):
        model.decode(torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="num_samples"):
        model.elbo(_binary_images(2), num_samples=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.log_likelihood(_binary_images(2), batch_size=0)
    with pytest.raises(ValueError, match="num must be"):
        model.sample(0)


def test_a_given_q_equal_to_the_exact_posterior_makes_the_elbo_and_every_bound_equal_log_p_x():
    # A linear decoder with orthogonal columns has a diagonal Gaussian posterior, so a q set to
    # it (not the encoder's) makes every importance weight equal log p(x), draw by draw.
    torch.manual_seed(0)
    model = VAE((5,), 2, (), likelihood="gaussian", sigma=0.7).double()
    columns, _ = torch.linalg.qr(torch.randn(5, 2, dtype=torch.float64))
    W = columns * torch.tensor([2.0, 0.5], dtype=torch.float64)
    b = torch.randn(5, dtype=torch.float64)
    with torch.no_grad():
        model.decoder[0].weight.copy_(W)
        model.decoder[0].bias.copy_(b)
    exact = vaecourse.LinearGaussianModel(W, b, 0.7)
    x = torch.randn(4, 5, dtype=torch.float64) * 2
    mean, cov = exact.posterior(x)
    logvar = torch.diagonal(cov, dim1=-2, dim2=-1).log().expand_as(mean)
    log_px = exact.log_marginal(x)
    q = (mean, logvar)
    g = torch.Generator().manual_seed(1)
    torch.testing.assert_close(model.log_likelihood(x, 9, batch_size=8, generator=g, q=q), log_px)
    # The ELBO's reconstruction term is a Monte Carlo estimate: equal in expectation only.
    torch.testing.assert_close(model.elbo(x, 20000, generator=g, q=q).elbo, log_px, atol=0.05, rtol=0)
    # and the encoder's own q gives a lower ELBO
    assert (model.elbo(x, 200, generator=g).elbo < log_px).all()


def test_a_given_q_of_the_wrong_shape_is_refused():
    model = VAE((5,), 2, ())
    x = torch.rand(3, 5)
    with pytest.raises(ValueError, match=r"q\[0\] \(mu\) must have shape \(3, 2\)"):
        model.elbo(x, q=(torch.zeros(2, 2), torch.zeros(3, 2)))
    with pytest.raises(ValueError, match="q must be a pair"):
        model.log_likelihood(x, 4, q=torch.zeros(3, 2))
