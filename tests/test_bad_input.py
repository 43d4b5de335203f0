"""Bad input: one exception type per kind, a message that names the problem, and every
operand left exactly as it was.

README_CASES are the rows of the "Bad input" table in docs/guide/bad-input.md, which shows the real messages:
`python tests/test_bad_input.py` rewrites that table from these cases, and a test fails
when the docs and the code disagree. MORE_CASES are variants checked the same way.
"""

import copy
import pathlib
import sys
from typing import NamedTuple

import numpy as np
import pytest

import lrelu


class Case(NamedTuple):
    kind: str            # what is wrong, as the docs' table says it
    setup: str           # statements making the operands (names the test then checks)
    call: str
    exception: type      # exactly this type, not a subclass
    names: tuple         # words the message must contain: the function, the operand, the problem

    def run(self):
        namespace = {"np": np, "lrelu": lrelu}
        exec(self.setup, namespace)
        operands = {name: value for name, value in namespace.items() if name not in ("np", "lrelu", "__builtins__")}
        return namespace, operands


X = "x = np.array([-1.5, 0.0, 2.0])"

README_CASES = [
    Case("complex input", "x = np.array([1 + 2j, -1j])", "lrelu.leaky_relu(x)", TypeError,
         ("leaky_relu", "x", "complex", "real numbers")),
    Case("object input", "x = np.array([1.0, None])", "lrelu.leaky_relu(x)", TypeError,
         ("leaky_relu", "x", "object")),
    Case("strings", 'x = ["-1", "2"]', "lrelu.leaky_relu(x)", TypeError,
         ("leaky_relu", "x", "str")),
    Case("None", "x = None", "lrelu.leaky_relu(x)", TypeError, ("leaky_relu", "x", "None")),
    Case("read-only array, in place", X + "; x.flags.writeable = False", "lrelu.leaky_relu_(x)",
         ValueError, ("leaky_relu_", "x", "read-only")),
    Case("read-only out", X + "; out = np.zeros(3); out.flags.writeable = False",
         "lrelu.leaky_relu(x, out=out)", ValueError, ("leaky_relu", "out", "read-only")),
    Case("integer array, in place", "x = np.arange(-3, 3)", "lrelu.leaky_relu_(x)", TypeError,
         ("leaky_relu_", "floating-point", "int64", "leaky_relu(x)")),
    Case("list, in place", "x = [-1.5, 2.0]", "lrelu.leaky_relu_(x)", TypeError,
         ("leaky_relu_", "NumPy array", "list", "leaky_relu(x)")),
    Case("shapes that do not broadcast", "x = np.zeros((3, 4)); alpha = np.full(5, 0.1)",
         "lrelu.leaky_relu(x, alpha)", ValueError, ("leaky_relu", "broadcast", "(3, 4)", "(5,)")),
    Case("out of the wrong shape", "x = np.zeros((3, 4)); out = np.zeros((4, 3))",
         "lrelu.leaky_relu(x, out=out)", ValueError, ("leaky_relu", "out", "(4, 3)", "(3, 4)")),
    Case("alpha that would grow an in-place array", "x = np.zeros(3); alpha = np.full((2, 3), 0.1)",
         "lrelu.leaky_relu_(x, alpha)", ValueError, ("leaky_relu_", "(2, 3)", "in place")),
    Case("NaN alpha", X, 'lrelu.leaky_relu(x, float("nan"))', ValueError,
         ("leaky_relu", "alpha", "finite", "nan")),
    Case("inf in an alpha array", X + "; alpha = np.array([0.1, np.inf, 0.2])",
         "lrelu.leaky_relu(x, alpha)", ValueError, ("leaky_relu", "alpha", "finite", "inf")),
    Case("alpha of the wrong type", X, 'lrelu.leaky_relu(x, "0.1")', TypeError,
         ("leaky_relu", "alpha", "real number", "str")),
    Case("bool alpha", X, "lrelu.leaky_relu(x, True)", TypeError,
         ("leaky_relu", "alpha", "real number", "bool")),
    Case("out of the wrong dtype", X + "; out = np.zeros(3, dtype=np.int64)",
         "lrelu.leaky_relu(x, out=out)", TypeError, ("leaky_relu", "out", "int64", "float64")),
    Case("out that is not an array", X + "; out = [0.0, 0.0, 0.0]", "lrelu.leaky_relu(x, out=out)",
         TypeError, ("leaky_relu", "out", "NumPy array", "list")),
    Case("a raw ufunc's reduce, accumulate, reduceat, outer or at", X,
         "lrelu.ufuncs.leaky_relu.reduce(x)", TypeError,
         ("leaky_relu.reduce", "not supported", "alpha")),
    Case("unknown at_zero", X, 'lrelu.leaky_relu_derivative(x, at_zero="zero")', ValueError,
         ("leaky_relu_derivative", "at_zero", '"one"', '"alpha"', "zero")),
    Case("PReLU alpha that does not fit x", "x = np.zeros((8, 3)); grad = np.ones((8, 3)); alpha = np.full(4, 0.25)",
         "lrelu.prelu_backward(grad, x, alpha)", ValueError, ("prelu_backward", "alpha", "(4,)", "(8, 3)")),
]

