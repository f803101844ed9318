"""The pinned environment is one environment: requirements.txt, environment.yml,
binder/environment.yml and pyproject.toml must agree on every package and version."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch-cpu": "torch"}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)$")


def requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"requirements.txt: {line!r} is not pinned with =="
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def conda_environment(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(conda pins, pip pins) of an environment.yml, read line by line."""
    conda, pip, in_pip = {}, {}, False
    text = path.read_text()
    assert "\ndependencies:\n" in text, f"{path.name} has no dependencies section"
    for raw in text.split("\ndependencies:\n", 1)[1].splitlines():
        line = raw.split("#")[0].rstrip()
        if not line.strip().startswith("- "):
            continue
        item = line.strip()[2:].strip()
        if item == "pip:":
            in_pip = True
            continue
        indent = len(line) - len(line.lstrip())
        if in_pip and indent > 2:
            if item.startswith("-e ") or item.startswith("-"):
                continue
            match = PIN.match(item)
            assert match, f"{path.name}: pip entry {item!r} is not pinned with =="
            pip[canonicalize_name(match[1])] = match[2]
        else:
            in_pip = False
            name, _, version = item.partition("=")
            conda[CONDA_TO_PIP.get(name, name)] = version
    return conda, pip


def test_requirements_pin_the_cpu_torch_exactly():
    assert requirements()["torch"] == "2.13.0"


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_conda_environments_pin_the_same_versions_as_requirements(path):
    conda, pip = conda_environment(ROOT / path)
    assert conda.pop("python") == "3.11"
    assert set(conda) - {"pip"} == {"torch"}, f"{path}: only python, pip and PyTorch come from conda"
    combined = {**pip, "torch": conda["torch"]}
    assert combined == requirements(), f"{path} and requirements.txt disagree"


def test_binder_installs_the_package_without_its_dependencies():
    post_build = (ROOT / "binder/postBuild").read_text()
    assert re.search(r"pip install .*--no-deps", post_build)
    assert not (ROOT / "binder/requirements.txt").exists()


def test_pyproject_ranges_admit_the_pinned_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        declared += extra
    pins = requirements()
    for spec in map(Requirement, declared):
        name = canonicalize_name(spec.name)
        assert name in pins, f"pyproject declares {name} but requirements.txt does not pin it"
        assert spec.specifier.contains(Version(pins[name]), prereleases=True), f"{spec} excludes the pinned {pins[name]}"
    assert project["requires-python"] == ">=3.11"


def test_every_pinned_package_is_declared_by_pyproject_or_is_a_test_oracle():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        declared |= {canonicalize_name(Requirement(r).name) for r in extra}
    assert set(requirements()) == declared
