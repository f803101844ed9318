"""The machinery every exercise check shares.

A check calls the learner's function on several inputs, compares each answer with an
independent reference, and, when they differ, tries the wrong answers a learner is likely to
give (each a small function beside the check) to name the mistake. It never raises: it
returns a :class:`CheckResult`, whose one-line text is what a notebook shows and whose
``passed`` / ``status`` / ``message`` fields are what a grader reads.
"""

from __future__ import annotations

import functools
import inspect
import math
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


def one_line(text: str) -> str:
    """The first line of a text (a learner's exception message may hold several)."""
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else ""


def _raised(exc: Exception) -> str:
    return f"{type(exc).__name__}: {one_line(exc)}" if one_line(exc) else type(exc).__name__


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}".replace("torch.", "")
    if type(value).__module__ == "numpy":
        return f"a numpy {type(value).__name__}"
    return f"a Python {type(value).__name__}"


def _form(got: Any, expected: Any, dtype: torch.dtype | None, what: str) -> str | None:
    """What is wrong with the type, dtype or shape of ``got`` (None when nothing is), where
    ``expected`` is the reference's answer and ``dtype`` the floating dtype the task promises."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{what} should be a pair of {len(expected)} values (a tuple), got {_kind(got)}"
        for number, (g, e) in enumerate(zip(got, expected), start=1):
            problem = _form(g, e, dtype, f"output {number} of {len(expected)}")
            if problem:
                return problem
        return None
    if not isinstance(expected, torch.Tensor):  # a number: a Python number or a 0-d tensor will do
        if isinstance(got, (int, float)) or (isinstance(got, torch.Tensor) and got.dim() == 0):
            return None
        return f"{what} should be a number, got {_kind(got)}"
    want = torch.bool if expected.dtype == torch.bool else dtype
    wanted = f"a {want} tensor".replace("torch.", "") if want else "a tensor"
    if not isinstance(got, torch.Tensor):
        return f"{what} should be {wanted} of shape {tuple(expected.shape)}, got {_kind(got)}"
    if tuple(got.shape) != tuple(expected.shape):
        return f"{what} should have shape {tuple(expected.shape)}, got shape {tuple(got.shape)}"
    if want is not None and got.dtype != want:
        reason = "" if want == torch.bool else " (the dtype of the inputs)"
        return f"{what} should be {wanted}{reason}, got dtype {got.dtype}".replace("torch.", "")
    return None


def _where(got: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> str:
    """Where two tensors of one shape differ most, and by how much."""
    g, e = got.detach().double().reshape(expected.shape), expected.detach().double()
    bad = ~torch.isclose(g, e, rtol=rtol, atol=atol)
    gap = torch.where(bad, (g - e).abs().nan_to_num(nan=float("inf")), torch.zeros_like(e))
    flat = int(gap.flatten().argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), e.shape)) if e.dim() else ()
    at = f" at index {index}" if e.dim() else ""
    count = f" ({int(bad.sum())} of {e.numel()} entries differ)" if e.numel() > 1 else ""
    gv, ev = g.flatten()[flat].item(), e.flatten()[flat].item()
    off = f", off by {abs(gv - ev):.3g}" if math.isfinite(gv) and math.isfinite(ev) else ""
    return f"expected {ev:.6g}{at}, got {gv:.6g}{off}{count}"


def _differ(got: Any, expected: Any, rtol: float, atol: float, what: str = "") -> str:
    if isinstance(expected, (tuple, list)):
        for number, (g, e) in enumerate(zip(got, expected), start=1):
            if not close(g, e, rtol, atol):
                return _differ(g, e, rtol, atol, f"output {number} of {len(expected)}: ")
    return what + _where(torch.as_tensor(got, dtype=torch.float64), torch.as_tensor(expected), rtol, atol)


def _nonfinite(got: Any, expected: Any) -> bool:
    """True when the learner's value is inf or NaN where the reference's is finite."""
    if isinstance(expected, (tuple, list)):
        return any(_nonfinite(g, e) for g, e in zip(got, expected))
    g, e = torch.as_tensor(got, dtype=torch.float64), torch.as_tensor(expected, dtype=torch.float64)
    return g.shape == e.shape and bool((~torch.isfinite(g) & torch.isfinite(e)).any())


def _flat(value: Any) -> list:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _gradients(func, args, grad, names) -> tuple[list, list] | str:
    """The gradients of a fixed random projection of func's outputs with respect to the
    arguments in ``grad``, or a one-line account of why there are none."""
    leaves = [a.detach().clone().requires_grad_(True) if i in grad else a for i, a in enumerate(copies(args))]
    with torch.enable_grad():
        outputs = [o for o in _flat(func(*leaves)) if isinstance(o, torch.Tensor) and o.is_floating_point()]
        if not any(o.requires_grad for o in outputs):
            return "your result carries no gradient"
        g = torch.Generator().manual_seed(0)
        total = sum((o * torch.rand(o.shape, generator=g, dtype=torch.float64).to(o.dtype)).sum() for o in outputs)
        found = torch.autograd.grad(total, [leaves[i] for i in grad], allow_unused=True)
    return list(found), [names[i] for i in grad]


def _argument_names(reference: Callable, count: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(reference).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(count)]


def _floating_dtype(args: Sequence[Any]) -> torch.dtype | None:
    dtypes = [a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
    return functools.reduce(torch.promote_types, dtypes) if dtypes else None


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
    grad: Sequence[int] = (),
    dtype: Callable[[Sequence[Any]], torch.dtype | None] | None = _floating_dtype,
    nonfinite: str = "",
) -> CheckResult:
    """Call ``func`` and ``reference`` on every case and report the first disagreement.

    On each case the learner's function gets copies of the inputs; it must leave them as they
    were, return what the reference returns (a tensor of the same shape and of the inputs'
    floating dtype, or a tuple of them), with the same values, and, for the arguments numbered in
    ``grad``, the same gradient: a fixed random projection of the outputs is differentiated by
    autograd through both functions. The message names a mistake when the learner's answer
    matches one of ``mistakes`` on that case (or is inf or NaN where the reference is finite,
    when ``nonfinite`` describes that mistake); otherwise it says what differs, and where.
    """
    if not callable(func):
        return CheckResult(name, FAILED, f"expected a function, got {type(func).__name__}")

    def fail(message: str, mistake: str | None = None) -> CheckResult:
        return CheckResult(name, FAILED, one_line(message), mistake and one_line(mistake))

    for number, case in enumerate(cases, start=1):
        where = f"case {number}" + (f" ({case.label})" if case.label else "")
        names = _argument_names(reference, len(case.args))
        given = copies(case.args)
        try:
            got = func(*given, **case.kwargs)
        except NotImplementedError:
            return CheckResult(
                name,
                NOT_IMPLEMENTED,
                "not implemented yet: write your code in the cell above, then run this check again.",
            )
        except Exception as exc:  # the learner's code may fail in any way; report it in one line
            return fail(f"{where}: your function raised {_raised(exc)}")
        if got is None:
            return fail(f"{where}: your function returned None: is a `return` missing?")
        for arg_name, before, after in zip(names, case.args, given):
            if isinstance(before, torch.Tensor) and not torch.equal(before, after.detach()):
                mistake = f"your function changed its argument {arg_name} in place"
                return fail(
                    f"{where}: {mistake} (an operation ending in _, or an assignment into it): "
                    "compute new tensors instead, since the caller uses its inputs again",
                    mistake,
                )
        expected = reference(*case.args, **case.kwargs)
        want = dtype(case.args) if dtype else None
        if close(got, expected, rtol, atol):
            problem = _form(got, expected, want, "your result")
            if problem:
                return fail(f"{where}: {problem}.", problem)
            if grad:
                result = _check_gradients(func, reference, case, grad, names, rtol, atol)
                if result:
                    return fail(f"{where}: {result[0]}.", result[1])
            continue
        for mistake in mistakes:
            try:
                wrong = mistake.fn(*case.args, **case.kwargs)
            except Exception:
                continue
            if close(got, wrong, rtol, atol):
                return fail(f"{where}: looks like {mistake.description}.", mistake.description)
        if nonfinite and _form(got, expected, None, "") is None and _nonfinite(got, expected):
            return fail(f"{where}: {_differ(got, expected, rtol, atol)}: looks like {nonfinite}.", nonfinite)
        problem = _form(got, expected, want, "your result")
        if problem:
            return fail(f"{where}: {problem}.", problem)
        return fail(f"{where}: {_differ(got, expected, rtol, atol)}.")
    return CheckResult(name, PASSED, success or f"all {len(cases)} cases agree with the reference.")


def _check_gradients(func, reference, case, grad, names, rtol, atol) -> tuple[str, str] | None:
    """(message, mistake) when the gradient of the learner's result is missing or wrong."""
    try:
        learner = _gradients(func, case.args, grad, names)
    except Exception as exc:
        return f"with inputs that require gradients, your function raised {_raised(exc)}", "fails under autograd"
    if isinstance(learner, str):
        remedy = "compute it from the inputs with torch operations (no .item(), .detach(), numpy or torch.no_grad())"
        return f"{learner}: {remedy}", learner
    found, wrt = learner
    expected, _ = _gradients(reference, case.args, grad, names)
    for arg_name, g, e in zip(wrt, found, expected):
        if g is None:
            mistake = f"no gradient reaches {arg_name}"
            return f"{mistake}: is it detached, or computed outside torch?", mistake
        if not close(g, e, 10 * rtol, 10 * atol):
            mistake = f"the gradient with respect to {arg_name} is wrong"
            return f"{mistake}: {_where(g, e, 10 * rtol, 10 * atol)} (is part of it detached?)", mistake
    return None
