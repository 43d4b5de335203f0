"""Run by tests/test_simd_levels.py in a child process per SIMD level (LRELU_SIMD), not
collected on its own: every float16 and bfloat16 bit pattern through the contiguous loops
starting at every element offset of a 64-byte vector (the head) and ending at every length
of one (the tail), in place and out of place, every operation in both at_zero conventions,
against lrelu.reference (bfloat16: the float32 listing rounded once, tests/helpers.py).

The results of one call are elementwise, so each offset's expected values are a slice of
the listing over all patterns, computed once."""

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import assert_same, every_bit_pattern, round_to_bfloat16

ml_dtypes = pytest.importorskip("ml_dtypes")
DTYPES = {"float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16)}
VECTOR_BYTES = 64                     # one AVX-512 register
ELEMENTS = VECTOR_BYTES // 2          # 16-bit elements in it
ALPHAS = [0.01, -0.3, 1e-30]          # 1e-30: subnormal float32 products, bfloat16's trap

# name: (lrelu call (grad, x, alpha, at_zero, out), in-place operand or None, listing)
OPERATIONS = {
    "forward": (lambda g, x, a, z, out: lrelu.leaky_relu(x, a, out=out), "x",
                lambda g, x, a, z: reference.lrelu(x, a)),
    "derivative": (lambda g, x, a, z, out: lrelu.leaky_relu_derivative(x, a, at_zero=z, out=out),
                   "x", lambda g, x, a, z: reference.der_lrelu_typed(x, a, at_zero=z)),
    "backward": (lambda g, x, a, z, out: lrelu.leaky_relu_backward(g, x, a, at_zero=z, out=out),
                 "g", lambda g, x, a, z: reference.backward(g, x, a, at_zero=z)),
}


def expected(dtype, operation, grad, x, alpha, at_zero):
    """The listing over all patterns: float16 in float16 (NumPy's rule), bfloat16 in float32
    rounded once to bfloat16."""
    listing = OPERATIONS[operation][2]
    with np.errstate(all="ignore"):
        if dtype.name == "float16":
            return np.asarray(listing(grad, x, np.float16(alpha), at_zero)).astype(dtype)
        exact = listing(grad.astype(np.float32), x.astype(np.float32), np.float32(alpha), at_zero)
        return round_to_bfloat16(np.asarray(exact, np.float32)).view(dtype)


def at_offset(values, offset):
    """A copy of values starting `offset` elements past a 64-byte boundary."""
    base = np.empty(values.size + 2 * ELEMENTS, values.dtype)
    skip = (-base.ctypes.data % VECTOR_BYTES) // values.itemsize
    view = base[skip + offset: skip + offset + values.size]
    view[...] = values
    return view


def as_float32(values):
    return values.astype(np.float32)


@pytest.mark.parametrize("at_zero", ["one", "alpha"])
@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_every_pattern_at_every_head_and_tail(dtype, operation, at_zero):
    dtype = DTYPES[dtype]
    call, in_place_on, _ = OPERATIONS[operation]
    x = every_bit_pattern(dtype)
    grad = np.random.default_rng(1).permutation(x)
    for alpha in ALPHAS:
        want = expected(dtype, operation, grad, x, alpha, at_zero)
        for offset in range(ELEMENTS + 1):
            # head: the start `offset` past a boundary; tail: a length that leaves
            # (offset * 7) % ELEMENTS elements of a last vector, odd lengths included
            n = x.size - ELEMENTS - (offset * 7) % ELEMENTS
            part = slice(offset, offset + n)
            xs, gs = at_offset(x[part], offset), at_offset(grad[part], (offset + 5) % ELEMENTS)
            with np.errstate(all="ignore"):
                out = at_offset(np.zeros(n, dtype), (offset + 3) % ELEMENTS)
                result = call(gs, xs, alpha, at_zero, out)
                assert result is out
                assert_same(as_float32(out), as_float32(want[part]))
                target = xs if in_place_on == "x" else gs
                result = call(gs, xs, alpha, at_zero, target)
                assert result is target
                assert_same(as_float32(target), as_float32(want[part]))


# The ufuncs take any alpha (lrelu.leaky_relu refuses a non-finite one first). A NaN alpha
# is the one source of a product NaN with low bits set; with every payload bit set, rounding
# it without the NaN test carries into the sign and gives -0.0, so the bfloat16 loops must
# keep that test for a NaN alpha (src/contig.h, NAN_ALPHA_APART). Infinities make inf * 0 NaNs.
NAN_WITH_PAYLOAD = np.uint32(0x7FFFFFFF).view(np.float32)
UFUNCS = {
    ("forward", "one"): lambda g, x, a, out: lrelu.ufuncs.leaky_relu(x, a, out=out),
    ("forward", "alpha"): lambda g, x, a, out: lrelu.ufuncs.leaky_relu(x, a, out=out),
    ("derivative", "one"): lambda g, x, a, out: lrelu.ufuncs.leaky_relu_derivative(x, a, out=out),
    ("derivative", "alpha"):
        lambda g, x, a, out: lrelu.ufuncs.leaky_relu_derivative_at_zero_alpha(x, a, out=out),
    ("backward", "one"): lambda g, x, a, out: lrelu.ufuncs.leaky_relu_backward(g, x, a, out=out),
    ("backward", "alpha"):
        lambda g, x, a, out: lrelu.ufuncs.leaky_relu_backward_at_zero_alpha(g, x, a, out=out),
}


@pytest.mark.parametrize("alpha", [NAN_WITH_PAYLOAD, np.float32(np.inf), np.float32(-np.inf)],
                         ids=["nan-payload", "inf", "-inf"])
@pytest.mark.parametrize("operation, at_zero", list(UFUNCS))
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_every_pattern_with_a_non_finite_alpha(dtype, operation, at_zero, alpha):
    dtype = DTYPES[dtype]
    x = every_bit_pattern(dtype)
    grad = np.random.default_rng(1).permutation(x)
    want = expected(dtype, operation, grad, x, alpha, at_zero)
    with np.errstate(all="ignore"):
        for offset in (0, 5):
            xs, gs = at_offset(x, offset), at_offset(grad, offset)
            out = UFUNCS[operation, at_zero](gs, xs, alpha.astype(dtype) if dtype.name ==
                                             "float16" else alpha, np.zeros(x.size, dtype))
            assert_same(as_float32(out), as_float32(want))
