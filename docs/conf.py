"""Sphinx configuration of the scratchnn documentation.

Build it with ``python docs/build.py`` (strict: any warning fails the build). Nothing is
fetched from the internet at build or view time: the math renderer is KaTeX from the npm
registry (``docs/package-lock.json``), copied into the site; the theme uses system fonts;
the search index is Sphinx's own, local to the site.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import scratchnn  # noqa: E402

project = "scratchnn"
author = "scratchnn developers"
copyright = "scratchnn developers, MIT licence"
release = version = scratchnn.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "katex_offline",
    "exec_code",
    "source_links",
    "notebooks",  # every tutorial also as a .ipynb, linked under its title
    "docstring_fixes",  # stopgap for three docstrings; see docs/_ext/docstring_fixes.py
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "node_modules", "_generated", "README.md"]
root_doc = "index"

# -- MyST: Markdown pages with LaTeX math ---------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "attrs_inline"]
myst_heading_anchors = 3

# -- API reference from the numpydoc docstrings ---------------------------------------------
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# Every layer's docstring has a "Math" section tying code lines to equations.
napoleon_custom_sections = ["Math"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

# -- HTML -------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"scratchnn {release}"
html_static_path = ["_static"]
html_css_files = ["scratchnn.css"]
html_copy_source = False
html_show_sourcelink = False
html_math_renderer = "katex_offline"
html_last_updated_fmt = None
html_favicon = "_static/favicon.svg"
