"""Sphinx configuration of the abs_engine documentation (built offline; CI builds it with -W)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

project = "abs_engine"
author = "abs_engine developers"
copyright = "2026, abs_engine developers"  # noqa: A001 - Sphinx's name

extensions = [
    "myst_nb",                   # pages in Markdown (MyST), and the tutorial notebook, executed at build
    "sphinx.ext.autodoc",        # the reference, from the docstrings
    "sphinx.ext.napoleon",       # numpydoc-style sections
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
nb_execution_mode = "force"          # the tutorial runs on every build: its outputs are the engine's own
nb_execution_timeout = 600
nb_execution_raise_on_error = True   # a tutorial cell that fails fails the build
nb_execution_show_tb = True
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_type_aliases = {"Program": "abs_engine.compile.program.Program"}  # one target, not the re-export
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
suppress_warnings = ["myst.header"]

html_theme = "pydata_sphinx_theme"
html_title = "abs_engine"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list[str] = []
