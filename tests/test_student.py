"""The student-notebook builder (``make student``): a solution region becomes one stub line,
indented like its markers and naming its function; everything else stays; outputs go.
The notebooks themselves are covered by tests/test_exercises.py."""

import nbformat
import pytest

from vaecourse.student import build, clear_solutions, find_exercises, main, student_notebook

TASK = '''def kl(mu, logvar):
    """KL to the prior."""
    # BEGIN SOLUTION
    s2 = logvar.exp()
    return 0.5 * (mu**2 + s2 - logvar - 1).sum(-1)
    # END SOLUTION


x = 1'''


def test_a_solution_region_becomes_one_stub_line_naming_its_function():
    lines = clear_solutions(TASK).split("\n")
    assert lines[:3] == [
        "def kl(mu, logvar):",
        '    """KL to the prior."""',
        '    raise NotImplementedError("kl: replace this line with your code, then run the check below")',
    ]
    assert lines[3:] == ["", "", "x = 1"]


def test_each_region_of_a_cell_names_its_own_function():
    source = TASK.replace(
        "x = 1", "class A:\n    def grad(self):\n        # BEGIN SOLUTION\n        return 0\n        # END SOLUTION"
    )
    cleared = clear_solutions(source)
    assert '    raise NotImplementedError("kl: ' in cleared
    assert '        raise NotImplementedError("grad: ' in cleared and "return 0" not in cleared


def test_a_region_outside_any_function_gets_a_stub_without_a_name():
    assert clear_solutions("# BEGIN SOLUTION\ny = 2\n# END SOLUTION") == (
        'raise NotImplementedError("Replace this line with your code, then run the check below")'
    )


def test_a_cell_without_markers_is_unchanged():
    source = "print('# BEGIN SOLUTION is only a marker alone on its line')\nx = 1"
    assert clear_solutions(source) == source


@pytest.mark.parametrize(
    "source, words",
    [
        ("# BEGIN SOLUTION\nx = 1", "without '# END SOLUTION'"),
        ("x = 1\n# END SOLUTION", "without '# BEGIN SOLUTION'"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "nested"),
    ],
)
def test_unbalanced_markers_are_refused(source, words):
    with pytest.raises(ValueError, match=words):
        clear_solutions(source)


def _notebook():
    nb = nbformat.v4.new_notebook()
    task = nbformat.v4.new_code_cell(TASK, execution_count=3, outputs=[nbformat.v4.new_output("stream", text="hi\n")])
    task.metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
    task.metadata["tags"] = ["keep-me"]
    check = nbformat.v4.new_code_cell("check_kl(kl)", execution_count=4)
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n    # BEGIN SOLUTION"), task, check]
    nb.metadata["widgets"] = {"state": {}}
    return nb


def test_the_student_notebook_keeps_every_cell_but_no_output_or_run_record():
    source = _notebook()
    student = student_notebook(source)
    assert [cell.cell_type for cell in student.cells] == ["markdown", "code", "code"]
    assert student.cells[0].source == source.cells[0].source  # only code cells hold solutions
    assert "s2 = logvar.exp()" not in student.cells[1].source
    assert student.cells[2].source == "check_kl(kl)"
    for cell in student.cells[1:]:
        assert cell.outputs == [] and cell.execution_count is None and "execution" not in cell.metadata
    assert student.cells[1].metadata["tags"] == ["keep-me"]
    assert "widgets" not in student.metadata
    assert source.cells[1].outputs and "s2 = logvar.exp()" in source.cells[1].source  # source untouched


def test_the_command_writes_valid_notebooks_under_their_own_names(tmp_path, capsys):
    nbformat.write(_notebook(), tmp_path / "01_x.ipynb")
    main([str(tmp_path / "01_x.ipynb"), "--out", str(tmp_path / "student")])
    written = nbformat.read(tmp_path / "student" / "01_x.ipynb", as_version=4)
    nbformat.validate(written)
    assert "NotImplementedError" in written.cells[1].source
    assert "wrote 1 student notebooks" in capsys.readouterr().out


def test_a_notebook_with_a_broken_region_stops_the_build_naming_file_and_cell(tmp_path):
    nb = _notebook()
    nb.cells[1].source = "def f():\n    # BEGIN SOLUTION\n    return 1"
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(SystemExit, match=r"bad.ipynb: cell 1: .*without '# END SOLUTION'"):
        build([tmp_path / "bad.ipynb"], tmp_path / "student")


def test_exercises_are_found_with_their_check_and_title():
    nb = _notebook()
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("### Exercise 1: the KL of a batch\n\nWrite it."))
    nb.cells.append(nbformat.v4.new_markdown_cell("**Exercise 2 — a bare region.** Fill it in."))
    nb.cells.append(nbformat.v4.new_code_cell("# BEGIN SOLUTION\ny = 2\n# END SOLUTION"))
    first, second = find_exercises(nb, "01_x.ipynb")
    assert (first.task_cell, first.check_cell, first.function, first.check, first.title) == (
        2,
        3,
        "kl",
        "check_kl",
        "the KL of a batch",
    )
    assert first.solution == ("s2 = logvar.exp()", "return 0.5 * (mu**2 + s2 - logvar - 1).sum(-1)")
    assert (second.check_cell, second.function, second.check, second.title) == (-1, "", "", "a bare region")
    assert str(first) == "01_x:check_kl"


def test_the_catalogue_is_a_markdown_table_of_the_exercises(tmp_path, capsys):
    nbformat.write(_notebook(), tmp_path / "01_x.ipynb")
    main(["--catalogue", str(tmp_path / "01_x.ipynb")])
    lines = capsys.readouterr().out.strip().split("\n")
    assert lines[0].startswith("| notebook |") and lines[2] == "| 01_x | kl | `kl` | `check_kl` |"
