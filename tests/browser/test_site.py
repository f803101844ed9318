"""The course website (`make site`), built afresh and read page by page in headless Chromium.

The site is built by `make site SITE_OUT=<tmp>` with every proxy variable pointing at a closed
port on 127.0.0.1, so a build that fetched a theme, a template or MathJax fails. It is served by
a static file server on 127.0.0.1; the browser lets through only requests to that server and
records any other, which fails the test. Every page is opened once (in course order, then the
index and search pages) and checked for:

- no console error, no page error, no failed request, nothing asked of another host;
- math typeset by MathJax: every math element rendered, no MathJax error, and no raw `$...$`,
  `\\(`, `\\[` or TeX command left in the text outside code;
- every image loaded; every link into the site resolving to a built page and, with a `#`, to an
  element of that page;
- the pages in course order (front page, the notebooks in the order of their file names, the
  exercises, the instructors' guide, the API), each with visible previous and next links;
- at each widget of a stored notebook, the note that it is interactive in JupyterLab, Binder or
  Colab with both badges, and the static figure in the next code cell;
- each exercise shown as the student version has it (the stub), its solution only behind a closed
  "Show solution" toggle that opens on a click.

Screenshots of every page (full length) go to artifacts/site/ (git-ignored).
"""

from __future__ import annotations

import functools
import html
import os
import re
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import nbformat
import pytest

import vaecourse
from vaecourse.student import find_exercises

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "site"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COURSE_ORDER = ["index", *(f"notebooks/{path.stem}" for path in NOTEBOOKS), "exercises", "instructors", "api"]
OTHER_PAGES = ["genindex", "py-modindex", "search"]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BUILD_SECONDS = 600
PAGE_TIMEOUT_MS = 60_000

