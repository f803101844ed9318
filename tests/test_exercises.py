"""Every exercise in the notebooks, found by reading them (no hand-kept list).

An exercise is a code cell holding a ``# BEGIN SOLUTION`` line; its check is the ``check_*``
function called in the next code cell. For each one:
- the student notebook (``make student``) runs top to bottom with the exercise undone, and its
  check cell shows one "not implemented yet" line;
- no solution text survives into the student notebook;
- the task and check cells, run after the notebook's imports alone, still pass (what an
  instructor copies into another course);
- the check is a documented function of ``vaecourse.checks`` returning a CheckResult, and it
  rejects at least three plausible wrong answers -- kept in ``WRONG_ANSWERS`` of
  tests/test_checks_<module>.py -- with a message that names each mistake.
That the solutions pass in their notebooks is nbval's job (``make test-notebooks`` compares the
stored "[PASS]" lines).
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import vaecourse.checks
from vaecourse.checks import CheckResult
from vaecourse.student import BEGIN, END, find_exercises, split_solution, student_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WORKERS = 2  # notebooks run at once; the machine has 2 cores
CELL_TIMEOUT = 180  # seconds; a notebook has 60 in all, so this only stops a hung kernel
EXERCISES = [ex for path in NOTEBOOKS for ex in find_exercises(nbformat.read(path, as_version=4), path.name)]
WITH_EXERCISES = sorted({exercise.notebook for exercise in EXERCISES})


def _load_wrong_answers() -> dict[str, list]:
    """WRONG_ANSWERS of every tests/test_checks_*.py, merged by check name."""
    merged: dict[str, list] = {}
    for path in sorted(Path(__file__).parent.glob("test_checks_*.py")):
        spec = importlib.util.spec_from_file_location(f"_exercise_answers_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, answers in getattr(module, "WRONG_ANSWERS", {}).items():
            merged.setdefault(name, []).extend(answers)
    return merged


def _student(notebook: str) -> nbformat.NotebookNode:
    return student_notebook(nbformat.read(ROOT / "notebooks" / notebook, as_version=4))


def _execute(notebook: str) -> nbformat.NotebookNode:
    """The student notebook run from a fresh kernel in the notebooks folder; errors are kept
    in the outputs (allow_errors) so a test can say which cell failed."""
    nb = _student(notebook)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )
    env = {**os.environ, "TQDM_DISABLE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    # asyncio.run gives this worker thread its own event loop and closes it afterwards. The
    # kernel process's own stderr holds only its start-up log (cell output comes over iopub).
    asyncio.run(client.async_execute(env=env, stderr=subprocess.DEVNULL))
    return nb


# Run in a subprocess: the notebooks' first cells change process-wide torch settings (seeds,
# thread counts) that the other tests must not inherit.
_PASTE = r"""
import ast, json, sys
from IPython.core.inputtransformer2 import TransformerManager

def run(cells):
    namespace, result = {"__name__": "__main__"}, None
    for source in cells:
        tree = ast.parse(TransformerManager().transform_cell(source))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)
        result = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None
    return str(result)

