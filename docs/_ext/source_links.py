"""``{src}`scratchnn.layers.dense.Dense.backward```: a link to the highlighted source.

The derivation pages link each equation to the code that implements it. The role imports the
object (so a renamed method breaks the build), finds the module that defines it, and links
to the page ``sphinx.ext.viewcode`` writes for that module, at the object's anchor. When the
build finishes, every such anchor is checked to exist in the written page.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxRole


def _links(env) -> dict[str, set[tuple[str, str]]]:
    """(module, qualname) of every link by page, kept in the environment between builds."""
    if not hasattr(env, "scratchnn_source_links"):
        env.scratchnn_source_links = {}
    return env.scratchnn_source_links


def _purge(app: Sphinx, env, docname: str) -> None:
    _links(env).pop(docname, None)


def _resolve(target: str) -> tuple[str, str]:
    """``"scratchnn.layers.Dense.backward"`` -> (``"scratchnn.layers.dense"``, ``"Dense.backward"``)."""
    parts = target.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        owner = inspect.unwrap(obj)
        module = inspect.getmodule(owner)
        if module is None:
            break
        return module.__name__, owner.__qualname__
    raise ValueError(f"cannot import {target!r}")


class SourceRole(SphinxRole):
    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        title, _, target = self.text.partition(" <")
        target = target.rstrip(">") if target else title.strip()
        try:
            module, qualname = _resolve(target)
        except (ValueError, AttributeError) as exc:
            msg = self.inliner.reporter.error(
                f"{{src}} cannot find {target!r}: {exc}", line=self.lineno
            )
            return [self.inliner.problematic(self.rawtext, self.rawtext, msg)], [msg]
        if title == target:
            title = qualname
        _links(self.env).setdefault(self.env.docname, set()).add((module, qualname))
        pagename = "_modules/" + module.replace(".", "/")
        uri = self.env.app.builder.get_relative_uri(self.env.docname, pagename) + "#" + qualname
        ref = nodes.reference(self.rawtext, "", refuri=uri, classes=["source-link"])
        ref += nodes.literal(title, title)
        return [ref], []


def _check_links(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    broken = []
    links = _links(app.env)
    for docname, module, qualname in sorted((d, *link) for d, ls in links.items() for link in ls):
        page = Path(app.builder.outdir, "_modules", *module.split(".")).with_suffix(".html")
        text = page.read_text(encoding="utf-8") if page.exists() else ""
        if f'id="{qualname}"' not in text:
            broken.append(f"{docname}: {module}.{qualname} (no anchor in {page.name})")
    if broken:
        raise ExtensionError(
            "source links point at code the API reference does not document "
            "(add it to an api/ page):\n  " + "\n  ".join(broken)
        )


def setup(app: Sphinx) -> dict[str, object]:
    app.add_role("src", SourceRole())
    app.connect("env-purge-doc", _purge)
    app.connect("build-finished", _check_links)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
