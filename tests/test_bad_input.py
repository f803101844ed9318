"""Bad input across the package: each case is a ValueError naming the argument, or a correct
answer. Empty batches, mismatched dtypes, meta tensors, non-finite baselines, pixels outside
[0, 1], sigmas whose log-density leaves the dtype's range, half precision, and sample counts
that could not finish; and validation that reads a broadcast view without copying it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import vaecourse as vc
from vaecourse import VAE, TinyDecoder


def _vae() -> VAE:
    torch.manual_seed(0)
    return VAE((4,), 2, (8,))


META = torch.zeros(2, 4, device="meta")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: _vae().elbo(torch.rand(0, 4)), r"x must have shape \(B, 4\) with B >= 1"),
        (lambda: _vae().elbo(META), "x is on the meta device"),
        (lambda: _vae().decode(torch.zeros(2, 2, device="meta")), "z is on the meta device"),
        (lambda: vc.bernoulli_log_likelihood(META, META), "logits is on the meta device"),
        (lambda: vc.gaussian_kl(torch.zeros(3, device="meta"), torch.zeros(3, device="meta")), "mu is on the meta"),
        (lambda: _vae().elbo(torch.full((2, 4), 1.5)), r"x must lie in \[0, 1\]"),
        (lambda: vc.bernoulli_log_likelihood(torch.zeros(2, 3), torch.full((2, 3), -0.1)), r"x must lie in \[0, 1\]"),
        (lambda: TinyDecoder(2, 8, 3).log_likelihood(torch.full((3,), 1.5), torch.zeros(2)), r"x must lie in \[0, 1\]"),
        (lambda: TinyDecoder(2, 8, 3).log_likelihood(torch.zeros(4), torch.zeros(2)), "x and z must end in 3 pixels"),
        (lambda: vc.gaussian_log_likelihood(torch.zeros(1, 3), torch.ones(1, 3), sigma=1e-300), "sigma must be >="),
        (
            lambda: vc.gaussian_log_likelihood(torch.zeros(1, 3), torch.full((1, 3), 1e3), sigma=1e-18),
            "log-density underflows",
        ),
        (
            lambda: vc.score_function_gradient(lambda z: z.sum(-1), torch.zeros(2), torch.zeros(2), 4, baseline=1e400),
            "baseline must be a finite number",
        ),
        (
            lambda: vc.score_function_gradient(
                lambda z: z.sum(-1), torch.zeros(2), torch.zeros(2), 4, baseline=torch.tensor(float("nan"))
            ),
            "baseline must contain only finite values",
        ),
        (
            lambda: vc.discrete.score_function(lambda z: z.sum(-1), torch.zeros(3), 4, baseline=float("nan")),
            "baseline must be a finite number",
        ),
        (lambda: vc.monte_carlo_kl(torch.zeros(1000), torch.zeros(1000), 10**9), r"num_samples=1,000,000,000 would"),
        (lambda: _vae().elbo(torch.rand(3, 4), num_samples=10**10), "use num_samples <= "),
        (lambda: _vae().log_likelihood(torch.rand(3, 4), num_samples=10**10), "decoder passes"),
        (
            lambda: vc.reparameterization_gradient(lambda z: z.sum(-1), torch.zeros(10**4), torch.zeros(10**4), 10**5),
            "num_samples=100,000 would draw",
        ),
        (lambda: vc.gaussian_kl(torch.zeros(3, dtype=torch.float16), torch.zeros(3, dtype=torch.float16)), "float16"),
        (
            lambda: vc.reparameterize(torch.zeros(3, dtype=torch.bfloat16), torch.zeros(3, dtype=torch.bfloat16)),
            "bfloat",
        ),
        (
            lambda: vc.bernoulli_log_likelihood(torch.zeros(1, 3, dtype=torch.float16), torch.zeros(1, 3)),
            r"logits is torch.float16.*logits\.float\(\)",
        ),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_z_or_an_x_of_another_dtype_is_taken_in_the_models_dtype():
    model = _vae()
    z = torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(model.decode(z), model.decode(z.float()), rtol=0, atol=0)
    x = torch.rand(5, 4, dtype=torch.float64)
    mu64, _ = model.encode(x)
    mu32, _ = model.encode(x.float())
    torch.testing.assert_close(mu64, mu32, rtol=0, atol=0)
    decoder = TinyDecoder(2, 8, 3)  # float64 weights: float32 inputs are promoted exactly
    x32, z32 = torch.rand(4, 3), torch.randn(4, 2)
    torch.testing.assert_close(
        decoder.log_likelihood(x32, z32), decoder.log_likelihood(x32.double(), z32.double()), rtol=0, atol=0
    )


def test_a_gaussian_log_likelihood_at_a_tiny_but_representable_sigma_is_exact():
    # sigma = 1e-150 in float64: 1 / sigma^2 = 1e300 is finite, and x = mean gives the constant alone
    got = vc.gaussian_log_likelihood(
        torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64), 1e-150
    )
    want = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1e-150).log_prob(torch.tensor(0.0)) * 2
    torch.testing.assert_close(got, want.reshape(1), rtol=1e-14, atol=0)


def test_checking_a_broadcast_view_does_not_allocate_its_full_size():
    # x is one row of 1,000 pixels expanded to 100,000 rows (400 MB if copied); the check reads 4 kB.
    code = (
        "import resource, torch, vaecourse as vc\n"
        "x = torch.rand(1, 1000).expand(100_000, 1000)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "from vaecourse._validation import float_tensor, in_unit_interval\n"
        "float_tensor('x', x); in_unit_interval('x', x)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    grown_kb = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert grown_kb < 50_000, f"validation grew the process by {grown_kb} kB"
