"""Every notebook, run top to bottom in JupyterLab in headless Chromium, as a learner would.

For each notebooks/*.ipynb (found by glob, so a new notebook is covered without an edit): open it
in JupyterLab, Run > Run All Cells, and check that

- no cell shows an error or anything on stderr (a traceback or a warning),
- every widget renders: each widget output shows a visible control (a slider, a dropdown, ...),
  and every cell that stored a widget in the committed notebook shows one here too,
- moving one control of each widget changes what the widget shows, without an error.

Screenshots go to artifacts/browser/<notebook>/ (git-ignored): each widget before and after the
move, the page at the end, and the page at a failure. Run with `make test-browser`.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# Generous: the course budget is 60 s a notebook on 2 cores, and CI shares the machine.
OPEN_TIMEOUT_MS = 180_000
RUN_TIMEOUT_MS = 600_000
WIDGET_TIMEOUT_MS = 120_000
SLIDER_DRAG_PX = 40
SLIDER_SETTLE_MS = 5_000  # the handle moves in the page at once; no kernel involved

# The controls a widget can offer, in the order the test prefers to move them.
CONTROLS = [
    ".noUi-handle",  # ipywidgets 8 sliders (noUiSlider)
    ".widget-dropdown select",
    ".widget-select select",
    ".widget-toggle-button",
    ".widget-radio-box input",
    ".widget-checkbox input",
    ".widget-button",
]
CONTROL_CONTAINERS = (
    ".widget-slider, .widget-dropdown, .widget-select, .widget-toggle-buttons, "
    ".widget-radio, .widget-checkbox, .widget-button, .widget-text"
)

NOTEBOOK_READY = """() => {
    const panel = window.jupyterapp?.shell?.currentWidget;
    return Boolean(panel && panel.context?.isReady && panel.content?.widgets?.length
        && panel.sessionContext?.session?.kernel?.status === 'idle');
}"""

KERNEL_STATUS = """() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status
    ?? 'no kernel'"""

# Prompts of the code cells that have source: '[*]:' while queued or running, '[7]:' when done.
PROMPTS = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')]
    .filter(cell => cell.querySelector('.cm-content')?.textContent.trim())
    .map(cell => cell.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '')"""

RUN_STARTED = f"""() => {{
    const prompts = ({PROMPTS})();
    return prompts.some(p => p.includes('*')) || prompts.every(p => /^\\[\\d+\\]:$/.test(p))
        || document.querySelector('.jp-NotebookPanel [data-mime-type="application/vnd.jupyter.stderr"]') !== null;
}}"""

RUN_FINISHED = f"""() => !({PROMPTS})().some(p => p.includes('*'))"""