out = {}
for key, cells in json.load(sys.stdin).items():
    try:
        out[key] = run(cells)
    except Exception as exc:
        out[key] = f"raised {type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def pasted_exercises():
    """For each exercise, the check cell's result when only the notebook's first code cell
    (its imports), the task cell and the check cell run, in a fresh namespace."""
    cells = {}
    for exercise in EXERCISES:
        nb = nbformat.read(ROOT / "notebooks" / exercise.notebook, as_version=4)
        first = next(cell.source for cell in nb.cells if cell.cell_type == "code")
        cells[str(exercise)] = [first, nb.cells[exercise.task_cell].source, nb.cells[exercise.check_cell].source]
    env = {**os.environ, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", _PASTE],
        input=json.dumps(cells),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT / "notebooks",
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def student_runs(request):
    """Start the student notebooks that the selected tests need, at most WORKERS at a time;
    each test waits only for its own notebook."""
    wanted = []
    for item in request.session.items:
        if Path(item.path).resolve() != Path(__file__).resolve():
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        notebook = params.get("notebook") or getattr(params.get("exercise"), "notebook", None)
        if notebook and notebook not in wanted:
            wanted.append(notebook)
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    # Later notebooks train models and take longest: starting them first packs the two workers best.
    runs: dict[str, Future] = {notebook: pool.submit(_execute, notebook) for notebook in sorted(wanted, reverse=True)}
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


def _text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type in ("execute_result", "display_data"):
        return output.get("data", {}).get("text/plain", "")
    return ""


def _error(output) -> str:
    return f"{output.ename}: {output.evalue}"


def test_the_notebooks_hold_exercises_and_each_has_a_check_cell():
    assert EXERCISES, "no cell with a '# BEGIN SOLUTION' line in notebooks/*.ipynb"
    for exercise in EXERCISES:
        assert exercise.check, f"{exercise}: the code cell after the task cell calls no check_*() function"
        assert exercise.solution, f"{exercise}: the solution region is empty"


@pytest.mark.parametrize("notebook", WITH_EXERCISES)
def test_the_student_notebook_runs_top_to_bottom_without_an_error(notebook, student_runs):
    nb = student_runs[notebook].result()
    errors = [
        f"cell {index}: {_error(output)}"
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, f"student version of {notebook}: " + "; ".join(errors)


@pytest.mark.parametrize("exercise", EXERCISES, ids=str)
def test_an_undone_exercise_shows_one_not_implemented_line(exercise, student_runs):
    nb = student_runs[exercise.notebook].result()
    outputs = nb.cells[exercise.check_cell].outputs
    assert not [o for o in outputs if o.output_type == "error"], [
        _error(o) for o in outputs if o.output_type == "error"
    ]
    text = "".join(_text(output) for output in outputs).strip()
    assert "not implemented yet" in text and len(text.splitlines()) == 1, repr(text)


@pytest.mark.parametrize("exercise", EXERCISES, ids=str)
def test_the_student_notebook_holds_no_solution_text(exercise):
    source = nbformat.read(ROOT / "notebooks" / exercise.notebook, as_version=4)
    student = _student(exercise.notebook)
    task = student.cells[exercise.task_cell].source
    assert "NotImplementedError" in task
    student_lines = [line.strip() for cell in student.cells for line in cell.source.split("\n")]
    assert BEGIN not in student_lines and END not in student_lines
    # A solution line may also occur outside the solution regions (say, a formula the prose
    # derives first): it must not occur in the student notebook more often than there.
    outside = [line for cell in source.cells for line in split_solution(cell.source)[1]]
    leaked = [line for line in exercise.solution if student_lines.count(line) > outside.count(line)]
    assert not leaked, f"{exercise}: solution lines left in the student notebook: {leaked}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=str)
def test_an_exercise_needs_only_its_task_and_check_cells_and_the_imports(exercise, pasted_exercises):
    # What an instructor copies into another course; the solution must pass there too.
    assert pasted_exercises[str(exercise)].startswith("[PASS]"), pasted_exercises[str(exercise)]


@pytest.mark.parametrize("notebook", WITH_EXERCISES)
def test_the_student_notebook_has_no_outputs(notebook):
    for cell in _student(notebook).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("exercise", EXERCISES, ids=str)
def test_the_check_is_a_documented_function_of_vaecourse_checks(exercise):
    check = getattr(vaecourse.checks, exercise.check, None)
    assert inspect.isfunction(check), f"vaecourse.checks has no function {exercise.check}"
    module = sys.modules[check.__module__]
    assert module.__name__.startswith("vaecourse.checks.") and exercise.check in module.__all__
    assert inspect.getdoc(check), f"{exercise.check} has no docstring"

    def unfinished(*args, **kwargs):
        raise NotImplementedError

    result = check(unfinished)
    assert isinstance(result, CheckResult)
    assert result.status == "not implemented" and not result.passed
    assert "not implemented yet" in str(result) and "\n" not in str(result)


WRONG_ANSWERS = _load_wrong_answers()


@pytest.mark.parametrize("exercise", EXERCISES, ids=str)
def test_the_check_rejects_three_plausible_wrong_answers_and_names_each_mistake(exercise):
    answers = WRONG_ANSWERS.get(exercise.check, [])
    named = {words for _, words in answers}
    assert len(named) >= 3, (
        f"{exercise}: WRONG_ANSWERS[{exercise.check!r}] in tests/test_checks_*.py names "
        f"{len(named)} mistakes; at least 3 are needed"
    )
    check = getattr(vaecourse.checks, exercise.check)
    for wrong, words in answers:
        result = check(wrong)
        assert result.status == "failed" and not result.passed, f"{exercise}: a wrong answer ({words!r}) passed"
        assert words in result.message, f"{exercise}: expected {words!r} in {result.message!r}"
