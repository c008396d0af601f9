"""``{exec}``: a code block that runs when the documentation is built.

The tutorials are written as pages of ``{exec}`` blocks. Each block's code is shown, run in
a namespace shared by the blocks of the same page (top to bottom, like one script), and
followed by what it printed and by its figures, saved as PNG under ``docs/_generated/``: every
pyplot figure it left open, and every :class:`matplotlib.figure.Figure` it bound to a name
(the functions of :mod:`scratchnn.plotting` return figures that pyplot does not manage, so
``fig = plotting.training_curves(history)`` is how a tutorial shows one). So the figures come from the code on the page, and a tutorial whose
code no longer runs fails the (strict) build instead of rotting.

Options: ``:hide-code:`` shows only the output and figures (for plotting boilerplate that
would distract from the point of a page), ``:hide-output:`` hides the printed text,
``:alt:`` gives the figures' alternative text.

    ```{exec} python
    print(1 + 1)
    ```
"""

from __future__ import annotations

import contextlib
import io
import time
import traceback
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

GENERATED = "_generated"  # under the source directory, ignored by git

#: The namespace of each page being read, shared by its blocks.
_NAMESPACES: dict[str, dict[str, Any]] = {}
_COUNTERS: dict[str, int] = {}


def _fresh_namespace(app: Sphinx, docname: str, source: list[str]) -> None:
    """Every time a page is (re)read, its code starts from an empty namespace."""
    _NAMESPACES[docname] = {"__name__": "__main__"}
    _COUNTERS[docname] = 0


class ExecDirective(SphinxDirective):
    has_content = True
    optional_arguments = 1  # the language, "python" (the only one)
    option_spec: ClassVar[dict[str, Any]] = {
        "hide-code": directives.flag,
        "hide-output": directives.flag,
        "alt": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        import matplotlib.pyplot as plt
        from matplotlib.figure import Figure

        docname = self.env.docname
        namespace = _NAMESPACES.setdefault(docname, {"__name__": "__main__"})
        _COUNTERS[docname] = index = _COUNTERS.get(docname, 0) + 1
        code = "\n".join(self.content)
        source, line = self.get_source_info()

        plt.close("all")
        before = {id(value) for value in namespace.values() if isinstance(value, Figure)}
        output = io.StringIO()
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(output):
                exec(compile(code, f"{source}:{line} (exec block {index})", "exec"), namespace)
        except Exception:
            plt.close("all")
            raise self.error(
                f"the code of this block failed while building the docs:\n{traceback.format_exc()}"
            ) from None
        seconds = time.perf_counter() - started
        if seconds > 20:
            logger.info(f"{docname}: exec block {index} took {seconds:.1f} s")

        result: list[nodes.Node] = []
        if "hide-code" not in self.options:
            block = nodes.literal_block(code, code, language="python")
            block["classes"].append("exec-code")
            result.append(block)
        text = output.getvalue().rstrip()
        if text and "hide-output" not in self.options:
            out = nodes.literal_block(text, text, language="none")
            out["classes"].append("exec-output")
            result.append(out)
        figures = [plt.figure(number) for number in plt.get_fignums()]
        for value in list(namespace.values()):  # figures bound by this block, in order
            if isinstance(value, Figure) and id(value) not in before and value not in figures:
                figures.append(value)
        for number, figure in enumerate(figures, start=1):
            relative = Path(GENERATED) / docname / f"block{index}-fig{number}.png"
            path = Path(self.env.srcdir) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(path, dpi=110, metadata={"Software": None})
            image = nodes.image(uri="/" + relative.as_posix(), alt=self.options.get("alt", ""))
            image["classes"].append("exec-figure")
            result.append(image)
        plt.close("all")
        return result


def setup(app: Sphinx) -> dict[str, object]:
    import matplotlib

    matplotlib.use("Agg")  # no window, whatever MPLBACKEND says
    app.add_directive("exec", ExecDirective)
    app.connect("source-read", _fresh_namespace)
    # One shared namespace per page in this process: pages must be read one at a time.
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
