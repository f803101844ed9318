"""Binder builds the course with repo2docker from binder/; these tests read the Dockerfile that
repo2docker itself writes for this repository (`repo2docker --no-build`, which needs neither
Docker nor the network) and the files in binder/ it reads.

What must hold: the pinned environment (binder/environment.yml, CPU-only PyTorch) is built
before the course content is copied in, so editing a notebook does not rebuild PyTorch; the
package is then installed by binder/postBuild without its dependencies; nothing runs at launch.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
# Where the Binder image's user lives: mybinder.org builds with uid 1000 (jovyan).
USER_ID, USER_NAME = "1000", "jovyan"


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[str, str]:
    """(Dockerfile, log) of `repo2docker --no-build --debug` on this repository, offline."""
    if importlib.util.find_spec("repo2docker") is None:
        pytest.fail("jupyter-repo2docker is not installed: it is pinned in requirements.txt; run `make setup`")
    unreachable = "http://127.0.0.1:9"  # any download attempt fails at once
    env = {
        **os.environ,
        "http_proxy": unreachable,
        "https_proxy": unreachable,
        "HTTP_PROXY": unreachable,
        "HTTPS_PROXY": unreachable,
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
    }
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    command = [sys.executable, "-m", "repo2docker", "--no-build", "--debug"]
    command += ["--user-id", USER_ID, "--user-name", USER_NAME, str(ROOT)]
    result = subprocess.run(
        command, check=False, cwd=tmp_path_factory.mktemp("r2d"), env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"repo2docker --no-build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "FROM " in result.stdout, f"repo2docker printed no Dockerfile:\n{result.stdout[-3000:]}"
    return result.stdout, result.stderr


def _instructions(dockerfile: str) -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def _index(instructions: list[str], pattern: str) -> int:
    matches = [i for i, line in enumerate(instructions) if re.search(pattern, line)]
    assert len(matches) == 1, f"expected one instruction matching {pattern!r}, found {len(matches)}"
    return matches[0]


def _environment() -> dict:
    return YAML(typ="safe").load((BINDER / "environment.yml").read_text())


def _conda_and_pip(environment: dict) -> tuple[list[str], list[str]]:
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pip = [line for d in environment["dependencies"] if isinstance(d, dict) for line in d.get("pip", [])]
    return conda, pip


def test_repo2docker_builds_a_conda_environment_for_python_3_11(build):
    dockerfile, log = build
    assert "Building conda environment for python=3.11" in log + dockerfile
    # One environment serves both the Jupyter server and the kernel, so the ipywidgets the
    # kernel imports and the widget extension JupyterLab loads come from the same install.
    assert "ENV KERNEL_PYTHON_PREFIX=${NB_PYTHON_PREFIX}" in dockerfile


def test_only_binder_files_configure_the_build(build):
    dockerfile, _ = build
    for top_level in ("src/environment.yml", "src/requirements.txt", "src/setup.py", "src/pyproject.toml"):
        assert top_level not in dockerfile, f"repo2docker read {top_level}; binder/ must take precedence"
    installs = [line for line in _instructions(dockerfile) if re.search(r"\bpip\b.*\binstall\b", line)]
    assert installs == [], f"the package must be installed by binder/postBuild only, found {installs}"


def test_the_pinned_environment_is_installed_before_the_content_is_copied(build):
    steps = _instructions(build[0])
    copy_env = _index(steps, r"^COPY .*src/binder/environment\.yml \$\{REPO_DIR\}/binder/environment\.yml$")
    install_env = _index(
        steps, r'^RUN .*\$\{MAMBA_EXE\} env update -p \$\{NB_PYTHON_PREFIX\} --file "binder/environment\.yml"'
    )
    copy_content = _index(steps, rf"^COPY --chown={USER_ID}:{USER_ID} src/ \$\{{REPO_DIR\}}/$")
    post_build = _index(steps, r"^RUN \./binder/postBuild$")
    assert copy_env < install_env < copy_content < post_build
    # Before the content, the build sees binder/environment.yml and nothing else of the repository,
    # so a change anywhere else leaves the environment's layers cached.
    early_copies = [line for line in steps[:copy_content] if re.match(r"^COPY .*\bsrc/", line)]
    assert early_copies == [steps[copy_env]]


def test_binder_gets_the_cpu_build_of_pytorch(build):
    environment = _environment()
    conda, pip = _conda_and_pip(environment)
    assert environment["channels"] == ["conda-forge", "nodefaults"], "PyTorch must come from conda-forge only"
    torch_like = [d for d in conda if re.match(r"^(pytorch|torch|cuda|libtorch|nvidia)", d)]
    assert torch_like == ["pytorch-cpu=2.13.0"], f"expected the CPU metapackage alone, found {torch_like}"
    assert not [line for line in pip if re.match(r"^(torch|nvidia)", line)], "pip must not install PyTorch"
    assert not re.search(r"cuda|nvidia", build[0], re.IGNORECASE)


def test_the_environment_file_references_nothing_in_the_repository():
    # repo2docker copies the whole repository before the environment step (losing the cache) as
    # soon as the pip section names a local file: -r, -c, -e, a path.
    _, pip = _conda_and_pip(_environment())
    local = [line for line in pip if line.startswith(("-", ".", "/", "file:")) or "==" not in line]
    assert local == [], f"binder/environment.yml pip entries must be exact pins from the index, found {local}"


def test_post_build_installs_the_package_without_its_dependencies():
    script = (BINDER / "postBuild").read_text()
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]
    installs = [line for line in commands if re.search(r"\b(pip|conda|mamba|apt-get)\b.*\binstall\b", line)]
    assert installs == ["python -m pip install --no-deps --no-build-isolation -e ."]
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
    assert "torch.version.cuda is None" in script, "postBuild should fail the build on a CUDA build of PyTorch"


def test_nothing_runs_at_launch(build):
    dockerfile, _ = build
    assert not (BINDER / "start").exists(), "binder/start would run at every launch"
    assert "R2D_ENTRYPOINT" not in dockerfile
    assert not (ROOT / ".binder").exists(), "repo2docker refuses a repository with both binder/ and .binder/"


def test_the_notebook_frontend_matches_the_pinned_jupyterlab():
    """repo2docker's base environment ships Jupyter Notebook 7.N, whose JupyterLab extension is
    built for JupyterLab 4.N; pinning JupyterLab to another minor release needs the matching
    Notebook pinned too, or JupyterLab reports that extension as incompatible."""
    _, pip = _conda_and_pip(_environment())
    pins = dict(line.split("==", 1) for line in pip if "==" in line)
    lab = Version(pins["jupyterlab"])
    lock = Path(importlib.util.find_spec("repo2docker").submodule_search_locations[0])
    lock = lock / "buildpacks" / "conda" / "environment.py-3.11-linux-64.lock"
    shipped = re.search(r"/notebook-(\d+\.\d+\.\d+)-", lock.read_text())
    notebook = Version(pins.get("notebook", shipped[1] if shipped else "0"))
    assert (notebook.major, notebook.minor) == (7, lab.minor), (
        f"binder/environment.yml pins jupyterlab=={lab} but the image would hold notebook {notebook}; "
        f"pin notebook==7.{lab.minor}.* (exactly) next to it"
    )


def test_a_local_build_leaves_the_virtual_environment_out(tmp_path):
    """repo2docker reads binder/.dockerignore when it builds from a folder: .venv (several GB)
    and other local products must not be sent to Docker; the course must."""
    from docker.utils.build import exclude_paths  # the function repo2docker calls with these patterns

    lines = (BINDER / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    for path in [
        ".venv/bin/python",
        "artifacts/browser/page.png",
        "vaecourse.egg-info/PKG-INFO",
        "vaecourse/__pycache__/kl.cpython-311.pyc",
        "notebooks/01_elbo.ipynb",
        "vaecourse/kl.py",
        "binder/postBuild",
    ]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    kept = {p for p in exclude_paths(str(tmp_path), patterns) if (tmp_path / p).is_file()}
    assert kept == {"notebooks/01_elbo.ipynb", "vaecourse/kl.py", "binder/postBuild"}
