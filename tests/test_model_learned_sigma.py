"""The Gaussian decoder that learns its sigma, VAE(..., likelihood="gaussian", learn_sigma=True)
(notebook 07): its likelihood against torch.distributions, the stationary point of sigma, a
checkpoint round trip, and the settings it refuses."""

import math

import pytest
import torch
from torch.distributions import Normal

from vaecourse import VAE, fit, load_checkpoint, save_checkpoint


def _learned(D=5, k=2, hidden=(7,), sigma=0.3, seed=0):
    torch.manual_seed(seed)
    return VAE((D,), k, hidden, likelihood="gaussian", sigma=sigma, learn_sigma=True)


def test_the_learned_sigma_log_likelihood_is_the_gaussian_density():
    model = _learned()
    z, x = torch.randn(4, 2), torch.randn(4, 5)
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.8))
        out = model.decoder(z)
        ours = model.log_px(out, x)
    oracle = Normal(out.double(), 0.8).log_prob(x.double()).sum(-1)
    assert torch.allclose(ours.double(), oracle, rtol=1e-5)
    assert model.noise_std == pytest.approx(0.8)
    assert "learned sigma=0.8" in repr(model)


def test_the_elbo_of_a_learned_sigma_decoder_uses_the_current_sigma():
    # the ELBO's reconstruction term with sigma = 0.5, against torch.distributions at the same draw
    model = _learned(D=6, k=2, hidden=(), sigma=1.0)
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.5))
        terms = model.elbo(x, generator=torch.Generator().manual_seed(1))
        mu, logvar = model.encode(x)
        eps = torch.randn((1, *mu.shape), generator=torch.Generator().manual_seed(1))[0]
        out = model.decoder(mu + torch.exp(0.5 * logvar) * eps)
    oracle = Normal(out.double(), 0.5).log_prob(x.double()).sum(-1)
    assert torch.allclose(terms.recon.double(), oracle, rtol=1e-5)


def test_a_fixed_sigma_model_has_no_sigma_parameter_and_reads_its_fixed_value():
    torch.manual_seed(0)
    model = VAE((5,), 2, (), likelihood="gaussian", sigma=0.3)
    assert "log_sigma" not in dict(model.named_parameters())
    assert model.noise_std == 0.3 and model.config["learn_sigma"] is False


def test_the_learned_sigma_is_stationary_at_the_root_mean_squared_error():
    # d/dlog sigma of sum_b log N(x_b; m_b, sigma^2 I) is zero at sigma^2 = mean squared error per pixel
    model = _learned(D=6, hidden=(), sigma=1.0, seed=1)
    x, out = torch.randn(30, 6), torch.randn(30, 6)
    with torch.no_grad():
        model.log_sigma.fill_(0.5 * math.log((x - out).pow(2).mean().item()))
    model.log_px(out, x).sum().backward()
    assert abs(model.log_sigma.grad.item()) < 1e-3
    with torch.no_grad():
        model.log_sigma.add_(0.1)
    model.log_sigma.grad = None
    model.log_px(out, x).sum().backward()
    assert model.log_sigma.grad.item() < -1.0  # too much noise: the gradient pushes sigma down


def test_fit_trains_the_learned_sigma(one_thread):
    model = _learned(D=6, hidden=(), sigma=1.0, seed=2)
    x = 0.1 * torch.randn(200, 6, generator=torch.Generator().manual_seed(0))
    fit(model, x, epochs=5, batch_size=50, lr=5e-2, progress=False, device="cpu")
    assert model.noise_std < 0.5


def test_a_checkpoint_restores_the_learned_sigma(tmp_path):
    model = _learned(sigma=1.0)
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.37))
    save_checkpoint(tmp_path / "vae.pt", model)
    loaded = load_checkpoint(tmp_path / "vae.pt").model
    assert loaded.learn_sigma and loaded.config == model.config
    assert loaded.noise_std == model.noise_std == pytest.approx(0.37, rel=1e-6)


@pytest.mark.parametrize(
    "settings",
    [dict(likelihood="bernoulli", learn_sigma=True), dict(likelihood="gaussian", learn_sigma="yes")],
    ids=["bernoulli", "not a bool"],
)
def test_learn_sigma_is_refused_where_it_means_nothing(settings):
    with pytest.raises(ValueError, match="learn_sigma"):
        VAE((4,), 2, (), **settings)
