"""fit under faults: Ctrl-C in the middle of an epoch, a loss that turns non-finite, a device
where training cannot run, and resume with every optimizer fit's docstring invites.

The contract (fit's docstring): the model and the optimizer always hold the state at the end of
the last epoch the returned history records. Ctrl-C rolls back to it, restores train/eval mode,
warns and returns that history; a non-finite loss rolls back and raises FloatingPointError
naming the step. Resuming from there gives what an uninterrupted run gives, bit for bit.
"""

from __future__ import annotations

import pytest
import torch

from vaecourse import VAE, fit
from vaecourse.train import default_optimizer

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS_PER_EPOCH = 4  # 64 images, batch 16


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(64, 6, generator=torch.Generator().manual_seed(0))


def _model() -> VAE:
    torch.manual_seed(0)
    return VAE((6,), 2, (8,))


def _state(model: VAE, optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    tensors = [p.detach().clone() for p in model.parameters()]
    for state in optimizer.state_dict()["state"].values():
        tensors += [v.clone() for v in state.values() if isinstance(v, torch.Tensor)]
    return tensors


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))


def _train_forward_hook(model: VAE, at_call: int, action):
    """Run ``action(output)`` on the decoder's ``at_call``-th forward pass in training mode."""
    calls = {"n": 0}

    def hook(module, inputs, output):
        if not module.training:
            return None
        calls["n"] += 1
        return action(output) if calls["n"] == at_call else None

    return model.decoder.register_forward_hook(hook)


def _fit(model, images, optimizer, epochs, history=None):
    return fit(
        model,
        images,
        epochs=epochs,
        batch_size=16,
        device="cpu",
        progress=False,
        seed=3,
        optimizer=optimizer,
        history=history,
    )


def _reference(images, epochs):
    model = _model()
    optimizer = default_optimizer(model, lr=1e-2)
    history = _fit(model, images, optimizer, epochs)
    return model, optimizer, history


def _interrupt(output):
    raise KeyboardInterrupt


def test_ctrl_c_mid_epoch_rolls_back_to_the_last_recorded_epoch_and_resume_matches(images):
    after_two, after_two_optimizer, history_two = _reference(images, 2)
    after_three, after_three_optimizer, history_three = _reference(images, 3)

    model = _model()
    optimizer = default_optimizer(model, lr=1e-2)
    model.eval()  # the caller's mode, which fit must give back
    handle = _train_forward_hook(model, 2 * STEPS_PER_EPOCH + 2, _interrupt)  # epoch 3, step 2
    with pytest.warns(UserWarning, match=r"interrupted in epoch 3.*end of epoch 2"):
        history = _fit(model, images, optimizer, 3)
    handle.remove()

    assert not model.training
    assert history == history_two  # the epochs done are recorded, the broken one is not
    assert _same(_state(model, optimizer), _state(after_two, after_two_optimizer))

    resumed = _fit(model, images, optimizer, 1, history=history)
    assert resumed == history_three
    assert _same(_state(model, optimizer), _state(after_three, after_three_optimizer))


def test_ctrl_c_in_the_first_epoch_leaves_the_model_as_it_was(images):
    model = _model()
    optimizer = default_optimizer(model, lr=1e-2)
    before = _state(model, optimizer)
    handle = _train_forward_hook(model, 3, _interrupt)
    with pytest.warns(UserWarning, match="interrupted in epoch 1"):
        history = _fit(model, images, optimizer, 2)
    handle.remove()
    assert len(history) == 0 and model.training  # a new model is in training mode, and stays so
    assert _same(_state(model, optimizer), before)


def test_a_non_finite_loss_stops_with_an_error_naming_the_step_and_no_nan_weights(images):
    after_one, after_one_optimizer, _ = _reference(images, 1)
    model = _model()
    optimizer = default_optimizer(model, lr=1e-2)
    step = STEPS_PER_EPOCH + 3  # epoch 2, its third step
    handle = _train_forward_hook(model, step, lambda output: output * float("nan"))
    with pytest.raises(FloatingPointError, match=rf"step {step}\b.*epoch 2.*end of epoch 1"):
        _fit(model, images, optimizer, 3)
    handle.remove()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert _same(_state(model, optimizer), _state(after_one, after_one_optimizer))


@pytest.mark.parametrize(
    "make",
    [
        lambda params: torch.optim.Adam(params, lr=1e-2),
        lambda params: torch.optim.Adam(params, lr=1e-2, fused=True),
        lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1),
        lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
        lambda params: torch.optim.RMSprop(params, lr=1e-3),
    ],
    ids=["adam", "fused-adam", "adamw", "sgd-momentum", "rmsprop"],
)
def test_resume_is_bit_identical_with_the_optimizers_fit_invites(images, make):
    straight_model = _model()
    straight_optimizer = make(straight_model.parameters())
    straight = _fit(straight_model, images, straight_optimizer, 3)

    model = _model()
    optimizer = make(model.parameters())
    first = _fit(model, images, optimizer, 2)
    resumed = _fit(model, images, optimizer, 1, history=first)
    assert resumed == straight
    assert _same(_state(model, optimizer), _state(straight_model, straight_optimizer))


def test_a_device_where_training_cannot_run_is_refused_before_the_weights_move(images):
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="device"):
        fit(model, images, epochs=1, device="meta", progress=False)
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert _same([p.detach() for p in model.parameters()], before)