# Everything the test reads from a page once it is loaded and MathJax has finished.
PAGE_REPORT = r"""() => {
    const visible = el => el.checkVisibility({visibilityProperty: true, opacityProperty: true});
    const skip = 'pre, code, kbd, script, style, textarea, mjx-container';
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const rawTex = [];
    const tex = /\$[^$\s][^$]*\$|\\[()\[\]]|\\[A-Za-z]{2,}/;
    while (walker.nextNode()) {
        const node = walker.currentNode;
        if (node.parentElement?.closest(skip)) continue;
        const match = node.textContent.match(tex);
        if (match) rawTex.push(node.textContent.trim().slice(0, 120));
    }
    const math = [...document.querySelectorAll('.math')];
    const cells = [...document.querySelectorAll('.cell')];
    const notes = [...document.querySelectorAll('.cell strong')]
        .filter(el => el.textContent.trim() === 'Interactive widget.')
        .map(el => {
            const cell = el.closest('.cell');
            const next = cells[cells.indexOf(cell) + 1];
            return {
                links: [...cell.querySelectorAll('.cell_output a')].map(a => a.href),
                figureNext: !!next && [...next.querySelectorAll('img')].some(img => img.naturalWidth > 0),
            };
        });
    const solutions = [...document.querySelectorAll('details')]
        .filter(d => d.querySelector('summary')?.textContent.includes('Show solution'))
        .map(d => {
            const cell = d.closest('.cell');
            const before = cells[cells.indexOf(cell) - 1];
            return {open: d.open, visibleText: visible(d.querySelector('pre') || d) ? 'visible' : 'hidden',
                    stubBefore: !!before && before.innerText.includes('NotImplementedError')};
        });
    const nav = word => [...document.querySelectorAll('a[href]')]
        .filter(a => visible(a) && a.innerText.trim().toLowerCase().startsWith(word))
        .map(a => a.href);
    return {
        title: document.title,
        mathCount: math.length,
        untypeset: math.filter(el => !el.querySelector('mjx-container')).map(el => el.textContent.slice(0, 80)),
        mathErrors: document.querySelectorAll('mjx-merror').length,
        rawTex,
        images: [...document.images].map(img => ({src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0})),
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        next: nav('next'),
        previous: nav('previous'),
        text: document.body.innerText,
        notes,
        solutions,
    };
}"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the standard library's signature
        pass


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """`make site` into a temporary folder, with no way to reach any other host."""
    out = tmp_path_factory.mktemp("site") / "html"
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens there
    env = {
        **os.environ,
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "ALL_PROXY": dead,
        "NO_PROXY": "",
        "http_proxy": dead,
        "https_proxy": dead,
        "all_proxy": dead,
        "no_proxy": "",
    }
    start = time.monotonic()
    result = subprocess.run(
        ["make", "--no-print-directory", "site", f"SITE_OUT={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_SECONDS,
    )
    assert result.returncode == 0, f"make site failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "build.txt").write_text(f"make site: {time.monotonic() - start:.1f} s\n{result.stdout}{result.stderr}")
    return out


@pytest.fixture(scope="session")
def server(built_site):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(built_site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _page_url(base: str, docname: str) -> str:
    return f"{base}{docname}.html"


def _docname(base: str, url: str) -> str | None:
    """The page a URL on the site points to ("notebooks/01_elbo"), or None for another host."""
    if not url.startswith(base):
        return None
    path = urlparse(urldefrag(url)[0]).path.lstrip("/")
    return (path or "index.html").removesuffix(".html")


def _visit(browser, base: str, docname: str) -> dict:
    """Open one page, let MathJax finish, open its solutions; return what the page showed."""
    problems = {"console": [], "errors": [], "failed": [], "elsewhere": []}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(base)
            else (problems["elsewhere"].append(route.request.url), route.abort())
        ),
    )
    page = context.new_page()
    page.on("console", lambda msg: problems["console"].append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems["errors"].append(str(exc)))
    page.on("requestfailed", lambda req: problems["failed"].append(f"{req.url}: {req.failure}"))
    page.on(
        "response",
        lambda res: problems["failed"].append(f"{res.url}: HTTP {res.status}") if res.status >= 400 else None,
    )
    try:
        page.goto(_page_url(base, docname), wait_until="load", timeout=PAGE_TIMEOUT_MS)
        page.wait_for_load_state("networkidle", timeout=PAGE_TIMEOUT_MS)
        page.evaluate("async () => { if (window.MathJax?.startup?.promise) await window.MathJax.startup.promise; }")
        report = page.evaluate(PAGE_REPORT)
        slug = docname.replace("/", "_")
        page.screenshot(path=str(ARTIFACTS / f"{slug}.png"), full_page=True)
        opened = []
        for summary in page.locator("details > summary", has_text="Show solution").all():
            summary.click()
            details = summary.locator("xpath=..")
            opened.append({"open": details.evaluate("d => d.open"), "text": details.inner_text()})
        report["opened"] = opened
    finally:
        context.close()
    report.update(problems)
    return report


@pytest.fixture(scope="session")
def pages(browser, server) -> dict[str, dict]:
    """Every page of the site, visited once: docname -> what it showed."""
    return {docname: _visit(browser, server, docname) for docname in COURSE_ORDER + OTHER_PAGES}


def test_the_site_has_exactly_the_course_pages(built_site):
    built = {
        path.relative_to(built_site).as_posix().removesuffix(".html")
        for path in built_site.rglob("*.html")
        if not path.relative_to(built_site).parts[0].startswith("_")
    }
    assert built == set(COURSE_ORDER + OTHER_PAGES)


def test_no_page_or_stylesheet_names_a_script_style_font_or_image_on_another_host(built_site):
    remote = re.compile(
        r"""<(?:script|link|img|iframe|source|video|audio|embed)\b[^>]*?\b(?:src|href)=["']?(?:https?:)?//""", re.I
    )
    remote_css = re.compile(r"""url\(\s*["']?(?:https?:)?//|@import\s+["'](?:https?:)?//""", re.I)
    found = [
        f"{path.relative_to(built_site)}: {match.group(0)}"
        for path in built_site.rglob("*.html")
        for match in remote.finditer(path.read_text(errors="replace"))
    ]
    found += [
        f"{path.relative_to(built_site)}: {match.group(0)}"
        for path in built_site.rglob("*.css")
        for match in remote_css.finditer(path.read_text(errors="replace"))
    ]
    assert not found


@pytest.mark.parametrize("docname", COURSE_ORDER + OTHER_PAGES)
def test_page_loads_everything_from_the_site_without_errors(pages, docname):
    report = pages[docname]
    assert not report["elsewhere"], f"{docname} asked another host for {report['elsewhere']}"
    assert not report["failed"], f"{docname}: failed requests {report['failed']}"
    assert not report["errors"], f"{docname}: page errors {report['errors']}"
    assert not report["console"], f"{docname}: console errors {report['console']}"
    broken = [image["src"] for image in report["images"] if not image["ok"]]
    assert not broken, f"{docname}: images that did not load: {broken}"


@pytest.mark.parametrize("docname", COURSE_ORDER + OTHER_PAGES)
def test_math_is_typeset_and_no_tex_is_left(pages, docname):
    report = pages[docname]
    assert not report["untypeset"], f"{docname}: math left untypeset: {report['untypeset'][:5]}"
    assert report["mathErrors"] == 0, f"{docname}: {report['mathErrors']} MathJax errors"
    assert not report["rawTex"], f"{docname}: raw TeX in the text: {report['rawTex'][:5]}"


