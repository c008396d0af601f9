"""The benchmark scripts write their tables into docs/benchmarks.md between marker comments."""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest

from conftest import REPO

SCRIPTS = ["mlp_mnist", "gpt_names"]


def load(name: str, monkeypatch: pytest.MonkeyPatch):
    # as `python benchmarks/NAME.py` runs it: its folder first on sys.path (for _machine.py)
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        f"benchmark_{name}", REPO / "benchmarks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"benchmark_{name}"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)  # stdlib imports only at module level
    return module


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_table_block_lives_in_docs_benchmarks_and_can_be_replaced(name, tmp_path, monkeypatch):
    script = load(name, monkeypatch)
    page = REPO / "docs" / "benchmarks.md"
    text = page.read_text()
    assert text.count(script.README_START) == 1 and text.count(script.README_END) == 1
    assert script.README_START not in (REPO / "README.md").read_text()
    copy = tmp_path / "benchmarks.md"
    shutil.copy(page, copy)
    section = f"{script.README_START}\nnew table\n{script.README_END}"
    script.update_readme(str(copy), section)
    after = copy.read_text()
    before, rest = text.split(script.README_START, 1)
    assert after == before + section + rest.split(script.README_END, 1)[1]


@pytest.mark.parametrize("name", SCRIPTS)
def test_markdown_file_and_its_old_name_readme_are_one_option(name, monkeypatch):
    script = load(name, monkeypatch)
    assert script.parse_args(["--markdown-file", "x.md"]).readme == "x.md"
    assert script.parse_args(["--readme", "y.md"]).readme == "y.md"


def test_a_file_without_the_markers_is_refused_in_one_line(tmp_path, monkeypatch):
    script = load("mlp_mnist", monkeypatch)
    empty = tmp_path / "README.md"
    empty.write_text("# nothing here\n")
    with pytest.raises(SystemExit, match=r"no '<!-- benchmarks/mlp_mnist\.py: start -->'"):
        script.update_readme(str(empty), "x")
