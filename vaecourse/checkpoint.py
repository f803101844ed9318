"""Saving and loading a trained VAE with its configuration and training history.

Taught in notebook 06_full_vae. A checkpoint is one ``torch.save`` file holding plain Python
values and tensors only (so ``torch.load(weights_only=True)`` reads it without running any
code from the file):

    {"format": "vaecourse.checkpoint", "version": 2, "config": model.config,
     "state_dict": model.state_dict(), "history": History.to_dict() or None,
     "optimizer": optimizer.state_dict() or None, "optimizer_class": "Adam" or None,
     "optimizer_shapes": [[shape of each parameter] for each parameter group] or None,
     "digest": SHA-256 of all of the above (each tensor's dtype, shape and bytes)}

Writes are atomic: the file goes to a temporary name in the same folder and is moved over
the target with ``os.replace``, so an interrupted save leaves any earlier checkpoint intact.

Loading checks everything before it changes anything: the digest (a flipped bit anywhere is
refused), the configuration, every tensor's name, shape and dtype against the model, and the
optimizer's class and parameter shapes. A file that cannot be used (missing, empty, truncated,
foreign, corrupted, or not matching the model) raises ``CheckpointError``, a ValueError, and
leaves the model and optimizer passed in exactly as they were. Files of version 1 (written
before the digest existed) still load, without the content check.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import torch

from .model import VAE
from .train import History, _restore, _snapshot

__all__ = ["save_checkpoint", "load_checkpoint", "Checkpoint", "CheckpointError"]

FORMAT, VERSION = "vaecourse.checkpoint", 2


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded: missing, unreadable, corrupted, not a vaecourse
    checkpoint, or not matching the model or optimizer it is loaded into. The message says which.
    Taught in notebook 06_full_vae."""


class Checkpoint(NamedTuple):
    """What ``load_checkpoint`` returns: the model (weights loaded), its history (an empty
    History if none was saved) and the configuration read from the file.
    Taught in notebook 06_full_vae."""

    model: VAE
    history: History
    config: dict


def save_checkpoint(
    path: str | os.PathLike,
    model: VAE,
    history: History | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write ``model`` (weights and configuration), ``history`` and optionally the optimizer's
    state to ``path``, atomically. Returns the path. Taught in notebook 06_full_vae."""
    _check_arguments(model, optimizer, allow_no_model=False)
    if history is not None and not isinstance(history, History):
        raise ValueError(f"history must be a vaecourse.History or None, got {type(history).__name__}")
    if any(p.is_meta for p in model.state_dict().values()):
        raise ValueError("model's weights are on the meta device (they hold no values): there is nothing to save")
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"the folder of path does not exist: {path.parent}")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": history.to_dict() if history is not None else None,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
        "optimizer_shapes": _parameter_shapes(optimizer) if optimizer is not None else None,
    }
    payload["digest"] = _digest(payload)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: VAE | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint`` (with ``torch.load(weights_only=True)``).

    Without ``model`` a VAE is built from the stored configuration (after checking that the
    configuration describes exactly the stored tensors); with one, its configuration, tensor
    shapes and dtypes must match the file's, and its weights are replaced. With ``optimizer``
    (which needs ``model``: the optimizer over its parameters), its state is restored too, for
    resuming: ``fit(model, x, history=ckpt.history, optimizer=optimizer)``.
    Raises CheckpointError (a ValueError) saying what is wrong with the file, and then has
    changed neither model nor optimizer. Taught in notebook 06_full_vae.
    """
    _check_arguments(model, optimizer, allow_no_model=True)
    try:
        device = torch.device(map_location)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"map_location must be a device such as 'cpu', got {map_location!r}") from exc
    if device.type == "meta":
        raise ValueError("map_location must be a device that holds values, not 'meta'")
    path = Path(path)
    payload = _read(path, device)
    config = dict(payload["config"])
    config.setdefault("learn_sigma", False)  # files from before learned sigma: it was fixed
    state_dict = payload["state_dict"]
    try:
        history = History.from_dict(payload["history"]) if payload.get("history") is not None else History()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the stored history is malformed ({exc})") from exc
    if model is None:
        expected = _meta_state_dict(path, config)
        dtypes = {t.dtype for t in state_dict.values()}
        if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
            raise CheckpointError(
                f"{path}: the weights must share one floating-point dtype, got {sorted(map(str, dtypes))}"
            )
    elif model.config != config:
        differences = ", ".join(
            f"{key}: file {config.get(key)!r}, model {value!r}"
            for key, value in model.config.items()
            if config.get(key) != value
        )
        raise CheckpointError(
            f"the checkpoint's architecture ({_describe(config)}) does not match the model's "
            f"({_describe(model.config)}): {differences}. Build the model with VAE(**checkpoint config) "
            "or call load_checkpoint(path) without a model."
        )
    else:
        expected = model.state_dict()
    _check_tensors(path, state_dict, expected, into_model=model is not None)
    if optimizer is not None:
        _check_optimizer_state(path, payload, optimizer)

    # Everything is checked: now change things, and undo them if anything still fails.
    if model is None:
        return Checkpoint(_built(config, state_dict), history, config)
    saved = _snapshot(model, optimizer)
    try:
        model.load_state_dict(state_dict)
        if optimizer is not None:
            optimizer.load_state_dict(payload["optimizer"])
    except BaseException:
        _restore(model, optimizer, saved)
        raise
    return Checkpoint(model, history, config)


# ---------------------------------------------------------------------------------------
# Checks


