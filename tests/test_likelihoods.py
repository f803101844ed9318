"""Decoder likelihoods (notebook 03) against torch.distributions, at extreme logits, with
gradcheck, and on bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Bernoulli, Normal

from vaecourse import bernoulli_log_likelihood, gaussian_log_likelihood


def test_bernoulli_matches_torch_distributions_on_binary_pixels():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 4, 3, generator=gen, dtype=torch.float64) * 4
    x = torch.bernoulli(torch.full((5, 4, 3), 0.5, dtype=torch.float64), generator=gen)
    expected = Bernoulli(logits=logits).log_prob(x).sum((1, 2))
    got = bernoulli_log_likelihood(logits, x)
    assert got.shape == (5,)
    torch.testing.assert_close(got, expected)


@settings(max_examples=50, deadline=None)
@given(st.floats(-30, 30), st.floats(0, 1))
def test_bernoulli_for_grey_pixels_is_the_definition_in_exact_arithmetic(logit, pixel):
    # x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)), from the definition, in 60-digit math.
    import mpmath

    mpmath.mp.dps = 60
    p = 1 / (1 + mpmath.exp(-mpmath.mpf(logit)))
    expected = float(mpmath.mpf(pixel) * mpmath.log(p) + (1 - mpmath.mpf(pixel)) * mpmath.log(1 - p))
    got = bernoulli_log_likelihood(
        torch.tensor([[logit]], dtype=torch.float64), torch.tensor([[pixel]], dtype=torch.float64)
    )
    assert got.item() == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_bernoulli_equals_minus_binary_cross_entropy_with_logits():
    gen = torch.Generator().manual_seed(3)
    logits, x = torch.randn(8, 20, generator=gen) * 5, torch.rand(8, 20, generator=gen)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), -bce)


@pytest.mark.parametrize("logit", [100.0, -100.0, 50.0, -50.0])
def test_bernoulli_stays_exact_at_extreme_logits(logit):
    logits = torch.tensor([[logit]])
    # log sigmoid(l) = -softplus(-l): at |l| = 100 the wrong-side pixel costs exactly |l| nats.
    right = bernoulli_log_likelihood(logits, torch.tensor([[1.0 if logit > 0 else 0.0]]))
    wrong = bernoulli_log_likelihood(logits, torch.tensor([[0.0 if logit > 0 else 1.0]]))
    assert torch.isfinite(right).all() and torch.isfinite(wrong).all()
    assert wrong.item() == pytest.approx(-abs(logit), rel=1e-6)
    assert right.item() == pytest.approx(-math.log1p(math.exp(-abs(logit))), rel=1e-6)
    half = bernoulli_log_likelihood(logits, torch.tensor([[0.5]]))
    assert half.item() == pytest.approx(-abs(logit) / 2, rel=1e-6)


def test_gaussian_matches_torch_distributions_with_its_constant():
    gen = torch.Generator().manual_seed(1)
    mean = torch.randn(6, 2, 5, generator=gen, dtype=torch.float64)
    x = torch.randn(6, 2, 5, generator=gen, dtype=torch.float64)
    for sigma in (0.1, 1.0, math.sqrt(0.5), 3.0):
        expected = Normal(mean, sigma).log_prob(x).sum((1, 2))
        torch.testing.assert_close(gaussian_log_likelihood(mean, x, sigma), expected)


def test_gaussian_at_half_variance_is_minus_squared_error_plus_a_constant():
    gen = torch.Generator().manual_seed(2)
    mean, x = (
        torch.randn(4, 10, generator=gen, dtype=torch.float64),
        torch.randn(4, 10, generator=gen, dtype=torch.float64),
    )
    got = gaussian_log_likelihood(mean, x, sigma=math.sqrt(0.5))
    expected = -((x - mean) ** 2).sum(1) - 10 / 2 * math.log(math.pi)
    torch.testing.assert_close(got, expected)


def test_likelihoods_pass_gradcheck_in_float64():
    logits = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    x = torch.rand(3, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda l: bernoulli_log_likelihood(l, x), (logits,))
    mean = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m: gaussian_log_likelihood(m, x, 0.7), (mean,))


def test_a_single_example_without_event_dimensions_is_one_pixel_each():
    logits, x = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), Bernoulli(logits=logits).log_prob(x))


@pytest.mark.parametrize(
    "logits, x, match",
    [
        (torch.zeros(2, 3), torch.zeros(2, 4), "same shape"),
        (torch.zeros(2, 3), torch.full((2, 3), 255.0), r"x must lie in \[0, 1\].*255"),
        (torch.zeros(2, 3), torch.full((2, 3), -0.1), r"x must lie in \[0, 1\]"),
        (torch.full((2, 3), float("nan")), torch.zeros(2, 3), "logits must contain only finite"),
        (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.uint8), "x must have a floating-point dtype"),
        (torch.tensor(0.0), torch.tensor(0.0), "at least 1 dimension"),
    ],
)
def test_bernoulli_rejects_bad_input(logits, x, match):
    with pytest.raises(ValueError, match=match):
        bernoulli_log_likelihood(logits, x)


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("inf"), float("nan"), "1"])
def test_gaussian_rejects_a_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma must be"):
        gaussian_log_likelihood(torch.zeros(1, 2), torch.zeros(1, 2), sigma)


def test_gaussian_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="mean and x must have the same shape"):
        gaussian_log_likelihood(torch.zeros(2, 3), torch.zeros(3))
