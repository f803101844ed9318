"""How the website shows the stored notebooks (a small Sphinx extension, loaded by conf.py).

Nothing is executed: each notebook is read as stored, with its outputs, and changed in memory
only where a static page cannot show what the notebook shows:

- a widget's output becomes a note that the widget is interactive in JupyterLab, Binder or
  Colab, with the notebook's own badges; the static figure the notebook shows after every
  widget carries the page;
- an exercise's task cell is shown as the student version has it (the solution replaced by the
  stub of ``make student``), and the reference solution follows behind a "Show solution"
  toggle (myst-nb's ``hide-input``);
- nbval's ``# NBVAL_...`` marker lines are dropped from the code shown.

Pictures from another host (the Binder and Colab badges) become text badges styled by
_static/course.css, so that no page loads anything from outside the site. The API page lists
every public module of vaecourse, found with pkgutil, so a new module needs no edit here.
"""

from __future__ import annotations

import copy
import pkgutil
import re
import shutil
from pathlib import Path

import nbformat
from docutils import nodes

from vaecourse.student import BEGIN, clear_solutions

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NBVAL_MARKER = re.compile(r"^\s*# NBVAL_\w+\s*$")
# A badge: a linked image, [![alt](image)](link).
BADGE = re.compile(r"\[!\[[^\]]*\]\([^)\s]+\)\]\([^)\s]+\)")


def _strip_nbval_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if not NBVAL_MARKER.match(line))


def _widget_note(badges: list[str]) -> nbformat.NotebookNode:
    text = (
        "**Interactive widget.** In JupyterLab (`make lab`), on Binder or on Colab this cell shows "
        "controls to move; on this page, the static figure that follows stands in for it. " + " ".join(badges)
    )
    return nbformat.v4.new_output("display_data", data={"text/markdown": text})


def read_notebook(text: str) -> nbformat.NotebookNode:
    """The stored notebook as the website shows it (myst-nb reader for ``.ipynb``)."""
    nb = nbformat.reads(text, as_version=4)
    # Without saved widget state myst-nb loads no widget JavaScript.
    nb.metadata.pop("widgets", None)
    first_markdown = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    badges = BADGE.findall(first_markdown)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        cell.source = _strip_nbval_markers(cell.source)
        cell.outputs = [
            _widget_note(badges) if WIDGET_VIEW in output.get("data", {}) else output for output in cell.outputs
        ]
        if any(line.strip() == BEGIN for line in cell.source.split("\n")):
            task = copy.deepcopy(cell)
            task.source, task.outputs, task.execution_count = clear_solutions(cell.source), [], None
            if "id" in cell:
                task.id = f"{cell.id}-task"[-64:]
            cells.append(task)
            cell.metadata.setdefault("tags", []).append("hide-input")
            cell.metadata["mystnb"] = {"code_prompt_show": "Show solution", "code_prompt_hide": "Hide solution"}
        cells.append(cell)
    nb.cells = cells
    return nb


def _text_badges(app, doctree, docname) -> None:
    """Replace every picture from another host by its alt text, styled as a badge."""
    for image in list(doctree.findall(nodes.image)):
        if re.match(r"https?://", image["uri"]):
            alt = image.get("alt", "") or image["uri"].rsplit("/", 1)[-1]
            slug = re.sub(r"[^a-z]+", "-", alt.lower()).strip("-")
            image.replace_self(nodes.inline(text=alt, classes=["course-badge", f"course-badge-{slug}"]))


def _api_modules(app, docname, source) -> None:
    """Append an automodule block for each public module of vaecourse to the API page."""
    if docname != "api":
        return
    import vaecourse

    blocks = ["```{eval-rst}\n.. automodule:: vaecourse\n```\n"]
    for module in pkgutil.walk_packages(vaecourse.__path__, "vaecourse."):
        if any(part.startswith("_") for part in module.name.split(".")):
            continue
        blocks.append(f"## `{module.name}`\n\n```{{eval-rst}}\n.. automodule:: {module.name}\n   :members:\n```\n")
    source[0] += "\n" + "\n".join(blocks)


def _copy_notebooks(app, config) -> None:
    """Copy notebooks/*.ipynb into site/notebooks/ (git-ignored), where Sphinx reads them.

    Sphinx reads documents only inside its source folder and follows symbolic links out of it,
    so the notebooks are copied. Found by glob: a new notebook needs no edit here.
    """
    source, target = Path(app.srcdir).parent / "notebooks", Path(app.srcdir) / "notebooks"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for path in source.glob("*.ipynb"):
        shutil.copy2(path, target / path.name)


def _plain_text_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    """Show a docstring as the plain text it is (the package writes formulas and shape tables in
    plain text, not reStructuredText), keeping its line breaks and alignment."""
    if any(line.strip() for line in lines):
        lines[:] = [".. code-block:: text", "   :class: docstring", ""] + [f"   {line}" for line in lines] + [""]


def setup(app):
    app.connect("config-inited", _copy_notebooks)
    app.connect("autodoc-process-docstring", _plain_text_docstring)
    app.connect("source-read", _api_modules)
    app.connect("doctree-resolved", _text_badges)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
