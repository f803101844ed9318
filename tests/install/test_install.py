"""What `pip install` users get: the built wheel (not the source tree, not an editable install)
in new virtual environments. `make test-install` runs this folder; CI runs it after `make test`.

- At the floor: every dependency at the lower bound that pyproject.toml declares (Colab's stack:
  NumPy 2.0, matplotlib 3.10, scikit-learn 1.6, ipywidgets 7.7.1, ...), except PyTorch, which
  stays at the CPU build of requirements.txt (the only CPU build every machine can get: the
  package index's Linux builds are CUDA builds), with Colab's kernel (ipykernel 6.17.1) and the
  maintainers' tools at their pins. There the unit tests pass and every notebook runs from a
  clean kernel without an error or a warning;
  the outputs are not compared with the stored ones (other versions may print other last digits).
- As an instructor installs it (README, "Copy one exercise into another course"): PyTorch's CPU
  build first, then the wheel; `python -m vaecourse.student` works, and one exercise's task and
  check cells pasted under the imports of its notebook's first code cell pass in a new notebook
  (and report "not implemented" with the solution removed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from vaecourse.student import find_exercises, student_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# PyTorch's CPU index: the Makefile's (make passes TORCH_INDEX), so both install torch alike.
TORCH_INDEX = (
    os.environ.get("TORCH_INDEX") or re.search(r"^TORCH_INDEX \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)[1]
)
NOTEBOOK_SECONDS = 600  # a notebook takes 60 s (90 s for 06 and 07); this only stops a hung one
NB_ENV = {"TQDM_DISABLE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "VAECOURSE_OFFLINE": "1"}
# Packages we do not depend on directly, held at a version of the floor's time: matplotlib 3.10.0
# calls pyparsing functions that pyparsing 3.3 deprecates (a warning the unit tests turn into an
# error); Colab pairs it with pyparsing 3.2.
# The kernel is Colab's, ipykernel 6.17.1: the course extra's newer ipykernel is for local Jupyter.
FLOOR_COMPANIONS = {"pyparsing": "3.2.5", "ipykernel": "6.17.1"}
# ipywidgets 7 calls ipykernel APIs that ipykernel 6 and 7 deprecate. A learner never sees these
# warnings (Python shows a DeprecationWarning only when __main__ triggers it); the unit tests turn
# every warning into an error, so the floor run ignores these two, by their exact text.
IPYWIDGETS_7_WARNINGS = [
    "ignore:`ipykernel.pylab.backend_inline` is deprecated:DeprecationWarning",
    "ignore:The `ipykernel.comm.Comm` class has been deprecated:DeprecationWarning",
]
# The exercise the instructors' recipe is tried on (notebook 02's first).
RECIPE_CHECK = "check_gaussian_kl"


def run(command: list, cwd: Path, timeout: float = 900, env: dict | None = None) -> str:
    """Run a command, fail the test with the end of its output if it fails; return stdout.
    The switch of this folder is not passed on: the unit tests run here must not collect it again."""
    environment = {k: v for k, v in os.environ.items() if k != "VAECOURSE_INSTALL_TESTS"}
    result = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited with {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout


def pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {canonicalize_name(r.name): str(r.specifier)[2:] for r in map(Requirement, filter(None, lines))}


def floors() -> dict[str, str]:
    """{package: lower bound} of pyproject.toml's dependencies, torch left out."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    result = {}
    for spec in map(Requirement, dependencies):
        (lower,) = [s.version for s in spec.specifier if s.operator == ">="]
        result[canonicalize_name(spec.name)] = lower
    result.pop("torch")
    return result


def new_environment(path: Path) -> Path:
    """A new virtual environment holding PyTorch's CPU build, installed as `make setup` does it
    (the torch line of requirements.txt, from PyTorch's CPU index); returns its python."""
    run([sys.executable, "-m", "venv", path], cwd=path.parent)
    python = path / "bin" / "python"
    torch_lines = [
        line for line in (ROOT / "requirements.txt").read_text().splitlines() if re.match(r"^torch[ =]", line)
    ]
    (path / "torch.txt").write_text("\n".join(torch_lines) + "\n")
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-deps",
            "--retries",
            "1",
            "--timeout",
            "10",
            "--index-url",
            TORCH_INDEX,
            "-r",
            path / "torch.txt",
        ],
        cwd=path,
    )
    return python


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            out,
            ROOT,
        ],
        cwd=out,
    )
    (built,) = out.glob("vaecourse-*.whl")
    return built


@pytest.fixture(scope="module")
def floor_python(tmp_path_factory, wheel) -> Path:
    """The wheel, a kernel and requirements-dev.txt, the wheel's dependencies at the floor."""
    home = tmp_path_factory.mktemp("floor")
    python = new_environment(home / "venv")
    constraints = {**pins(ROOT / "requirements.txt"), **pins(ROOT / "requirements-dev.txt"), **floors()}
    constraints.pop("torch")  # installed above; the pins here carry platform markers
    constraints.update(FLOOR_COMPANIONS)
    (home / "constraints.txt").write_text("".join(f"{name}=={version}\n" for name, version in constraints.items()))
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            wheel,
            "ipykernel",
            "nbclient",
            "-r",
            ROOT / "requirements-dev.txt",
            "-c",
            home / "constraints.txt",
        ],
        cwd=home,
    )
    return python


