"""The planar flow (notebook 05): its log-density is the change of variables computed with an
autograd Jacobian, every map stays invertible, and a 1-d flow's density integrates to one."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vaecourse.flows import PlanarFlow


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_log_q_is_the_standard_normal_minus_the_log_determinant_of_the_jacobian(dim):
    flow = PlanarFlow(dim, 4, generator=torch.Generator().manual_seed(dim))
    eps = torch.randn(5, dim, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    _, log_q = flow(eps)
    base = torch.distributions.Normal(0.0, 1.0).log_prob(eps).sum(-1)
    for s in range(5):
        jacobian = torch.autograd.functional.jacobian(lambda e: flow(e.unsqueeze(0))[0][0], eps[s])
        expected = base[s] - torch.linalg.slogdet(jacobian)[1]
        assert log_q[s].item() == pytest.approx(expected.item(), rel=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.1, 20.0))
def test_every_one_dimensional_flow_is_increasing_whatever_its_parameters(seed, scale):
    flow = PlanarFlow(1, 3, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for p in flow.parameters():
            p.mul_(scale)
    eps = torch.linspace(-6, 6, 2001, dtype=torch.float64).unsqueeze(-1)
    z, log_q = flow(eps)
    assert (z[1:] > z[:-1]).all()
    assert torch.isfinite(log_q).all()


def test_a_one_dimensional_flow_density_integrates_to_one():
    flow = PlanarFlow(1, 6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        flow.u.mul_(4.0)  # a strongly non-Gaussian density
        eps = torch.linspace(-9, 9, 200001, dtype=torch.float64).unsqueeze(-1)
        z, log_q = flow(eps)
    assert torch.trapezoid(log_q.exp(), z.squeeze(-1)).item() == pytest.approx(1.0, abs=1e-6)


def test_samples_are_reproducible_and_shaped():
    flow = PlanarFlow(2, 3, generator=torch.Generator().manual_seed(0))
    z, log_q = flow.sample(7, torch.Generator().manual_seed(1))
    assert z.shape == (7, 2) and log_q.shape == (7,)
    assert torch.equal(z, flow.sample(7, torch.Generator().manual_seed(1))[0])
    assert flow.num_layers == 3


def test_gradients_reach_every_parameter_through_the_samples():
    flow = PlanarFlow(1, 2, generator=torch.Generator().manual_seed(0))
    z, log_q = flow.sample(10, torch.Generator().manual_seed(1))
    (z.pow(2).sum() + log_q.sum()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in flow.parameters())


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: PlanarFlow(0, 2), "dim must be an integer >= 1"),
        (lambda: PlanarFlow(2, 0), "num_layers must be an integer >= 1"),
        (lambda: PlanarFlow(2, 1)(torch.zeros(3, 1)), r"eps must have shape \(\.\.\., 2\)"),
        (lambda: PlanarFlow(1, 1)(torch.tensor([[math.nan]])), "eps must contain only finite"),
    ],
)
def test_flow_rejects_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()