# One record per cell, from JupyterLab's own model; widget outputs get a data-vc-widget
# attribute ("<cell>-<k>") so the test can find them in the page.
CELLS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    return panel.content.widgets.map((cell, index) => {
        const record = {index, type: cell.model.type, source: cell.model.sharedModel.getSource(),
                        prompt: '', errors: [], widgets: []};
        if (cell.model.type !== 'code') return record;
        record.prompt = cell.node.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '';
        const outputs = cell.model.outputs;
        for (let i = 0; i < outputs.length; i++) {
            const output = outputs.get(i).toJSON();
            if (output.output_type === 'error') {
                record.errors.push(`${output.ename}: ${output.evalue}\\n` + (output.traceback ?? []).join('\\n'));
            } else if (output.output_type === 'stream' && output.name === 'stderr') {
                record.errors.push('stderr: ' + [].concat(output.text).join(''));
            } else if (output.data && 'application/vnd.jupyter.widget-view+json' in output.data) {
                const key = `${index}-${record.widgets.length}`;
                const child = cell.outputArea.widgets[i];
                if (child) child.node.setAttribute('data-vc-widget', key);
                record.widgets.push({key, attached: Boolean(child)});
            }
        }
        return record;
    });
}"""

# What a widget shows, without its controls (whose own look changes when they move): its text
# and its images. Not its HTML, which JupyterLab re-renders with fresh ids on every update.
WIDGET_DISPLAY = f"""node => {{
    const copy = node.cloneNode(true);
    copy.querySelectorAll('{CONTROL_CONTAINERS}').forEach(e => e.remove());
    const images = [...copy.querySelectorAll('img')].map(img => img.getAttribute('src'));
    const svgs = [...copy.querySelectorAll('.jp-RenderedSVG, .jp-RenderedHTMLCommon svg')].map(s => s.outerHTML);
    return JSON.stringify([copy.textContent, images, svgs]);
}}"""

WIDGET_ERRORS = """node => [...node.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent)"""


def _ansi_free(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _where(notebook: Path, cell: dict) -> str:
    first_line = next((line for line in cell["source"].splitlines() if line.strip()), "")
    return f"{notebook.relative_to(ROOT)}, cell {cell['index']} ({first_line[:70]!r})"


def _stored_widget_cells(notebook: Path) -> set[int]:
    """Cells whose committed outputs hold a widget: they must show one in the browser too."""
    nb = nbformat.read(notebook, as_version=4)
    return {
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and any(WIDGET_MIME in output.get("data", {}) for output in cell.get("outputs", []))
    }


def _open_and_run_all(page, lab, notebook: Path) -> None:
    workspace = f"test-{notebook.stem}"
    path = f"/lab/workspaces/{workspace}/tree/notebooks/{notebook.name}?reset"
    page.goto(lab.url(path), timeout=OPEN_TIMEOUT_MS)
    try:
        page.wait_for_function(NOTEBOOK_READY, timeout=OPEN_TIMEOUT_MS, polling=250)
    except PlaywrightTimeout as exc:
        status = page.evaluate(KERNEL_STATUS)
        raise AssertionError(
            f"{notebook.name}: JupyterLab did not open the notebook with an idle kernel within "
            f"{OPEN_TIMEOUT_MS // 1000} s (kernel: {status})"
        ) from exc
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(RUN_STARTED, timeout=OPEN_TIMEOUT_MS, polling=250)
    try:
        page.wait_for_function(RUN_FINISHED, timeout=RUN_TIMEOUT_MS, polling=500)
    except PlaywrightTimeout as exc:
        prompts = page.evaluate(PROMPTS)
        status = page.evaluate(KERNEL_STATUS)
        running = [i for i, p in enumerate(prompts) if "*" in p]
        raise AssertionError(
            f"{notebook.name}: Run All Cells did not finish within {RUN_TIMEOUT_MS // 1000} s "
            f"(kernel: {status}; code cells {running} still queued or running)"
        ) from exc


def _drag_slider(handle) -> str:
    """Drag a slider's handle as a learner would: right, or left when it sits at the maximum;
    a short drag first, then a long one (a quarter of the track) for a slider with few steps."""
    page = handle.page
    before = handle.get_attribute("aria-valuenow")
    to_left = float(before) >= float(handle.get_attribute("aria-valuemax"))
    track = handle.locator("xpath=ancestor::*[contains(@class, 'noUi-base')]").bounding_box()
    for distance in (SLIDER_DRAG_PX, max(SLIDER_DRAG_PX, track["width"] / 4)):
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x - distance if to_left else x + distance, y, steps=5)
        page.mouse.up()
        try:
            page.wait_for_function(
                "([e, before]) => e.getAttribute('aria-valuenow') !== before",
                arg=[handle.element_handle(), before],
                timeout=SLIDER_SETTLE_MS,
            )
            break
        except PlaywrightTimeout:
            continue
    after = handle.get_attribute("aria-valuenow")
    if after == before:
        raise PlaywrightTimeout(f"the slider stayed at {before} when dragged")
    return f"slider dragged {'left' if to_left else 'right'}: {before} -> {after}"


def _move(control) -> str:
    """Move a control one step; return what was done (for the failure message)."""
    classes = control.get_attribute("class") or ""
    tag = control.evaluate("e => e.tagName.toLowerCase()")
    if "noUi-handle" in classes:
        return _drag_slider(control)
    if tag == "select":
        values = control.evaluate("e => [...e.options].map(o => o.value)")
        current = control.input_value()
        target = next(v for v in values if v != current)
        control.select_option(target)
        return f"dropdown {current!r} -> {target!r}"
    control.click()
    return f"clicked {tag}.{classes.split()[0] if classes else ''}"


def _exercise_widget(page, notebook: Path, cell: dict, key: str, shots: Path) -> list[str]:
    """Check one widget renders a control and that moving it changes what it shows."""
    where = _where(notebook, cell)
    view = page.locator(f'[data-vc-widget="{key}"]')
    control = None
    try:
        page.wait_for_function(
            "([node, selectors]) => selectors.some(s => [...node.querySelectorAll(s)]"
            "    .some(e => e.offsetWidth > 0 && e.offsetHeight > 0))",
            arg=[view.element_handle(), CONTROLS],
            timeout=WIDGET_TIMEOUT_MS,
        )
    except PlaywrightTimeout:
        view.screenshot(path=shots / f"widget-{key}-not-rendered.png")
        shows = view.inner_text()[:300]
        return [
            f"{where}: the widget did not render a visible control within {WIDGET_TIMEOUT_MS // 1000} s ({shows!r})"
        ]
    for selector in CONTROLS:
        candidates = view.locator(selector)
        for i in range(candidates.count()):
            if candidates.nth(i).is_visible():
                control = candidates.nth(i)
                break
        if control is not None:
            break
    control.scroll_into_view_if_needed()
    view.screenshot(path=shots / f"widget-{key}-before.png")
    shown = view.evaluate(WIDGET_DISPLAY)
    try:
        action = _move(control)
    except PlaywrightTimeout:
        return [f"{where}: its control did not move when dragged, selected or clicked (see widget-{key}-before.png)"]
    try:
        page.wait_for_function(
            f"([node, before]) => ({WIDGET_DISPLAY})(node) !== before && ({KERNEL_STATUS})() === 'idle'",
            arg=[view.element_handle(), shown],
            timeout=WIDGET_TIMEOUT_MS,
            polling=250,
        )
    except PlaywrightTimeout:
        view.screenshot(path=shots / f"widget-{key}-unchanged.png")
        return [
            f"{where}: moving the widget's control ({action}) did not change its output in {WIDGET_TIMEOUT_MS // 1000} s"
        ]
    view.screenshot(path=shots / f"widget-{key}-after.png")
    errors = view.evaluate(WIDGET_ERRORS)
    return [f"{where}: after {action} the widget shows an error:\n{_ansi_free(e)[-1500:]}" for e in errors]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_jupyterlab_and_its_widgets_respond(notebook, lab, browser):
    shots = ARTIFACTS / notebook.stem
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked: list[str] = []
    page_errors: list[str] = []

    def loopback_only(route):
        # The course runs offline; nothing the page asks for may leave this machine.
        if route.request.url.startswith(lab.base_url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", loopback_only)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    started = time.monotonic()
    problems: list[str] = []
    try:
        _open_and_run_all(page, lab, notebook)
        run_seconds = time.monotonic() - started
        cells = page.evaluate(CELLS)

        for cell in cells:
            for error in cell["errors"]:
                problems.append(f"{_where(notebook, cell)}: error output:\n{_ansi_free(error)[-1500:]}")
        not_run = [
            c for c in cells if c["type"] == "code" and c["source"].strip() and not c["prompt"].strip("[]:").isdigit()
        ]
        if not_run and not problems:
            problems.append(f"{_where(notebook, not_run[0])}: not run (prompt {not_run[0]['prompt']!r})")

        shown = {c["index"] for c in cells if c["widgets"]}
        for index in sorted(_stored_widget_cells(notebook) - shown):
            problems.append(
                f"{_where(notebook, cells[index])}: the stored notebook shows a widget here, the browser run shows none"
            )
        if not problems:
            for cell in cells:
                for widget in cell["widgets"]:
                    problems += _exercise_widget(page, notebook, cell, widget["key"], shots)
        page.screenshot(path=shots / "page-end.png")
        (shots / "timing.json").write_text(
            json.dumps(
                {
                    "run_all_seconds": round(run_seconds, 1),
                    "total_seconds": round(time.monotonic() - started, 1),
                    "widgets": sum(len(c["widgets"]) for c in cells),
                    "blocked_requests": blocked,
                    "page_errors": page_errors,
                },
                indent=2,
            )
        )
    except Exception:
        page.screenshot(path=shots / "failure.png")
        raise
    finally:
        context.close()
        lab.shutdown_kernels()
    if page_errors and problems:
        problems.append("JavaScript errors in the page:\n" + "\n".join(page_errors[:5]))
    assert not problems, "\n\n".join(problems)
