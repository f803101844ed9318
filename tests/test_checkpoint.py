"""Tests for vaecourse.checkpoint: round trips, atomic writes, architecture mismatches, resuming."""

from __future__ import annotations

import pytest
import torch

import vaecourse.checkpoint as checkpoint_module
from vaecourse import VAE, fit, load_checkpoint, save_checkpoint
from vaecourse.train import History, default_optimizer

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n: int = 300, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, 6, 6), 0.3), generator=g)


def _model(hidden=(16,), seed: int = 0, **kwargs) -> VAE:
    torch.manual_seed(seed)
    return VAE((6, 6), 3, hidden, **kwargs)


def _same_weights(a: VAE, b: VAE) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_saved_model_loads_back_with_its_configuration_weights_and_history(tmp_path):
    model = _model(likelihood="gaussian", sigma=0.2)
    history = fit(model, _data(), epochs=2, device="cpu", progress=False)
    path = save_checkpoint(tmp_path / "vae.pt", model, history)
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    assert _same_weights(loaded.model, model)
    assert loaded.history == history
    x = _data(5, seed=1)
    torch.testing.assert_close(
        loaded.model.elbo(x, generator=torch.Generator().manual_seed(0)).elbo,
        model.elbo(x, generator=torch.Generator().manual_seed(0)).elbo,
    )


def test_the_file_is_plain_data_that_weights_only_loading_reads(tmp_path):
    model = _model()
    optimizer = torch.optim.Adam(model.parameters())
    history = fit(model, _data(), epochs=1, device="cpu", progress=False, optimizer=optimizer)
    save_checkpoint(tmp_path / "vae.pt", model, history, optimizer)
    payload = torch.load(tmp_path / "vae.pt", weights_only=True)
    assert payload["format"] == "vaecourse.checkpoint"
    assert payload["config"] == {
        "input_shape": [6, 6],
        "latent_dim": 3,
        "hidden_dims": [16],
        "likelihood": "bernoulli",
        "sigma": 0.1,
        "learn_sigma": False,
    }
    assert payload["history"]["epoch"] == [1]


def test_loading_into_a_matching_model_replaces_its_weights(tmp_path):
    saved = _model(seed=0)
    save_checkpoint(tmp_path / "vae.pt", saved)
    target = _model(seed=1)
    assert not _same_weights(saved, target)
    result = load_checkpoint(tmp_path / "vae.pt", model=target)
    assert result.model is target and _same_weights(saved, target)
    assert result.history == History()


def test_a_double_precision_model_comes_back_in_double(tmp_path):
    save_checkpoint(tmp_path / "vae.pt", _model().double())
    assert next(load_checkpoint(tmp_path / "vae.pt").model.parameters()).dtype == torch.float64


@pytest.mark.parametrize(
    "other, named",
    [({"hidden": (32,)}, "hidden_dims"), ({"likelihood": "gaussian"}, "likelihood")],
)
def test_a_different_architecture_gives_a_clear_error(tmp_path, other, named):
    save_checkpoint(tmp_path / "vae.pt", _model())
    with pytest.raises(ValueError, match=f"does not match.*{named}: file"):
        load_checkpoint(tmp_path / "vae.pt", model=_model(**other))


def test_an_interrupted_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "vae.pt"
    old = _model(seed=0)
    save_checkpoint(path, old)
    before = path.read_bytes()

    def torch_save_dies_halfway(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module.torch, "save", torch_save_dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, _model(seed=1))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vae.pt"]  # no temporary file left behind
    monkeypatch.undo()
    assert _same_weights(load_checkpoint(path).model, old)


def test_resuming_from_a_checkpoint_continues_the_same_history(tmp_path):
    x, x_val = _data(256), _data(64, seed=2)
    straight_model = _model()
    straight = fit(straight_model, x, x_val, epochs=3, batch_size=32, lr=1e-3, device="cpu", progress=False)

    model = _model()
    optimizer = default_optimizer(model, lr=1e-3)
    first = fit(model, x, x_val, epochs=2, batch_size=32, device="cpu", progress=False, optimizer=optimizer)
    save_checkpoint(tmp_path / "vae.pt", model, first, optimizer)

    fresh = VAE((6, 6), 3, (16,))
    fresh_optimizer = default_optimizer(fresh, lr=1e-3)
    ckpt = load_checkpoint(tmp_path / "vae.pt", model=fresh, optimizer=fresh_optimizer)
    resumed = fit(
        fresh,
        x,
        x_val,
        epochs=1,
        batch_size=32,
        device="cpu",
        progress=False,
        history=ckpt.history,
        optimizer=fresh_optimizer,
    )
    assert resumed.epoch == [1, 2, 3]
    assert resumed == straight
    assert _same_weights(fresh, straight_model)


def test_files_that_are_not_checkpoints_give_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable vaecourse checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a vaecourse checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    save_checkpoint(tmp_path / "vae.pt", _model())
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(tmp_path / "vae.pt", optimizer=torch.optim.SGD(_model().parameters(), lr=0.1))


def test_bad_arguments_to_save_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="vaecourse.VAE"):
        save_checkpoint(tmp_path / "vae.pt", torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="folder"):
        save_checkpoint(tmp_path / "no" / "such" / "vae.pt", _model())
    with pytest.raises(ValueError, match="History"):
        save_checkpoint(tmp_path / "vae.pt", _model(), history={"epoch": [1]})


def test_a_file_written_before_learned_sigma_existed_loads_into_a_fixed_sigma_model(tmp_path):
    # Such a file's configuration has no "learn_sigma" key; its sigma was fixed.
    model = VAE((4,), 2, (3,), likelihood="gaussian", sigma=0.5)
    path = save_checkpoint(tmp_path / "old.pt", model)
    payload = torch.load(path, weights_only=True)
    del payload["config"]["learn_sigma"]
    torch.save(payload, path)
    into = VAE((4,), 2, (3,), likelihood="gaussian", sigma=0.5)
    loaded = load_checkpoint(path, into)
    assert loaded.model is into and not into.learn_sigma
    for a, b in zip(model.parameters(), into.parameters()):
        assert torch.equal(a, b)
    assert load_checkpoint(path).model.config == model.config
