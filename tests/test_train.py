"""Tests for vaecourse.train: fit, History and training_loss."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits

import vaecourse
from vaecourse import VAE, History, fit
from vaecourse.train import _device, default_optimizer, training_loss

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return torch.tensor(load_digits().images / 16.0, dtype=torch.float32)


def _model(latent_dim: int = 2, hidden=(32,), shape=(8, 8), likelihood="bernoulli", seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(shape, latent_dim, hidden, likelihood=likelihood)


def _params(model: VAE) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# ---------------------------------------------------------------- training works


def test_fit_raises_the_elbo_and_records_every_term(digits):
    model = _model()
    history = fit(model, digits[:1500], digits[1500:], epochs=4, batch_size=64, lr=3e-3, device="cpu", progress=False)
    assert history.epoch == [1, 2, 3, 4]
    assert history.step == [24, 48, 72, 96]  # ceil(1500 / 64) steps per epoch
    assert len(history.step_elbo) == 96
    assert history.train_elbo[-1] > history.train_elbo[0] + 3
    assert history.val_elbo[-1] > history.val_elbo[0]
    for split in ("train", "val"):
        for elbo, recon, kl in zip(*(getattr(history, f"{split}_{k}") for k in ("elbo", "recon", "kl"))):
            assert elbo == pytest.approx(recon - kl, abs=1e-3)
            assert kl >= 0


def test_validation_numbers_are_none_without_a_validation_set(digits):
    history = fit(_model(), digits[:200], epochs=2, device="cpu", progress=False)
    assert history.val_elbo == [None, None] and history.val_kl == [None, None]


def test_gaussian_decoder_trains_too(digits):
    model = _model(likelihood="gaussian")
    history = fit(model, digits[:512], epochs=3, batch_size=64, lr=3e-3, device="cpu", progress=False)
    assert history.train_elbo[-1] > history.train_elbo[0]


def test_two_runs_with_the_same_seed_give_identical_histories(digits):
    runs = []
    for _ in range(2):
        model = _model()
        history = fit(
            model,
            digits[:600],
            digits[600:800],
            epochs=2,
            batch_size=50,
            binarize="dynamic",
            seed=7,
            device="cpu",
            progress=False,
        )
        runs.append((history, _params(model)))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    other = fit(
        _model(), digits[:600], epochs=2, batch_size=50, binarize="dynamic", seed=8, device="cpu", progress=False
    )
    assert other.train_elbo != runs[0][0].train_elbo


def test_resumed_training_continues_the_same_history(digits):
    straight_model = _model()
    straight = fit(
        straight_model,
        digits[:400],
        digits[400:500],
        epochs=3,
        batch_size=64,
        lr=1e-3,
        seed=3,
        device="cpu",
        progress=False,
    )

    model = _model()
    optimizer = default_optimizer(model, lr=1e-3)  # what fit makes, kept across the two calls
    first = fit(
        model,
        digits[:400],
        digits[400:500],
        epochs=2,
        batch_size=64,
        seed=3,
        device="cpu",
        progress=False,
        optimizer=optimizer,
    )
    resumed = fit(
        model,
        digits[:400],
        digits[400:500],
        epochs=1,
        batch_size=64,
        seed=3,
        device="cpu",
        progress=False,
        history=first,
        optimizer=optimizer,
    )
    assert len(first) == 2  # the given history is not changed
    assert resumed.epoch == [1, 2, 3] and resumed.step == straight.step
    assert resumed == straight  # same seed streams per epoch, same Adam moments: bit for bit
    assert all(torch.equal(a, b) for a, b in zip(_params(model), _params(straight_model)))


def test_history_round_trips_through_plain_data():
    history = History(
        epoch=[1],
        step=[3],
        beta=[1.0],
        train_elbo=[-1.5],
        train_recon=[-1.0],
        train_kl=[0.5],
        val_elbo=[None],
        val_recon=[None],
        val_kl=[None],
        step_elbo=[-2.0, -1.5, -1.0],
    )
    data = history.to_dict()
    assert all(isinstance(v, list) for v in data.values())
    assert History.from_dict(data) == history
    with pytest.raises(ValueError, match="keys"):
        History.from_dict({**data, "loss": [1.0]})


def test_the_default_optimizer_is_fused_adam_where_torch_has_the_kernel(monkeypatch):
    optimizer = default_optimizer(_model(), lr=1e-3)
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["fused"] and optimizer.defaults["lr"] == 1e-3

    real_adam = torch.optim.Adam

    def no_fused_kernel(params, lr, fused=None):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        return real_adam(params, lr=lr)

    monkeypatch.setattr(torch.optim, "Adam", no_fused_kernel)
    fallback = default_optimizer(_model(), lr=1e-3)
    assert not fallback.defaults["fused"] and len(fallback.param_groups[0]["params"]) == 8


def test_fused_and_default_adam_train_alike(digits):
    runs = []
    for fused in (True, False):
        model = _model()
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, fused=fused)
        runs.append(fit(model, digits[:640], epochs=2, device="cpu", progress=False, optimizer=optimizer).train_elbo)
    assert runs[0] == pytest.approx(runs[1], abs=1e-3)


# ---------------------------------------------------------------- beta, warm-up, free bits


def test_a_larger_beta_buys_a_smaller_kl(digits):
    kls = {}
    for beta in (0.2, 1.0, 5.0):
        history = fit(
            _model(latent_dim=4),
            digits[:800],
            epochs=3,
            batch_size=64,
            lr=3e-3,
            beta=beta,
            device="cpu",
            progress=False,
        )
        kls[beta] = history.train_kl[-1]
        assert history.beta == [beta] * 3
    assert kls[0.2] > kls[1.0] > kls[5.0]


@pytest.mark.parametrize("kwargs", [{"warmup_epochs": 2}, {"warmup_steps": 26}])
def test_warm_up_anneals_beta_linearly_from_zero(digits, kwargs):
    history = fit(_model(), digits[:832], epochs=3, batch_size=64, beta=0.5, device="cpu", progress=False, **kwargs)
    assert history.beta == pytest.approx([0.25, 0.5, 0.5])  # 13 steps per epoch


def test_warm_up_continues_across_a_resumed_run(digits):
    first = fit(_model(), digits[:640], epochs=1, batch_size=64, warmup_epochs=4, device="cpu", progress=False)
    resumed = fit(
        _model(), digits[:640], epochs=1, batch_size=64, warmup_epochs=4, device="cpu", progress=False, history=first
    )
    assert resumed.beta == pytest.approx([0.25, 0.5])


def test_free_bits_floor_each_dimension_of_the_kl_in_the_loss():
    model = _model(latent_dim=3).double()
    x = torch.bernoulli(torch.full((16, 64), 0.3, dtype=torch.float64))
    loss, terms = training_loss(model, x, free_bits=50.0, generator=torch.Generator().manual_seed(0))
    # every per-dimension KL is far below 50 nats, so the KL term is the floor, 3 * 50
    assert loss.item() == pytest.approx(-terms.recon.mean().item() + 150.0)
    loss_plain, terms_plain = training_loss(model, x, generator=torch.Generator().manual_seed(0))
    assert loss_plain.item() == pytest.approx(-terms_plain.elbo.mean().item())


# ---------------------------------------------------------------- the score-function estimator


def _grads(model: VAE, x: torch.Tensor, estimator: str, seed: int) -> dict[str, torch.Tensor]:
    model.zero_grad()
    loss, _ = training_loss(model, x, estimator=estimator, generator=torch.Generator().manual_seed(seed))
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def test_score_function_estimator_trains_the_decoder_exactly_as_reparameterization():
    model = _model(latent_dim=2).double()
    x = torch.bernoulli(torch.full((8, 64), 0.3, dtype=torch.float64))
    sf, rp = _grads(model, x, "score_function", 1), _grads(model, x, "reparameterization", 1)
    for name in sf:
        if name.startswith("decoder"):
            torch.testing.assert_close(sf[name], rp[name])


def _with_fixed_q(model: VAE, x: torch.Tensor) -> tuple[VAE, torch.Tensor, torch.Tensor]:
    """The model (same weights) with q(z|x) made leaves (mu, logvar) of the graph, through the
    documented hook a subclass overrides: encode_flat."""
    mu, logvar = (t.detach().requires_grad_(True) for t in model.encode_flat(x))

    class FixedQ(VAE):
        def encode_flat(self, x):
            return mu, logvar

    fixed = FixedQ(**model.config).to(model.device, next(model.parameters()).dtype)
    fixed.load_state_dict(model.state_dict())
    return fixed, mu, logvar


def test_score_function_encoder_gradient_is_the_package_estimator_with_a_leave_one_out_baseline():
    x = torch.bernoulli(torch.full((6, 64), 0.3, dtype=torch.float64))
    model, mu, logvar = _with_fixed_q(_model(latent_dim=2).double(), x)
    loss, terms = training_loss(model, x, estimator="score_function", generator=torch.Generator().manual_seed(5))
    loss.backward()
    batch = x.shape[0]
    # loss = -(1/B) sum surrogate + (1/B) sum KL; remove the KL's closed-form gradient
    grad_mu = -(batch * mu.grad - mu.detach())
    grad_logvar = -(batch * logvar.grad - 0.5 * torch.expm1(logvar.detach()))

    def f(z):  # log p(x|z) per example: (S, B, d) -> (S, B)
        return -torch.nn.functional.binary_cross_entropy_with_logits(
            model.decoder(z), x.expand(z.shape[0], *x.shape), reduction="none"
        ).sum(-1)

    recon = terms.recon
    baseline = (recon.sum() - recon) / (batch - 1)
    expected = vaecourse.score_function_gradient(
        f, mu.detach(), logvar.detach(), 1, baseline=baseline, generator=torch.Generator().manual_seed(5)
    )
    torch.testing.assert_close(grad_mu, expected[0])
    torch.testing.assert_close(grad_logvar, expected[1])


def test_score_function_encoder_gradient_is_unbiased():
    model = _model(latent_dim=2, hidden=(8,)).double()
    x = torch.bernoulli(torch.full((1, 64), 0.3, dtype=torch.float64)).expand(40000, 64)
    sf, rp = _grads(model, x, "score_function", 2), _grads(model, x, "reparameterization", 3)
    for name in sf:
        if name.startswith("encoder"):
            scale = rp[name].abs().max()
            assert (sf[name] - rp[name]).abs().max() < 0.1 * scale, name


def _grads_s(model: VAE, x: torch.Tensor, estimator: str, num_samples: int, seed: int) -> dict[str, torch.Tensor]:
    model.zero_grad()
    loss, _ = training_loss(
        model, x, estimator=estimator, num_samples=num_samples, generator=torch.Generator().manual_seed(seed)
    )
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def test_several_draws_average_the_reconstruction_term_as_torch_distributions_does():
    model = _model(latent_dim=2).double()
    x = torch.bernoulli(torch.full((5, 64), 0.3, dtype=torch.float64))
    _, terms = training_loss(model, x, num_samples=4, generator=torch.Generator().manual_seed(9))
    mu, logvar = model.encode_flat(x)
    eps = torch.randn((4, 5, 2), generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    z = mu + torch.exp(0.5 * logvar) * eps
    logp = torch.distributions.Bernoulli(logits=model.decoder(z)).log_prob(x).sum(-1)  # (4, 5)
    kl = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, torch.exp(0.5 * logvar)), torch.distributions.Normal(0.0, 1.0)
    ).sum(-1)
    torch.testing.assert_close(terms.recon, logp.mean(0).detach())
    torch.testing.assert_close(terms.elbo, (logp.mean(0) - kl).detach())


@pytest.mark.parametrize("estimator", ["score_function", "reparameterization"])
def test_several_draws_per_example_keep_every_estimator_unbiased(estimator):
    # One image repeated 20,000 times: the minibatch mean of the estimates is close to the
    # exact gradient, which the reparameterization estimate at 40,000 draws stands in for.
    model = _model(latent_dim=2, hidden=(8,)).double()
    x = torch.bernoulli(torch.full((1, 64), 0.3, dtype=torch.float64)).expand(20000, 64)
    got = _grads_s(model, x, estimator, 4, 2)
    reference = _grads_s(model, x.expand(2, 20000, 64).reshape(40000, 64), "reparameterization", 1, 3)
    for name in got:
        if name.startswith("encoder"):
            scale = reference[name].abs().max()
            assert (got[name] - reference[name]).abs().max() < 0.1 * scale, name


def test_a_per_example_baseline_does_not_depend_on_the_other_examples():
    # With several draws per example, the encoder gradient for example 0 must not change when
    # another example of the minibatch changes (the batch-mean baseline would make it change).
    model = _model(latent_dim=2).double()
    x = torch.bernoulli(torch.full((3, 64), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    grads = []
    for other in (0.0, 1.0):
        xb = x.clone()
        xb[1] = other
        fixed, mu, logvar = _with_fixed_q(model, xb)
        loss, _ = training_loss(
            fixed, xb, estimator="score_function", num_samples=3, generator=torch.Generator().manual_seed(4)
        )
        loss.backward()
        grads.append((mu.grad[0].clone(), logvar.grad[0].clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])


def test_fit_with_the_score_function_estimator_raises_the_elbo_more_slowly(digits):
    results = {}
    for estimator in ("reparameterization", "score_function"):
        results[estimator] = fit(
            _model(), digits[:1024], epochs=3, batch_size=64, lr=3e-3, estimator=estimator, device="cpu", progress=False
        ).train_elbo
        assert results[estimator][-1] > results[estimator][0]
    assert results["reparameterization"][-1] > results["score_function"][-1]


# ---------------------------------------------------------------- devices, progress, bad input


def test_auto_device_picks_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert _device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert _device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _device("auto") == torch.device("cuda")


def test_progress_false_prints_nothing(digits, capsys):
    fit(_model(), digits[:100], epochs=1, device="cpu", progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_goes_to_stderr(digits, capsys, monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    fit(_model(), digits[:100], epochs=1, device="cpu")
    captured = capsys.readouterr()
    assert captured.out == "" and "fit" in captured.err


@pytest.mark.parametrize("value, shown", [("1", False), ("True", False), ("0", True), ("", True)])
def test_tqdm_disable_in_the_environment_hides_the_bar(digits, capsys, monkeypatch, value, shown):
    monkeypatch.setenv("TQDM_DISABLE", value)
    fit(_model(), digits[:100], epochs=1, device="cpu")
    assert ("fit" in capsys.readouterr().err) == shown


def test_a_diverged_model_raises_a_clear_error(digits):
    model = _model()
    with torch.no_grad():
        model.decoder[-1].bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="diverged"):
        fit(model, digits[:100], epochs=1, device="cpu", progress=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"x_train": torch.zeros(0, 8, 8)}, "empty"),
        ({"x_train": torch.zeros(10, 28, 28)}, r"x_train must have shape \(B, 8, 8\)"),
        ({"x_train": torch.full((10, 8, 8), 16.0)}, r"\[0, 1\]"),
        ({"x_val": torch.zeros(10, 64)}, "x_val must have shape"),
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": 0}, "epochs"),
        ({"lr": 0.0}, "lr"),
        ({"beta": -1.0}, "beta"),
        ({"free_bits": -0.1}, "free_bits"),
        ({"estimator": "reinforce"}, "estimator must be one of"),
        ({"binarize": "static"}, "binarize must be one of"),
        ({"device": "gpu7"}, "device"),
        ({"seed": -1}, "seed"),
        ({"warmup_epochs": 1, "warmup_steps": 5}, "at most one"),
        ({"history": {"epoch": []}}, "history"),
        ({"model": torch.nn.Linear(2, 2)}, "vaecourse.VAE"),
    ],
)
def test_bad_input_raises_value_error(digits, kwargs, message):
    args = {"model": _model(), "x_train": digits[:50], "epochs": 1, "device": "cpu", "progress": False} | kwargs
    with pytest.raises(ValueError, match=message):
        fit(**args)