P = "x = np.array([[-1.5, 0.0], [2.0, -3.0]]); grad = np.ones((2, 2))"

MORE_CASES = [
    Case("complex, in place", "x = np.array([1j])", "lrelu.leaky_relu_(x)", TypeError,
         ("leaky_relu_", "x", "complex")),
    Case("strings in an array", 'x = np.array(["a", "b"])', "lrelu.leaky_relu_derivative(x)", TypeError,
         ("leaky_relu_derivative", "x", "str")),
    Case("object array", "x = np.array([object(), 1], dtype=object)", "lrelu.leaky_relu_derivative(x)",
         TypeError, ("leaky_relu_derivative", "x", "object")),
    Case("dict", 'x = {"a": 1}', "lrelu.leaky_relu(x)", TypeError, ("leaky_relu", "x", "dict")),
    Case("None, in place", "x = None", "lrelu.leaky_relu_derivative_(x)", TypeError,
         ("leaky_relu_derivative_", "None")),
    Case("complex grad", X + "; grad = np.array([1j, 1j, 1j])", "lrelu.leaky_relu_backward(grad, x)",
         TypeError, ("leaky_relu_backward", "grad", "complex")),
    Case("None for x in backward", "grad = np.ones(3)", "lrelu.leaky_relu_backward(grad, None)",
         TypeError, ("leaky_relu_backward", "x", "None")),
    Case("read-only array, derivative in place", X + "; x.flags.writeable = False",
         "lrelu.leaky_relu_derivative_(x)", ValueError, ("leaky_relu_derivative_", "x", "read-only")),
    Case("read-only out, derivative", X + "; out = np.zeros(3); out.flags.writeable = False",
         "lrelu.leaky_relu_derivative(x, out=out)", ValueError, ("leaky_relu_derivative", "out", "read-only")),
    Case("read-only grad as out", X + "; grad = np.ones(3); grad.flags.writeable = False",
         "lrelu.leaky_relu_backward(grad, x, out=grad)", ValueError,
         ("leaky_relu_backward", "out", "read-only")),
    Case("read-only float32 array, in place", "x = np.ones(10, np.float32); x.flags.writeable = False",
         "lrelu.leaky_relu_(x, 0.2)", ValueError, ("leaky_relu_", "read-only")),
    Case("integer array, derivative in place", "x = np.arange(-3, 3, dtype=np.int8)",
         "lrelu.leaky_relu_derivative_(x)", TypeError, ("leaky_relu_derivative_", "floating-point", "int8")),
    Case("tuple, in place", "x = (-1.5, 2.0)", "lrelu.leaky_relu_(x)", TypeError, ("leaky_relu_", "tuple")),
    Case("list, derivative in place", "x = [-1.5, 2.0]", "lrelu.leaky_relu_derivative_(x)", TypeError,
         ("leaky_relu_derivative_", "list")),
    Case("alpha that does not broadcast, in place", "x = np.zeros((3, 4)); alpha = np.full(5, 0.1)",
         "lrelu.leaky_relu_(x, alpha)", ValueError, ("leaky_relu_", "broadcast", "(5,)")),
    Case("grad and x that do not broadcast", "grad = np.ones(5); x = np.zeros((3, 4))",
         "lrelu.leaky_relu_backward(grad, x)", ValueError, ("leaky_relu_backward", "grad", "(5,)", "(3, 4)")),
    Case("where that does not broadcast", X + "; out = np.zeros(3); mask = np.ones(2, bool)",
         "lrelu.leaky_relu(x, out=out, where=mask)", ValueError, ("leaky_relu", "where", "(2,)")),
    Case("inf alpha, in place", X, "lrelu.leaky_relu_(x, np.inf)", ValueError, ("leaky_relu_", "alpha", "inf")),
    Case("-inf alpha, derivative in place", X, "lrelu.leaky_relu_derivative_(x, -np.inf)", ValueError,
         ("leaky_relu_derivative_", "alpha", "inf")),
    Case("NaN NumPy scalar alpha", X, "lrelu.leaky_relu_(x, np.float32(np.nan))", ValueError,
         ("leaky_relu_", "alpha", "nan")),
    Case("NaN alpha, backward", X + "; grad = np.ones(3)", "lrelu.leaky_relu_backward(grad, x, np.nan)",
         ValueError, ("leaky_relu_backward", "alpha", "nan")),
    Case("None alpha", X, "lrelu.leaky_relu_(x, None)", TypeError, ("leaky_relu_", "alpha", "None")),
    Case("complex alpha", X, "lrelu.leaky_relu_(x, 1j)", TypeError, ("leaky_relu_", "alpha", "complex")),
    Case("complex alpha array", X, "lrelu.leaky_relu_derivative(x, [1j])", TypeError,
         ("leaky_relu_derivative", "alpha", "complex")),
    Case("object alpha", X, "lrelu.leaky_relu_(x, object())", TypeError, ("leaky_relu_", "alpha", "object")),
    Case("ragged alpha", X, "lrelu.leaky_relu(x, [[0.1], [0.2, 0.3]])", TypeError, ("leaky_relu", "alpha", "list")),
    Case("bool out", X + "; out = np.zeros(3, dtype=bool)", "lrelu.leaky_relu_derivative(x, out=out)",
         TypeError, ("leaky_relu_derivative", "out", "bool")),
    Case("integer out, backward", X + "; grad = np.ones(3); out = np.zeros(3, dtype=np.int32)",
         "lrelu.leaky_relu_backward(grad, x, out=out)", TypeError, ("leaky_relu_backward", "out", "int32")),
    Case("at_zero that is not a string", X + "; grad = np.ones(3)", "lrelu.leaky_relu_backward(grad, x, at_zero=1)",
         TypeError, ("leaky_relu_backward", "at_zero", '"one"', '"alpha"', "int 1")),
    Case("unknown at_zero, in place", X, 'lrelu.leaky_relu_derivative_(x, at_zero="Alpha")', ValueError,
         ("leaky_relu_derivative_", "at_zero", "Alpha")),
    Case("unknown at_zero, backward in place", X + "; grad = np.ones(3)",
         'lrelu.leaky_relu_backward(grad, x, out=grad, at_zero=None)', TypeError,
         ("leaky_relu_backward", "at_zero", "None")),
    Case("PReLU: unknown at_zero", P, 'lrelu.prelu_backward(grad, x, 0.25, at_zero="torch")', ValueError,
         ("prelu_backward", "at_zero", "torch")),
    Case("PReLU: alpha that would grow x", P + "; alpha = np.full((3, 2, 2), 0.25)",
         "lrelu.prelu_backward(grad, x, alpha, out=grad)", ValueError,
         ("prelu_backward", "alpha", "(3, 2, 2)", "would broadcast", "(2, 2)")),
    Case("PReLU: alpha (1, C, 1, 1) against (C, H, W)",
         "x = np.zeros((3, 4, 5)); grad = np.ones((3, 4, 5)); alpha = np.full((1, 3, 1, 1), 0.25)",
         "lrelu.prelu_backward(grad, x, alpha)", ValueError, ("prelu_backward", "(1, 3, 1, 1)", "(3, 4, 5)")),
    Case("PReLU: grad and x of different shapes", P + "; grad = np.ones(2)",
         "lrelu.prelu_backward(grad, x, 0.25)", ValueError, ("prelu_backward", "grad", "(2,)", "(2, 2)")),
    Case("PReLU: out of the wrong shape", P + "; out = np.zeros((2, 3))",
         "lrelu.prelu_backward(grad, x, 0.25, out=out)", ValueError, ("prelu_backward", "out", "(2, 3)", "(2, 2)")),
    Case("PReLU: out of the wrong dtype", P + "; out = np.zeros((2, 2), np.float32)",
         "lrelu.prelu_backward(grad, x, 0.25, out=out)", TypeError, ("prelu_backward", "out", "float32", "float64")),
    Case("PReLU: out that is not an array", P + "; out = [[0.0, 0.0], [0.0, 0.0]]",
         "lrelu.prelu_backward(grad, x, 0.25, out=out)", TypeError, ("prelu_backward", "out", "NumPy array", "list")),
    Case("PReLU: read-only out", P + "; out = np.zeros((2, 2)); out.flags.writeable = False",
         "lrelu.prelu_backward(grad, x, 0.25, out=out)", ValueError, ("prelu_backward", "out", "read-only")),
    Case("PReLU: NaN alpha", P, 'lrelu.prelu_backward(grad, x, float("nan"), out=grad)', ValueError,
         ("prelu_backward", "alpha", "finite", "nan")),
    Case("PReLU: inf in an alpha array", P + "; alpha = np.array([0.1, np.inf])",
         "lrelu.prelu_backward(grad, x, alpha, out=grad)", ValueError, ("prelu_backward", "alpha", "finite", "inf")),
    Case("PReLU: alpha of the wrong type", P, 'lrelu.prelu_backward(grad, x, "0.25")', TypeError,
         ("prelu_backward", "alpha", "real number", "str")),
    Case("PReLU: complex x", "x = np.array([1j, -1j]); grad = np.ones(2)", "lrelu.prelu_backward(grad, x, 0.25)",
         TypeError, ("prelu_backward", "x", "complex", "real numbers")),
    Case("PReLU: None for grad", "x = np.ones(2); grad = None", "lrelu.prelu_backward(grad, x, 0.25)",
         TypeError, ("prelu_backward", "grad", "None")),
]


