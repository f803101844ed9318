"""Gradient estimators (notebooks 04, 05): unbiasedness against exact gradients of Gaussian
expectations, agreement with torch.distributions' rsample, per-sample shapes, bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Normal

from vaecourse import reparameterization_gradient, reparameterize, score_function_gradient

# Exact Gaussian expectations, as functions of (mu, s2 = sigma^2), and their gradients
# with respect to mu and logvar (d/dlogvar = s2 * d/ds2):
#   E[z^2]    = mu^2 + s2                    -> (2 mu, s2)
#   E[cos kz] = cos(k mu) exp(-k^2 s2 / 2)   -> (-k sin(k mu) e, -k^2 s2 / 2 cos(k mu) e)
EXACT = {
    "z^2": (lambda z: z.pow(2), lambda mu, s2: (2 * mu, s2)),
    "cos z": (
        torch.cos,
        lambda mu, s2: (-torch.sin(mu) * torch.exp(-s2 / 2), -s2 / 2 * torch.cos(mu) * torch.exp(-s2 / 2)),
    ),
    "cos 3z": (
        lambda z: torch.cos(3 * z),
        lambda mu, s2: (
            -3 * torch.sin(3 * mu) * torch.exp(-9 * s2 / 2),
            -9 * s2 / 2 * torch.cos(3 * mu) * torch.exp(-9 * s2 / 2),
        ),
    ),
}


def _within_four_standard_errors(per_sample, exact):
    mean = per_sample.mean(0)
    stderr = per_sample.std(0) / math.sqrt(per_sample.shape[0])
    return bool(((mean - exact).abs() <= 4 * stderr + 1e-9).all())


@pytest.mark.parametrize("name", list(EXACT))
@pytest.mark.parametrize("estimator", ["score", "reparameterization"])
@settings(max_examples=10, deadline=None)
@given(mu=st.floats(-2, 2), logvar=st.floats(-2, 1), seed=st.integers(0, 2**31 - 1))
def test_estimators_are_unbiased_for_exact_gaussian_expectations(name, estimator, mu, logvar, seed):
    f, exact_grad = EXACT[name]
    mu_t = torch.tensor([mu], dtype=torch.float64)
    logvar_t = torch.tensor([logvar], dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    objective = lambda z: f(z).sum(-1)  # noqa: E731
    if estimator == "score":
        g_mu, g_lv = score_function_gradient(objective, mu_t, logvar_t, 20000, generator=gen, per_sample=True)
    else:
        g_mu, g_lv = reparameterization_gradient(objective, mu_t, logvar_t, 4000, generator=gen, per_sample=True)
    e_mu, e_lv = exact_grad(mu_t, logvar_t.exp())
    assert _within_four_standard_errors(g_mu, e_mu)
    assert _within_four_standard_errors(g_lv, e_lv)


def test_reparameterization_gradients_equal_rsample_gradients_for_the_same_noise():
    mu = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    logvar = torch.tensor([0.2, -0.7, 1.1], dtype=torch.float64)
    f = lambda z: (torch.sin(z) * z).sum(-1)  # noqa: E731
    g_mu, g_lv = reparameterization_gradient(
        f, mu, logvar, 5, generator=torch.Generator().manual_seed(7), per_sample=True
    )
    # The same noise through torch.distributions: Normal.rsample draws eps with torch.normal,
    # so feed the identical eps by drawing it ourselves with the same generator.
    eps = torch.randn((5, 3), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    for s in range(5):
        m, lv = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
        dist = Normal(m, torch.exp(0.5 * lv))
        z = dist.loc + dist.scale * eps[s]
        f(z.unsqueeze(0)).sum().backward()
        torch.testing.assert_close(g_mu[s], m.grad)
        torch.testing.assert_close(g_lv[s], lv.grad)


def test_reparameterization_mean_gradient_matches_rsample_on_average():
    torch.manual_seed(0)
    mu = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([-0.4], dtype=torch.float64, requires_grad=True)
    z = Normal(mu, torch.exp(0.5 * logvar)).rsample((200000,))
    torch.cos(z).mean().backward()
    g_mu, g_lv = reparameterization_gradient(
        torch.cos, mu.detach(), logvar.detach(), 200000, generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(g_mu, mu.grad, atol=5e-3, rtol=0)
    torch.testing.assert_close(g_lv, logvar.grad, atol=5e-3, rtol=0)


def test_reparameterize_draws_from_the_right_gaussian_and_carries_gradients():
    mu = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([math.log(4.0), math.log(0.25)], dtype=torch.float64, requires_grad=True)
    z = reparameterize(mu.expand(100000, 2), logvar.expand(100000, 2), torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), mu.detach(), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([2.0, 0.5], dtype=torch.float64), atol=0.02, rtol=0)
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.full((2,), 100000.0, dtype=torch.float64))
    assert logvar.grad is not None and torch.isfinite(logvar.grad).all()


def test_reparameterize_is_reproducible_with_a_generator():
    mu, logvar = torch.zeros(3), torch.zeros(3)
    a = reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    assert torch.equal(a, reparameterize(mu, logvar, torch.Generator().manual_seed(3)))


def test_a_leave_one_out_mean_baseline_keeps_the_estimate_unbiased_and_helps_for_a_shifted_f():
    mu, logvar = torch.tensor([1.0], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64)
    f = lambda z: (z - 3).pow(2).sum(-1) + 100  # noqa: E731  (a large offset the baseline removes)
    plain = score_function_gradient(f, mu, logvar, 20000, generator=torch.Generator().manual_seed(0), per_sample=True)[
        0
    ]
    loo = score_function_gradient(
        f, mu, logvar, 20000, baseline="mean", generator=torch.Generator().manual_seed(0), per_sample=True
    )[0]
    exact = torch.tensor([2 * (1.0 - 3)], dtype=torch.float64)  # d/dmu E[(z-3)^2] = 2 (mu - 3)
    assert _within_four_standard_errors(loo, exact)
    assert loo.var() < plain.var() / 50


def test_a_constant_baseline_does_not_change_the_expected_gradient():
    mu, logvar = torch.tensor([0.5], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64)
    f = lambda z: torch.cos(z).sum(-1)  # noqa: E731
    g = score_function_gradient(
        f, mu, logvar, 40000, baseline=0.7, generator=torch.Generator().manual_seed(2), per_sample=True
    )
    e_mu, e_lv = EXACT["cos z"][1](mu, logvar.exp())
    assert _within_four_standard_errors(g[0], e_mu) and _within_four_standard_errors(g[1], e_lv)


def test_per_example_objectives_only_use_their_own_example():
    # Two examples with different objectives: the gradient of example b comes from f[:, b].
    mu = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    logvar = torch.zeros(2, 1, dtype=torch.float64)
    weights = torch.tensor([1.0, 10.0], dtype=torch.float64)
    f = lambda z: weights * z.pow(2).sum(-1)  # noqa: E731  shape (S, 2)
    g_mu, _ = reparameterization_gradient(
        f, mu, logvar, 4000, generator=torch.Generator().manual_seed(0), per_sample=True
    )
    assert _within_four_standard_errors(g_mu, torch.tensor([[2.0], [-20.0]], dtype=torch.float64))
    s_mu, _ = score_function_gradient(f, mu, logvar, 40000, generator=torch.Generator().manual_seed(0), per_sample=True)
    assert _within_four_standard_errors(s_mu, torch.tensor([[2.0], [-20.0]], dtype=torch.float64))


def test_a_per_example_baseline_is_subtracted_from_its_own_example():
    # mu (B, d) with B == d, so a baseline applied along the wrong axis would broadcast silently.
    mu = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, -1.0]], dtype=torch.float64)
    logvar = torch.zeros(3, 3, dtype=torch.float64)
    f = lambda z: z.pow(2).sum(-1) + torch.tensor([0.0, 100.0, 0.0], dtype=torch.float64)  # noqa: E731
    baseline = torch.tensor([0.0, 100.0, 0.0], dtype=torch.float64)
    with_baseline = score_function_gradient(
        f, mu, logvar, 8, baseline, generator=torch.Generator().manual_seed(0), per_sample=True
    )
    without_offset = score_function_gradient(
        lambda z: z.pow(2).sum(-1), mu, logvar, 8, generator=torch.Generator().manual_seed(0), per_sample=True
    )
    torch.testing.assert_close(with_baseline, without_offset)


def test_estimators_leave_their_inputs_alone_and_return_their_shapes():
    mu = torch.randn(4, 3, requires_grad=True)
    logvar = torch.randn(4, 3, requires_grad=True)
    f = lambda z: z.pow(2).sum(-1)  # noqa: E731
    for estimator in (score_function_gradient, reparameterization_gradient):
        g_mu, g_lv = estimator(f, mu, logvar, 6)
        assert g_mu.shape == g_lv.shape == (4, 3)
        assert not g_mu.requires_grad and not g_lv.requires_grad
        g_mu, g_lv = estimator(f, mu, logvar, 6, per_sample=True)
        assert g_mu.shape == (6, 4, 3)
    assert mu.grad is None and logvar.grad is None


def test_reparameterization_gradient_of_an_f_that_ignores_z_is_zero():
    g_mu, g_lv = reparameterization_gradient(lambda z: z.sum(-1) * 0 + 1.0, torch.zeros(2), torch.zeros(2), 3)
    assert torch.equal(g_mu, torch.zeros(2)) and torch.equal(g_lv, torch.zeros(2))


@pytest.mark.parametrize("estimator", [score_function_gradient, reparameterization_gradient])
@pytest.mark.parametrize(
    "f, mu, logvar, num_samples, match",
    [
        ("not callable", torch.zeros(2), torch.zeros(2), 3, "f must be callable"),
        (lambda z: z.sum(-1), torch.zeros(2), torch.zeros(3), 3, "same shape"),
        (lambda z: z.sum(-1), torch.zeros(2), torch.zeros(2), 0, "num_samples must be an integer >= 1"),
        (lambda z: z.sum(-1), torch.tensor([float("nan"), 0.0]), torch.zeros(2), 3, "mu must contain only finite"),
        (lambda z: z.sum(), torch.zeros(2), torch.zeros(2), 3, r"f must map z of shape \(3, 2\)"),
        (lambda z: z[:2].sum(-1), torch.zeros(2), torch.zeros(2), 3, r"got \(2,\)"),
        (lambda z: z.sum(0), torch.zeros(4, 2), torch.zeros(4, 2), 3, "f must map z"),
        (lambda z: 1.0, torch.zeros(2), torch.zeros(2), 3, "f must return a torch.Tensor"),
    ],
)
def test_estimators_reject_bad_input(estimator, f, mu, logvar, num_samples, match):
    with pytest.raises(ValueError, match=match):
        estimator(f, mu, logvar, num_samples)


@pytest.mark.parametrize("baseline", ["median", [1.0], True])
def test_score_function_rejects_an_unknown_baseline(baseline):
    with pytest.raises(ValueError, match="baseline must be"):
        score_function_gradient(lambda z: z.sum(-1), torch.zeros(2), torch.zeros(2), 3, baseline=baseline)


def test_a_mean_baseline_needs_two_samples():
    with pytest.raises(ValueError, match="num_samples >= 2"):
        score_function_gradient(lambda z: z.sum(-1), torch.zeros(2), torch.zeros(2), 1, baseline="mean")


def test_reparameterization_needs_a_differentiable_f():
    with pytest.raises(ValueError, match="differentiable"):
        reparameterization_gradient(
            lambda z: (z > 0).double().sum(-1),
            torch.zeros(2, dtype=torch.float64),
            torch.zeros(2, dtype=torch.float64),
            3,
        )
