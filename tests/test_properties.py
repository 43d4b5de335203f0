"""Property-based tests: whatever the dtype, layout, alpha, out and where, every result equals
the listings in lrelu.reference bit for bit (NaN payloads aside), and lrelu writes no element
it should not.

Arrays are drawn as views into a bigger base (any steps, negative ones too, any axis order,
byteswapped or unaligned), so a test can also check that the rest of the base kept its
values: a kernel that ignores a stride or writes past the end fails here. The number of
examples is bounded by the hypothesis profile in conftest.py.
"""

import numpy as np
import pytest
from hypothesis import event, given, settings, strategies as st
from hypothesis.extra import numpy as nps

import lrelu
from lrelu import _threads, reference

from helpers import (FLOAT_DTYPES, INTEGER_DTYPES, always_parallel, assert_same,
                     parallel_threshold_elements, sample)


def _with_swapped(dtypes):
    natives = [np.dtype(d) for d in dtypes]
    return natives + [d.newbyteorder() for d in natives if d.itemsize > 1]


FLOATS = st.sampled_from(_with_swapped(FLOAT_DTYPES))
REALS = st.sampled_from(_with_swapped(FLOAT_DTYPES + INTEGER_DTYPES))
SHAPES = dict(min_dims=0, max_dims=3, min_side=0, max_side=5)
STEPS = st.sampled_from([1, 1, 2, 3, -1, -2])


def _native(a):
    a = np.asarray(a)
    return a.astype(a.dtype.newbyteorder("="))


def _listing(listing, *args):
    # The listings warn (overflow, 0 * inf) as NumPy arithmetic does; lrelu's own warnings
    # are governed by pyproject's filterwarnings, so only the oracle is silenced. A Python
    # alpha is given as NEP 50 gives it beside the arrays' dtype (reference.nep50_alpha):
    # NumPy 1.x's value-based casting would make 0-d operands float64.
    *arrays, alpha = args
    alpha = reference.nep50_alpha(np.empty(0, np.result_type(*arrays)), alpha)
    with np.errstate(all="ignore"):
        return listing(*arrays, alpha)


def _slice(n, step, offset, side):
    """n elements `step` apart within an axis of length `side`, starting `offset` elements in
    from the end the slice starts at (the front for step > 0, the back for step < 0)."""
    if n == 0:
        return slice(0, 0)
    if step > 0:
        return slice(offset, offset + n * step, step)
    start = side - 1 - offset
    stop = start + n * step
    return slice(start, stop if stop >= 0 else None, step)


def _unaligned_copy(a):
    # One byte in from an aligned allocation: NumPy must not hand such data to a typed loop.
    raw = np.empty(a.nbytes + 1, np.uint8)
    moved = raw[1:].view(a.dtype).reshape(a.shape)
    moved[...] = a
    return moved


class View:
    """`array`, a view into `base` made by `select`, which makes the same view of any array
    shaped like base."""

    def __init__(self, base, select):
        self.base, self.select = base, select
        self.array = select(base)

    def outside(self):
        """True for the elements of base that are not in the view."""
        mask = np.ones(self.base.shape, bool)
        self.select(mask)[...] = False
        return mask


@st.composite
def views(draw, dtype, shape, elements=None):
    """A View of the given dtype and shape: every axis strided (negative steps too) into a
    padded base stored in a drawn axis order, sometimes one byte off alignment."""
    ndim = len(shape)
    steps = [draw(STEPS) for _ in shape]
    pads = [draw(st.integers(0, 2)) for _ in shape]
    sides = [n * abs(k) + p for n, k, p in zip(shape, steps, pads)]
    order = draw(st.permutations(range(ndim)))
    native = dtype.newbyteorder("=")
    stored = draw(nps.arrays(native, tuple(sides[a] for a in order), elements=elements)).astype(dtype)
    if dtype.itemsize > 1 and draw(st.booleans()):
        stored = _unaligned_copy(stored)
        event("unaligned")
    base = stored.transpose(np.argsort(order))
    index = tuple(_slice(n, k, draw(st.integers(0, p)), side)
                  for n, k, p, side in zip(shape, steps, pads, sides))
    return View(base, lambda a: a[index + (Ellipsis,)])      # Ellipsis: a 0-d view, not a scalar


