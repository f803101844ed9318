"""The machinery every exercise check shares.

A check calls the learner's function on several inputs, compares each answer with an
independent reference, and, when they differ, tries the wrong answers a learner is likely to
give (each a small function beside the check) to name the mistake. It never raises: it
returns a :class:`CheckResult`, whose one-line text is what a notebook shows and whose
``passed`` / ``status`` / ``message`` fields are what a grader reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

PASSED, FAILED, NOT_IMPLEMENTED = "passed", "failed", "not implemented"
_MARK = {PASSED: "PASS", FAILED: "FAIL", NOT_IMPLEMENTED: "TODO"}


@dataclass(frozen=True)
class CheckResult:
    """What a check found: ``status`` is "passed", "failed" or "not implemented";
    ``mistake`` names the likely mistake when one was recognised."""

    name: str
    status: str
    message: str
    mistake: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"[{_MARK[self.status]}] {self.name}: {self.message}"

    __repr__ = __str__


@dataclass(frozen=True)
class Case:
    """One input to try: positional arguments and a short description for messages."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class Mistake:
    """A wrong answer worth recognising: ``fn`` computes it from the same arguments."""

    description: str
    fn: Callable[..., Any]


def close(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """True when a and b (tensors, numbers or tuples of them) agree in shape and value."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (
            isinstance(a, (tuple, list))
            and isinstance(b, (tuple, list))
            and len(a) == len(b)
            and all(close(x, y, rtol, atol) for x, y in zip(a, b))
        )
    try:
        ta = torch.as_tensor(a, dtype=torch.float64)
        tb = torch.as_tensor(b, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    return ta.shape == tb.shape and bool(torch.allclose(ta, tb, rtol=rtol, atol=atol, equal_nan=False))


def describe(value: Any) -> str:
    """A short rendering of a value for a one-line message."""
    if isinstance(value, torch.Tensor):
        if value.numel() <= 4:
            return f"{[round(v, 4) for v in value.detach().double().flatten().tolist()]} (shape {tuple(value.shape)})"
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    return repr(value)


def _shape(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        return tuple(_shape(v) for v in value)
    return None


def copies(args: Sequence[Any]) -> tuple:
    """The arguments with every tensor cloned, so that the learner's function cannot change
    what the reference (or the next case) sees."""
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


def run_check(
    name: str,
    func: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[Case],
    mistakes: Sequence[Mistake] = (),
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    success: str = "",
) -> CheckResult:
    """Call ``func`` and ``reference`` on every case and report the first disagreement.

    The message names a mistake when the learner's answer matches one of ``mistakes`` on
    that case, and otherwise shows the expected and the received value.
    """
    if not callable(func):
        return CheckResult(name, FAILED, f"expected a function, got {type(func).__name__}")
    for number, case in enumerate(cases, start=1):
        where = f"case {number}" + (f" ({case.label})" if case.label else "")
        try:
            got = func(*copies(case.args), **case.kwargs)
        except NotImplementedError:
            return CheckResult(
                name,
                NOT_IMPLEMENTED,
                "not implemented yet: write your code in the cell above, then run this check again.",
            )
        except Exception as exc:  # the learner's code may fail in any way; report it in one line
            return CheckResult(name, FAILED, f"{where}: your function raised {type(exc).__name__}: {exc}")
        if got is None:
            return CheckResult(name, FAILED, f"{where}: your function returned None: is a `return` missing?")
        expected = reference(*case.args, **case.kwargs)
        if close(got, expected, rtol, atol):
            continue
        for mistake in mistakes:
            try:
                wrong = mistake.fn(*case.args, **case.kwargs)
            except Exception:
                continue
            if close(got, wrong, rtol, atol):
                return CheckResult(name, FAILED, f"{where}: looks like {mistake.description}.", mistake.description)
        if _shape(got) != _shape(expected):
            return CheckResult(name, FAILED, f"{where}: expected shape {_shape(expected)}, got {_shape(got)}.", None)
        return CheckResult(name, FAILED, f"{where}: expected {describe(expected)}, got {describe(got)}.")
    return CheckResult(name, PASSED, success or f"all {len(cases)} cases agree with the reference.")