def _snapshot(value):
    # Arrays keep their bytes (and object arrays their references); lists a deep copy.
    return value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)


def _assert_unchanged(before, after):
    if isinstance(before, np.ndarray):
        assert (after.dtype, after.shape, after.tobytes()) == (before.dtype, before.shape, before.tobytes())
    else:
        assert after == before


def _raised(case):
    namespace, _ = case.run()
    try:
        eval(case.call, namespace)
    except Exception as exc:
        return exc
    raise AssertionError(f"{case.call} raised nothing")


@pytest.mark.parametrize("case", README_CASES + MORE_CASES, ids=lambda case: case.kind)
def test_bad_input_gets_its_exception_and_a_message_naming_the_problem_and_changes_nothing(case):
    namespace, operands = case.run()
    before = {name: _snapshot(value) for name, value in operands.items()}

    with pytest.raises(Exception) as raised:
        eval(case.call, namespace)

    assert type(raised.value) is case.exception, repr(raised.value)
    missing = [word for word in case.names if word not in str(raised.value)]
    assert not missing, f"{str(raised.value)!r} does not say {missing}"
    for name, value in before.items():
        _assert_unchanged(value, operands[name])


# ---- The docs' table ----------------------------------------------------------------------

PAGE = pathlib.Path(__file__).resolve().parent.parent / "docs" / "guide" / "bad-input.md"
TABLE_START = "<!-- bad-input table: written by `python tests/test_bad_input.py` -->"
TABLE_END = "<!-- end of bad-input table -->"


def page_table():
    """The docs' table, from running every README_CASES case."""
    lines = ["| Bad input | Example | What you get |", "|---|---|---|"]
    for case in README_CASES:
        exc = _raised(case)
        lines.append(f"| {case.kind} | `{case.setup}; {case.call}` | `{type(exc).__name__}: {exc}` |")
    return "\n".join(lines)


def _page_parts():
    text = PAGE.read_text(encoding="utf-8")
    head, rest = text.split(TABLE_START + "\n", 1)
    table, tail = rest.split(TABLE_END, 1)
    return head, table.rstrip("\n"), tail


@pytest.mark.skipif(not PAGE.exists(), reason="no docs/ beside the tests (installed tests)")
def test_docs_table_shows_the_real_messages():
    _, table, _ = _page_parts()
    assert table == page_table(), "run `python tests/test_bad_input.py` to rewrite the table"


if __name__ == "__main__":
    head, _, tail = _page_parts()
    PAGE.write_text(head + TABLE_START + "\n" + page_table() + "\n" + TABLE_END + tail, encoding="utf-8")
    print(f"{PAGE}: bad-input table rewritten", file=sys.stderr)
