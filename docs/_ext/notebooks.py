"""Every tutorial is also a Jupyter notebook, converted from its page when the docs are built.

:func:`to_notebook` turns a tutorial's MyST Markdown into notebook JSON (nbformat 4): each
```` ```{exec} python ```` block becomes a code cell (its ``:option:`` lines dropped), and
the text between them a Markdown cell, with MyST's roles (``{py:func}`~a.b.c```) written as
plain code (```c```) and links to other pages of the site kept as text. A cell that binds a
scratchnn figure to ``fig`` without showing it ends with ``fig``, so that Jupyter displays
it (the page's ``{exec}`` directive shows such figures by itself).

As a Sphinx extension it writes ``tutorials/NAME.ipynb`` next to each tutorial's HTML page
and puts a "Download this tutorial as a notebook" link under the page's title. Nothing
generated is committed; ``tests/test_notebooks.py`` converts and executes every notebook.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

TUTORIALS = "tutorials/"

_FENCE = re.compile(r"^(`{3,})\s*(.*)$")
_ROLE = re.compile(r"\{[a-z]+(?::[a-z]+)?\}`(~?)([^`]+)`")
_PAGE_LINK = re.compile(r"\[([^\]]+)\]\((?!https?:)[^)]*\.md(?:#[^)]*)?\)")
_BINDS_FIG = re.compile(r"^fig\s*=", re.MULTILINE)
LINK_CLASS = "notebook-download"


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _markdown(lines: list[str]) -> str:
    text = "\n".join(lines).strip("\n")
    text = _ROLE.sub(_role, text)
    return _PAGE_LINK.sub(r"\1", text)


def _code(lines: list[str]) -> str:
    while lines and lines[0].startswith(":"):  # the directive's options: :hide-code: etc.
        lines = lines[1:]
    code = "\n".join(lines).strip("\n")
    # a figure bound to fig is shown on the page by {exec}; in Jupyter it must be named last
    last = code.rstrip().splitlines()[-1] if code.strip() else ""
    if _BINDS_FIG.search(code) and "plt." not in code and last.strip() != "fig":
        code += "\nfig"
    return code


def _cell(kind: str, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def to_notebook(markdown: str) -> dict[str, Any]:
    """The notebook (nbformat 4 JSON, as a dict) of a tutorial page's MyST Markdown."""
    cells: list[dict[str, Any]] = []
    text: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            text.append(lines[i])
            i += 1
            continue
        fence, info = match.groups()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), len(lines))
        body = lines[i + 1 : end]
        if info.replace(" ", "") == "{exec}python":
            if _markdown(text):
                cells.append(_cell("markdown", _markdown(text)))
            text = []
            cells.append(_cell("code", _code(body)))
        else:  # a block that is shown, not run, stays in the text (a directive's name dropped)
            language = "" if info.startswith("{") else info
            text += [fence + language, *body, fence]
        i = end + 1
    if _markdown(text):
        cells.append(_cell("markdown", _markdown(text)))
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_notebook(page: Path, out: Path) -> Path:
    """Convert the tutorial ``page`` and write it as ``out`` (a ``.ipynb`` file)."""
    notebook = to_notebook(page.read_text(encoding="utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def notebook_link(name: str) -> str:
    """The raw-HTML line put under a tutorial's title."""
    return (
        f'<p class="{LINK_CLASS}"><a href="{name}.ipynb" download>'
        "Download this tutorial as a notebook</a> (<code>.ipynb</code>, for Jupyter)</p>"
    )


def _add_link(app: Any, docname: str, source: list[str]) -> None:
    if not docname.startswith(TUTORIALS):
        return
    lines = source[0].split("\n")
    title = next(i for i, line in enumerate(lines) if line.startswith("# "))
    lines[title + 1 : title + 1] = ["", notebook_link(docname[len(TUTORIALS) :]), ""]
    source[0] = "\n".join(lines)


def _write_notebooks(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for docname in sorted(app.env.found_docs):
        if docname.startswith(TUTORIALS):
            page = Path(app.srcdir) / f"{docname}.md"
            write_notebook(page, Path(app.outdir) / f"{docname}.ipynb")


def setup(app: Any) -> dict[str, object]:
    app.connect("source-read", _add_link)
    app.connect("build-finished", _write_notebooks)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
