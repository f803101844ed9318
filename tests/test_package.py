"""The package's front door: the public API is importable, the modules that need matplotlib,
ipywidgets or SciPy load only when imported by name, and every public function says which
notebook teaches it."""

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
    public = [getattr(vaecourse, name) for name in vaecourse.__all__]
    for obj in public:
        if isinstance(obj, type) and issubclass(obj, Exception):
            continue  # an error type is raised, not taught
        doc = inspect.getdoc(obj) or ""
        assert "notebook" in doc.lower(), f"{obj.__name__} does not say which notebook teaches it"


def test_an_unknown_attribute_is_an_attribute_error():
    try:
        vaecourse.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_a_built_wheel_carries_the_mnist_files_and_loads_them_without_the_repository(tmp_path):
    """What Colab, pip-from-git and instructors get: the wheel, installed away from the repo."""
    import hashlib
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(root),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("vaecourse-*.whl")
    published = {
        "vaecourse/mnist/t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "vaecourse/mnist/t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    with zipfile.ZipFile(wheel) as archive:
        for name, digest in published.items():
            assert hashlib.md5(archive.read(name)).hexdigest() == digest
        assert "vaecourse/mnist/README.md" in archive.namelist()
        archive.extractall(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); import vaecourse; "
        "ds = vaecourse.load_dataset('mnist10k', 'test'); "
        "print(vaecourse.__file__); print(len(ds), tuple(ds.images.shape[1:]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "VAECOURSE_OFFLINE": "1"},
    )
    assert run.returncode == 0, run.stderr
    location, loaded = run.stdout.splitlines()
    assert location.startswith(str(tmp_path / "site")), location  # not the repository's copy
    assert loaded == "1996 (28, 28)"
