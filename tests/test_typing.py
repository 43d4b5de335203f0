"""The type stubs: mypy accepts the Python examples of the README and the docs (docs/, the
```python blocks that are scripts rather than >>> sessions), and stubtest finds that the stubs
agree with the modules, compiled ones included, of the lrelu this test imported."""

import ast
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import lrelu

pytest.importorskip("mypy", reason="the typing checks need mypy (pip install '.[test]')")

TESTS = Path(__file__).resolve().parent
README = TESTS.parent / "README.md"
DOCS = TESTS.parent / "docs"
ALLOWLIST = TESTS / "stubtest-allowlist.txt"


def _mypy(module_args, cwd):
    """Run `python -m <module_args>` from `cwd` (outside the source tree), pointing mypy at the
    lrelu this process imported; the completed process."""
    env = dict(os.environ)
    package_parent = Path(lrelu.__file__).resolve().parent.parent
    site_dirs = {Path(sysconfig.get_path(key)).resolve() for key in ("purelib", "platlib")}
    if package_parent not in site_dirs:
        # An editable install: Python finds lrelu through an import hook, which mypy does not
        # follow, so tell it where the package is (mypy refuses site-packages here).
        env["MYPYPATH"] = str(package_parent)
    return subprocess.run([sys.executable, "-m", *module_args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _readme_examples(tmp_path):
    """The ```python blocks of the README and docs/ as files, split into those that use only
    lrelu and NumPy and those that use another library (pandas, xarray, dask, torch)."""
    if not README.exists():
        pytest.skip(f"no README.md beside {TESTS}")
    pages = [README] + sorted(p for p in DOCS.rglob("*.md") if not {"_build", "_generated"} & set(p.parts))
    blocks = [block for page in pages
              for block in re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)
              if not block.lstrip().startswith(">>>")]
    assert blocks, "README.md has no ```python examples"
    own, others = [], []
    for number, block in enumerate(blocks, 1):
        path = tmp_path / f"readme_example_{number}.py"
        path.write_text(block, encoding="utf-8")
        imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(block))
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(block))
                     if isinstance(node, ast.ImportFrom) and node.module}
        (own if imported <= {"numpy", "lrelu"} else others).append(path.name)
    return own, others


def test_readme_lrelu_examples_pass_mypy_strict(tmp_path):
    own, _ = _readme_examples(tmp_path)
    assert own, "README.md has no example using lrelu and NumPy alone"
    result = _mypy(["mypy", "--strict", *own], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_pipeline_examples_pass_mypy(tmp_path):
    # pandas and dask ship without complete stubs, and the examples keep user code
    # unannotated, as users write it: mypy's defaults, with lrelu's calls still checked.
    _, others = _readme_examples(tmp_path)
    if not others:
        pytest.skip("README.md has no example using another library")
    result = _mypy(["mypy", "--ignore-missing-imports", *others], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stubs_agree_with_the_runtime_modules(tmp_path):
    result = _mypy(["mypy.stubtest", "lrelu", "--allowlist", str(ALLOWLIST)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
