"""The pinned environments are one environment: requirements.txt (the learner's),
requirements-dev.txt (the maintainers' tools), environment.yml, binder/environment.yml and
pyproject.toml must agree on every package, version and supported Python; and the PyTorch
installed here is the CPU build that requirements.txt asks for."""

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch-cpu": "torch"}
CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)([=<>!].*)?$")
# The platforms PyTorch publishes wheels for, as pip's markers see them.
PLATFORMS = {
    "linux": {"sys_platform": "linux"},
    "win32": {"sys_platform": "win32"},
    "darwin": {"sys_platform": "darwin"},
}


def requirement_lines(name: str) -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def pins(name: str) -> dict[str, str]:
    """{package: exact version} of a requirements file; torch by its public version (2.13.0)."""
    result = {}
    for req in requirement_lines(name):
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name}: {req} is not pinned with =="
        assert req.marker is None or req.name == "torch", f"{name}: only torch may differ between platforms: {req}"
        version = Version(specs[0].version)
        result.setdefault(canonicalize_name(req.name), set()).add(version.public)
    for package, versions in result.items():
        assert len(versions) == 1, f"{name} pins {package} at several versions: {sorted(versions)}"
    return {package: versions.pop() for package, versions in result.items()}


def torch_line_for(platform: str) -> Requirement:
    lines = [r for r in requirement_lines("requirements.txt") if r.name == "torch"]
    applying = [r for r in lines if r.marker is None or r.marker.evaluate(PLATFORMS[platform])]
    assert len(applying) == 1, f"requirements.txt must give exactly one torch line for {platform}, found {applying}"
    return applying[0]


def conda_environment(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(conda specs, pip pins) of an environment.yml, read line by line."""
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
            if item.startswith("-"):
                continue
            req = Requirement(item)
            specs = list(req.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", (
                f"{path.name}: pip entry {item!r} is not pinned with =="
            )
            pip[canonicalize_name(req.name)] = specs[0].version
        else:
            in_pip = False
            match = CONDA_SPEC.match(item)
            assert match, f"{path.name}: {item!r}"
            spec = match[2] or ""
            # "name=1.2" pins a version; "name>=1,<2" is a range, kept as written.
            conda[CONDA_TO_PIP.get(match[1], match[1])] = spec[1:] if re.match(r"^=[^=]", spec) else spec
    return conda, pip


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def supported_pythons() -> list[str]:
    """The minor versions 3.N that pyproject.toml's requires-python admits."""
    spec = SpecifierSet(project()["requires-python"])
    return [f"3.{minor}" for minor in range(8, 20) if f"3.{minor}" in spec]


def test_the_supported_pythons_are_3_11_to_3_13_in_every_file():
    assert supported_pythons() == ["3.11", "3.12", "3.13"]
    conda, _ = conda_environment(ROOT / "environment.yml")
    assert conda["python"] == ">=3.11,<3.14", "environment.yml must admit the Pythons pyproject.toml admits"
    binder, _ = conda_environment(ROOT / "binder/environment.yml")
    assert binder["python"] in supported_pythons(), "Binder's image must use a supported Python"
    makefile = (ROOT / "Makefile").read_text()
    assert "sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))" in makefile
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11, 3.12 or 3.13" in readme
    assert not re.search(r"Python 3\.11(?!, 3\.12)", readme), "README names Python 3.11 alone somewhere"


def test_requirements_pin_the_cpu_build_of_torch_on_every_platform():
    # Linux and Windows: PyTorch's CPU index, whose CPU builds carry the local version +cpu
    # (the package index's torch for them is the CUDA build). macOS: every build is CPU, no label.
    for platform in ("linux", "win32"):
        assert Version(str(torch_line_for(platform).specifier).lstrip("=")) == Version("2.13.0+cpu")
    assert Version(str(torch_line_for("darwin").specifier).lstrip("=")) == Version("2.13.0")


def test_the_installed_torch_is_the_cpu_build():
    """The build, not the version string: no CUDA compiled in, no CUDA libraries installed."""
    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA {torch.version.cuda} build"
    assert not torch.backends.cuda.is_built()
    cuda_packages = sorted(
        d.metadata["Name"]
        for d in importlib.metadata.distributions()
        if re.match(r"(?i)^(nvidia-|triton$)", d.metadata["Name"] or "")
    )
    assert cuda_packages == [], f"CUDA libraries are installed next to torch: {cuda_packages}"
    line = torch_line_for(sys.platform)
    assert Version(torch.__version__) in line.specifier, (
        f"installed torch {torch.__version__}, requirements.txt asks {line}"
    )


def test_learner_and_maintainer_files_do_not_overlap():
    learner, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert set(learner) & set(dev) == set()
    for tool in ("pytest", "nbval", "hypothesis", "mpmath", "jupyter-repo2docker", "playwright", "ruamel-yaml"):
        assert tool in dev and tool not in learner


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_conda_environments_pin_the_learners_versions(path):
    conda, pip = conda_environment(ROOT / path)
    conda.pop("python")
    assert set(conda) - {"pip"} == {"torch"}, f"{path}: only python, pip and PyTorch come from conda"
    combined = {**pip, "torch": conda["torch"]}
    assert combined == pins("requirements.txt"), f"{path} and requirements.txt disagree"


def test_binder_installs_the_package_without_its_dependencies():
    post_build = (ROOT / "binder/postBuild").read_text()
    assert re.search(r"pip install .*--no-deps", post_build)
    assert not (ROOT / "binder/requirements.txt").exists()


@pytest.mark.parametrize(
    ("extras", "path"), [(("", "course"), "requirements.txt"), (("test",), "requirements-dev.txt")]
)
def test_pyproject_declares_each_pinned_package_with_a_range_that_admits_the_pin(extras, path):
    """requirements.txt is the dependencies plus the "course" extra; requirements-dev.txt is the
    "test" extra; each range admits its pin."""
    declared = [
        Requirement(r)
        for extra in extras
        for r in (project()["dependencies"] if extra == "" else project()["optional-dependencies"][extra])
    ]
    pinned = pins(path)
    assert {canonicalize_name(r.name) for r in declared} == set(pinned), (
        f"pyproject.toml and {path} list different packages"
    )
    for spec in declared:
        version = pinned[canonicalize_name(spec.name)]
        assert spec.specifier.contains(Version(version), prereleases=True), f"{spec} excludes the pinned {version}"


def test_every_dependency_has_a_lower_bound_to_test_the_floor_with():
    """`make test-install` installs the built wheel at these lower bounds (tests/install)."""
    for spec in map(Requirement, project()["dependencies"]):
        lower = [s for s in spec.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{spec} needs exactly one >= bound"