def _check_arguments(model: object, optimizer: object, allow_no_model: bool) -> None:
    if not isinstance(model, VAE) and not (allow_no_model and model is None):
        raise ValueError(f"model must be a vaecourse.VAE{' or None' * allow_no_model}, got {type(model).__name__}")
    if optimizer is None:
        return
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    if model is None:
        raise ValueError("optimizer needs model: pass the model whose parameters the optimizer updates")
    ours = {id(p) for p in model.parameters()}
    if not all(id(p) in ours for group in optimizer.param_groups for p in group["params"]):
        raise ValueError("optimizer must update the parameters of model, and it holds parameters of another module")


def _read(path: Path, device: torch.device) -> dict:
    """The file's payload, checked for its marker, version, digest and the types of its parts."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes), not a checkpoint: was a copy interrupted?")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # a truncated, empty or foreign file: say which, not a pickle traceback
        raise CheckpointError(f"{path} is not a readable vaecourse checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a vaecourse checkpoint (no {FORMAT!r} marker)")
    if payload.get("version") not in (1, VERSION):
        raise CheckpointError(
            f"{path} has checkpoint version {payload.get('version')!r}; this vaecourse reads 1 and {VERSION}"
        )
    if payload["version"] >= 2 and payload.get("digest") != _digest(payload):
        raise CheckpointError(
            f"{path} is corrupted: its content does not match the SHA-256 digest stored when it was "
            "saved (a changed byte in a weight, the configuration or the history). Use another copy."
        )
    state_dict = payload.get("state_dict")
    if (
        not isinstance(payload.get("config"), dict)
        or not isinstance(state_dict, dict)
        or not state_dict
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state_dict.items())
        or not isinstance(payload.get("history"), (dict, type(None)))
        or not isinstance(payload.get("optimizer"), (dict, type(None)))
    ):
        raise CheckpointError(f"{path} is malformed: expected a configuration, named weight tensors and a history")
    return payload


def _meta_state_dict(path: Path, config: dict) -> dict[str, torch.Tensor]:
    """The state dict a VAE of ``config`` would have, built on the meta device (no memory)."""
    try:
        with torch.device("meta"):
            return VAE(**config).state_dict()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the stored configuration is not a valid VAE configuration ({exc})") from exc


def _check_tensors(path: Path, stored: dict, expected: dict, into_model: bool) -> None:
    if stored.keys() != expected.keys():
        missing, extra = sorted(expected.keys() - stored.keys()), sorted(stored.keys() - expected.keys())
        raise CheckpointError(
            f"{path}: the stored weights do not match the model: missing {missing}, unexpected {extra}"
        )
    implied, held = (sum(math.prod(t.shape) for t in d.values()) for d in (expected, stored))
    if not into_model and implied != held:  # a model to be built from the configuration
        raise CheckpointError(
            f"{path}: the configuration implies {implied:,} weights but the file holds {held:,}; "
            "refusing to build a model that does not match its weights"
        )
    for name, tensor in stored.items():
        want = expected[name]
        if tensor.shape != want.shape or (into_model and tensor.dtype != want.dtype):
            raise CheckpointError(
                f"{path}: weight {name!r} is {tensor.dtype} of shape {tuple(tensor.shape)} in the file and "
                f"{want.dtype} of shape {tuple(want.shape)} in the model"
                + ("; convert the model (model.double() or model.float()) first" if tensor.shape == want.shape else "")
            )


def _check_optimizer_state(path: Path, payload: dict, optimizer: torch.optim.Optimizer) -> None:
    saved = payload["optimizer"]
    if saved is None:
        raise CheckpointError(f"{path} holds no optimizer state (it was saved without an optimizer)")
    saved_class, ours = payload.get("optimizer_class"), type(optimizer).__name__
    if saved_class is not None and saved_class != ours:
        raise CheckpointError(f"{path} holds the state of a {saved_class} optimizer, and optimizer is a {ours}")
    groups = saved.get("param_groups")
    if (
        not isinstance(saved.get("state"), dict)
        or not isinstance(groups, list)
        or not all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups)
    ):
        raise CheckpointError(f"{path}: the stored optimizer state is malformed")
    stored_shapes = payload.get("optimizer_shapes") or [[None] * len(g["params"]) for g in groups]
    shapes = _parameter_shapes(optimizer)
    if [len(g) for g in stored_shapes] != [len(g) for g in shapes] or any(
        a is not None and a != b for ga, gb in zip(stored_shapes, shapes) for a, b in zip(ga, gb)
    ):
        raise CheckpointError(
            f"{path}: the stored optimizer state is for parameters of shapes {stored_shapes}, and "
            f"optimizer updates parameters of shapes {shapes}"
        )


def _parameter_shapes(optimizer: torch.optim.Optimizer) -> list[list[list[int]]]:
    return [[list(p.shape) for p in group["params"]] for group in optimizer.param_groups]


def _digest(payload: dict) -> str:
    """SHA-256 of the payload without its digest: every tensor's dtype, shape and bytes and
    every other value's type and repr, in the payload's order."""
    sha = hashlib.sha256()

    def feed(value: object) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            sha.update(f"tensor {flat.dtype} {tuple(value.shape)}:".encode())
            sha.update(flat.view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            sha.update(b"{")
            for key, item in value.items():
                feed(key)
                feed(item)
            sha.update(b"}")
        elif isinstance(value, (list, tuple)):
            sha.update(b"[")
            for item in value:
                feed(item)
            sha.update(b"]")
        else:
            sha.update(f"{type(value).__name__} {value!r};".encode())

    feed({k: v for k, v in payload.items() if k != "digest"})
    return sha.hexdigest()


def _built(config: dict, state_dict: dict[str, torch.Tensor]) -> VAE:
    model = VAE(**config).to(next(iter(state_dict.values())).dtype)
    model.load_state_dict(state_dict)
    return model


def _describe(config: dict) -> str:
    return f"{config.get('input_shape')} -> {config.get('hidden_dims')} -> {config.get('latent_dim')}, {config.get('likelihood')!r}"