def test_every_notebook_page_has_typeset_math(pages):
    for path in NOTEBOOKS:
        source = "\n".join(
            cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"
        )
        if "$" in source:
            assert pages[f"notebooks/{path.stem}"]["mathCount"] > 0, f"{path.name} has math, its page none"


def test_every_internal_link_resolves(pages, server, built_site):
    broken = []
    ids: dict[str, set[str]] = {}
    for docname, report in pages.items():
        for link in report["links"]:
            target = _docname(server, link)
            if target is None:
                continue
            file = built_site / (target if "." in Path(target).name else f"{target}.html")
            if not file.is_file():
                broken.append(f"{docname} -> {link}")
                continue
            fragment = urldefrag(link)[1]
            if fragment and file.suffix == ".html":
                if target not in ids:
                    ids[target] = set(map(html.unescape, re.findall(r'\bid="([^"]+)"', file.read_text())))
                if fragment not in ids[target]:
                    broken.append(f"{docname} -> {link} (no #{fragment})")
    assert not broken, "\n".join(broken)


def test_pages_follow_the_course_order_with_previous_and_next_links(pages, server):
    for position, docname in enumerate(COURSE_ORDER):
        report = pages[docname]
        nexts = {_docname(server, url) for url in report["next"]}
        previous = {_docname(server, url) for url in report["previous"]}
        if position + 1 < len(COURSE_ORDER):
            assert COURSE_ORDER[position + 1] in nexts, f"{docname}: next goes to {nexts}"
        else:
            assert not nexts, f"the last page {docname} has a next link to {nexts}"
        if position > 0:
            assert COURSE_ORDER[position - 1] in previous, f"{docname}: previous goes to {previous}"
        else:
            assert not previous, f"the front page has a previous link to {previous}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_widgets_are_replaced_by_a_note_with_badges_and_the_static_figure_follows(pages, path):
    nb = nbformat.read(path, as_version=4)
    widgets = sum(
        WIDGET_VIEW in output.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    report = pages[f"notebooks/{path.stem}"]
    assert len(report["notes"]) == widgets
    for note in report["notes"]:
        assert any("mybinder.org" in link and path.name in link for link in note["links"]), note
        assert any("colab.research.google.com" in link and path.name in link for link in note["links"]), note
        assert note["figureNext"], f"{path.name}: no figure in the code cell after the widget"
    assert "interactive(children" not in report["text"]
    assert "widget-view" not in report["text"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_solutions_are_shown_only_behind_a_toggle(pages, path):
    nb = nbformat.read(path, as_version=4)
    exercises = find_exercises(nb, path.name)
    report = pages[f"notebooks/{path.stem}"]
    assert len(report["solutions"]) == len(exercises)
    for exercise, shown, opened in zip(exercises, report["solutions"], report["opened"], strict=True):
        assert not shown["open"] and shown["visibleText"] == "hidden", f"{exercise}: solution shown unasked"
        assert shown["stubBefore"], f"{exercise}: the task cell before the toggle is not the student version"
        assert opened["open"] and exercise.solution[0] in opened["text"], f"{exercise}: the toggle did not show it"
        # Before any click, no line of the solution is on the page (unless other cells have it too).
        elsewhere = "\n".join(cell.source for index, cell in enumerate(nb.cells) if index != exercise.task_cell)
        leaked = [line for line in exercise.solution if line in report["text"] and line not in elsewhere]
        assert not leaked, f"{exercise}: solution lines visible without a click: {leaked}"


def test_front_page_exercises_and_instructors_come_from_the_readme(pages):
    readme = (ROOT / "README.md").read_text()
    intro = next(block for block in readme.split("\n\n")[1:] if not block.startswith(("#", "[!")))
    words = lambda text: " ".join(text.split())  # noqa: E731
    assert words(intro.replace("`", "")) in words(pages["index"]["text"])
    for path in NOTEBOOKS:
        for exercise in find_exercises(nbformat.read(path, as_version=4), path.name):
            assert exercise.check in pages["exercises"]["text"], f"{exercise} missing from the catalogue page"
    instructors = readme.split("\n## For instructors\n", 1)[1].split("\n## ", 1)[0]
    for heading in re.findall(r"^### (.+)$", instructors, re.M):
        assert heading in pages["instructors"]["text"], heading


def test_api_page_documents_every_public_name(built_site):
    api = built_site.joinpath("api.html").read_text()
    documented = {anchor.rsplit(".", 1)[-1] for anchor in re.findall(r'<dt class="sig[^"]*" id="([^"]+)"', api)}
    missing = sorted(set(vaecourse.__all__) - documented)
    assert not missing, f"not on the API page: {missing}"
