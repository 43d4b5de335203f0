"""Every example of the documentation runs: the Python code blocks of docs/ and the README, and
the docstrings' examples; every public name has an API page; the README's speed figures are
the recorded run's.

Blocks that start with ``>>>`` are doctests, run in one namespace per page, in order; other
``python`` blocks are scripts, each run on its own in a fresh interpreter (they may start
worker processes under ``if __name__ == "__main__":``). A block that imports an optional
package that is not installed (pandas, torch, ...) is skipped, saying which. Build files shown
with ``{code-block}`` (the Cython page's setup.py) are not run here: tests/test_cython_api.py
builds the same thing. The site itself is built with warnings as errors by tools/check_docs.sh.
"""

import ast
import doctest
import importlib
import importlib.util
import pathlib
import pkgutil
import re
import subprocess
import sys

import numpy as np
import pytest

import lrelu

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason="no docs/ beside the tests (installed tests)")


def _pages():
    pages = sorted(p for p in DOCS.rglob("*.md") if not {"_build", "_generated"} & set(p.parts))
    return pages + [README] if README.exists() else pages


def _blocks(page):
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def _missing_imports(source):
    """The top-level packages a block imports that are not installed."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return sorted(name for name in names if importlib.util.find_spec(name) is None)


def _name(page):
    return str(page.relative_to(ROOT))


DOCTEST_PAGES = [p for p in _pages() if any(b.lstrip().startswith(">>>") for b in _blocks(p))]
SCRIPTS = [(p, i, b) for p in _pages() for i, b in enumerate(_blocks(p), 1)
           if not b.lstrip().startswith(">>>")]


@pytest.mark.parametrize("page", DOCTEST_PAGES, ids=_name)
def test_the_pages_doctests_pass(page):
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=FLAGS)
    namespace = {}
    for number, block in enumerate(_blocks(page), 1):
        if block.lstrip().startswith(">>>"):
            test = parser.get_doctest(block, namespace, f"{_name(page)} block {number}", str(page), 0)
            runner.run(test, clear_globs=False)
            namespace = test.globs           # a DocTest runs in a copy: carry it to the next block
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {_name(page)} failed (output above)"


@pytest.mark.parametrize("page, number, block", SCRIPTS, ids=[f"{_name(p)}-{i}" for p, i, _ in SCRIPTS])
def test_the_pages_scripts_run(page, number, block, tmp_path):
    missing = _missing_imports(block)
    if missing:
        pytest.skip(f"{_name(page)} block {number} needs {', '.join(missing)}, not installed")
    script = tmp_path / f"block_{number}.py"
    script.write_text(block, encoding="utf-8")
    # From a directory outside the checkout, so the installed lrelu is the one imported.
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"{_name(page)} block {number} failed:\n{result.stdout}{result.stderr}"


def _package_modules():
    names = ["lrelu"] + [m.name for m in pkgutil.walk_packages(lrelu.__path__, "lrelu.")
                         if m.name != "lrelu.__main__"]      # __main__ runs the command line
    return [importlib.import_module(name) for name in names]


def test_the_docstring_examples_pass():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=FLAGS)
    for module in _package_modules():
        for test in finder.find(module, module.__name__):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, "no docstring has an example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed (output above)"


def _documented():
    """The names the API reference lists (autosummary entries, with their currentmodule)."""
    names, module = set(), "lrelu"
    for line in (DOCS / "api" / "index.rst").read_text(encoding="utf-8").splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::")[1].strip()
        elif re.fullmatch(r"   [A-Za-z_][A-Za-z0-9_]*", line):
            names.add(f"{module}.{line.strip()}")
    return names


def test_every_public_name_has_an_api_page():
    modules = {"ufuncs", "reference"}
    aliases = {"lrelu", "der_lrelu"}            # the same objects as leaky_relu and its derivative
    public = {f"lrelu.{name}" for name in lrelu.__all__ if name not in modules | aliases | {"__version__"}}
    public |= {f"lrelu.ufuncs.{name}" for name, value in vars(lrelu.ufuncs).items()
               if isinstance(value, np.ufunc) and not name.startswith("_")}
    public |= {f"lrelu.reference.{name}" for name, value in vars(lrelu.reference).items()
               if callable(value) and getattr(value, "__module__", None) == "lrelu.reference"
               and not name.startswith("_")}
    missing = public - _documented()
    assert not missing, f"docs/api/index.rst lists no page for {sorted(missing)}"
    assert lrelu.lrelu is lrelu.leaky_relu and lrelu.der_lrelu is lrelu.leaky_relu_derivative


def test_the_readme_speed_figures_are_the_recorded_runs():
    spec = importlib.util.spec_from_file_location("docs_plots", DOCS / "plots.py")
    plots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plots)
    if not plots.RESULTS.exists():
        pytest.skip(f"no {plots.RESULTS.name} beside the tests")
    text = README.read_text(encoding="utf-8")
    for line in plots.headlines(plots.load()):
        assert line in text, f"README.md lacks {line!r}: `python docs/plots.py --readme` prints its figures"


def _quick_start(text):
    """The first ```sh block after the Quick start heading (what .ci/run reads from the README)."""
    section = text[re.search(r"^#+ Quick start", text, re.M).end():]
    return re.search(r"^```sh\n(.*?)^```", section, re.S | re.M).group(1)


def test_the_quick_start_page_holds_the_readmes_two_commands():
    page = (DOCS / "getting-started" / "quickstart.md").read_text(encoding="utf-8")
    assert _quick_start(page) == _quick_start(README.read_text(encoding="utf-8"))
