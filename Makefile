# Two commands do everything (see README): `make lab` and `make test`.
# Both create .venv and install the pinned environment once; a second run installs nothing.

VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# Stored outputs and nbval must not see progress bars (they change between runs), and never
# touch the network (the course's MNIST ships with the package).
NB_ENV := TQDM_DISABLE=1 PYDEVD_DISABLE_FILE_VALIDATION=1 VAECOURSE_OFFLINE=1
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

# The Python that creates .venv: `make setup PYTHON=python3.12` names one; otherwise the first
# of these on the PATH whose version is supported (pyproject.toml's requires-python).
PYTHONS := python3 python3.13 python3.12 python3.11
SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
NO_PYTHON := vaecourse needs Python 3.11, 3.12 or 3.13 and found none on the PATH
# PyTorch's own index of CPU builds (the package index's Linux torch is the CUDA build). Where it
# cannot be reached pip gives up on it after one quick retry and looks in its find-links folders.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIP := --no-deps --retries 1 --timeout 10 --index-url $(TORCH_INDEX)

.PHONY: help setup check-python setup-dev lab lint test test-unit test-notebooks test-browser test-install execute bench clean student site

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

setup: check-python $(STAMP)  ## create .venv with the learner's pinned environment and the package

# Runs every time (it costs a few milliseconds), so that a .venv made by an unsupported Python
# is reported too, not only a missing one.
check-python:
	@if [ -x $(BIN)/python ]; then \
	    $(BIN)/python -c '$(SUPPORTED)' || { echo "vaecourse needs Python 3.11, 3.12 or 3.13, but .venv was made with Python $$($(BIN)/python -c 'import platform; print(platform.python_version())'): run make clean, then make setup (PYTHON=python3.x names the Python to use)"; exit 1; }; \
	fi

$(BIN)/python:
	@python=""; for candidate in $(or $(PYTHON),$(PYTHONS)); do \
	    if command -v "$$candidate" >/dev/null 2>&1 && "$$candidate" -c '$(SUPPORTED)' 2>/dev/null; then python="$$candidate"; break; fi; \
	done; \
	if [ -z "$$python" ]; then \
	    if [ -n "$(PYTHON)" ]; then echo "vaecourse needs Python 3.11, 3.12 or 3.13, and PYTHON=$(PYTHON) is $$($(PYTHON) -c 'import platform; print("Python", platform.python_version())' 2>/dev/null || echo 'not a Python that runs'): install one of them (python.org, or your package manager: python3.12) and name it with PYTHON="; \
	    else echo "$(NO_PYTHON) (python3 is $$(python3 -c 'import platform; print(platform.python_version())' 2>/dev/null || echo missing)): install one of them (python.org, or your package manager: python3.12), or name it with PYTHON=/path/to/python3.x"; fi; \
	    exit 1; \
	fi; \
	echo "$$python -m venv $(VENV)  # Python $$("$$python" -c 'import platform; print(platform.python_version())')"; \
	"$$python" -m venv $(VENV)

# torch first, from PyTorch's CPU index (the line of requirements.txt for this platform), then
# everything else; the stamp is newer than the files it installs from, so a second run does nothing.
$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	grep -E '^torch[ =]' requirements.txt | $(PIP) $(TORCH_PIP) -r /dev/stdin \
	    || { echo "make: no CPU build of PyTorch for this Python and platform at $(TORCH_INDEX) (nor in pip's find-links): check that this index can be reached, or name another with TORCH_INDEX="; exit 1; }
	$(PIP) -r requirements.txt
	$(BIN)/python -c 'import torch; assert torch.version.cuda is None, "expected the CPU build of PyTorch, got CUDA " + torch.version.cuda'
	$(PIP) --no-deps -e .
	touch $(STAMP)

# The maintainers' tools (requirements-dev.txt), for the tests.
setup-dev: setup $(DEV_STAMP)  ## setup, plus the maintainers' tools (tests, nbval, repo2docker, Playwright)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PIP) -r requirements.txt -r requirements-dev.txt
	touch $(DEV_STAMP)