PYTHON_FLOATS = st.floats(allow_nan=False, allow_infinity=False)   # 0, subnormal, huge too


def _finite(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        # Listing 2 (np.where(x >= 0.0, 1.0, alpha)) turns an integer alpha into float64, while
        # lrelu's longdouble loop keeps it exact: the two agree while float64 is exact, to 2**53.
        info = np.iinfo(dtype)
        return st.integers(max(info.min, -2**53), min(info.max, 2**53))
    return nps.from_dtype(dtype, allow_nan=False, allow_infinity=False)


@st.composite
def alphas(draw, x_dtype, shape):
    """Any finite alpha: a Python float or int, a NumPy scalar, or an array of `shape`.

    For integer and bool x, only alphas for which listing 1 gives float64 (a Python float, or
    float64 and wider): lrelu returns float64 for integer x whatever alpha is, while the
    listing gives float16 or float32 for such alphas and integers for integer ones."""
    if x_dtype.kind == "f":
        scalar_dtypes = FLOAT_DTYPES
        array_dtypes = _with_swapped(FLOAT_DTYPES + [np.int8, np.int16, np.int64])
        python = st.one_of(PYTHON_FLOATS, st.integers(-10**6, 10**6))
    else:
        scalar_dtypes = [np.float64, np.longdouble]
        array_dtypes = _with_swapped(scalar_dtypes)
        python = PYTHON_FLOATS
    kind = draw(st.sampled_from(["python", "numpy scalar", "array"]))
    if kind == "python":
        return draw(python)
    if kind == "numpy scalar":
        dtype = draw(st.sampled_from(scalar_dtypes))
        return np.dtype(dtype).type(draw(_finite(dtype)))
    dtype = draw(st.sampled_from(array_dtypes))
    return draw(views(dtype, shape, elements=_finite(dtype.newbyteorder("=")))).array


def _result_shape(*operands):
    return np.broadcast_shapes(*(np.shape(a) for a in operands))


class Operation:
    def __init__(self, name, function, listing, inputs):
        self.name, self.function, self.listing, self.inputs = name, function, listing, inputs


FORWARD = Operation("forward", lrelu.leaky_relu, reference.lrelu, [REALS])
DERIVATIVE = Operation("derivative", lrelu.leaky_relu_derivative, reference.der_lrelu_typed, [REALS])
# reference.backward is defined for floating grad and x, as lrelu's backward loops are.
BACKWARD = Operation("backward", lrelu.leaky_relu_backward, reference.backward, [FLOATS, FLOATS])
OPERATIONS = [pytest.param(op, id=op.name) for op in (FORWARD, DERIVATIVE, BACKWARD)]


def _draw_operands(data, operation, n_extra):
    """Inputs as strided views, an alpha, and `n_extra` more shapes, all mutually broadcastable."""
    n_inputs = len(operation.inputs)
    shapes = data.draw(nps.mutually_broadcastable_shapes(num_shapes=n_inputs + 1 + n_extra, **SHAPES))
    inputs = [data.draw(views(data.draw(dtypes), shape)).array
              for dtypes, shape in zip(operation.inputs, shapes.input_shapes)]
    alpha = data.draw(alphas(inputs[-1].dtype, shapes.input_shapes[n_inputs]))
    return inputs, alpha, shapes.input_shapes[n_inputs + 1:]


@pytest.mark.parametrize("operation", OPERATIONS)
@given(data=st.data())
def test_result_equals_listing(operation, data):
    inputs, alpha, _ = _draw_operands(data, operation, 0)
    expected = _listing(operation.listing, *inputs, alpha)
    assert_same(operation.function(*inputs, alpha), expected)


@pytest.mark.parametrize("operation", OPERATIONS)
@given(data=st.data())
def test_out_gets_the_listing_where_selected_and_nothing_else_changes(operation, data):
    inputs, alpha, (where_shape,) = _draw_operands(data, operation, 1)
    where = data.draw(st.one_of(st.none(), views(np.dtype(bool), where_shape).map(lambda v: v.array)))
    inputs_before = [a.copy() for a in inputs]
    full = _listing(operation.listing, *inputs_before, alpha)
    result_shape = _result_shape(full, *([] if where is None else [where]))
    # out: the result's dtype, byteswapped, or another float dtype (NumPy casts into it).
    out_dtype = data.draw(st.sampled_from(_with_swapped([full.dtype]) + [data.draw(FLOATS)]))
    out = data.draw(views(out_dtype, result_shape))
    out_before, base_before = out.array.copy(), out.base.copy()

    kwargs = {} if where is None else {"where": where}
    operation.function(*inputs, alpha, out=out.array, **kwargs)

    with np.errstate(all="ignore"):
        full = full.astype(out_dtype)
    expected = full if where is None else np.where(where, full, out_before)
    assert_same(_native(out.array), _native(np.broadcast_to(expected, result_shape)))
    outside = out.outside()
    assert_same(out.base[outside], base_before[outside])
    for a, before in zip(inputs, inputs_before):
        assert_same(a, before)


@pytest.mark.parametrize("operation", OPERATIONS)
@given(data=st.data())
def test_out_sharing_memory_with_inputs_acts_as_if_inputs_were_copied(operation, data):
    # NumPy's rule for overlapping operands; lrelu's kernel must not break it when out is an
    # input exactly (in place, no copy), partly overlaps one, or only shares the buffer. NumPy
    # copies no input that runs ahead of out, counting on the loop to run in order: past the
    # parallel threshold, with a team, lrelu must then run in order too (tests/test_overlap.py).
    n_inputs = len(operation.inputs)
    dtype = data.draw(FLOATS)
    threshold = parallel_threshold_elements(np.float32 if dtype.itemsize < 4 else dtype)
    n = data.draw(st.one_of(st.integers(0, 40), st.integers(threshold, threshold + 200)))
    steps = [data.draw(STEPS) for _ in range(n_inputs + 1)]
    side = max(abs(k) for k in steps) * n + data.draw(st.integers(0, 8))
    if n <= 40:
        base = data.draw(nps.arrays(dtype.newbyteorder("="), side)).astype(dtype)
    else:   # hypothesis would take long to draw this many elements one by one
        with np.errstate(over="ignore"):
            base = sample((side,), dtype.newbyteorder("="), data.draw(st.integers(0, 2**32 - 1)))
        base = base.astype(dtype)
    slices = [_slice(n, k, data.draw(st.integers(0, side - abs(k) * max(n - 1, 0) - (n > 0))), side)
              for k in steps]
    aliased = data.draw(st.sampled_from([None] + list(range(n_inputs))))
    if aliased is not None:
        slices[-1] = slices[aliased]
    inputs = [base[s] for s in slices[:-1]]
    out = View(base, lambda a: a[slices[-1]])
    alpha = data.draw(st.one_of(PYTHON_FLOATS,
                                nps.arrays(data.draw(FLOATS), data.draw(st.sampled_from([(), (1,), (n,)])),
                                           elements=_finite(np.float16))))
    where = data.draw(st.one_of(st.none(), nps.arrays(bool, n)))
    expected = _listing(operation.listing, *[a.copy() for a in inputs], alpha)
    with np.errstate(all="ignore"):
        expected = expected.astype(dtype)
    if where is not None:
        expected = np.where(where, expected, out.array.copy())
    base_before = base.copy()

    with lrelu.threads(2), always_parallel():
        operation.function(*inputs, alpha, out=out.array, **({} if where is None else {"where": where}))

    assert_same(_native(out.array), _native(expected))
    outside = out.outside()
    assert_same(base[outside], base_before[outside])


@pytest.mark.parametrize("function, listing", [
    pytest.param(lrelu.leaky_relu_, reference.lrelu, id="forward"),
    pytest.param(lrelu.leaky_relu_derivative_, reference.der_lrelu_typed, id="derivative"),
])
@given(data=st.data())
def test_in_place_changes_exactly_the_view_to_the_listing(function, listing, data):
    shape = data.draw(nps.array_shapes(**SHAPES))
    x = data.draw(views(data.draw(FLOATS), shape))
    # alpha may broadcast against x but must not grow it: drop leading axes, shrink some to 1.
    kept = shape[data.draw(st.integers(0, len(shape))):]
    alpha_shape = tuple(1 if data.draw(st.booleans()) else side for side in kept)
    alpha = data.draw(alphas(x.array.dtype, alpha_shape))
    before, base_before = x.array.copy(), x.base.copy()

    assert function(x.array, alpha) is x.array

    with np.errstate(all="ignore"):
        expected = _listing(listing, before, alpha).astype(x.array.dtype)
    assert_same(_native(x.array), _native(expected))
    outside = x.outside()
    assert_same(x.base[outside], base_before[outside])


def _forward_listing(x, grad, alpha):
    return reference.lrelu(x, alpha)


def _derivative_listing(x, grad, alpha):
    return reference.der_lrelu_typed(x, alpha)


def _backward_listing(x, grad, alpha):
    return reference.backward(grad, x, alpha)


LARGE = {   # name: (call on x, grad and alpha, its listing, the array it changes in place)
    "forward": (lambda x, grad, alpha: lrelu.leaky_relu(x, alpha), _forward_listing, None),
    "derivative": (lambda x, grad, alpha: lrelu.leaky_relu_derivative(x, alpha), _derivative_listing, None),
    "backward": (lambda x, grad, alpha: lrelu.leaky_relu_backward(grad, x, alpha), _backward_listing, None),
    "forward in place": (lambda x, grad, alpha: lrelu.leaky_relu_(x, alpha), _forward_listing, "x"),
    "derivative in place": (lambda x, grad, alpha: lrelu.leaky_relu_derivative_(x, alpha),
                            _derivative_listing, "x"),
    "backward in place": (lambda x, grad, alpha: lrelu.leaky_relu_backward(grad, x, alpha, out=grad),
                          _backward_listing, "grad"),
}


@pytest.mark.parametrize("name", list(LARGE))
@settings(max_examples=max(5, settings().max_examples // 10))     # each example is megabytes
@given(data=st.data())
def test_sizes_across_the_parallel_threshold_equal_listing_on_any_thread_count(name, data):
    dtype = data.draw(st.sampled_from([np.float16, np.float32, np.float64]))
    threshold = parallel_threshold_elements(dtype)
    # At or above the threshold, or just below it: about half the examples run parallel.
    n = data.draw(st.one_of(st.integers(threshold, 3 * threshold),
                            st.integers(threshold - 100, threshold - 1)))
    step = data.draw(st.sampled_from([1, 1, 2, -1, -3]))
    seed = data.draw(st.integers(0, 2**32 - 1))
    x = sample((n * abs(step),), dtype, seed)[::step]
    grad = sample((n,), dtype, seed + 1)
    alpha = data.draw(st.one_of(PYTHON_FLOATS,
                                st.just(sample((n,), dtype, seed + 2)).map(np.nan_to_num)))
    threads = data.draw(st.sampled_from([2, 3, 4, 1]))
    call, listing, target = LARGE[name]
    expected = _listing(listing, x.copy(), grad.copy(), alpha)
    if target is not None:
        # In place the result keeps the target's dtype, as x[...] = f(x) would. (Under NumPy
        # 1.x's value-based casting, a Python-float alpha too large for float16 computes in
        # float32 and is stored back as float16; NumPy 2 never promotes here.)
        expected = expected.astype({"x": x, "grad": grad}[target].dtype)

    regions = _threads._parallel_region_count()
    with lrelu.threads(threads), always_parallel():
        result = call(x, grad, alpha)
    # Shown by --hypothesis-show-statistics: how many examples really ran in parallel.
    event("parallel" if _threads._parallel_region_count() > regions else "serial")

    assert_same(result, expected)
