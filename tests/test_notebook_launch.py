"""Every notebook can be launched from its own page: a Binder badge and a Colab badge at the top
open that very notebook, and its first code cell installs the package on Colab and does nothing
anywhere else (locally, on Binder, under nbval).

Notebooks are found by glob, so a new notebook is held to this without editing the test.
"""

from __future__ import annotations

import ast
import re
import sys
import types
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPO = "vaecourse/vaecourse"
BRANCH = "main"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
# [![alt](image)](target): a badge image that links somewhere.
BADGE_LINK = re.compile(r"\[!\[(?P<alt>[^\]]*)\]\((?P<image>[^)\s]+)\)\]\((?P<target>[^)\s]+)\)")
# How IPython runs a magic (%pip) or a shell escape (!pip) once it has transformed the cell.
MAGIC_CALLS = {"run_line_magic", "run_cell_magic", "system", "getoutput"}


def binder_url(notebook: str) -> str:
    return f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?urlpath=lab/tree/notebooks/{notebook}"


def colab_url(notebook: str) -> str:
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{notebook}"


def _badges(markdown: str) -> dict[str, str]:
    """{link target: badge image} of every badge link in a markdown text."""
    return {m["target"]: m["image"] for m in BADGE_LINK.finditer(markdown)}


def _first(notebook: Path, cell_type: str) -> nbformat.NotebookNode:
    nb = nbformat.read(notebook, as_version=4)
    return next(cell for cell in nb.cells if cell.cell_type == cell_type)


class _RecordingShell:
    """Stands in for get_ipython(): records the magics the cell would run instead of running them."""

    def __init__(self):
        self.calls: list[tuple[str, tuple]] = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, args))


def _colab_guard(notebook: Path) -> tuple[ast.Module, ast.If]:
    """The first code cell as Python (IPython's own transformation) and its `if google.colab` block."""
    source = TransformerManager().transform_cell(_first(notebook, "code").source)
    tree = ast.parse(source)
    guards = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and "google.colab" in ast.get_source_segment(source, node.test)
    ]
    assert len(guards) == 1, (
        f'{notebook.name}: the first code cell needs one top-level `if "google.colab" in sys.modules:` '
        f"block (found {len(guards)})"
    )
    return tree, guards[0]


def _run_guard(guard: ast.If) -> list[tuple[str, tuple]]:
    """Execute just the Colab block (after `import sys`) and return the magics it ran."""
    shell = _RecordingShell()
    module = ast.Module(body=[*ast.parse("import sys").body, guard], type_ignores=[])
    exec(compile(module, "<first code cell>", "exec"), {"get_ipython": lambda: shell})  # noqa: S102
    return shell.calls


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_first_markdown_cell_has_a_binder_badge_opening_this_notebook_in_jupyterlab(notebook):
    badges = _badges(_first(notebook, "markdown").source)
    url = binder_url(notebook.name)
    assert url in badges, f"{notebook.name}: the first markdown cell has no Binder badge linking to {url}"
    assert badges[url] == BINDER_BADGE


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_first_markdown_cell_has_a_colab_badge_opening_this_notebook(notebook):
    badges = _badges(_first(notebook, "markdown").source)
    url = colab_url(notebook.name)
    assert url in badges, f"{notebook.name}: the first markdown cell has no Colab badge linking to {url}"
    assert badges[url] == COLAB_BADGE


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_first_code_cell_does_nothing_outside_colab(notebook, monkeypatch, capsys):
    _, guard = _colab_guard(notebook)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert _run_guard(guard) == [], f"{notebook.name}: the first code cell runs a magic outside Colab"
    assert capsys.readouterr() == ("", ""), f"{notebook.name}: the Colab block prints outside Colab"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_first_code_cell_installs_the_package_on_colab(notebook, monkeypatch):
    _, guard = _colab_guard(notebook)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    calls = _run_guard(guard)
    assert len(calls) == 1, f"{notebook.name}: on Colab the first code cell should run one %pip install, ran {calls}"
    (method, args) = calls[0]
    assert method == "run_line_magic" and args[0] == "pip", f"{notebook.name}: install with %pip, found {calls[0]}"
    command = args[1]
    assert command.startswith("install ") and f"git+https://github.com/{REPO}@{BRANCH}" in command
    # Colab's own PyTorch, NumPy and ipywidgets stay: replacing them would download a CUDA build
    # of PyTorch and force a runtime restart.
    assert "--no-deps" in command.split()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_first_code_cell_installs_before_anything_imports_the_package(notebook):
    tree, guard = _colab_guard(notebook)
    magics = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MAGIC_CALLS
    ]
    outside = [node.lineno for node in magics if not guard.lineno <= node.lineno <= guard.end_lineno]
    assert outside == [], f"{notebook.name}: magics outside the Colab block (lines {outside}) would run everywhere"
    imports = [
        node.lineno
        for node in tree.body
        if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "vaecourse")
        or (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "vaecourse" for a in node.names))
    ]
    assert all(line > guard.end_lineno for line in imports), f"{notebook.name}: vaecourse imported before install"


def test_the_readme_has_binder_and_colab_badges_opening_a_notebook():
    badges = _badges((ROOT / "README.md").read_text())
    names = [p.name for p in NOTEBOOKS]
    binder = [t for t, image in badges.items() if image == BINDER_BADGE and t in map(binder_url, names)]
    colab = [t for t, image in badges.items() if image == COLAB_BADGE and t in map(colab_url, names)]
    assert binder, "README.md has no Binder badge opening a notebook in JupyterLab"
    assert colab, "README.md has no Colab badge opening a notebook"
