"""Render math with KaTeX from the npm registry, bundled with the site: no CDN, ever.

Sphinx turns ``$...$``, ``$$...$$`` and ``:math:`` into math nodes. This extension writes
them out as ``<span class="math">`` / ``<div class="math">`` holding the LaTeX source and
adds three local files to every page: ``katex.min.css`` (with its ``fonts/``),
``katex.min.js`` and ``render-math.js``, which calls ``katex.render`` on each math element
once the page has loaded. The files are copied from ``docs/node_modules/katex/dist``, which
``npm ci`` installs from ``docs/package-lock.json`` (``python docs/build.py`` runs it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util.fileutil import copy_asset

KATEX_DIST = Path(__file__).resolve().parents[1] / "node_modules" / "katex" / "dist"
STATIC = "katex"  # files land in _static/katex/

RENDER_JS = r"""// Typeset every math element Sphinx wrote with the bundled KaTeX (no network access).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".math").forEach(function (el) {
    var display = el.tagName === "DIV";
    katex.render(el.textContent, el, {
      displayMode: display,
      throwOnError: false,  // a bad formula shows as a red .katex-error, which the tests catch
      trust: false,
    });
    // Keep punctuation right after inline math on the same line as the formula.
    var next = el.nextSibling;
    var punctuation = next && next.nodeType === 3 && next.data.match(/^[.,;:!?)\]]+/);
    if (!display && punctuation) {
      var keep = document.createElement("span");
      keep.style.whiteSpace = "nowrap";
      el.parentNode.insertBefore(keep, el);
      keep.appendChild(el);
      keep.appendChild(document.createTextNode(punctuation[0]));
      next.data = next.data.slice(punctuation[0].length);
    }
  });
});
"""


def _visit_inline(self, node: nodes.math) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(self.encode(node.astext()))
    self.body.append("</span>")
    raise nodes.SkipNode


def _visit_block(self, node: nodes.math_block) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    latex = node.astext()
    if not node.get("nowrap"):
        parts = [p for p in latex.split("\n\n") if p.strip()]
        if len(parts) > 1:  # several equations in one block: one per line, as MathJax does
            latex = r"\begin{gathered}" + r" \\ ".join(parts) + r"\end{gathered}"
    if node.get("number"):
        latex = rf"{latex} \tag{{{node['number']}}}"
    self.body.append(self.encode(latex))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def _copy_katex(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    if not (KATEX_DIST / "katex.min.js").exists():
        raise ExtensionError(
            f"KaTeX is not installed in {KATEX_DIST.parents[1]}; run `npm ci --prefix docs` "
            "(or build with `python docs/build.py`, which does it)"
        )
    static = Path(app.builder.outdir) / "_static" / STATIC
    static.mkdir(parents=True, exist_ok=True)
    for name in ("katex.min.js", "katex.min.css"):
        shutil.copyfile(KATEX_DIST / name, static / name)
    copy_asset(str(KATEX_DIST / "fonts"), str(static / "fonts"))
    (static / "render-math.js").write_text(RENDER_JS, encoding="utf-8")


def setup(app: Sphinx) -> dict[str, object]:
    app.add_html_math_renderer("katex_offline", (_visit_inline, None), (_visit_block, None))
    app.add_css_file(f"{STATIC}/katex.min.css")
    app.add_js_file(f"{STATIC}/katex.min.js")
    app.add_js_file(f"{STATIC}/render-math.js")
    app.connect("builder-inited", _copy_katex)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
