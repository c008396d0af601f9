"""Stopgap: move a stray paragraph out of a numpydoc *Parameters* section before napoleon parses it.

The docstrings of ``BigramLM``, ``RNNLM`` and ``LSTMLM`` end their *Parameters* section
with a paragraph of prose ("Input ids ``(N, T)`` give logits ..."). numpydoc reads every
unindented line of that section as a parameter, so napoleon turns the prose into broken
``:param:`` fields and the strict build fails. Until the docstrings put that paragraph
before *Parameters*, this moves it there for the objects listed, and does nothing once a
docstring no longer has it. Delete this file (and its line in ``conf.py``) then.
"""

from __future__ import annotations

from sphinx.application import Sphinx

OBJECTS = {
    "scratchnn.models.lm.bigram.BigramLM",
    "scratchnn.models.lm.recurrent.RNNLM",
    "scratchnn.models.lm.recurrent.LSTMLM",
}


def _section_end(lines: list[str], start: int) -> int:
    """The index of the next section heading (a line underlined with dashes) after ``start``."""
    for i in range(start + 2, len(lines) - 1):
        if lines[i] and lines[i + 1] and set(lines[i + 1]) == {"-"}:
            return i
    return len(lines)


def move_stray_paragraph(app: Sphinx, what: str, name: str, obj, options, lines: list[str]) -> None:
    if name not in OBJECTS or "Parameters" not in lines:
        return
    start = lines.index("Parameters")
    end = _section_end(lines, start)
    for i in range(start + 2, end):
        # parameters follow one another without blank lines; prose after a blank line at
        # column 0 is not a parameter
        if lines[i - 1] == "" and lines[i] and not lines[i][0].isspace():
            j = i
            while j < end and lines[j]:
                j += 1
            paragraph = lines[i:j]
            del lines[i : j + 1]
            lines[start:start] = [*paragraph, ""]
            return


def setup(app: Sphinx) -> dict[str, object]:
    # before napoleon (priority 500), which turns the numpydoc sections into fields
    app.connect("autodoc-process-docstring", move_stray_paragraph, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
