"""Every docs tutorial, converted to a notebook as the docs build does, runs in a fresh kernel.

The notebooks come from ``docs/_ext/notebooks.py`` (the build writes them next to each
tutorial's page, where its "Download this tutorial as a notebook" link points); here they
are executed with ``nbclient`` and ``ipykernel``, as a reader running them in Jupyter would,
and every figure the page shows must come out as a picture (``image/png``), not as
``<Figure size ... with 3 Axes>``. The tutorials that train on MNIST or the names are slow.
"""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from conftest import REPO

DOCS = REPO / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import notebooks  # noqa: E402  (docs/_ext is not a package)

TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
SLOW = {"mnist", "vae", "names"}  # real MNIST, real names: about a minute each


def _missing() -> str | None:
    for module in ("nbclient", "ipykernel", "nbformat"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


def test_every_tutorial_converts_to_a_valid_notebook():
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with nbclient (dev extra)")
    for page in TUTORIALS:
        notebook = notebooks.to_notebook(page.read_text())
        nbformat.validate(nbformat.from_dict(notebook))
        code = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]
        assert len(code) == page.read_text().count("```{exec} python"), page.name
        text = "\n".join(c["source"] for c in notebook["cells"] if c["cell_type"] == "markdown")
        assert "{py:" not in text and "```{exec}" not in text, page.name
        assert not any(line.startswith(":hide-") for block in code for line in block.splitlines())


def test_the_converter_shows_figures_bound_to_fig_and_keeps_other_blocks_as_text():
    page = "\n".join(
        [
            "# T",
            "See {py:func}`~scratchnn.plotting.curves.training_curves` and [x](../cli.md).",
            "```{exec} python",
            ":hide-code:",
            "fig = training_curves(history)",
            "```",
            "```",
            "shown, not run",
            "```",
        ]
    )
    cells = notebooks.to_notebook(page)["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "markdown"]
    assert cells[0]["source"] == "# T\nSee `training_curves` and x."
    assert cells[1]["source"] == "fig = training_curves(history)\nfig"
    assert cells[2]["source"] == "```\nshown, not run\n```"


def _params():
    for page in TUTORIALS:
        marks = [pytest.mark.slow] if page.stem in SLOW else []
        yield pytest.param(page, id=page.stem, marks=marks)


@pytest.mark.parametrize("page", list(_params()))
def test_tutorial_notebook_runs_and_shows_its_figures(page, tmp_path, monkeypatch):
    missing = _missing()
    if missing:
        pytest.skip(f"{missing} is not installed: pip install -e '.[dev]' brings it")
    import nbformat
    from nbclient import NotebookClient

    if page.stem in {"mnist", "vae"}:
        from conftest import _mnist_dir

        if _mnist_dir() is None:
            pytest.skip("real MNIST not found: set SCRATCHNN_DATA to a directory holding mnist/")
    path = notebooks.write_notebook(page, tmp_path / f"{page.stem}.ipynb")
    notebook = nbformat.read(path, as_version=4)
    # The kernel inherits this environment: Jupyter's own inline backend, not Agg, and one
    # BLAS thread, as the docs build runs the tutorials.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kinds = [output.get("output_type") for output in cell.outputs]
        assert "error" not in kinds, cell.source
        shown = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        if re.search(r"^fig\b|\bplt\.", cell.source, flags=re.MULTILINE):
            assert shown, f"{page.name}: this cell's figure is not shown:\n{cell.source}"
        text = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        assert "<Figure size" not in text or shown, cell.source
    if page.stem == "toy_regions":  # the case: training_curves in a fresh kernel
        curves = [c for c in notebook.cells if "training_curves(" in c.source and c.outputs]
        assert curves and any("image/png" in o.get("data", {}) for o in curves[0].outputs)
