"""The document lrelu was specified by: the README names it before referring to it, and
lrelu.reference holds its two listings as printed there."""

import inspect
import pathlib

import pytest

from lrelu import reference

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"

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


@pytest.mark.skipif(not README.exists(), reason="no README.md beside the tests (installed tests)")
def test_the_readme_names_the_glossary_entry_before_referring_to_it():
    text = " ".join(README.read_text(encoding="utf-8").split())   # lines joined
    named = text.find(SERIES)
    assert named > 0 and TITLE in text[:named], "the README must name the glossary entry and its series"
    assert "the document" not in text.lower()
    for reference_to_it in ("the glossary entry", "the listing", "listing 1", "listing 2"):
        first = text.lower().find(reference_to_it)
        assert first == -1 or first > named, f"{reference_to_it!r} comes before the source is named"
