# Two commands do everything (see README): `make lab` and `make test`.
# Both create .venv and install the pinned environment once; a second run installs nothing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# Stored outputs and nbval must not see progress bars (they change between runs), and never
# touch the network (the course's MNIST ships with the package).
NB_ENV := TQDM_DISABLE=1 PYDEVD_DISABLE_FILE_VALIDATION=1 VAECOURSE_OFFLINE=1
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: setup lab test test-unit test-notebooks test-browser execute bench clean student site

setup: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "vaecourse needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)

# The stamp is newer than the files it installs from, so a second run does nothing.
$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# The website's tools (site/requirements.txt: Sphinx, myst-nb, the book theme, MathJax) go into the
# same .venv, once, on top of the course's pinned environment.
SITE_STAMP := $(VENV)/.site-installed
SITE_OUT ?= build/site

$(SITE_STAMP): site/requirements.txt $(STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check -r site/requirements.txt
	touch $(SITE_STAMP)

# Loopback only, token authentication left on; --allow-root only where make runs as root
# (containers), where Jupyter otherwise refuses to start.
lab: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/01_elbo.ipynb

test: setup
	$(MAKE) --no-print-directory test-unit test-notebooks

test-unit: setup
	$(BIN)/python -m pytest tests

test-notebooks: setup
	$(NB_ENV) $(BIN)/python -m pytest $(NBVAL) notebooks

# Every notebook run in JupyterLab in headless Chromium (Debian's /usr/bin/chromium: Playwright
# never downloads a browser); screenshots go to artifacts/browser/.
test-browser: setup $(SITE_STAMP)
	$(NB_ENV) PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 VAECOURSE_BROWSER_TESTS=1 $(BIN)/python -m pytest tests/browser

# Re-run notebooks from a clean kernel and store their outputs: `make execute` (all) or
# `make execute NB=notebooks/02_kl_closed_form.ipynb` (maintainers, after an edit).
execute: setup
	$(NB_ENV) $(BIN)/jupyter execute --inplace --kernel_name=python3 $(if $(NB),$(NB),$(NOTEBOOKS))

# Student notebooks in student/ (git ignores it): solutions replaced by a stub, outputs cleared.
student: setup
	$(BIN)/python -m vaecourse._student --out student $(NOTEBOOKS)

# The course as a static website in build/site (git ignores build/), from the stored notebooks,
# which are not executed again; open build/site/index.html. SITE_OUT=dir builds elsewhere. -E: every
# page is read afresh (Sphinx would not notice a change in site/course_site.py).
site: $(SITE_STAMP)
	$(BIN)/python -m sphinx -b html -E -W --keep-going -q -d $(SITE_OUT)-doctrees site $(SITE_OUT)
	@echo "site built: $(SITE_OUT)/index.html"

# Speed and quality figures (about 5 minutes).
bench: setup
	$(BIN)/python tests/benchmarks/bench_import.py
	$(BIN)/python tests/benchmarks/bench_training.py
	$(BIN)/python tests/benchmarks/bench_kl_budget.py

clean:
	rm -rf $(VENV) build *.egg-info student site/notebooks
