"""Every ```python block of README.md runs, as written, so a snippet can never again be wrong.

Each block runs on its own (a fresh namespace, as a reader pasting it would) in a temporary
working directory. Blocks that read MNIST need the real data (``$SCRATCHNN_DATA``) and are
marked ``slow``.
"""

from __future__ import annotations

import re
import warnings

import matplotlib
import pytest

from conftest import REPO
from scratchnn.errors import ScratchnnWarning

README = REPO / "README.md"
TEXT = README.read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```", TEXT, flags=re.DOTALL | re.MULTILINE)


def _params():
    for index, code in enumerate(BLOCKS):
        marks = [pytest.mark.slow] if "load_mnist" in code else []
        yield pytest.param(code, id=f"block{index + 1}", marks=marks)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", list(_params()))
def test_readme_python_block_runs(code, tmp_path, monkeypatch, request):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    if "load_mnist" in code:
        mnist = request.getfixturevalue("mnist_dir")
        monkeypatch.setenv("SCRATCHNN_DATA", str(mnist.parent))
    with warnings.catch_warnings():
        # the README shows how to do things right: none of its snippets may trip a warning
        warnings.simplefilter("error", ScratchnnWarning)
        exec(compile(code, f"{README}:python block", "exec"), {"__name__": "__main__"})
    if "history.plot(path=" in code:
        assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_readme_is_short_and_machine_independent():
    lines = TEXT.splitlines()
    assert len(lines) <= 230, f"README.md has {len(lines)} lines; move details into docs/"
    for path in [README, *sorted((REPO / "docs").rglob("*.md"))]:
        if "node_modules" in path.parts:
            continue
        text = path.read_text()
        assert "../shared/data" not in text, f"{path}: a path that exists on one machine only"


def test_readme_keeps_what_ci_and_the_lead_rely_on():
    assert 'pip install -e ".[dev]" && pytest' in TEXT
    assert "pip install -e . && scratchnn demo" in TEXT
    assert "python docs/build.py" in TEXT
    assert "scratchnn download mnist" in TEXT and "SCRATCHNN_DATA" in TEXT
    start, end = TEXT.index("<!-- perf-summary -->"), TEXT.index("<!-- /perf-summary -->")
    summary = [line for line in TEXT[start:end].splitlines()[1:] if line.strip()]
    assert len(summary) == 3


def test_readme_links_to_files_that_exist():
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", TEXT):
        assert (REPO / target).exists(), f"README links to {target}, which does not exist"
