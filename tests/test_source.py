"""The document lrelu was specified by: the README and the docs' semantics page (where the
user guide names it) name it before referring to it, and lrelu.reference holds its two
listings as printed there."""

import inspect
import pathlib

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
