"""Student notebooks: the course notebooks with every exercise's solution taken out.

``make student`` runs ``python -m vaecourse._student --out student notebooks/*.ipynb``.

In each code cell, the lines from ``# BEGIN SOLUTION`` to ``# END SOLUTION`` (each alone on
its line, single hash) become one line, indented like the markers::

    raise NotImplementedError("log_marginal: replace this line with your code, then run the check below")

naming the function the region sits in; the task's docstring or comments above the region,
which say what to compute, stay. Outputs, execution counts and saved widget state are cleared;
every other cell, the check cells included, is kept as it is. This is the rule of nbgrader's
``ClearSolutions`` preprocessor (with ``enforce_metadata=False``) with a stub that names the
function, written here so that the course's environment needs neither nbgrader nor its
Jupyter extensions.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Sequence

import nbformat

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)\s*\(")


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
    parser = argparse.ArgumentParser(prog="python -m vaecourse._student", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", help="source notebooks (.ipynb)")
    parser.add_argument("--out", default="student", help="folder for the student notebooks (default: student)")
    args = parser.parse_args(argv)
    written = build(args.notebooks, args.out)
    print(f"wrote {len(written)} student notebooks to {args.out}/")


if __name__ == "__main__":
    main()
