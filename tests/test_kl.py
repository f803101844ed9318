"""The KL term (notebook 02): closed form against torch.distributions, the Monte Carlo
estimate against the closed form, published oracle values, gradients and bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Normal, kl_divergence

from vaecourse import gaussian_kl, gaussian_kl_per_dim, monte_carlo_kl

finite = st.floats(min_value=-5, max_value=5, allow_nan=False, allow_infinity=False)
logvars = st.floats(min_value=-30, max_value=20, allow_nan=False, allow_infinity=False)


def torch_kl(mu, logvar):
    return kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(torch.zeros_like(mu), torch.ones_like(mu)))


def test_kl_matches_torch_distributions_on_random_inputs():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(7, 5, 3, generator=gen, dtype=torch.float64) * 3
    logvar = torch.randn(7, 5, 3, generator=gen, dtype=torch.float64) * 2
    expected = torch_kl(mu, logvar).sum(-1)
    got = gaussian_kl(mu, logvar)
    assert got.shape == (7, 5)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gaussian_kl_per_dim(mu, logvar), torch_kl(mu, logvar), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "mu, log_sigma, expected",
    [(2.0, 0.0, 2.0), (0.0, 1.0, 2.194528)],  # UvA DL unit-test oracles
)
def test_kl_matches_published_oracle_values(mu, log_sigma, expected):
    got = gaussian_kl(torch.tensor([mu], dtype=torch.float64), torch.tensor([2 * log_sigma], dtype=torch.float64))
    assert got.item() == pytest.approx(expected, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(finite, logvars), min_size=1, max_size=6))
def test_kl_is_non_negative_and_zero_only_at_the_prior(params):
    mu = torch.tensor([p[0] for p in params], dtype=torch.float64)
    logvar = torch.tensor([p[1] for p in params], dtype=torch.float64)
    kl = gaussian_kl(mu, logvar).item()
    assert kl >= 0
    if bool((mu == 0).all() and (logvar == 0).all()):
        assert kl == 0
    else:
        # Away from the prior the exact KL is at least max(mu^2 / 2, ~logvar^2 / 4) per
        # dimension; where that is representable in float64 the computed KL must be positive.
        lower = max((mu.pow(2) / 2).max().item(), (logvar.pow(2) / 4).clamp(max=1).max().item() / 2)
        if lower > 1e-300:
            assert kl > 0


@pytest.mark.parametrize("t", [1e-30, 1e-8, -3e-5, 0.01, -0.2, 0.249, 0.26, -0.3, 1.0])
def test_kl_is_accurate_close_to_the_prior(t):
    # 1/2 (e^t - t - 1) computed naively cancels to 0 at tiny t; compare with 120-digit math.
    import mpmath

    mpmath.mp.dps = 120
    exact = float((mpmath.exp(mpmath.mpf(t)) - 1 - mpmath.mpf(t)) / 2)
    got = gaussian_kl(torch.zeros(1, dtype=torch.float64), torch.tensor([t], dtype=torch.float64)).item()
    assert got == pytest.approx(exact, rel=1e-14, abs=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kl_keeps_the_input_dtype(dtype):
    mu, logvar = torch.zeros(2, 3, dtype=dtype), torch.ones(2, 3, dtype=dtype)
    assert gaussian_kl(mu, logvar).dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_refused_because_the_legal_range_overflows_it(dtype):
    # float16 cannot hold the KL at logvar = 20 (2.4e8 > 65504): refused with the fix in the message
    assert torch.finfo(torch.float16).max < float(gaussian_kl(torch.zeros(1), torch.tensor([20.0])))
    with pytest.raises(ValueError, match=r"mu is torch\.(b?float16).*mu\.float\(\)"):
        gaussian_kl(torch.zeros(2, 3, dtype=dtype), torch.ones(2, 3, dtype=dtype))


def test_kl_stays_finite_for_extreme_but_legal_log_variances():
    logvar = torch.linspace(-30, 20, 101)
    kl = gaussian_kl(torch.zeros_like(logvar).unsqueeze(-1), logvar.unsqueeze(-1))
    assert torch.isfinite(kl).all()
    torch.testing.assert_close(
        kl.double(), torch_kl(torch.zeros(101, dtype=torch.float64), logvar.double()), rtol=1e-5, atol=1e-5
    )


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(finite, st.floats(-3, 3)), min_size=1, max_size=4), st.integers(0, 2**31 - 1))
def test_monte_carlo_kl_is_within_four_standard_errors_of_the_closed_form(params, seed):
    mu = torch.tensor([p[0] for p in params], dtype=torch.float64)
    logvar = torch.tensor([p[1] for p in params], dtype=torch.float64)
    draws = monte_carlo_kl(mu, logvar, 4000, torch.Generator().manual_seed(seed), per_sample=True)
    estimate, stderr = draws.mean().item(), draws.std().item() / math.sqrt(len(draws))
    assert abs(estimate - gaussian_kl(mu, logvar).item()) <= 4 * stderr + 1e-12


def test_monte_carlo_kl_is_reproducible_with_a_generator_and_has_the_right_shape():
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    a = monte_carlo_kl(mu, logvar, 10, torch.Generator().manual_seed(1))
    b = monte_carlo_kl(mu, logvar, 10, torch.Generator().manual_seed(1))
    assert a.shape == (3,)
    assert torch.equal(a, b)
    assert monte_carlo_kl(mu, logvar, 10, per_sample=True).shape == (10, 3)


def test_kl_gradients_are_the_analytic_ones():
    mu = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([-0.5, 0.0, 1.5], dtype=torch.float64, requires_grad=True)
    gaussian_kl(mu, logvar).backward()
    torch.testing.assert_close(mu.grad, mu.detach())
    torch.testing.assert_close(logvar.grad, (logvar.detach().exp() - 1) / 2)


def test_kl_passes_gradcheck_in_float64():
    mu = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    logvar = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gaussian_kl, (mu, logvar))
    assert torch.autograd.gradgradcheck(gaussian_kl, (mu, logvar))


@pytest.mark.parametrize(
    "mu, logvar, match",
    [
        (torch.zeros(2, 3), torch.zeros(2, 4), "same shape"),
        (torch.zeros(3), torch.zeros(1), "same shape"),
        (torch.tensor([float("nan")]), torch.zeros(1), "mu must contain only finite"),
        (torch.zeros(1), torch.tensor([float("inf")]), "logvar must contain only finite"),
        (torch.zeros(2, dtype=torch.long), torch.zeros(2), "mu must have a floating-point dtype"),
        ([0.0], torch.zeros(1), "mu must be a torch.Tensor"),
        (torch.tensor(0.0), torch.tensor(0.0), "at least 1 dimension"),
    ],
)
def test_kl_rejects_bad_input_with_a_named_value_error(mu, logvar, match):
    with pytest.raises(ValueError, match=match):
        gaussian_kl(mu, logvar)


@pytest.mark.parametrize("num_samples", [0, -1, 2.5, True, "10"])
def test_monte_carlo_kl_rejects_a_bad_sample_count(num_samples):
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1"):
        monte_carlo_kl(torch.zeros(2), torch.zeros(2), num_samples)
