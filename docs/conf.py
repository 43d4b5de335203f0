"""Sphinx configuration of lrelu's documentation (``sphinx-build -W --keep-going docs docs/_build/html``).

The build needs no network: intersphinx (links to NumPy's and Python's docs) is on only on Read
the Docs, which sets READTHEDOCS, or with ``LRELU_DOCS_INTERSPHINX=1``; elsewhere, CI included,
those names stay plain text and nothing is fetched.
"""

import os
import pathlib
import subprocess
import sys

import lrelu

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))     # cli_parser, the command line's parser for sphinx-argparse

project = "lrelu"
author = "lrelu developers"
copyright = "lrelu developers"
version = release = lrelu.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "numpydoc",
    "myst_parser",
    "sphinxarg.ext",
]
if os.environ.get("LRELU_DOCS_INTERSPHINX") == "1" or os.environ.get("READTHEDOCS") == "True":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
    }

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
# Pages include the repository's own Markdown files (BENCHMARKS.md, CHANGELOG.md, ...); those
# name other files of the repository in plain words, not as links Sphinx can resolve.
suppress_warnings = ["myst.xref_missing"]
# ARCHITECTURE.md is included (architecture.md) when the repository has it; without it the page
# and contributing.md's toctree entry for it are left out (_without_architecture).
HAS_ARCHITECTURE = (ROOT / "ARCHITECTURE.md").exists()
if not HAS_ARCHITECTURE:
    exclude_patterns.append("architecture.md")
ARCHITECTURE_TOCTREE = "```{toctree}\n:maxdepth: 1\n\narchitecture\n```\n"

autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = f"lrelu {release}"
html_static_path = []
templates_path = ["_templates"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_sidebars = {"changelog": [], "benchmarks": []}


def _plots(app):
    """The benchmark figures, drawn from the recorded JSON on every build (docs/plots.py)."""
    subprocess.run([sys.executable, str(DOCS / "plots.py")], check=True)


def _without_architecture(app, docname, source):
    if docname == "contributing" and not HAS_ARCHITECTURE:
        source[0] = source[0].replace(ARCHITECTURE_TOCTREE, "")


def setup(app):
    app.connect("builder-inited", _plots)
    app.connect("source-read", _without_architecture)


def _ufunc_signatures():
    """NumPy ufuncs have no introspectable signature, and numpydoc would take the x1, x2 one
    NumPy writes into their docstrings (and on Sphinx 9 its answer for an object without a
    signature fails the build). Their pages give the signature (_templates/autosummary/ufunc.rst)."""
    import numpy
    import numpydoc.numpydoc

    mangle = numpydoc.numpydoc.mangle_signature

    def mangle_signature(app, what, name, obj, options, sig, retann):
        return None if isinstance(obj, numpy.ufunc) else mangle(app, what, name, obj, options, sig, retann)

    numpydoc.numpydoc.mangle_signature = mangle_signature


_ufunc_signatures()
