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


def _version_1(payload: dict) -> dict:
    """The payload as vaecourse wrote it before checkpoints carried a digest (version 1)."""
    return {k: payload[k] for k in ("format", "config", "state_dict", "history", "optimizer")} | {"version": 1}


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
    model = _model()
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(tmp_path / "vae.pt", model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


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
    torch.save(_version_1(payload), path)
    into = VAE((4,), 2, (3,), likelihood="gaussian", sigma=0.5)
    loaded = load_checkpoint(path, into)
    assert loaded.model is into and not into.learn_sigma
    for a, b in zip(model.parameters(), into.parameters()):
        assert torch.equal(a, b)
    assert load_checkpoint(path).model.config == model.config


# ---------------------------------------------------------------------------------------
# A failed load changes nothing; a file's content is verified


def _trained(seed: int, optimizer_class=torch.optim.Adam) -> tuple[VAE, torch.optim.Optimizer]:
    """A model and an optimizer that both hold state (two epochs of training)."""
    model = _model(seed=seed)
    optimizer = optimizer_class(model.parameters(), lr=1e-3)
    fit(model, _data(64, seed=seed), epochs=2, batch_size=32, device="cpu", progress=False, optimizer=optimizer)
    return model, optimizer


def _bits(model: VAE, optimizer: torch.optim.Optimizer) -> list:
    """Every tensor of the model and the optimizer as raw bytes, and the optimizer's settings."""
    state = optimizer.state_dict()
    tensors = [*model.state_dict().items()] + [
        (f"{i}.{k}", v) for i, entry in state["state"].items() for k, v in entry.items()
    ]
    return [
        (name, t.dtype, tuple(t.shape), t.detach().reshape(-1).view(torch.uint8).tolist()) for name, t in tensors
    ] + [repr(state["param_groups"])]


def _edited(tmp_path, edit) -> str:
    """A version-1 file (no digest) of a trained model, after ``edit(payload)``."""
    model, optimizer = _trained(seed=1)
    path = save_checkpoint(tmp_path / "source.pt", model, optimizer=optimizer)
    payload = _version_1(torch.load(path, weights_only=True))
    edit(payload)
    torch.save(payload, tmp_path / "edited.pt")
    return tmp_path / "edited.pt"


def _saved(tmp_path, **kwargs) -> str:
    model, optimizer = _trained(seed=1, **kwargs)
    return save_checkpoint(tmp_path / "source.pt", model, optimizer=optimizer)


def _flip_a_weight_bit(path) -> None:
    """Flip one bit in the bytes of a weight, found in the file by its value."""
    weight = torch.load(path, weights_only=True)["state_dict"]["decoder.0.weight"]
    blob = bytearray(path.read_bytes())
    at = bytes(blob).find(weight.numpy().tobytes())
    assert at > 0
    blob[at + 5] ^= 0x08
    path.write_bytes(bytes(blob))


def _shrink(payload, name="decoder.0.weight") -> None:
    payload["state_dict"][name] = payload["state_dict"][name][:-1]


FAILED_LOADS = {
    "no optimizer state in the file": (
        lambda tmp: save_checkpoint(tmp / "source.pt", _trained(seed=1)[0]),
        lambda m, o: {},
        "holds no optimizer state",
    ),
    "one weight of the wrong shape": (lambda tmp: _edited(tmp, _shrink), lambda m, o: {}, "decoder.0.weight"),
    "the last weight of the wrong shape": (
        lambda tmp: _edited(tmp, lambda p: _shrink(p, [*p["state_dict"]][-1])),
        lambda m, o: {},
        "of shape",
    ),
    "a missing weight": (lambda tmp: _edited(tmp, lambda p: p["state_dict"].popitem()), lambda m, o: {}, "missing"),
    "an extra weight": (
        lambda tmp: _edited(tmp, lambda p: p["state_dict"].update(extra=torch.zeros(2))),
        lambda m, o: {},
        "unexpected",
    ),
    "weights of another dtype": (
        lambda tmp: save_checkpoint(tmp / "source.pt", _trained(seed=1)[0].double()),
        lambda m, o: {"optimizer": None},
        "float64",
    ),
    "another architecture": (
        lambda tmp: save_checkpoint(tmp / "source.pt", _model(hidden=(8,))),
        lambda m, o: {},
        "does not match",
    ),
    "the state of another optimizer class": (
        lambda tmp: _saved(tmp, optimizer_class=torch.optim.RMSprop),
        lambda m, o: {},
        "RMSprop optimizer",
    ),
    "the state of an optimizer over other parameters": (
        _saved,
        lambda m, o: {"optimizer": torch.optim.Adam(m.decoder.parameters())},
        "parameters of shapes",
    ),
    "a flipped bit in a weight": (
        lambda tmp: _flip_a_weight_bit(_saved(tmp)) or tmp / "source.pt",
        lambda m, o: {},
        "corrupted",
    ),
}


@pytest.mark.parametrize("case", FAILED_LOADS)
def test_a_load_that_fails_leaves_the_model_and_the_optimizer_exactly_as_they_were(tmp_path, case):
    make_file, arguments, message = FAILED_LOADS[case]
    path = make_file(tmp_path)
    model, optimizer = _trained(seed=0)
    kwargs = {"model": model, "optimizer": optimizer} | arguments(model, optimizer)
    before = _bits(model, optimizer)
    with pytest.raises(checkpoint_module.CheckpointError, match=message):
        load_checkpoint(path, **kwargs)
    assert _bits(model, optimizer) == before


def test_an_optimizer_that_fails_after_the_model_loaded_rolls_the_model_back(tmp_path, monkeypatch):
    path = _saved(tmp_path)
    model, optimizer = _trained(seed=0)
    before = _bits(model, optimizer)

    def load_dies(state_dict):
        raise RuntimeError("the optimizer could not load")

    monkeypatch.setattr(optimizer, "load_state_dict", load_dies)
    with pytest.raises(RuntimeError, match="could not load"):
        load_checkpoint(path, model, optimizer)
    monkeypatch.undo()
    assert _bits(model, optimizer) == before
    # the same call without the fault loads both: what the file holds is now in model and optimizer
    source_model, source_optimizer = _trained(seed=1)
    load_checkpoint(path, model, optimizer)
    assert _bits(model, optimizer) == _bits(source_model, source_optimizer)


def test_a_flipped_bit_that_torch_load_reads_silently_is_refused(tmp_path):
    path = _saved(tmp_path)
    original = torch.load(path, weights_only=True)["state_dict"]["decoder.0.weight"]
    _flip_a_weight_bit(path)
    flipped = torch.load(path, weights_only=True)["state_dict"]["decoder.0.weight"]  # no error from torch
    assert not torch.equal(flipped, original)
    with pytest.raises(checkpoint_module.CheckpointError, match="corrupted.*SHA-256"):
        load_checkpoint(path)


def test_any_changed_byte_is_refused_or_changes_nothing_that_is_loaded(tmp_path):
    path = _saved(tmp_path)
    blob = path.read_bytes()
    good = load_checkpoint(path, *_trained(seed=2))
    rng = torch.Generator().manual_seed(0)
    for at in torch.randint(len(blob), (150,), generator=rng).tolist():
        damaged = bytearray(blob)
        damaged[at] ^= 1 << (at % 8)
        path.write_bytes(bytes(damaged))
        model, optimizer = _trained(seed=2)
        try:
            loaded = load_checkpoint(path, model, optimizer)
        except checkpoint_module.CheckpointError:
            continue
        assert loaded.config == good.config and loaded.history == good.history, at  # the byte held nothing used
        assert _same_weights(loaded.model, good.model), at


def _foreign(tmp_path, kind):
    import pickle
    import zipfile

    path = tmp_path / "file.pt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("epoch,loss\n1,0.5\n")
    elif kind == "a random pickle":
        path.write_bytes(pickle.dumps({"format": "vaecourse.checkpoint", "values": {1, 2, 3}, "obj": History()}))
    elif kind == "a plain tensor":
        torch.save(torch.zeros(3), path)
    elif kind == "a zip that is not a checkpoint":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "hello")
    elif kind.startswith("truncated"):
        blob = _saved(tmp_path).read_bytes()
        path.write_bytes(blob[: {"truncated to half": len(blob) // 2, "truncated by one byte": len(blob) - 1}[kind]])
    elif kind == "a marker and nothing else":
        torch.save({"format": "vaecourse.checkpoint", "version": 2}, path)
    elif kind == "a marker and an empty state":
        torch.save(_version_1({"format": 0, "config": {}, "state_dict": {}, "history": None, "optimizer": None}), path)
        torch.save(torch.load(path, weights_only=True) | {"format": "vaecourse.checkpoint"}, path)
    elif kind == "a configuration that is no VAE's":
        torch.save(
            _version_1(
                {
                    "format": "vaecourse.checkpoint",
                    "config": {"layers": 3},
                    "state_dict": {"w": torch.zeros(1)},
                    "history": None,
                    "optimizer": None,
                }
            ),
            path,
        )
    elif kind == "a newer version":
        torch.save({"format": "vaecourse.checkpoint", "version": 3}, path)
    elif kind == "a folder":
        path.mkdir()
    elif kind == "missing":
        pass
    return path


@pytest.mark.parametrize(
    "kind",
    [
        "empty",
        "text",
        "a random pickle",
        "a plain tensor",
        "a zip that is not a checkpoint",
        "truncated to half",
        "truncated by one byte",
        "a marker and nothing else",
        "a marker and an empty state",
        "a configuration that is no VAE's",
        "a newer version",
        "a folder",
        "missing",
    ],
)
def test_a_file_that_is_not_a_usable_checkpoint_raises_checkpoint_error_naming_it(tmp_path, kind):
    path = _foreign(tmp_path, kind)
    with pytest.raises(checkpoint_module.CheckpointError) as info:
        load_checkpoint(path)
    assert type(info.value) is checkpoint_module.CheckpointError and isinstance(info.value, ValueError)
    assert str(path) in str(info.value)
    if kind == "empty":
        assert "is empty (0 bytes)" in str(info.value)


def test_a_configuration_that_would_need_absurd_memory_is_refused_before_allocating(tmp_path):
    # 10**9 hidden units: the encoder's first weight alone would be 36e9 floats (144 GB).
    h = 10**9
    weights = (36 * h + h) + (h * 6 + 6) + (3 * h + h) + (h * 36 + 36)  # encoder 36-h-6, decoder 3-h-36
    path = _edited(tmp_path, lambda p: p["config"].update(hidden_dims=[h]))
    with pytest.raises(checkpoint_module.CheckpointError, match=f"implies {weights:,} weights"):
        load_checkpoint(path)


def test_a_version_1_file_loads_without_a_digest(tmp_path):
    model, optimizer = _trained(seed=1)
    path = _edited(tmp_path, lambda p: None)
    into, into_optimizer = _trained(seed=0)
    load_checkpoint(path, into, into_optimizer)
    assert _bits(into, into_optimizer) == _bits(model, optimizer)


def test_bad_arguments_to_load_and_save_name_the_argument(tmp_path):
    path = save_checkpoint(tmp_path / "vae.pt", _model())
    model, other = _model(), _model()
    with pytest.raises(ValueError, match="map_location .* not 'meta'"):
        load_checkpoint(path, map_location="meta")
    with pytest.raises(ValueError, match="map_location must be a device"):
        load_checkpoint(path, map_location="nowhere")
    with pytest.raises(ValueError, match="optimizer needs model"):
        load_checkpoint(path, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="optimizer must update the parameters of model"):
        load_checkpoint(path, model, optimizer=torch.optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="optimizer must be a torch.optim.Optimizer"):
        save_checkpoint(path, model, optimizer={"lr": 0.1})
    with torch.device("meta"):
        ghost = _model()
    with pytest.raises(ValueError, match="meta device"):
        save_checkpoint(tmp_path / "ghost.pt", ghost)
    assert _same_weights(load_checkpoint(path).model, load_checkpoint(path).model)
