"""The importance-weighted bound (notebooks 01, 06): log-mean-exp against exact arithmetic,
stability at +-1000, and bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vaecourse import iwae_bound


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=20))
def test_iwae_bound_is_log_mean_exp(values):
    expected = math.log(sum(math.exp(v) for v in values) / len(values))
    got = iwae_bound(torch.tensor(values, dtype=torch.float64), dim=0).item()
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("offset", [1000.0, -1000.0])
def test_iwae_bound_is_finite_and_exact_for_log_weights_around_plus_minus_1000(offset):
    log_weights = torch.tensor([0.0, math.log(3.0)]) + offset
    got = iwae_bound(log_weights, dim=0)
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(offset + math.log(2.0), rel=1e-6)
    assert not torch.isfinite(torch.log(torch.exp(log_weights).mean()))  # what the naive way gives


def test_iwae_bound_reduces_the_chosen_dimension():
    lw = torch.randn(3, 5, 7)
    assert iwae_bound(lw, dim=1).shape == (3, 7)
    assert iwae_bound(lw, dim=-1).shape == (3, 5)
    torch.testing.assert_close(iwae_bound(lw, dim=0), torch.log(torch.exp(lw).mean(0)))


def test_with_one_sample_the_bound_is_that_log_weight():
    lw = torch.randn(1, 4)
    torch.testing.assert_close(iwae_bound(lw, dim=0), lw[0])


@pytest.mark.parametrize(
    "log_weights, dim, match",
    [
        (torch.zeros(3), 1, "dim must be an int in"),
        (torch.zeros(3), 0.5, "dim must be an int"),
        (torch.zeros(0), 0, "at least one sample"),
        (torch.tensor([0.0, float("nan")]), 0, "log_weights must contain only finite"),
        (torch.tensor(1.0), 0, "at least 1 dimension"),
    ],
)
def test_iwae_bound_rejects_bad_input(log_weights, dim, match):
    with pytest.raises(ValueError, match=match):
        iwae_bound(log_weights, dim)
