"""The document lrelu was specified by: the README and the docs' semantics page (where the
user guide names it) name it before referring to it, and lrelu.reference holds its two
listings as printed there. And the repository stands on its own: no tracked file names a
path outside it, and the code's comments say why, not when (no dates)."""

import inspect
import pathlib
import re
import shutil
import subprocess

import pytest

from lrelu import reference

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The README, and the page of the docs that names the entry for the rest of the docs.
NAMING_PAGES = [ROOT / "README.md", ROOT / "docs" / "guide" / "semantics.md"]

# The glossary entry's title and series, as the README names them.
TITLE = "[活性化関数]Leaky ReLU(Leaky Rectified Linear Unit)/LReLUとは?"
SERIES = "「AI・機械学習の用語辞典」"

# The two listings of the glossary entry (リスト1, リスト2), line by line, indentation aside:
# the oracle every test compares with, so it must stay the document's code.
LISTINGS = {
    "lrelu": ["def lrelu(x, alpha=0.01):", "return np.where(x >= 0.0, x, alpha * x)"],
    "der_lrelu": ["def der_lrelu(x, alpha=0.01):", "return np.where(x >= 0.0, 1.0, alpha)"],
}


@pytest.mark.parametrize("name", LISTINGS)
def test_lrelu_reference_holds_the_listing_as_printed(name):
    source = inspect.getsource(getattr(reference, name))
    assert [line.strip() for line in source.strip().splitlines()] == LISTINGS[name]


@pytest.mark.parametrize("page", NAMING_PAGES, ids=lambda page: page.name)
def test_the_page_names_the_glossary_entry_before_referring_to_it(page):
    if not page.exists():
        pytest.skip(f"no {page.relative_to(ROOT)} beside the tests (installed tests)")
    text = " ".join(page.read_text(encoding="utf-8").split())   # lines joined
    named = text.find(SERIES)
    assert named > 0 and TITLE in text[:named], f"{page.name} must name the glossary entry and its series"
    assert "the document" not in text.lower()
    for reference_to_it in ("the glossary entry", "the listing", "listing 1", "listing 2"):
        first = text.lower().find(reference_to_it)
        assert first == -1 or first > named, f"{reference_to_it!r} comes before the source is named"


def tracked_files():
    """The checkout's tracked files (git ls-files), or a skip where there is none (installed tests)."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("no git checkout beside the tests")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def text_of(path):
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError):   # binary, or deleted and not yet committed
        return ""


# Paths of the machine the project was developed on, outside the repository.
OUTSIDE = ("../shared", "/work/")


def test_no_tracked_file_names_a_path_outside_the_repository():
    here = pathlib.Path(__file__).resolve()
    found = [f"{path.relative_to(ROOT)}: {needle}" for path in tracked_files() if path.resolve() != here
             for needle in OUTSIDE if needle in text_of(path)]
    assert not found, "paths outside the repository (use an option or an environment variable):\n" + "\n".join(found)


# The code, whose comments say why; dates belong to the changelog, BENCHMARKS.md and bench/results.
CODE = re.compile(r"^(src|lrelu|tools)/.*\.(c|h|py|pyx|pxd|pyi|sh)$|^bench/[^/]+\.(py|c|sh)$|^setup\.py$")
DATE = re.compile(r"\b20\d\d-[01]\d-[0-3]\d\b")


def test_the_code_names_no_date():
    found = [f"{path.relative_to(ROOT)}: {m.group()}" for path in tracked_files()
             if CODE.match(path.relative_to(ROOT).as_posix()) for m in DATE.finditer(text_of(path))]
    assert not found, "dates in the code (say why, not when):\n" + "\n".join(found)
