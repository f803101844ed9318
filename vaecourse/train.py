"""Training a VAE: minibatch gradient ascent on the ELBO, with the data kept in tensors.

Taught in notebook 06_full_vae (the loop, both gradient estimators) and 07_kl_budget (beta,
KL warm-up, free bits). One step on a minibatch of B examples minimises

    loss = -(1/B) sum_b recon_b + beta_t * KL_term
    KL_term = (1/B) sum_b kl_b                              (free_bits = 0)
            = sum_j max(free_bits, (1/B) sum_b kl_bj)       (free bits: a floor per latent dimension)
    beta_t  = beta * min(1, t / T)                          (KL warm-up over T steps; beta_t = beta if T = 0)

with recon_b = log p(x_b | z_b) at z_b = mu + sigma * eps_b (averaged over S draws of z_b
when num_samples = S > 1) and kl_b the closed-form KL.
The history always records the plain ELBO (recon - kl, beta = 1), whatever the loss weighted.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from tqdm.auto import tqdm

from ._validation import positive_float, positive_int
from .estimators import _reparameterize, _sample_eps
from .model import VAE, ElboTerms

__all__ = ["History", "fit", "training_loss", "default_optimizer", "ESTIMATORS"]

ESTIMATORS = ("reparameterization", "score_function")
BINARIZATIONS = (None, "dynamic", "fixed")


@dataclass
class History:
    """What ``fit`` measured, as plain lists (one entry per epoch unless said otherwise).

    epoch: 1, 2, ... (continues across resumed runs); step: optimizer steps done at the end of
    each epoch; beta: the KL weight at the end of each epoch; train_elbo / train_recon /
    train_kl: per-example averages over the epoch's minibatches (nats); val_*: the same on the
    validation set after the epoch (None without one); step_elbo: the minibatch ELBO of every
    step. ELBO = recon - kl. Plain data, so it goes into a checkpoint as it is.
    Taught in notebook 06_full_vae.
    """

    epoch: list[int] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    beta: list[float] = field(default_factory=list)
    train_elbo: list[float] = field(default_factory=list)
    train_recon: list[float] = field(default_factory=list)
    train_kl: list[float] = field(default_factory=list)
    val_elbo: list[float | None] = field(default_factory=list)
    val_recon: list[float | None] = field(default_factory=list)
    val_kl: list[float | None] = field(default_factory=list)
    step_elbo: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def num_steps(self) -> int:
        return self.step[-1] if self.step else 0

    def to_dict(self) -> dict[str, list]:
        """The lists, copied, keyed by field name."""
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        """Inverse of ``to_dict``; raises ValueError on unknown keys or non-list values."""
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) - names:
            extra = sorted(set(data) - names) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"history must be a dict with keys from {sorted(names)}, got extra {extra}")
        if not all(isinstance(v, list) for v in data.values()):
            raise ValueError("history values must be lists")
        return cls(**{k: list(v) for k, v in data.items()})


def training_loss(
    model: VAE,
    x: torch.Tensor,
    *,
    beta: float = 1.0,
    free_bits: float = 0.0,
    estimator: str = "reparameterization",
    num_samples: int = 1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, ElboTerms]:
    """The loss one training step minimises, and the minibatch's ELBO terms (detached).

    x is a flat minibatch (B, D) that has already passed ``model.check_input`` (no checks here:
    this is the inner loop). See the module docstring for the loss.

    estimator="reparameterization": z = mu + sigma * eps with eps ~ N(0, I) drawn here, and
    autograd differentiates the whole loss, encoder and decoder alike (notebook 05).

    estimator="score_function": z is drawn the same way but detached, so no gradient flows
    through the sample. The decoder gets the exact gradient of log p(x|z) at that z. The
    encoder gets the score-function (REINFORCE) estimate of the reconstruction term's gradient
    through the surrogate (recon_sb - c_sb) * log q(z_sb|x_b) for draw s of example b. The
    baseline c_sb is independent of z_sb, so the estimate stays unbiased:
      num_samples = 1: the mean recon of the other B - 1 examples in the minibatch (c = 0 when
        B = 1); it equals vaecourse.score_function_gradient with that baseline;
      num_samples = S > 1: the mean recon of the other S - 1 draws for the same example, a
        per-example leave-one-out baseline (as VIMCO uses for its bound; Mnih & Rezende 2016).
    The KL term is still differentiated analytically (notebook 04).

    num_samples: S draws of z per example; recon is their mean (S times the decoder's work).
    Shapes: x (B, D) -> (scalar loss, ElboTerms of shape (B,)). Taught in notebook 06_full_vae.
    """
    mu, logvar = model.encode_flat(x)
    # (S, B, d), or (B, d) for one sample: the same draws either way
    eps = _sample_eps(mu, num_samples if num_samples > 1 else None, generator)
    z = _reparameterize(mu, logvar, eps)
    if estimator == "reparameterization":
        recon = surrogate = model.log_px(model.decoder(z), x)
    elif estimator == "score_function":
        z = z.detach()
        recon = model.log_px(model.decoder(z), x)
        # log q(z|x) up to a constant, as a function of (mu, logvar) with z held fixed.
        log_q = -0.5 * (((z - mu) / torch.exp(0.5 * logvar)).pow(2) + logvar).sum(-1)
        signal = recon.detach()
        if num_samples > 1:
            baseline = (signal.sum(0) - signal) / (num_samples - 1)
        elif signal.shape[0] > 1:
            baseline = (signal.sum() - signal) / (signal.shape[0] - 1)
        else:
            baseline = torch.zeros_like(signal)
        surrogate = recon + (signal - baseline) * log_q
    else:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    kl_per_dim = model.kl_per_dim(mu, logvar)
    kl = kl_per_dim.sum(-1)
    if num_samples > 1:
        recon, surrogate = recon.mean(0), surrogate.mean(0)
    if free_bits > 0:
        loss = beta * kl_per_dim.mean(0).clamp(min=free_bits).sum() - surrogate.mean()
    else:
        loss = ((kl if beta == 1 else beta * kl) - surrogate).mean()
    recon, kl = recon.detach(), kl.detach()
    return loss, ElboTerms(recon - kl, recon, kl)


def default_optimizer(model: torch.nn.Module, lr: float = 2e-3) -> torch.optim.Optimizer:
    """The optimizer ``fit`` makes when given none: Adam(lr), with torch's fused kernel where
    it has one for these parameters (one kernel per step instead of several per tensor: about
    15% less time per step for the 784-400-20 model on a CPU), else the default Adam. The
    update is Adam's either way. Make it yourself to keep it across ``fit`` calls (resuming).
    Taught in notebook 06_full_vae."""
    params = list(model.parameters())
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def _generator(seed: int, *keys: int, device: torch.device) -> torch.Generator:
    """A generator seeded from (seed, *keys) by numpy's SeedSequence, so streams for different
    epochs or purposes are independent and an epoch's stream does not depend on earlier ones."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, dtype=np.uint32)
    return torch.Generator(device=device).manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)


