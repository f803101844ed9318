"""Student notebooks (the course notebooks with every exercise's solution taken out) and the
catalogue of exercises.

``make student`` runs ``python -m vaecourse.student --out student notebooks/*.ipynb``;
``python -m vaecourse.student --catalogue notebooks/*.ipynb`` prints the exercises as a
Markdown table. An exercise is a code cell with a ``# BEGIN SOLUTION`` line; its check is the
``check_*`` function called in the next code cell.

In each code cell, the lines from ``# BEGIN SOLUTION`` to ``# END SOLUTION`` (each alone on
its line, single hash) become one line, indented like the markers::

    raise NotImplementedError("log_marginal: replace this line with your code, then run the check below")

naming the function the region sits in; the task's docstring or comments above the region,
which say what to compute, stay. Outputs, execution counts and saved widget state are cleared;
every other cell, the check cells included, is kept as it is. On the course's notebooks this
gives the cells nbgrader's ``ClearSolutions`` preprocessor (``enforce_metadata=False``) gives,
apart from the stub line; it is written here so that the course's environment needs neither
nbgrader nor the Jupyter extensions it enables.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)\s*\(")
_CHECK_CALL = re.compile(r"\b(check_\w+)\s*\(")
_TITLE = re.compile(r"Exercise\s+\d+\s*(?:[:.\u2014\u2013-]\s*)?(.+)")


@dataclass(frozen=True)
class Exercise:
    """One exercise of a notebook: where its cells are and what they call."""

    notebook: str  # file name, e.g. "01_elbo.ipynb"
    task_cell: int  # index of the cell holding the solution region
    check_cell: int  # index of the next code cell, or -1 if there is none
    function: str  # the learner's function ("" if the region is outside any def)
    check: str  # the check_* function called in the check cell ("" if none)
    title: str  # from the "Exercise N: ..." line of the markdown above, else the function name
    solution: tuple[str, ...]  # the stripped, non-blank lines between the markers

    def __str__(self) -> str:
        return f"{Path(self.notebook).stem}:{self.check or self.function}"


def split_solution(source: str) -> tuple[list[str], list[str]]:
    """The stripped, non-blank lines of a cell inside and outside its solution regions."""
    inside: list[str] = []
    outside: list[str] = []
    in_region = False
    for line in source.split("\n"):
        if line.strip() in (BEGIN, END):
            in_region = line.strip() == BEGIN
        elif line.strip():
            (inside if in_region else outside).append(line.strip())
    return inside, outside


def _title(cells, start: int, stop: int) -> str:
    """The last "Exercise N: title" line of the markdown cells in cells[start:stop]."""
    for cell in reversed(cells[start:stop]):
        if cell.cell_type != "markdown":
            continue
        for line in reversed(cell.source.split("\n")):
            match = _TITLE.search(line)
            if match:
                return match.group(1).split("**")[0].strip(" *.`").replace("`", "")
    return ""


def find_exercises(nb: nbformat.NotebookNode, name: str = "") -> list[Exercise]:
    """Every exercise of a notebook, in order; ``name`` is the notebook's file name."""
    cells = nb.cells
    code = [i for i, cell in enumerate(cells) if cell.cell_type == "code"]
    found: list[Exercise] = []
    for position, index in enumerate(code):
        source = cells[index].source
        if not any(line.strip() == BEGIN for line in source.split("\n")):
            continue
        check_cell = code[position + 1] if position + 1 < len(code) else -1
        calls = _CHECK_CALL.findall(cells[check_cell].source) if check_cell >= 0 else []
        functions = [m.group(2) for m in map(_DEF.match, source.split("\n")) if m]
        function = functions[0] if functions else ""
        previous = found[-1].check_cell + 1 if found else 0
        title = _title(cells, previous, index) or function
        found.append(
            Exercise(
                name, index, check_cell, function, calls[-1] if calls else "", title, tuple(split_solution(source)[0])
            )
        )
    return found


def catalogue(paths: Sequence[str | Path]) -> str:
    """A Markdown table of the exercises of the given notebooks."""
    rows = ["| notebook | exercise | learner writes | check (vaecourse.checks) |", "|---|---|---|---|"]
    for path in paths:
        path = Path(path)
        for exercise in find_exercises(nbformat.read(path, as_version=4), path.name):
            rows.append(f"| {path.stem} | {exercise.title} | `{exercise.function}` | `{exercise.check}` |")
    return "\n".join(rows)


def _stub(indent: str, function: str | None) -> str:
    what = f"{function}: replace" if function else "Replace"
    return f'{indent}raise NotImplementedError("{what} this line with your code, then run the check below")'


def clear_solutions(source: str) -> str:
    """The cell source with each solution region replaced by a stub raising NotImplementedError.

    Raises ValueError for a region that is nested, not closed, or closed without being opened.
    """
    out: list[str] = []
    in_solution = False
    function: str | None = None
    for line in source.split("\n"):
        marker = line.strip()
        if marker == BEGIN:
            if in_solution:
                raise ValueError(f"nested {BEGIN!r} in:\n{source}")
            in_solution = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(_stub(indent, function))
        elif marker == END:
            if not in_solution:
                raise ValueError(f"{END!r} without {BEGIN!r} in:\n{source}")
            in_solution = False
        elif not in_solution:
            match = _DEF.match(line)
            if match:
                function = match.group(2)
            out.append(line)
    if in_solution:
        raise ValueError(f"{BEGIN!r} without {END!r} in:\n{source}")
    return "\n".join(out)


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions replaced by stubs and all outputs cleared."""
    nb = nbformat.from_dict(nb)
    nb.metadata.pop("widgets", None)
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        try:
            cell.source = clear_solutions(cell.source)
        except ValueError as exc:
            raise ValueError(f"cell {index}: {exc}") from None
        cell.outputs = []
        cell.execution_count = None
    return nb


def build(sources: Sequence[str | Path], out_dir: str | Path) -> list[Path]:
    """Write the student version of each source notebook into ``out_dir`` under its own name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        source = Path(source)
        try:
            nb = student_notebook(nbformat.read(source, as_version=4))
        except ValueError as exc:
            raise SystemExit(f"{source}: {exc}") from None
        target = out_dir / source.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vaecourse.student", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", help="source notebooks (.ipynb)")
    parser.add_argument("--out", default="student", help="folder for the student notebooks (default: student)")
    parser.add_argument("--catalogue", action="store_true", help="print the exercises as a Markdown table instead")
    args = parser.parse_args(argv)
    if args.catalogue:
        print(catalogue(args.notebooks))
        return
    written = build(args.notebooks, args.out)
    print(f"wrote {len(written)} student notebooks to {args.out}/")


if __name__ == "__main__":
    main()
