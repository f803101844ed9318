"""The package's front door: the public API is importable, heavy optional modules load only
when used, and every public function says which notebook teaches it."""

import inspect
import subprocess
import sys

import vaecourse


def test_import_loads_no_plotting_widgets_or_data_libraries_beyond_torch():
    code = (
        "import sys, torch; before = set(sys.modules); import vaecourse; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    added = eval(out)  # a printed list of top-level module names
    assert not {"matplotlib", "ipywidgets", "sklearn", "pooch", "scipy", "IPython"} & set(added), added


def test_every_public_name_resolves():
    for name in vaecourse.__all__:
        assert getattr(vaecourse, name) is not None, name


def test_public_functions_name_the_notebook_that_teaches_them():
    eager = [getattr(vaecourse, name) for name in vaecourse.__all__ if name not in vaecourse._LAZY]
    for obj in eager:
        doc = inspect.getdoc(obj) or ""
        assert "notebook" in doc.lower(), f"{obj.__name__} does not say which notebook teaches it"


def test_an_unknown_attribute_is_an_attribute_error():
    try:
        vaecourse.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