def _device(device: str | torch.device) -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'mps' or a torch.device, got {device!r}") from exc
    available = {"cpu": True, "cuda": torch.cuda.is_available()}
    available["mps"] = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if not available.get(device.type, False):
        raise ValueError(
            "device must be one where training can run ('cpu'"
            + "".join(f", {name!r}" for name in ("cuda", "mps") if available[name])
            + f" here), got {str(device)!r}"
            + (": the meta device holds no values" if device.type == "meta" else "")
        )
    return device


def _progress_disabled(progress: bool) -> bool:
    """True unless a bar is wanted: tqdm's notebook bar (what tqdm.auto picks in Jupyter)
    ignores TQDM_DISABLE, so the variable is read here too."""
    return not progress or os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")


def _non_negative(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value < math.inf):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


@torch.no_grad()
def _evaluate(model: VAE, x: torch.Tensor, batch_size: int, generator: torch.Generator) -> tuple[float, float, float]:
    """Per-example mean ELBO, recon and KL over a flat data set, one z per example."""
    sums = torch.zeros(3, dtype=x.dtype, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        _, terms = training_loss(model, x[start : start + batch_size], generator=generator)
        sums += torch.stack([t.sum() for t in terms])
    elbo, recon, kl = (sums / x.shape[0]).tolist()
    return elbo, recon, kl


def fit(
    model: VAE,
    x_train: torch.Tensor,
    x_val: torch.Tensor | None = None,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 2e-3,
    beta: float = 1.0,
    warmup_epochs: float = 0.0,
    warmup_steps: int = 0,
    free_bits: float = 0.0,
    estimator: str = "reparameterization",
    num_samples: int = 1,
    binarize: str | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
    progress: bool = True,
    history: History | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> History:
    """Train ``model`` by minibatch gradient ascent on the ELBO (Adam), and return its history.

    Args:
        model: the VAE; moved to ``device`` and trained in place.
        x_train: (N, *input_shape) training images, N >= 1 (pixels in [0, 1] for Bernoulli).
        x_val: optional validation images, evaluated (one z per example) after every epoch.
        epochs, batch_size, lr: epochs to run now; examples per step (the last step of an epoch
            takes the remainder); Adam's learning rate (ignored when ``optimizer`` is given).
        beta: weight of the KL term in the loss (1 = the ELBO; notebook 07).
        warmup_epochs / warmup_steps: anneal beta linearly from 0 over this many epochs or
            steps (at most one of them > 0); the count continues across resumed runs.
        free_bits: floor, in nats, on each latent dimension's minibatch-mean KL in the loss.
        estimator: "reparameterization" or "score_function" (see ``training_loss``).
        num_samples: draws of z per example and step (see ``training_loss``); with
            "score_function" and num_samples > 1 each example gets a leave-one-out baseline
            from its own draws.
        binarize: None (use x as given), "dynamic" (a fresh Bernoulli draw of every minibatch,
            as the published MNIST likelihoods use) or "fixed" (one draw of the training set).
            With either, x_val is binarized once, with a draw fixed by ``seed``.
        device: "auto" (cuda, then mps, else cpu), or any torch device.
        seed: fixes the shuffling, eps and binarization: two runs from the same initial model
            give identical histories. Each epoch draws from its own stream, seeded by
            (seed, epoch number), so a resumed run continues as an uninterrupted one would.
        progress: show a tqdm.auto bar (TQDM_DISABLE=1 in the environment hides it, in Jupyter too).
        history: a History to continue (from ``load_checkpoint``): epochs and steps count on.
        optimizer: an optimizer over model.parameters() to continue with (restores Adam's
            moments on resume); by default a fresh ``default_optimizer(model, lr)``.

    Returns a new History: the given history's entries followed by this run's. The model and the
    optimizer always end at the state the history's last epoch records: Ctrl-C (KeyboardInterrupt)
    in the middle of an epoch rolls both back to the end of the last epoch done, warns and returns
    the history of the epochs done; a loss that becomes non-finite rolls back the same way and
    raises FloatingPointError naming the step (the history of the epochs done is its ``history``
    attribute). Either way the model's train/eval mode is restored, and fit(..., history=history,
    optimizer=optimizer) then continues bit for bit as an uninterrupted run (tested with Adam,
    fused Adam, AdamW, SGD with momentum and RMSprop).
    Data stays in tensors on the device: each epoch shuffles with a seeded torch.randperm and
    slices; numbers are summed on the device and read once per epoch.
    Taught in notebook 06_full_vae.
    """
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a vaecourse.VAE, got {type(model).__name__}")
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    lr = positive_float("lr", lr)
    beta = _non_negative("beta", beta)
    warmup_epochs = _non_negative("warmup_epochs", warmup_epochs)
    warmup_steps = int(_non_negative("warmup_steps", warmup_steps))
    if warmup_epochs > 0 and warmup_steps > 0:
        raise ValueError("give at most one of warmup_epochs and warmup_steps")
    free_bits = _non_negative("free_bits", free_bits)
    num_samples = positive_int("num_samples", num_samples)
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if binarize not in BINARIZATIONS:
        raise ValueError(f"binarize must be one of {BINARIZATIONS}, got {binarize!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if history is not None and not isinstance(history, History):
        raise ValueError(f"history must be a vaecourse.History or None, got {type(history).__name__}")
    if isinstance(x_train, torch.Tensor) and x_train.dim() >= 1 and x_train.shape[0] == 0:
        raise ValueError("x_train is empty: it must hold at least one example")
    x_train = model.check_input(x_train, "x_train")
    if x_val is not None:
        x_val = model.check_input(x_val, "x_val")

    device = _device(device)
    model.to(device)
    history = History.from_dict(history.to_dict()) if history is not None else History()
    if optimizer is None:
        optimizer = default_optimizer(model, lr)
    num = x_train.shape[0]
    x = x_train.to(device).reshape(num, -1)
    if binarize == "fixed":
        x = torch.bernoulli(x, generator=_generator(seed, 0, 0, device=device))
    if x_val is not None:
        x_val = x_val.to(device).reshape(x_val.shape[0], -1)
        if binarize is not None:
            x_val = torch.bernoulli(x_val, generator=_generator(seed, 0, 1, device=device))

    steps_per_epoch = math.ceil(num / batch_size)
    warmup = warmup_steps or warmup_epochs * steps_per_epoch
    step = history.num_steps
    first_epoch = len(history) + 1
    was_training = model.training
    disable = _progress_disabled(progress)
    epoch, saved = first_epoch, _snapshot(model, optimizer)  # the state at the end of the history
    try:
        with tqdm(total=epochs * steps_per_epoch, desc="fit", unit="step", disable=disable) as bar:
            for epoch in range(first_epoch, first_epoch + epochs):
                model.train()
                perm = torch.randperm(num, generator=_generator(seed, epoch, 1, device=torch.device("cpu"))).to(device)
                noise = _generator(seed, epoch, 2, device=device)
                step_terms = []  # (recon, kl) of each minibatch, each (B,), summed once per epoch
                for start in range(0, num, batch_size):
                    xb = x[perm[start : start + batch_size]]
                    if binarize == "dynamic":
                        xb = torch.bernoulli(xb, generator=noise)
                    step += 1
                    beta_t = beta * min(1.0, step / warmup) if warmup > 0 else beta
                    loss, terms = training_loss(
                        model,
                        xb,
                        beta=beta_t,
                        free_bits=free_bits,
                        estimator=estimator,
                        num_samples=num_samples,
                        generator=noise,
                    )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    step_terms.append((terms.recon, terms.kl))
                    bar.update(1)
                sums = _sums_per_step(step_terms, batch_size)  # one read per epoch
                for i, (r, k) in enumerate(sums):
                    if not math.isfinite(r - k):
                        _restore(model, optimizer, saved)
                        error = FloatingPointError(
                            f"training diverged: the loss is {r - k} at step {step - len(sums) + i + 1} "
                            f"(epoch {epoch}); {_where(epoch)}; try a smaller lr"
                        )
                        error.history = history
                        raise error
                recon, kl = (math.fsum(column) / num for column in zip(*sums))
                if x_val is not None:
                    model.eval()
                    val = _evaluate(model, x_val, max(batch_size, 1024), _generator(seed, epoch, 3, device=device))
                else:
                    val = (None, None, None)
                history.epoch.append(epoch)
                history.step.append(step)
                history.beta.append(beta_t)
                history.train_elbo.append(recon - kl)
                history.train_recon.append(recon)
                history.train_kl.append(kl)
                history.step_elbo.extend(
                    (r - k) / min(batch_size, num - i * batch_size) for i, (r, k) in enumerate(sums)
                )
                history.val_elbo.append(val[0])
                history.val_recon.append(val[1])
                history.val_kl.append(val[2])
                saved = _snapshot(model, optimizer)
                bar.set_postfix(
                    epoch=epoch, elbo=f"{recon - kl:.2f}", **({"val": f"{val[0]:.2f}"} if val[0] is not None else {})
                )
    except KeyboardInterrupt:
        if len(history) >= epoch:  # the epoch was recorded: only its progress bar was cut short
            saved = _snapshot(model, optimizer)
        _restore(model, optimizer, saved)
        warnings.warn(f"training interrupted in epoch {epoch}: {_where(len(history) + 1)}", UserWarning, stacklevel=2)
    finally:
        model.train(was_training)
    return history


def _sums_per_step(terms: list[tuple[torch.Tensor, torch.Tensor]], batch_size: int) -> list[list[float]]:
    """[[recon summed over step i's minibatch, kl summed likewise] for every step], read from the
    device at once: every minibatch but the last holds ``batch_size`` examples."""
    full = len(terms) - 1
    columns = [torch.cat(column) for column in zip(*terms)]
    head = torch.stack([c[: full * batch_size].reshape(full, batch_size).sum(1) for c in columns], 1)
    tail = torch.stack([c[full * batch_size :].sum() for c in columns]).unsqueeze(0)
    return torch.cat((head, tail)).tolist()


def _snapshot(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None) -> tuple[dict, dict | None]:
    """Copies of the model's and the optimizer's state (state_dict returns live tensors), to roll
    back to with ``_restore``; also used by ``load_checkpoint``."""
    optimizer_state = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None
    return {k: v.clone() for k, v in model.state_dict().items()}, optimizer_state


def _restore(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, saved: tuple[dict, dict | None]) -> None:
    model.load_state_dict(saved[0])
    if optimizer is not None:
        optimizer.load_state_dict(saved[1])


def _where(epoch: int) -> str:
    """Where fit leaves the model after stopping in ``epoch``."""
    back = f"the end of epoch {epoch - 1}" if epoch > 1 else "where training started"
    return (
        f"the model and the optimizer are back at {back}, as the history records "
        "(fit(..., history=history, optimizer=optimizer) resumes exactly)"
    )
