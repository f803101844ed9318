"""Saving and loading a trained VAE with its configuration and training history.

Taught in notebook 06_full_vae. A checkpoint is one ``torch.save`` file holding plain Python
values and tensors only (so ``torch.load(weights_only=True)`` reads it without running any
code from the file):

    {"format": "vaecourse.checkpoint", "version": 1, "config": model.config,
     "state_dict": model.state_dict(), "history": History.to_dict() or None,
     "optimizer": optimizer.state_dict() or None}

Writes are atomic: the file goes to a temporary name in the same folder and is moved over
the target with ``os.replace``, so an interrupted save leaves any earlier checkpoint intact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import torch

from .model import VAE
from .train import History

__all__ = ["save_checkpoint", "load_checkpoint", "Checkpoint"]

FORMAT, VERSION = "vaecourse.checkpoint", 1


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
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a vaecourse.VAE, got {type(model).__name__}")
    if history is not None and not isinstance(history, History):
        raise ValueError(f"history must be a vaecourse.History or None, got {type(history).__name__}")
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
    }
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


def _describe(config: dict) -> str:
    return f"{config.get('input_shape')} -> {config.get('hidden_dims')} -> {config.get('latent_dim')}, {config.get('likelihood')!r}"


def load_checkpoint(
    path: str | os.PathLike,
    model: VAE | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint`` (with ``torch.load(weights_only=True)``).

    Without ``model`` a VAE is built from the stored configuration; with one, its
    configuration must match the file's (else a ValueError lists the differences) and its
    weights are replaced. With ``optimizer``, its state is restored too (for resuming:
    ``fit(model, x, history=ckpt.history, optimizer=optimizer)``).
    Taught in notebook 06_full_vae.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, not a pickle traceback
        raise ValueError(f"{path} is not a readable vaecourse checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a vaecourse checkpoint (no {FORMAT!r} marker)")
    if payload.get("version") != VERSION:
        raise ValueError(f"{path} has checkpoint version {payload.get('version')!r}; this vaecourse reads {VERSION}")
    # Files written before learned sigma existed hold no "learn_sigma": their sigma was fixed.
    config = dict(payload["config"])
    config.setdefault("learn_sigma", False)
    state_dict = payload["state_dict"]
    if model is None:
        model = VAE(**config).to(next(iter(state_dict.values())).dtype)
    elif not isinstance(model, VAE):
        raise ValueError(f"model must be a vaecourse.VAE or None, got {type(model).__name__}")
    elif model.config != config:
        differences = ", ".join(
            f"{key}: file {config.get(key)!r}, model {value!r}"
            for key, value in model.config.items()
            if config.get(key) != value
        )
        raise ValueError(
            f"the checkpoint's architecture ({_describe(config)}) does not match the model's "
            f"({_describe(model.config)}): {differences}. Build the model with VAE(**checkpoint config) "
            "or call load_checkpoint(path) without a model."
        )
    model.load_state_dict(state_dict)
    if optimizer is not None:
        if payload.get("optimizer") is None:
            raise ValueError(f"{path} holds no optimizer state")
        optimizer.load_state_dict(payload["optimizer"])
    history = History.from_dict(payload["history"]) if payload.get("history") is not None else History()
    return Checkpoint(model, history, config)
