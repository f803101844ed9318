"""Probabilistic PCA (notebook 07) against scikit-learn's PCA likelihood, the stationarity
of the likelihood at the closed form, EM's monotone climb to it, and scipy's angles."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.decomposition import PCA

from vaecourse import LinearGaussianModel
from vaecourse.ppca import ppca_closed_form, ppca_em, ppca_em_step, ppca_log_likelihood, principal_angles


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
    np.testing.assert_allclose(model.marginal_covariance().numpy(), pca.get_covariance() * (n - 1) / n, rtol=1e-9, atol=1e-12)
    # and its log-likelihood is the Gaussian log-density with that covariance
    pca_model = torch.distributions.MultivariateNormal(torch.as_tensor(pca.mean_), torch.as_tensor(pca.get_covariance() * (n - 1) / n))
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