# The website's tools (site/requirements.txt: Sphinx, myst-nb, the book theme, MathJax) go into the
# same .venv, once, on top of the course's pinned environment.
SITE_STAMP := $(VENV)/.site-installed
SITE_OUT ?= build/site

$(SITE_STAMP): site/requirements.txt $(STAMP)
	$(PIP) -r site/requirements.txt
	touch $(SITE_STAMP)

# Loopback only, token authentication left on; --allow-root only where make runs as root
# (containers), where Jupyter otherwise refuses to start.
lab: setup  ## open notebook 01 in JupyterLab (127.0.0.1, token authentication)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/01_elbo.ipynb

test: setup-dev  ## lint, unit tests, then every notebook under nbval (what CI runs)
	$(MAKE) --no-print-directory lint test-unit test-notebooks

# ruff's formatter and linter (pyproject.toml's [tool.ruff]); `ruff format .` fixes the layout.
lint: setup-dev  ## ruff: formatting and lint of the package and tests (not the notebooks)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

test-unit: setup-dev  ## unit tests only
	$(BIN)/python -m pytest tests

test-notebooks: setup-dev  ## every notebook under strict nbval only
	$(NB_ENV) $(BIN)/python -m pytest $(NBVAL) notebooks

# Every notebook run in JupyterLab in headless Chromium (Debian's /usr/bin/chromium: Playwright
# never downloads a browser); screenshots go to artifacts/browser/.
test-browser: setup-dev $(SITE_STAMP)  ## every notebook in JupyterLab, and the website, in headless Chromium
	$(NB_ENV) PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 VAECOURSE_BROWSER_TESTS=1 $(BIN)/python -m pytest tests/browser

# The built wheel in new virtual environments (tests/install): at pyproject.toml's lower bounds
# (Colab's stack) with the unit tests and every notebook, and the instructors' recipe of the README.
test-install: setup-dev  ## the built wheel in new environments: at the floor versions, and as an instructor installs it
	VAECOURSE_INSTALL_TESTS=1 TORCH_INDEX=$(TORCH_INDEX) $(BIN)/python -m pytest tests/install

# Re-run notebooks from a clean kernel and store their outputs: `make execute` (all) or
# `make execute NB=notebooks/02_kl_closed_form.ipynb` (maintainers, after an edit).
execute: setup  ## re-run notebooks and store their outputs (NB=notebooks/NN_x.ipynb for one)
	$(NB_ENV) $(BIN)/jupyter execute --inplace --kernel_name=python3 $(if $(NB),$(NB),$(NOTEBOOKS))

# Student notebooks in student/ (git ignores it): solutions replaced by a stub, outputs cleared.
student: setup  ## student versions of the notebooks in student/
	$(BIN)/python -m vaecourse.student --out student $(NOTEBOOKS)

# The course as a static website in build/site (git ignores build/), from the stored notebooks,
# which are not executed again; open build/site/index.html. SITE_OUT=dir builds elsewhere. -E: every
# page is read afresh (Sphinx would not notice a change in site/course_site.py).
site: $(SITE_STAMP)  ## the course as a static website in build/site, from the stored notebooks
	$(BIN)/python -m sphinx -b html -E -W --keep-going -q -d $(SITE_OUT)-doctrees site $(SITE_OUT)
	@echo "site built: $(SITE_OUT)/index.html"

# Speed and quality figures (about 5 minutes).
bench: setup-dev  ## speed and quality figures (about 5 minutes)
	$(BIN)/python tests/benchmarks/bench_import.py
	$(BIN)/python tests/benchmarks/bench_training.py
	$(BIN)/python tests/benchmarks/bench_kl_budget.py

clean:  ## remove .venv and build products
	rm -rf $(VENV) build *.egg-info student site/notebooks
