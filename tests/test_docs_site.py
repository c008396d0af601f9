"""The documentation site: built in strict mode, served on 127.0.0.1, opened in Chromium.

The site is built by ``docs/build.py`` (warnings are errors; the tutorials' code runs), or
taken from ``$SCRATCHNN_DOCS_SITE`` when CI has just built it. The browser test drives
Debian's headless ``chromium`` over the DevTools protocol (see ``tests/cdp.py``) and asserts
that KaTeX typeset every formula, that no raw LaTeX is visible, that every figure loaded,
and that no request left 127.0.0.1. Screenshots go to ``.ci/artifacts/``.

Without Sphinx, Chromium or ``websocket-client`` these tests skip with a reason, unless
``SCRATCHNN_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where they fail instead.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import REPO

DOCS = REPO / "docs"
ARTIFACTS = REPO / ".ci" / "artifacts"
REQUIRED = os.environ.get("SCRATCHNN_REQUIRE_BROWSER") == "1"
LOOPBACK = {"127.0.0.1", "localhost"}

#: Every page the site must have; the browser opens each one that has content to render.
PAGES = [
    "index",
    "notation",
    "backprop",
    "optimizers",
    "vae",
    "convolution",
    "attention",
    "tutorials/toy_regions",
    "tutorials/custom_layer",
    "tutorials/pytorch_parity",
    "tutorials/mnist",
    "tutorials/vae",
    "tutorials/interop",
    "tutorials/names",
    "guide",
    "guarantees",
    "cli",
    "benchmarks",
    "implementation",
    "about",
    "contributing",
    "api/index",
    "api/layers",
    "api/losses",
    "api/optimizers",
    "api/model",
    "api/training",
    "api/gradcheck",
    "api/data",
    "api/plotting",
    "api/serialization",
    "api/interop",
    "api/checkpoint",
    "api/experiments",
    "api/errors",
]


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (required here: SCRATCHNN_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site: ``$SCRATCHNN_DOCS_SITE`` if set, else a fresh strict build."""
    given = os.environ.get("SCRATCHNN_DOCS_SITE")
    if given:
        path = Path(given)
        assert (path / "index.html").is_file(), f"SCRATCHNN_DOCS_SITE={given} holds no built site"
        return path
    for module in ("sphinx", "myst_parser", "furo"):
        if importlib.util.find_spec(module) is None:
            _unavailable(f"{module} is not installed: pip install -e '.[docs]'")
    if not (DOCS / "node_modules" / "katex").is_dir() and shutil.which("npm") is None:
        _unavailable("KaTeX is not installed in docs/node_modules and npm is missing")
    from scratchnn.datasets import find_mnist
    from scratchnn.errors import InputError

    try:
        find_mnist()  # the MNIST and VAE tutorials train on it during the build
    except InputError as exc:
        _unavailable(f"the docs build needs real MNIST: {exc}")
    out = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run(
        [sys.executable, str(DOCS / "build.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the strict docs build failed:\n{log[-6000:]}"
    return out


def test_every_page_is_built(site):
    missing = [page for page in PAGES if not (site / f"{page}.html").is_file()]
    assert not missing, f"pages missing from the site: {missing}"
    for page in (p for p in PAGES if p.startswith("tutorials/")):  # each also a notebook
        name = page.split("/")[1]
        assert (site / f"{page}.ipynb").is_file(), f"{page}: no notebook next to the page"
        assert f'href="{name}.ipynb" download' in (site / f"{page}.html").read_text()
    for name in ("katex.min.js", "katex.min.css", "render-math.js"):
        assert (site / "_static" / "katex" / name).is_file(), f"KaTeX file {name} not bundled"
    fonts = list((site / "_static" / "katex" / "fonts").glob("KaTeX_Main-Regular.*"))
    assert fonts, "KaTeX's fonts are not bundled with the site"


# Tags that make a browser fetch what they point at (an <a href> is only a link).
_FETCHING = re.compile(
    r"<(?:script|img|iframe|source|video|audio|embed|object|track|link)\b[^>]*?"
    r"\b(?:src|href|data|srcset)\s*=\s*[\"']?\s*(?:https?:)?//",
    re.IGNORECASE,
)
_CSS_EXTERNAL = re.compile(r"(?:url\(\s*[\"']?\s*(?:https?:)?//|@import\s+[\"']?(?:https?:)?//)")


def test_site_references_no_external_resource(site):
    """No page or stylesheet asks the browser to fetch anything from another host."""
    offenders = []
    for path in site.rglob("*.html"):
        offenders += [f"{path.relative_to(site)}: {m}" for m in _FETCHING.findall(path.read_text())]
    for path in site.rglob("*.css"):
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{path.relative_to(site)}: {m}" for m in _CSS_EXTERNAL.findall(text)]
    assert not offenders, "external resources referenced:\n" + "\n".join(offenders[:20])


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(site):
    """The site served on 127.0.0.1 by a thread of this process."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture
def chromium() -> str:
    if importlib.util.find_spec("websocket") is None:
        _unavailable("websocket-client is not installed: pip install -e '.[docs]'")
    import cdp

    path = cdp.find_chromium()
    if path is None:
        _unavailable("chromium is not installed (Debian: apt-get install chromium)")
    return path


# What the page shows: counts of math elements and of KaTeX's output, errors, raw TeX, images.
_STATE = """(() => {
  const maths = [...document.querySelectorAll("span.math, div.math")];
  const images = [...document.querySelectorAll("article img")];
  return {
    math: maths.length,
    typeset: maths.filter(el => el.querySelector(".katex")).length,
    errors: [...document.querySelectorAll(".katex-error")].map(el => el.textContent).slice(0, 5),
    text: document.body.innerText,
    images: images.length,
    broken: images.filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src),
    fonts: [...document.fonts].filter(f => f.family.includes("KaTeX") && f.status === "loaded").length,
  };
})()"""

_RAW_TEX = ("$$", "\\frac", "\\begin", "\\partial", "\\mathbb", "\\odot")


def _check_page(page, url: str) -> dict:
    page.goto(url)
    state = page.evaluate(_STATE)
    where = url.rsplit("/", 1)[-1]
    assert state["typeset"] == state["math"], (
        f"{where}: KaTeX typeset {state['typeset']} of {state['math']} formulas"
    )
    assert not state["errors"], f"{where}: KaTeX could not parse: {state['errors']}"
    raw = [tex for tex in _RAW_TEX if tex in state["text"]]
    assert not raw, f"{where}: raw LaTeX visible in the rendered text: {raw}"
    assert not state["broken"], f"{where}: images that did not load: {state['broken']}"
    return state


def _is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOOPBACK


def test_docs_render_math_offline_in_chromium(site, server, chromium, tmp_path):
    import cdp

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with cdp.Browser(chromium, tmp_path / "chromium") as browser:
        page = browser.new_page(width=1280, height=1500)

        # The backprop page, in detail.
        state = _check_page(page, f"{server}/backprop.html")
        assert state["math"] >= 100, f"only {state['math']} formulas on the backprop page"
        assert state["fonts"] > 0, "no KaTeX font was loaded: the formulas use fallback fonts"
        for equation in ("BP1", "BP2", "BP3", "BP4"):
            assert equation in state["text"], f"{equation} is not shown on the backprop page"
        page.screenshot(ARTIFACTS / "docs-backprop.png")
        page.screenshot(
            ARTIFACTS / "docs-backprop-batched.png", "#a-batch-the-same-equations-as-matrices"
        )

        # The VAE page: the ELBO, the KL in closed form and the backward pass through the
        # sampler, typeset, with the source links of the code it derives.
        state = _check_page(page, f"{server}/vae.html")
        assert state["math"] >= 40, f"only {state['math']} formulas on the VAE page"
        for words in ("evidence lower bound", "reparameterisation trick", "VAE.backward"):
            assert words in state["text"], f"{words!r} is not shown on the VAE page"
        page.screenshot(ARTIFACTS / "docs-vae.png", "#the-backward-pass-as-the-code-does-it")
        page.screenshot(ARTIFACTS / "docs-vae-backward.png", "#backward")

        # Every other page: all math typeset, no raw TeX, every figure loaded.
        figures = 0
        for name in PAGES:
            if name not in ("backprop", "vae"):
                figures += _check_page(page, f"{server}/{name}.html")["images"]
        assert figures >= 15, f"only {figures} figures on the pages; the executed blocks draw more"
        page.goto(f"{server}/tutorials/mnist.html")
        page.screenshot(ARTIFACTS / "docs-tutorial-mnist.png", "#the-confusion-matrix")
        page.goto(f"{server}/optimizers.html")
        page.screenshot(
            ARTIFACTS / "docs-optimizers-adam.png", "#why-the-step-counter-must-never-be-reset"
        )

    # 1. What the pages asked for, from the DevTools Network events of every target.
    requested = browser.requested_urls()
    assert len(requested) > len(PAGES), "the DevTools record saw too few requests to be trusted"
    outside = [url for url in requested if not _is_loopback(url)]
    assert not outside, f"the pages made requests beyond 127.0.0.1: {outside[:10]}"
    failed = [f for f in browser.failed_requests() if f["url"] and "127.0.0.1" in f["url"]]
    assert not failed, f"requests to the local server failed: {failed[:10]}"

    # 2. What Chromium's network stack did, from its NetLog. Requests initiated by a page
    # (or a navigation) must stay on 127.0.0.1; Chromium's own background services (update
    # checks, sign-in, with initiator "not an origin") are not the site's doing: they are
    # listed in an artefact, and none of them may be a host the site's files mention.
    netlog = browser.netlog_requests()
    assert any("/backprop.html" in r["url"] for r in netlog), "the NetLog missed the page loads"
    by_pages = [
        r
        for r in netlog
        if r["initiator"] != "not an origin" or r["type"] in ("main frame", "sub frame")
    ]
    outside = [r for r in by_pages if not _is_loopback(r["url"])]
    assert not outside, f"Chromium fetched beyond 127.0.0.1 for the pages: {outside[:10]}"
    background = sorted(
        {urlsplit(r["url"]).hostname or r["url"] for r in netlog if r not in by_pages}
    )
    background = [host for host in background if host not in LOOPBACK]
    (ARTIFACTS / "docs-browser-background-hosts.txt").write_text(
        "Hosts Chromium's own services tried to reach during the docs test (not the site's "
        "requests; all host names resolve to nothing there):\n" + "\n".join(background) + "\n"
    )
    pages_text = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    mentioned = [host for host in background if host in pages_text]
    assert not mentioned, f"hosts the site mentions were contacted by the browser: {mentioned}"
