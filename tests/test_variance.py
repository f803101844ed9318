"""Exact estimator variances (notebooks 04, 05): closed forms derived by hand, the published
numbers of Mohamed et al. 2020, quadrature written out here with numpy, and Monte Carlo with
the package's estimators, each checking the others."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from vaecourse import LinearGaussianModel, reparameterization_gradient, score_function_gradient
from vaecourse.variance import (
    elbo_gradient,
    exact_gradient,
    exact_gradient_variance,
    fit_gaussian,
    gaussian_expectation,
    gradient_estimates,
    objective,
    optimal_baseline,
)

NUMPY_F = {
    "square": lambda z, k: (z - k) ** 2,
    "cos": lambda z, k: np.cos(k * z),
    "peak": lambda z, k: np.exp(-k * z * z),
}


def _numpy_expectation(g, mu, sigma):
    """E_{N(mu, sigma^2)}[g(z)] by scipy's quad over the whole line, in z (not eps)."""
    density = lambda z: math.exp(-0.5 * ((z - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))  # noqa: E731
    return integrate.quad(lambda z: g(z) * density(z), -np.inf, np.inf, limit=500, epsabs=1e-12)[0]


kinds = st.sampled_from(["square", "cos", "peak"])
mus = st.floats(-2.0, 2.0)
sigmas = st.floats(0.3, 2.0)
ks = st.floats(0.2, 3.0)


# -- the closed forms of Objective ----------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(kind=kinds, k=ks, mu=mus, sigma=sigmas)
def test_closed_form_expectations_equal_an_integral_against_the_gaussian_density(kind, k, mu, sigma):
    f = objective(kind, k)
    expected = _numpy_expectation(lambda z: NUMPY_F[kind](z, k), mu, sigma)
    assert f.expectation(mu, sigma).item() == pytest.approx(expected, rel=1e-7, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(kind=kinds, k=ks, mu=mus, sigma=sigmas)
def test_hand_derived_gradients_equal_autograd_of_the_closed_form(kind, k, mu, sigma):
    f = objective(kind, k)
    m = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(sigma, dtype=torch.float64, requires_grad=True)
    d_mu, d_sigma = torch.autograd.grad(f.expectation(m, s), (m, s))
    g_mu, g_sigma = f.gradient(mu, sigma)
    assert g_mu.item() == pytest.approx(d_mu.item(), rel=1e-10, abs=1e-12)
    assert g_sigma.item() == pytest.approx(d_sigma.item(), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("kind", ["square", "cos", "peak"])
def test_the_derivative_of_f_is_autograd_of_f(kind):
    f = objective(kind, 1.7)
    z = torch.linspace(-3, 3, 41, dtype=torch.float64, requires_grad=True)
    (auto,) = torch.autograd.grad(f(z).sum(), z)
    torch.testing.assert_close(f.derivative(z.detach()), auto)


def test_objectives_broadcast_mu_against_sigma():
    g_mu, g_sigma = objective("square", 3).gradient(torch.tensor([0.0, 1.0]), 2.0)
    assert g_mu.shape == g_sigma.shape == (2,)
    assert objective("cos", 5).expectation(torch.zeros(3), torch.ones(1)).shape == (3,)


@pytest.mark.parametrize(
    "kind, k, name",
    [("square", 0, "z^2"), ("square", 3, "(z - 3)^2"), ("cos", 5, "cos(5z)"), ("peak", 10, "exp(-10 z^2)")],
)
def test_objectives_have_readable_names(kind, k, name):
    assert objective(kind, k).name == name


# -- quadrature against closed forms ---------------------------------------------------------
@pytest.mark.parametrize("kind, k, mu, sigma", [("square", 3, 1.0, 1.0), ("cos", 5, 0.4, 0.7), ("peak", 10, 1.0, 1.0)])
def test_quadrature_reproduces_the_closed_form_expectation_and_gradients(kind, k, mu, sigma):
    f = objective(kind, k)
    assert gaussian_expectation(f, mu, sigma) == pytest.approx(f.expectation(mu, sigma).item(), rel=1e-8, abs=1e-12)
    g_mu, g_sigma = f.gradient(mu, sigma)
    assert exact_gradient(f, mu, sigma, "mu") == pytest.approx(g_mu.item(), rel=1e-8, abs=1e-12)
    assert exact_gradient(f, mu, sigma, "sigma") == pytest.approx(g_sigma.item(), rel=1e-8, abs=1e-12)
    # d/dlogvar = d/dsigma * dsigma/dlogvar = d/dsigma * sigma / 2
    assert exact_gradient(f, mu, sigma, "logvar") == pytest.approx(g_sigma.item() * sigma / 2, rel=1e-8, abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(mu=mus, sigma=sigmas)
def test_score_function_variance_for_z_squared_matches_its_closed_form(mu, sigma):
    # h = z^2 eps / sigma with z = mu + sigma eps; E[z^4 eps^2] / sigma^2 uses E[eps^2, eps^4, eps^6]
    # = 1, 3, 15:  Var = mu^4 / sigma^2 + 18 mu^2 + 15 sigma^2 - (2 mu)^2.
    expected = mu**4 / sigma**2 + 14 * mu**2 + 15 * sigma**2
    got = exact_gradient_variance(objective("square", 0), mu, sigma)
    assert got == pytest.approx(expected, rel=1e-8)


@settings(max_examples=8, deadline=None)
@given(k=st.floats(-3, 3), mu=mus, sigma=sigmas)
def test_reparameterization_variances_for_a_square_match_their_closed_forms(k, mu, sigma):
    # f' = 2 (z - k): Var[f'] = 4 sigma^2; Var[f' eps] = 4 Var[(mu - k) eps + sigma eps^2]
    # = 4 ((mu - k)^2 + 2 sigma^2); d/dlogvar multiplies the latter by (sigma / 2)^2.
    f = objective("square", k)
    by_sigma = 4 * ((mu - k) ** 2 + 2 * sigma**2)
    assert exact_gradient_variance(f, mu, sigma, "reparameterization") == pytest.approx(4 * sigma**2, rel=1e-8)
    assert exact_gradient_variance(f, mu, sigma, "reparameterization", wrt="sigma") == pytest.approx(by_sigma, rel=1e-8)
    assert exact_gradient_variance(f, mu, sigma, "reparameterization", wrt="logvar") == pytest.approx(
        by_sigma * sigma**2 / 4, rel=1e-8
    )


# Mohamed, Rosca, Figurnov, Mnih 2020, section 3, at mu = sigma = 1 (score function, reparameterization).
PUBLISHED = [
    ("square", 0, 30.0, 4.0),
    ("square", 3, 87.0, 4.0),
    ("cos", 1, 0.324, 0.268),
    ("cos", 5, 0.50, 12.5),
    ("peak", 10, 0.077, 0.94),
]


@pytest.mark.parametrize("kind, k, score, reparameterization", PUBLISHED)
def test_exact_variances_reproduce_mohamed_et_al_2020(kind, k, score, reparameterization):
    f = objective(kind, k)
    assert exact_gradient_variance(f, 1.0, 1.0, "score_function") == pytest.approx(score, rel=5e-3)
    assert exact_gradient_variance(f, 1.0, 1.0, "reparameterization") == pytest.approx(reparameterization, rel=5e-3)


def test_a_mean_baseline_makes_the_score_function_worse_for_cos_z():
    f = objective("cos", 1)
    plain = exact_gradient_variance(f, 1.0, 1.0)
    with_mean = exact_gradient_variance(f, 1.0, 1.0, baseline="mean")
    assert with_mean == pytest.approx(0.431, rel=5e-3)
    assert with_mean > plain


def test_the_optimal_baseline_has_its_closed_form_and_beats_its_neighbours():
    # f = z^2, mu = sigma = 1, theta = mu: b* = E[z^2 eps^2] / E[eps^2] = E[(1 + eps)^2 eps^2] = 1 + 3 = 4,
    # and Var = E[(z^2 - 4)^2 eps^2] - 4 = 14.  For cos z at mu = 1, b* = cos 1 E[cos(eps) eps^2] = 0.
    square = objective("square", 0)
    assert optimal_baseline(square, 1.0, 1.0) == pytest.approx(4.0, rel=1e-9)
    assert exact_gradient_variance(square, 1.0, 1.0, baseline="optimal") == pytest.approx(14.0, rel=1e-9)
    assert optimal_baseline(objective("cos", 1), 1.0, 1.0) == pytest.approx(0.0, abs=1e-10)
    for wrt in ("mu", "sigma", "logvar"):
        best = optimal_baseline(square, 0.5, 1.5, wrt)
        at_best = exact_gradient_variance(square, 0.5, 1.5, wrt=wrt, baseline=best)
        assert exact_gradient_variance(square, 0.5, 1.5, wrt=wrt, baseline="optimal") == pytest.approx(at_best)
        for step in (-0.5, 0.5):
            assert exact_gradient_variance(square, 0.5, 1.5, wrt=wrt, baseline=best + step) > at_best


@pytest.mark.parametrize("dim", [1, 2, 5, 20])
def test_other_coordinates_add_their_noise_to_the_score_function_only(dim):
    # F = sum_j z_j^2 at mu_j = sigma_j = 1, gradient wrt mu_1: F = z_1^2 + R, E[R] = 2 (d - 1),
    # Var[R] = 6 (d - 1): Var = E[(z_1^2 + R)^2 eps^2] - 4 = 30 + 16 (d-1) + 4 (d-1)^2 + 6 (d-1);
    # with the exact mean baseline E[F] = 2 d it is E[(z_1^2 - 2)^2 eps^2] - 4 + 6 (d - 1) = 18 + 6 (d - 1).
    f = objective("square", 0)
    n = dim - 1
    assert exact_gradient_variance(f, 1.0, 1.0, dim=dim) == pytest.approx(30 + 22 * n + 4 * n**2, rel=1e-9)
    assert exact_gradient_variance(f, 1.0, 1.0, dim=dim, baseline="mean") == pytest.approx(18 + 6 * n, rel=1e-9)
    assert exact_gradient_variance(f, 1.0, 1.0, "reparameterization", dim=dim) == pytest.approx(4.0, rel=1e-9)


def _variance_within_five_standard_errors(samples, exact):
    centred = samples - samples.mean()
    variance = centred.pow(2).mean()
    stderr = math.sqrt((centred.pow(4).mean() - variance**2).item() / samples.numel())
    return abs(variance.item() - exact) <= 5 * stderr


@pytest.mark.parametrize("kind, k", [("cos", 1), ("peak", 1), ("square", 0)])
@pytest.mark.parametrize("baseline", [None, "mean", "optimal"])
def test_monte_carlo_variances_of_the_package_estimators_match_the_exact_ones(kind, k, baseline):
    f = objective(kind, k)
    mu, logvar = torch.tensor([0.5], dtype=torch.float64), torch.tensor([math.log(0.8**2)], dtype=torch.float64)
    sigma = 0.8
    gen = torch.Generator().manual_seed(11)
    for wrt in ("mu", "sigma"):
        b = {None: None, "mean": gaussian_expectation(f, 0.5, sigma), "optimal": optimal_baseline(f, 0.5, sigma, wrt)}[
            baseline
        ]
        g_mu, g_logvar = score_function_gradient(f, mu, logvar, 100_000, baseline=b, generator=gen, per_sample=True)
        samples = g_mu if wrt == "mu" else g_logvar * 2 / sigma  # chain rule: d/dsigma = d/dlogvar * 2 / sigma
        exact = exact_gradient_variance(f, 0.5, sigma, wrt=wrt, baseline=baseline)
        assert _variance_within_five_standard_errors(samples, exact)
    if baseline is None:
        g_mu, g_logvar = reparameterization_gradient(f, mu, logvar, 100_000, generator=gen, per_sample=True)
        assert _variance_within_five_standard_errors(g_mu, exact_gradient_variance(f, 0.5, sigma, "reparameterization"))
        assert _variance_within_five_standard_errors(
            g_logvar, exact_gradient_variance(f, 0.5, sigma, "reparameterization", wrt="logvar")
        )


def test_monte_carlo_confirms_the_growth_with_dimension():
    f = objective("square", 0)
    mu, logvar = torch.ones(8, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
    objective_sum = lambda z: f(z).sum(-1)  # noqa: E731
    g_mu, _ = score_function_gradient(
        objective_sum, mu, logvar, 200_000, generator=torch.Generator().manual_seed(3), per_sample=True
    )
    assert _variance_within_five_standard_errors(g_mu[:, 0], exact_gradient_variance(f, 1.0, 1.0, dim=8))


def test_any_differentiable_torch_function_can_be_integrated():
    # f(z) = z^3: E = mu^3 + 3 mu sigma^2; reparameterization Var[3 z^2] = 9 Var[z^2] = 9 (4 mu^2 sigma^2 + 2 sigma^4).
    cube = lambda z: z.pow(3)  # noqa: E731
    assert gaussian_expectation(cube, 0.5, 2.0) == pytest.approx(0.125 + 6.0, rel=1e-9)
    assert exact_gradient_variance(cube, 0.5, 2.0, "reparameterization") == pytest.approx(
        9 * (4 * 0.25 * 4 + 2 * 16), rel=1e-9
    )
    # a constant f has a zero reparameterization gradient, and autograd returns nothing for it
    assert exact_gradient_variance(lambda z: torch.ones_like(z), 0.0, 1.0, "reparameterization") == 0.0


@pytest.mark.parametrize("kind", ["square", "cos", "peak"])
def test_the_hand_derivative_and_autograd_give_the_same_reparameterization_variance(kind):
    f = objective(kind, 2.5)
    by_autograd = exact_gradient_variance(lambda z: f(z), 0.4, 0.9, "reparameterization", wrt="sigma")
    assert exact_gradient_variance(f, 0.4, 0.9, "reparameterization", wrt="sigma") == pytest.approx(
        by_autograd, rel=1e-10
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(f="z^2"), "f must be callable"),
        (dict(sigma=0.0), "sigma must be a finite number > 0"),
        (dict(mu=float("nan")), "mu must be a finite number"),
        (dict(estimator="reinforce"), "estimator must be one of"),
        (dict(wrt="std"), "wrt must be one of"),
        (dict(baseline="median"), "baseline must be None, a number"),
        (dict(estimator="reparameterization", baseline="mean"), "baseline must be None for the reparameterization"),
        (dict(dim=0), "dim must be an integer >= 1"),
        (dict(f=lambda z: torch.exp(z.pow(2))), "did not converge"),
        (dict(f=lambda z: "text"), "f must map a number to a number"),
    ],
)
def test_exact_variance_rejects_bad_input(kwargs, match):
    args = dict(f=objective("cos", 1), mu=1.0, sigma=1.0) | kwargs
    f, mu, sigma = args.pop("f"), args.pop("mu"), args.pop("sigma")
    with pytest.raises(ValueError, match=match):
        exact_gradient_variance(f, mu, sigma, **args)


@pytest.mark.parametrize(
    "kind, k, match",
    [
        ("sine", 1, "kind must be one of"),
        ("peak", -1, "k must be >= 0"),
        ("cos", float("inf"), "k must be a finite"),
        ("cos", True, "k must be a finite"),
    ],
)
def test_objective_rejects_bad_input(kind, k, match):
    with pytest.raises(ValueError, match=match):
        objective(kind, k)


@pytest.mark.parametrize(
    "estimator, baseline", [("score_function", None), ("score_function", 0.5), ("reparameterization", None)]
)
@pytest.mark.parametrize("wrt", ["mu", "sigma", "logvar"])
def test_gradient_estimates_scatter_around_the_exact_gradient_with_the_exact_variance(estimator, baseline, wrt):
    f = objective("cos", 2)
    estimates = gradient_estimates(
        f, 0.3, 0.7, 4, 20_000, estimator, wrt=wrt, baseline=baseline, generator=torch.Generator().manual_seed(8)
    )
    assert estimates.shape == (20_000,) and estimates.dtype == torch.float64
    g_mu, g_sigma = f.gradient(0.3, 0.7)
    exact = {"mu": g_mu, "sigma": g_sigma, "logvar": g_sigma * 0.7 / 2}[wrt].item()
    variance = exact_gradient_variance(f, 0.3, 0.7, estimator, wrt=wrt, baseline=baseline) / 4
    assert abs(estimates.mean().item() - exact) <= 5 * math.sqrt(variance / 20_000)
    assert _variance_within_five_standard_errors(estimates, variance)


def test_gradient_estimates_with_a_leave_one_out_baseline_stay_unbiased_and_help_a_shifted_f():
    f = objective("square", 3)  # gradient 2 (mu - 3) = -4 at mu = 1
    plain = gradient_estimates(f, 1.0, 1.0, 8, 10_000, generator=torch.Generator().manual_seed(1))
    loo = gradient_estimates(f, 1.0, 1.0, 8, 10_000, baseline="mean", generator=torch.Generator().manual_seed(1))
    assert abs(loo.mean().item() + 4.0) <= 5 * loo.std().item() / 100
    assert loo.var() < plain.var() / 1.5


def test_gradient_estimates_are_reproducible_and_reject_bad_input():
    f = objective("peak", 1)
    a = gradient_estimates(f, 0.0, 1.0, 3, 5, "reparameterization", generator=torch.Generator().manual_seed(2))
    assert a.equal(
        gradient_estimates(f, 0.0, 1.0, 3, 5, "reparameterization", generator=torch.Generator().manual_seed(2))
    )
    with pytest.raises(ValueError, match="baseline must be None for the reparameterization"):
        gradient_estimates(f, 0.0, 1.0, 3, 5, "reparameterization", baseline="mean")
    with pytest.raises(ValueError, match="estimator must be one of"):
        gradient_estimates(f, 0.0, 1.0, 3, 5, "exact")
    with pytest.raises(ValueError, match="num_estimates must be an integer"):
        gradient_estimates(f, 0.0, 1.0, 3, 0)
    with pytest.raises(ValueError, match="wrt must be one of"):
        gradient_estimates(f, 0.0, 1.0, 3, 5, wrt="variance")


# -- the ELBO gradient and the optimiser ------------------------------------------------------
def _toy(latent_dim=2):
    model = LinearGaussianModel.random(5, latent_dim, noise_std=0.7, generator=torch.Generator().manual_seed(4))
    x, _ = model.sample(1, torch.Generator().manual_seed(5))
    return model, x[0]


@pytest.mark.parametrize(
    "estimator, baseline", [("reparameterization", None), ("score_function", None), ("score_function", "mean")]
)
def test_elbo_gradient_is_unbiased_for_the_exact_elbo_gradient(estimator, baseline):
    model, x = _toy()
    mu = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([-0.5, 0.1], dtype=torch.float64, requires_grad=True)
    exact = torch.autograd.grad(model.elbo(x, mu, logvar), (mu, logvar))
    gen = torch.Generator().manual_seed(6)
    draws = [
        elbo_gradient(
            lambda z: model.log_likelihood(x, z),
            mu.detach(),
            logvar.detach(),
            50,
            estimator,
            baseline=baseline,
            generator=gen,
        )
        for _ in range(400)
    ]
    for part, truth in enumerate(exact):
        estimates = torch.stack([d[part] for d in draws])
        stderr = estimates.std(0) / math.sqrt(len(draws))
        assert ((estimates.mean(0) - truth).abs() <= 5 * stderr + 1e-9).all()


def test_elbo_gradient_rejects_an_unknown_estimator_and_a_reparameterization_baseline():
    model, x = _toy()
    ll = lambda z: model.log_likelihood(x, z)  # noqa: E731
    with pytest.raises(ValueError, match="estimator must be one of"):
        elbo_gradient(ll, torch.zeros(2), torch.zeros(2), 3, "exact")
    with pytest.raises(ValueError, match="baseline must be None"):
        elbo_gradient(ll, torch.zeros(2), torch.zeros(2), 3, "reparameterization", baseline="mean")


def test_fitting_with_the_exact_gradient_reaches_log_p_x_for_a_one_dimensional_latent():
    # with one latent dimension the posterior is a 1-d Gaussian, so the best q makes ELBO = log p(x)
    model, x = _toy(latent_dim=1)
    mu0, logvar0 = torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)

    def exact(mu, logvar):
        mu, logvar = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
        return torch.autograd.grad(model.elbo(x, mu, logvar), (mu, logvar))

    mu, logvar, history = fit_gaussian(
        exact, mu0, logvar0, steps=400, lr=0.05, record=lambda m, lv: model.elbo(x, m, lv)
    )
    assert history.shape == (401,)
    assert history[-1] == pytest.approx(model.log_marginal(x).item(), abs=1e-4)
    assert history[-1] > history[0]
    mean, cov = model.posterior(x)
    torch.testing.assert_close(mu, mean, atol=1e-3, rtol=0)
    torch.testing.assert_close(logvar.exp(), cov.diagonal(), atol=1e-3, rtol=0)
    assert torch.equal(mu0, torch.zeros(1, dtype=torch.float64))


def test_fit_gaussian_rejects_gradients_of_the_wrong_shape():
    with pytest.raises(ValueError, match="gradient must return two tensors of shape"):
        fit_gaussian(lambda m, lv: (m.sum(), lv), torch.zeros(2), torch.zeros(2), steps=1, lr=0.1)
    with pytest.raises(ValueError, match="steps must be an integer"):
        fit_gaussian(lambda m, lv: (m, lv), torch.zeros(2), torch.zeros(2), steps=0, lr=0.1)
    _, _, history = fit_gaussian(lambda m, lv: (m, lv), torch.zeros(2), torch.zeros(2), steps=2, lr=0.1)
    assert history.numel() == 0
