"""vaecourse.discrete against oracles that do not use it: closed-form gradients of Bernoulli
expectations, torch.distributions, quadrature over the logistic noise, and brute-force sums."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, kl_divergence

from vaecourse.discrete import (
    BinaryVAE,
    all_states,
    bernoulli_kl_to_uniform,
    concrete,
    exact_expectation,
    exact_gradient,
    fit_binary,
    gradient,
    score_function,
    straight_through,
)

D = torch.float64
LOGITS = torch.tensor([0.8, -1.2, 0.3], dtype=D)
P = torch.sigmoid(LOGITS)
W = torch.tensor([2.0, -1.0, 3.0], dtype=D)


def cubic(z):
    """A function of three binary latents that no baseline or linear trick gets exactly."""
    return 3 * z[..., 0] * z[..., 1] - 2 * z[..., 2] + 5 * z[..., 0] * z[..., 1] * z[..., 2] + 10


def cubic_gradient(p):
    """d/dl E[cubic] in closed form: E[cubic] = 3 p0 p1 - 2 p2 + 5 p0 p1 p2 + 10, dp/dl = p (1 - p)."""
    dp = p * (1 - p)
    return torch.stack(
        [
            (3 * p[1] + 5 * p[1] * p[2]) * dp[0],
            (3 * p[0] + 5 * p[0] * p[2]) * dp[1],
            (-2 + 5 * p[0] * p[1]) * dp[2],
        ]
    )


def repeated(estimator, f, repeats=20000, num_samples=1, seed=0, **options):
    """``repeats`` independent estimates (rows) from the batch dimension."""
    logits = LOGITS.expand(repeats, 3)
    return gradient(estimator, f, logits, num_samples, generator=torch.Generator().manual_seed(seed), **options)


def within(estimates, exact, z=5.0):
    se = estimates.std(0) / math.sqrt(len(estimates))
    return bool(((estimates.mean(0) - exact).abs() < z * se).all())


# -- the oracle ---------------------------------------------------------------------------------
def test_the_exact_gradient_matches_closed_forms():
    assert exact_gradient(lambda z: z @ W, LOGITS).allclose(W * P * (1 - P))
    assert exact_gradient(cubic, LOGITS).allclose(cubic_gradient(P))
    assert exact_expectation(cubic, LOGITS).item() == pytest.approx(
        (3 * P[0] * P[1] - 2 * P[2] + 5 * P.prod() + 10).item()
    )


def test_the_exact_gradient_keeps_each_example_apart():
    logits = torch.stack([LOGITS, -LOGITS])
    grad = exact_gradient(cubic, logits)
    assert grad[0].allclose(cubic_gradient(P)) and grad[1].allclose(cubic_gradient(torch.sigmoid(-LOGITS)))


def test_all_states_counts_in_binary():
    states = all_states(3)
    assert states.shape == (8, 3) and states[5].tolist() == [1.0, 0.0, 1.0]
    assert len(set(map(tuple, all_states(10).tolist()))) == 1024


def test_the_kl_matches_torch_distributions():
    logits = torch.randn(4, 6, dtype=D, generator=torch.Generator().manual_seed(1)) * 3
    expected = kl_divergence(Bernoulli(logits=logits), Bernoulli(probs=torch.full_like(logits, 0.5))).sum(-1)
    assert bernoulli_kl_to_uniform(logits).allclose(expected)
    assert bernoulli_kl_to_uniform(torch.zeros(1, 5, dtype=D)).abs().max() < 1e-12


# -- the unbiased estimators -----------------------------------------------------------------
@pytest.mark.parametrize(
    "num_samples, baseline",
    [(1, None), (1, 9.0), (4, "mean"), (1, torch.full((20000,), 11.0, dtype=D))],
    ids=["none", "constant", "leave-one-out", "per-example tensor"],
)
def test_the_score_function_is_unbiased(num_samples, baseline):
    estimates = repeated(score_function, cubic, num_samples=num_samples, baseline=baseline)
    assert within(estimates, cubic_gradient(P))


def test_a_good_baseline_reduces_the_variance():
    plain = repeated(score_function, cubic, num_samples=4).var(0).sum()
    loo = repeated(score_function, cubic, num_samples=4, baseline="mean").var(0).sum()
    assert loo < 0.2 * plain  # f is about 10 + O(5): removing the 10 removes most of the spread


def test_the_unbiasedness_test_has_the_power_to_see_a_halved_estimate():
    estimates = repeated(score_function, cubic, num_samples=1, baseline=None)
    assert not within(estimates * 0.5, cubic_gradient(P))


# -- the biased ones, against their own oracles ----------------------------------------------
def test_straight_through_is_exact_for_a_linear_f_and_biased_for_z_squared():
    linear = repeated(straight_through, lambda z: z @ W, repeats=50)
    assert linear.allclose((W * P * (1 - P)).expand(50, 3))
    # on {0, 1}, z^2 = z, so the exact gradient is p (1 - p); straight-through uses d(z^2)/dz = 2z
    square = repeated(straight_through, lambda z: z[..., 0] ** 2, repeats=40000)
    assert within(square[:, :1], 2 * P[0] * P[0] * (1 - P[0]))
    assert not within(square[:, :1], P[0] * (1 - P[0]))


def _concrete_mean_slope(logit, temperature, n=200001):
    """E_u[d/dl sigmoid((l + logit(u)) / t)] by the trapezoid rule on u in (0, 1)."""
    u = torch.linspace(0, 1, n, dtype=D)[1:-1]
    s = torch.sigmoid((logit + torch.logit(u)) / temperature)
    return torch.trapezoid(s * (1 - s) / temperature, u).item()


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.0])
def test_the_concrete_estimator_has_the_bias_quadrature_predicts(temperature):
    estimates = repeated(concrete, lambda z: z @ W, repeats=40000, temperature=temperature)
    expected = torch.tensor([w * _concrete_mean_slope(l.item(), temperature) for w, l in zip(W, LOGITS)], dtype=D)
    assert within(estimates, expected)
    if temperature >= 1.0:
        assert not within(estimates, W * P * (1 - P))  # biased at these temperatures


def test_the_concrete_bias_shrinks_with_the_temperature_for_a_linear_f():
    exact = W * P * (1 - P)
    bias = [
        (repeated(concrete, lambda z: z @ W, repeats=40000, temperature=t).mean(0) - exact).norm().item()
        for t in (2.0, 0.5, 0.1)
    ]
    assert bias[0] > bias[1] > bias[2]


# -- the model -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_and_x():
    torch.manual_seed(0)
    model = BinaryVAE(num_pixels=12, num_latents=4, hidden=8).double()
    x = torch.bernoulli(torch.full((5, 12), 0.4, dtype=D), generator=torch.Generator().manual_seed(2))
    return model, x


def test_the_exact_elbo_and_log_likelihood_match_a_brute_force_sum(model_and_x):
    model, x = model_and_x
    logits_q = model.encoder(x)
    with torch.no_grad():
        log_joint, log_q = [], []
        for z in all_states(4, D):
            log_px = Bernoulli(logits=model.decoder(z)).log_prob(x).sum(-1)
            log_joint.append(log_px + 4 * math.log(0.5))
            log_q.append(Bernoulli(logits=logits_q).log_prob(z.expand(5, 4)).sum(-1))
        log_joint, log_q = torch.stack(log_joint), torch.stack(log_q)
        elbo = (log_q.exp() * (log_joint - log_q)).sum(0)
        log_px = torch.logsumexp(log_joint, 0)
        assert model.exact_elbo(x).allclose(elbo)
        assert model.exact_log_likelihood(x).allclose(log_px)
        assert bool((model.exact_elbo(x) < model.exact_log_likelihood(x)).all())


def test_the_score_function_loss_averages_to_the_exact_gradient(model_and_x):
    model, x = model_and_x
    params = list(model.parameters())
    exact = torch.autograd.grad(model.loss(x, "exact"), params)
    g = torch.Generator().manual_seed(3)
    estimates = [
        torch.autograd.grad(model.loss(x, "score_function", 50, baseline="mean", generator=g), params)
        for _ in range(200)
    ]
    for i, reference in enumerate(exact):
        stack = torch.stack([e[i] for e in estimates])
        se = stack.std(0) / math.sqrt(len(stack))
        assert bool(((stack.mean(0) - reference).abs() <= 5 * se + 1e-10).all()), i


@pytest.mark.parametrize(
    "estimator, options",
    [
        ("exact", {}),
        ("score_function", {"baseline": "nvil"}),
        ("score_function", {"baseline": "mean", "num_samples": 2}),
        ("concrete", {"temperature": 0.5}),
        ("straight_through", {}),
    ],
)
def test_training_raises_the_exact_elbo(estimator, options):
    torch.manual_seed(0)
    images = torch.rand(300, 12, dtype=D, generator=torch.Generator().manual_seed(0)) * 0.2
    images[:150, :6] += 0.75
    images[150:, 6:] += 0.75
    model = BinaryVAE(num_pixels=12, num_latents=3, hidden=16).double()
    before = model.exact_elbo(images.round()).mean().item()
    passes = fit_binary(
        model,
        images,
        estimator,
        epochs=20,
        batch_size=30,
        lr=3e-2,
        generator=torch.Generator().manual_seed(1),
        **options,
    )
    assert model.exact_elbo(images.round()).mean().item() > before + 4.0  # from -8.4 nats
    assert passes == (200 * 8 if estimator == "exact" else 6000 * options.get("num_samples", 1))


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: score_function(cubic, LOGITS, 0), "num_samples"),
        (lambda: score_function(cubic, LOGITS, 1, baseline="mean"), "num_samples >= 2"),
        (lambda: score_function(cubic, LOGITS, 2, baseline="median"), "baseline"),
        (lambda: score_function(cubic, LOGITS.expand(2, 3), 2, baseline=torch.zeros(3, dtype=D)), "baseline must be"),
        (lambda: concrete(cubic, LOGITS, 2, temperature=0.0), "temperature"),
        (lambda: straight_through(cubic, torch.tensor([1, 2]), 2), "logits"),
        (lambda: straight_through(lambda z: z, LOGITS, 2), "f must map"),
        (lambda: score_function("f", LOGITS, 2), "f must be callable"),
        (lambda: gradient("reinforce", cubic, LOGITS, 2), "estimator"),
        (lambda: exact_gradient(cubic, torch.tensor([float("nan"), 0.0, 0.0], dtype=D)), "finite"),
        (lambda: all_states(21), "at most 20"),
        (lambda: BinaryVAE(num_pixels=4, num_latents=2).exact_elbo(torch.ones(3, 5)), "x must be"),
        (lambda: BinaryVAE(num_pixels=4, num_latents=2).loss(torch.ones(3, 4), "gumbel"), "estimator"),
    ],
)
def test_bad_input_is_a_clear_value_error(call, words):
    with pytest.raises(ValueError, match=words):
        call()
