"""The linear-Gaussian toy model (notebook 01): exact marginal and posterior against
torch.distributions and Bayes' rule, the ELBO identity, and the bound ordering."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import MultivariateNormal, Normal

from vaecourse import LinearGaussianModel, iwae_bound


def make(seed=0, data_dim=4, latent_dim=2, noise_std=0.7):
    return LinearGaussianModel.random(data_dim, latent_dim, noise_std, generator=torch.Generator().manual_seed(seed))


def test_marginal_matches_a_multivariate_normal_built_from_the_definition():
    model = make()
    x, _ = model.sample(6, torch.Generator().manual_seed(1))
    cov = model.W @ model.W.T + 0.7**2 * torch.eye(4, dtype=torch.float64)
    torch.testing.assert_close(model.log_marginal(x), MultivariateNormal(model.b, cov).log_prob(x))


def test_marginal_integrates_the_joint_by_quadrature_in_one_dimension():
    model = make(data_dim=2, latent_dim=1)
    x = torch.tensor([0.3, -0.8], dtype=torch.float64)
    z = torch.linspace(-12, 12, 20001, dtype=torch.float64).unsqueeze(-1)
    joint = model.log_joint(x, z).exp()
    integral = torch.trapezoid(joint, z.squeeze(-1))
    assert model.log_marginal(x).item() == pytest.approx(torch.log(integral).item(), abs=1e-8)


def test_posterior_is_bayes_rule_on_a_grid_in_one_dimension():
    model = make(data_dim=3, latent_dim=1, noise_std=0.4)
    x = torch.tensor([0.5, 1.0, -0.2], dtype=torch.float64)
    z = torch.linspace(-10, 10, 40001, dtype=torch.float64)
    density = (model.log_joint(x, z.unsqueeze(-1)) - model.log_marginal(x)).exp()
    mean = torch.trapezoid(density * z, z)
    var = torch.trapezoid(density * (z - mean) ** 2, z)
    m, cov = model.posterior(x)
    assert m.item() == pytest.approx(mean.item(), abs=1e-8)
    assert cov.item() == pytest.approx(var.item(), abs=1e-8)


def test_log_joint_is_prior_plus_likelihood_from_torch_distributions():
    model = make()
    x, z = model.sample(5, torch.Generator().manual_seed(2))
    expected = Normal(z @ model.W.T + model.b, 0.7).log_prob(x).sum(-1) + Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(model.log_joint(x, z), expected)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), latent_dim=st.integers(1, 3), data_dim=st.integers(1, 5))
def test_elbo_plus_kl_to_the_posterior_is_log_p_x_in_float64(seed, latent_dim, data_dim):
    gen = torch.Generator().manual_seed(seed)
    model = LinearGaussianModel.random(data_dim, latent_dim, 0.5, generator=gen)
    x, _ = model.sample(4, gen)
    mu = torch.randn(4, latent_dim, generator=gen, dtype=torch.float64)
    logvar = torch.randn(4, latent_dim, generator=gen, dtype=torch.float64)
    total = model.elbo(x, mu, logvar) + model.kl_to_posterior(x, mu, logvar)
    torch.testing.assert_close(total, model.log_marginal(x), rtol=0, atol=1e-5)


def test_kl_to_the_posterior_matches_torch_distributions():
    model = make()
    x, _ = model.sample(3, torch.Generator().manual_seed(3))
    mu, logvar = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    m, cov = model.posterior(x)
    q = MultivariateNormal(mu, torch.diag_embed(logvar.exp()))
    expected = torch.distributions.kl_divergence(q, MultivariateNormal(m, cov))
    torch.testing.assert_close(model.kl_to_posterior(x, mu, logvar), expected)


def test_the_elbo_is_tight_only_at_the_exact_posterior_when_it_is_diagonal():
    # With orthogonal columns W^T W is diagonal, so the exact posterior is a diagonal Gaussian.
    W = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    model = LinearGaussianModel(W, torch.zeros(3, dtype=torch.float64), 0.5)
    x = torch.tensor([[1.0, -1.0, 0.3]], dtype=torch.float64)
    m, cov = model.posterior(x)
    logvar = torch.log(torch.diagonal(cov)).unsqueeze(0)
    torch.testing.assert_close(model.elbo(x, m, logvar), model.log_marginal(x), rtol=0, atol=1e-12)
    assert (model.elbo(x, m + 0.1, logvar) < model.log_marginal(x)).all()


def test_monte_carlo_elbo_is_within_four_standard_errors_of_the_closed_form():
    model = make()
    x, _ = model.sample(3, torch.Generator().manual_seed(4))
    mu, logvar = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64) - 1
    lw = model.log_weights(x, mu, logvar, 20000, torch.Generator().manual_seed(5))
    stderr = lw.std(0) / 20000**0.5
    assert ((lw.mean(0) - model.elbo(x, mu, logvar)).abs() <= 4 * stderr).all()


def test_importance_weighted_bound_lies_between_elbo_and_log_p_x_and_approaches_it():
    model = make()
    x, _ = model.sample(1, torch.Generator().manual_seed(6))
    m, cov = model.posterior(x)
    mu, logvar = m + 0.5, torch.log(torch.diagonal(cov)).unsqueeze(0) + 0.5  # a mediocre q
    gen = torch.Generator().manual_seed(7)
    elbo, log_px = model.elbo(x, mu, logvar).item(), model.log_marginal(x).item()
    # Average 2,000 independent draws of L_K to estimate its expectation for each K.
    bounds, errors = [], []
    for k in (1, 10, 100, 1000):
        draws = iwae_bound(
            model.log_weights(x.expand(2000, -1), mu.expand(2000, -1), logvar.expand(2000, -1), k, gen), dim=0
        )
        bounds.append(draws.mean().item())
        errors.append(4 * draws.std().item() / 2000**0.5)
    assert abs(bounds[0] - elbo) <= errors[0]
    assert all(elbo - e <= b <= log_px + e for b, e in zip(bounds, errors))
    assert all(a < b for a, b in zip(bounds, bounds[1:]))
    assert log_px - bounds[-1] < 0.1 * (log_px - elbo)


def test_model_rejects_bad_input():
    model = make()
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\)"):
        model.log_marginal(torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"mu and logvar must have shape \(2, 2\)"):
        model.elbo(
            torch.zeros(2, 4, dtype=torch.float64),
            torch.zeros(2, 3, dtype=torch.float64),
            torch.zeros(2, 3, dtype=torch.float64),
        )
    with pytest.raises(ValueError, match="noise_std must be a finite number > 0"):
        LinearGaussianModel(torch.zeros(3, 2), torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        LinearGaussianModel(torch.zeros(3, 2), torch.zeros(2), 1.0)
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1"):
        model.monte_carlo_elbo(
            torch.zeros(4, dtype=torch.float64),
            torch.zeros(2, dtype=torch.float64),
            torch.zeros(2, dtype=torch.float64),
            0,
        )