@pytest.fixture(scope="module")
def instructor_python(tmp_path_factory, wheel) -> Path:
    """The README's recipe: PyTorch's CPU build, then the wheel (plus a kernel to run notebooks);
    versions held at requirements.txt's pins so the test does not change with new releases."""
    home = tmp_path_factory.mktemp("instructor")
    python = new_environment(home / "venv")
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            wheel,
            "ipykernel",
            "nbclient",
            "-c",
            ROOT / "requirements.txt",
        ],
        cwd=home,
    )
    return python


def installed_versions(python: Path, names) -> dict[str, str]:
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    return json.loads(run([python, "-c", code, *names], cwd=python.parent))


def test_the_floor_environment_holds_the_floor_versions_and_the_built_wheel(floor_python):
    expected = floors()
    found = installed_versions(floor_python, expected)
    assert {name: Version(v) for name, v in found.items()} == {name: Version(v) for name, v in expected.items()}
    where = run(
        [floor_python, "-c", "import vaecourse, torch; print(vaecourse.__file__); print(torch.version.cuda)"],
        cwd=floor_python.parent,
    ).split()
    assert "site-packages" in where[0] and not where[0].startswith(str(ROOT)), where
    assert where[1] == "None", "the floor environment must hold PyTorch's CPU build"


def test_the_unit_tests_pass_at_the_floor(floor_python, tmp_path):
    # From another folder, so that `import vaecourse` finds the installed wheel, not ROOT/vaecourse.
    out = run(
        [
            floor_python,
            "-m",
            "pytest",
            ROOT / "tests",
            "-q",
            "-x",
            "--rootdir",
            ROOT,
            "-c",
            ROOT / "pyproject.toml",
            "-p",
            "no:cacheprovider",
            *[f"-W{w}" for w in IPYWIDGETS_7_WARNINGS],
        ],
        cwd=tmp_path,
        timeout=1800,
    )
    assert re.search(r"\d+ passed", out)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_runs_at_the_floor(floor_python, tmp_path, notebook):
    copy = tmp_path / notebook.name
    copy.write_bytes(notebook.read_bytes())
    jupyter = floor_python.parent / "jupyter"
    run(
        [jupyter, "execute", "--inplace", "--kernel_name=python3", f"--timeout={NOTEBOOK_SECONDS}", copy.name],
        cwd=tmp_path,
        timeout=NOTEBOOK_SECONDS * 2,
        env=NB_ENV,
    )
    executed = nbformat.read(copy, as_version=4)
    problems = []
    for index, cell in enumerate(executed.cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") if output.output_type == "stream" else ""
            if output.output_type == "error" or (output.get("name") == "stderr" and re.search(r"Warning|Error", text)):
                problems.append(f"cell {index}: {output.get('ename', '')} {output.get('evalue', '')}{text[:500]}")
    assert problems == [], f"{notebook.name} at the floor:\n" + "\n".join(problems)


def test_the_student_tool_runs_after_a_plain_pip_install(instructor_python, tmp_path):
    source = ROOT / "notebooks" / "02_kl_closed_form.ipynb"
    run([instructor_python, "-m", "vaecourse.student", "--out", tmp_path, source], cwd=tmp_path)
    student = nbformat.read(tmp_path / source.name, as_version=4)
    text = "\n".join(cell.source for cell in student.cells)
    assert "raise NotImplementedError" in text and "# BEGIN SOLUTION" not in text


def _recipe_notebook() -> nbformat.NotebookNode:
    """README's recipe: the imports of the notebook's first code cell, the task cell, the check cell."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for exercise in find_exercises(nb, path.name):
            if exercise.check == RECIPE_CHECK:
                first = next(cell for cell in nb.cells if cell.cell_type == "code")
                imports = [line for line in first.source.splitlines() if re.match(r"^(import|from) \S", line)]
                cells = ["\n".join(imports), nb.cells[exercise.task_cell].source, nb.cells[exercise.check_cell].source]
                return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    raise AssertionError(f"no exercise checked by {RECIPE_CHECK}")


def _run_notebook(python: Path, nb: nbformat.NotebookNode, path: Path) -> str:
    nbformat.write(nb, path)
    run(
        [python.parent / "jupyter", "execute", "--inplace", "--kernel_name=python3", path.name],
        cwd=path.parent,
        env=NB_ENV,
    )
    outputs = nbformat.read(path, as_version=4).cells[-1].outputs
    # A check cell shows the CheckResult as the cell's value (or prints it).
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs)


def test_one_exercise_pasted_into_a_new_notebook_runs_from_the_installed_wheel(instructor_python, tmp_path):
    nb = _recipe_notebook()
    printed = _run_notebook(instructor_python, nb, tmp_path / "solved.ipynb")
    assert printed.startswith(f"[PASS] {RECIPE_CHECK}:"), printed
    printed = _run_notebook(instructor_python, student_notebook(nb), tmp_path / "unsolved.ipynb")
    assert printed.startswith(f"[TODO] {RECIPE_CHECK}: not implemented yet"), printed
