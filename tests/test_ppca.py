"""Probabilistic PCA (notebook 08) against scikit-learn's PCA likelihood, the stationarity
of the likelihood at the closed form, EM's monotone climb to it, scipy's angles, and the linear
VAE with a learned sigma reaching the same optimum by gradient steps."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.decomposition import PCA
from torch.distributions import MultivariateNormal, kl_divergence

from vaecourse import VAE, LinearGaussianModel
from vaecourse.ppca import (
    best_diagonal_q,
    fit_with_lr_decay,
    linear_gaussian_from_vae,
    mean_field_gap,
    ppca_closed_form,
    ppca_em,
    ppca_em_step,
    ppca_log_likelihood,
    principal_angles,
    rotated,
)


@pytest.fixture
def data():
    truth = LinearGaussianModel.random(6, 2, noise_std=0.3, generator=torch.Generator().manual_seed(0))
    x, _ = truth.sample(500, torch.Generator().manual_seed(1))
    return x


def test_closed_form_noise_and_covariance_match_scikit_learn(data):
    # scikit-learn's PCA uses the unbiased covariance (1 / (N - 1)); maximum likelihood uses 1 / N.
    pca = PCA(n_components=2).fit(data.numpy())
    n = data.shape[0]
    model = ppca_closed_form(data, 2)
    assert model.noise_std**2 == pytest.approx(pca.noise_variance_ * (n - 1) / n, rel=1e-10)
    np.testing.assert_allclose(
        model.marginal_covariance().numpy(), pca.get_covariance() * (n - 1) / n, rtol=1e-9, atol=1e-12
    )
    # and its log-likelihood is the Gaussian log-density with that covariance
    pca_model = torch.distributions.MultivariateNormal(
        torch.as_tensor(pca.mean_), torch.as_tensor(pca.get_covariance() * (n - 1) / n)
    )
    assert ppca_log_likelihood(data, model).item() == pytest.approx(pca_model.log_prob(data).mean().item(), rel=1e-10)


def test_closed_form_is_a_stationary_point_of_the_likelihood(data):
    model = ppca_closed_form(data, 2)
    W = model.W.clone().requires_grad_()
    b = model.b.clone().requires_grad_()
    log_s = torch.tensor(math.log(model.noise_std), dtype=torch.float64, requires_grad=True)
    cov = W @ W.T + torch.exp(2 * log_s) * torch.eye(6, dtype=torch.float64)
    torch.distributions.MultivariateNormal(b, cov).log_prob(data).mean().backward()
    for grad in (W.grad, b.grad, log_s.grad):
        assert grad.abs().max().item() < 1e-8


def test_em_never_decreases_the_likelihood_and_reaches_the_closed_form(data):
    model, trace = ppca_em(data, 2, 300, generator=torch.Generator().manual_seed(2))
    assert all(b >= a - 1e-10 for a, b in zip(trace, trace[1:]))
    exact = ppca_closed_form(data, 2)
    assert trace[-1] == pytest.approx(ppca_log_likelihood(data, exact).item(), abs=1e-6)
    assert principal_angles(model.W, exact.W).max().item() < 1e-3
    assert model.noise_std == pytest.approx(exact.noise_std, rel=1e-4)


def test_one_em_step_from_the_maximum_stays_there(data):
    exact = ppca_closed_form(data, 2)
    again = ppca_em_step(data, exact)
    torch.testing.assert_close(again.marginal_covariance(), exact.marginal_covariance())


def test_principal_angles_match_scipy():
    gen = torch.Generator().manual_seed(3)
    A, B = torch.randn(7, 3, generator=gen, dtype=torch.float64), torch.randn(7, 2, generator=gen, dtype=torch.float64)
    expected = np.sort(scipy.linalg.subspace_angles(A.numpy(), B.numpy()))
    np.testing.assert_allclose(principal_angles(A, B).numpy(), expected, atol=1e-10)
    rotated = A @ torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))[0]
    assert principal_angles(A, rotated).max().item() < 1e-6


def test_bad_input_is_rejected(data):
    with pytest.raises(ValueError, match=r"latent_dim must be in \[1, 5\]"):
        ppca_closed_form(data, 6)
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\)"):
        ppca_closed_form(torch.zeros(5, dtype=torch.float64), 1)
    with pytest.raises(ValueError, match="data_dim 6"):
        ppca_em_step(data, LinearGaussianModel.random(3, 1))
    with pytest.raises(ValueError, match="same number of rows"):
        principal_angles(torch.zeros(3, 1), torch.zeros(4, 1))


def _linear_vae(D=6, k=2, seed=0, sigma=0.7):
    torch.manual_seed(seed)
    return VAE((D,), k, (), likelihood="gaussian", sigma=sigma)


# -- the exact log-likelihood of a linear Gaussian VAE ------------------------------------


def test_the_linear_gaussian_model_of_a_vae_has_the_decoder_weights_and_the_exact_marginal():
    model = _linear_vae(D=6, k=2, sigma=0.7)
    exact = linear_gaussian_from_vae(model)
    W, b = model.decoder[0].weight.detach().double(), model.decoder[0].bias.detach().double()
    assert torch.equal(exact.W, W) and torch.equal(exact.b, b) and exact.noise_std == 0.7
    x = torch.randn(10, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    oracle = MultivariateNormal(b, covariance_matrix=W @ W.T + 0.49 * torch.eye(6, dtype=torch.float64)).log_prob(x)
    assert torch.allclose(exact.log_marginal(x), oracle, rtol=1e-12)


def test_the_vae_importance_weighted_estimate_converges_to_the_exact_log_likelihood():
    model = _linear_vae(D=6, k=2, sigma=0.7)
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    exact = linear_gaussian_from_vae(model).log_marginal(x.double())
    estimate = model.log_likelihood(x, num_samples=20000, generator=torch.Generator().manual_seed(2)).double()
    elbo = model.elbo(x, num_samples=20000, generator=torch.Generator().manual_seed(3)).elbo.double()
    # an untrained encoder is a poor proposal: the estimate is near, and nearer than the ELBO
    assert torch.allclose(estimate, exact, atol=0.1)
    assert bool(((estimate - exact).abs() < (elbo - exact).abs()).all())
    assert bool((elbo <= exact + 0.01).all())


def test_a_learned_sigma_vae_gives_its_learned_sigma():
    torch.manual_seed(3)
    model = VAE((4,), 1, (), likelihood="gaussian", sigma=0.25, learn_sigma=True)
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.4))
    assert linear_gaussian_from_vae(model).noise_std == pytest.approx(0.4)


@pytest.mark.parametrize(
    "model",
    [VAE((6,), 2, (8,), likelihood="gaussian"), VAE((6,), 2, (), likelihood="bernoulli")],
    ids=["hidden layer", "bernoulli"],
)
def test_only_a_linear_gaussian_vae_has_a_linear_gaussian_model(model):
    with pytest.raises(ValueError, match="linear Gaussian VAE"):
        linear_gaussian_from_vae(model)


def test_a_linear_vae_trained_by_the_reparameterization_trick_reaches_the_ppca_optimum(one_thread):
    g = torch.Generator().manual_seed(0)
    truth = LinearGaussianModel.random(5, 1, noise_std=0.5, generator=g)
    x, _ = truth.sample(400, g)
    reference = ppca_closed_form(x, 1)
    torch.manual_seed(0)
    model = VAE((5,), 1, (), likelihood="gaussian", sigma=1.0, learn_sigma=True)
    history = fit_with_lr_decay(
        model, x.float(), epochs=30, decay_epochs=30, batch_size=100, lr=0.1, final_lr=1e-4, device="cpu"
    )
    assert len(history) == 60
    found = linear_gaussian_from_vae(model)
    assert ppca_log_likelihood(x, found).item() == pytest.approx(ppca_log_likelihood(x, reference).item(), abs=0.02)
    assert principal_angles(found.W, reference.W).max().item() < math.radians(2)
    assert found.noise_std == pytest.approx(reference.noise_std, rel=0.05)


def test_the_learning_rate_decays_geometrically_to_its_final_value():
    torch.manual_seed(0)
    model = VAE((3,), 1, (), likelihood="gaussian", sigma=1.0, learn_sigma=True)
    seen = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = spy
    try:
        fit_with_lr_decay(
            model, torch.randn(8, 3), epochs=2, decay_epochs=3, batch_size=8, lr=1e-2, final_lr=1e-5, device="cpu"
        )
    finally:
        torch.optim.Adam.step = original
    assert seen[:2] == [1e-2, 1e-2]
    assert seen[2:] == pytest.approx([1e-3, 1e-4, 1e-5])


@pytest.mark.parametrize("name", ["epochs", "decay_epochs", "lr", "final_lr"])
def test_fit_with_lr_decay_refuses_bad_settings(name):
    settings_ = dict(epochs=1, decay_epochs=1, batch_size=4, lr=1e-2, final_lr=1e-3)
    settings_[name] = 0
    with pytest.raises(ValueError, match=name):
        fit_with_lr_decay(_linear_vae(D=3, k=1), torch.randn(4, 3), **settings_)


# -- what a diagonal q can and cannot match -----------------------------------------------


def test_the_mean_field_gap_is_the_kl_of_the_best_diagonal_gaussian():
    g = torch.Generator().manual_seed(4)
    A = torch.randn(3, 3, generator=g, dtype=torch.float64)
    precision = A @ A.T + 0.3 * torch.eye(3, dtype=torch.float64)
    p = MultivariateNormal(torch.zeros(3, dtype=torch.float64), precision_matrix=precision)
    best_var = 1 / torch.diagonal(precision)
    best = kl_divergence(MultivariateNormal(torch.zeros(3, dtype=torch.float64), torch.diag(best_var)), p)
    assert mean_field_gap(precision).item() == pytest.approx(best.item(), rel=1e-10)
    # any other diagonal q is further from p (the variances 1/Lambda_jj are optimal)
    for scale in (0.8, 1.25):
        other = MultivariateNormal(torch.zeros(3, dtype=torch.float64), torch.diag(scale * best_var))
        assert kl_divergence(other, p).item() > best.item()


def test_the_mean_field_gap_is_zero_for_a_diagonal_precision_and_refuses_a_non_square_one():
    assert mean_field_gap(torch.diag(torch.tensor([2.0, 0.5, 3.0]))).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="precision"):
        mean_field_gap(torch.ones(2, 3))
    with pytest.raises(ValueError, match="positive definite"):
        mean_field_gap(torch.tensor([[1.0, 2.0], [2.0, 1.0]]))


def test_the_best_diagonal_q_leaves_exactly_the_mean_field_gap_under_ppca():
    g = torch.Generator().manual_seed(5)
    model = LinearGaussianModel.random(6, 2, noise_std=0.4, generator=g)
    x, _ = model.sample(20, g)
    mu, logvar = best_diagonal_q(model, x)
    precision = torch.eye(2, dtype=torch.float64) + model.W.T @ model.W / 0.16
    gap = model.log_marginal(x) - model.elbo(x, mu, logvar)
    assert torch.allclose(gap, mean_field_gap(precision).expand(20), atol=1e-10)
    # a nudged q has a lower ELBO
    assert bool((model.elbo(x, mu + 0.05, logvar) < model.elbo(x, mu, logvar)).all())
    assert bool((model.elbo(x, mu, logvar + 0.1) < model.elbo(x, mu, logvar)).all())


def test_rotating_w_keeps_the_likelihood_and_opens_a_gap_unless_the_columns_stay_orthogonal():
    g = torch.Generator().manual_seed(6)
    truth = LinearGaussianModel.random(8, 2, noise_std=0.5, generator=g)
    x, _ = truth.sample(500, g)
    ppca = ppca_closed_form(x, 2)  # orthogonal columns

    def gap(m):
        return mean_field_gap(torch.eye(2, dtype=torch.float64) + m.W.T @ m.W / m.noise_std**2).item()

    for degrees in (0, 90, 180):
        assert gap(rotated(ppca, degrees)) == pytest.approx(0.0, abs=1e-9)
    for degrees in (20, 45, 120):
        turned = rotated(ppca, degrees)
        assert torch.allclose(turned.log_marginal(x), ppca.log_marginal(x), atol=1e-9)
        assert gap(turned) > 1e-3
    with pytest.raises(ValueError, match="degrees"):
        rotated(ppca, float("nan"))


def test_on_epoch_sees_every_epoch_and_does_not_change_the_run(one_thread):
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    seen = []
    settings_ = dict(epochs=2, decay_epochs=2, batch_size=20, lr=1e-2, final_lr=1e-4, device="cpu")
    a = VAE((3,), 1, (), likelihood="gaussian", sigma=1.0, learn_sigma=True)
    b = VAE((3,), 1, (), likelihood="gaussian", sigma=1.0, learn_sigma=True)
    b.load_state_dict(a.state_dict())
    fit_with_lr_decay(a, x, **settings_)
    fit_with_lr_decay(b, x, **settings_, on_epoch=lambda model, history: seen.append(len(history)))
    assert seen == [1, 2, 3, 4]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
