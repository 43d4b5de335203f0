"""Shared helpers: compare lrelu's results with the reference listings, bit for bit."""

import contextlib
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import numpy as np
import pytest

import lrelu

FLOAT_DTYPES = [np.float16, np.float32, np.float64, np.longdouble]
INTEGER_DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                  np.int64, np.uint64, np.intc, np.longlong, np.ulonglong]
SPECIALS = [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1.0, -1.0, 1e-45, -1e-45, 1e-310,
            -1e-310, 6e4, -6e4, 3e38, -3e38, 1e308, -1e308]
ALPHAS = [0.01, 0.0, 0.2, 1.0, 3.5, -0.5, -2.0]


def run_python(code, env=None, timeout=180):
    """Run code in a fresh interpreter, in the temp directory so that `import lrelu` finds the
    installed package and not a source checkout; a hang fails on the timeout. env replaces
    the environment (default: this process's)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tempfile.gettempdir(),
                          env=os.environ if env is None else env, capture_output=True, text=True,
                          timeout=timeout)


def parallel_threshold_elements(dtype):
    """Elements of `dtype` at which a call starts using more than one thread."""
    return lrelu._threads._openmp_info()["parallel_threshold_bytes"] // np.dtype(dtype).itemsize


@contextlib.contextmanager
def always_parallel():
    """Every call above the threshold runs on a team, not where the planner finds a team
    faster: for tests that must drive the parallel path (lrelu/_threads.pyx)."""
    old = lrelu._threads._set_adaptive(False)
    try:
        yield
    finally:
        lrelu._threads._set_adaptive(old)


def assert_same(result, expected):
    """Equal dtype and shape, and equal bits except NaN payloads: the same values, the same
    sign on every zero, NaN in the same places."""
    result = np.asarray(result)
    expected = np.asarray(expected)
    assert result.dtype == expected.dtype, (result.dtype, expected.dtype)
    assert result.shape == expected.shape, (result.shape, expected.shape)
    nan_r, nan_e = np.isnan(result), np.isnan(expected)
    assert np.array_equal(nan_r, nan_e), "NaN in different places"
    same = (result == expected) & (np.signbit(result) == np.signbit(expected))
    bad = ~(same | nan_r)
    if bad.any():
        where = np.argwhere(bad)[:5]
        pytest.fail(f"{int(bad.sum())} elements differ, first at {where.tolist()}: "
                    f"got {result[bad][:5]!r}, expected {expected[bad][:5]!r}")


def every_bit_pattern(dtype):
    """All 65,536 values of a 16-bit dtype, in the order of their bits."""
    return np.arange(1 << 16, dtype=np.uint16).view(dtype)


def round_to_bfloat16(values):
    """float32 values rounded to bfloat16, to nearest with ties to even, as uint16 bits; a NaN
    stays a NaN. Integer arithmetic on the bits, independent of lrelu and of ml_dtypes."""
    # uint64 and NumPy integer constants: NumPy 1's value-based casting refuses uint64 >> a
    # Python int, and kept + up never overflows in 64 bits
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    kept, dropped = bits >> np.uint64(16), bits & np.uint64(0xFFFF)
    up = (dropped > 0x8000) | ((dropped == 0x8000) & (kept & np.uint64(1) == 1))
    rounded = (kept + up.astype(np.uint64)).astype(np.uint16)
    return np.where(np.isnan(values), np.uint16(0x7FC0), rounded)


def sample(shape, dtype, seed=0):
    """Values of every sign and magnitude with the special values mixed in."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if np.dtype(dtype).kind == "f":
        values = rng.standard_normal(size) * rng.choice([1e-3, 1.0, 1e3], size)
        with np.errstate(over="ignore"):
            specials = np.array(SPECIALS).astype(dtype)
        values = values.astype(dtype)
        if size:
            k = min(size, len(specials))
            values[rng.choice(size, k, replace=False)] = specials[:k]
    elif dtype is np.bool_:
        values = rng.integers(0, 2, size).astype(bool)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size, dtype=dtype, endpoint=True)
    return values.reshape(shape)


def run_in_threads(functions, timeout=120):
    """Run each function in a Python thread of its own, all released at once by a barrier.
    Fails if any raised (re-raising the first error) or is still running after `timeout`
    seconds: a hang fails the test instead of hanging the run."""
    start = threading.Barrier(len(functions))
    errors = []

    def run(function):
        try:
            start.wait(timeout)
            function()
        except BaseException as exc:      # re-raised below, in the calling thread
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(f,), daemon=True) for f in functions]
    for w in workers:
        w.start()
    deadline = time.monotonic() + timeout
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))
        assert not w.is_alive(), f"a thread still runs after {timeout} s: hung"
    if errors:
        raise errors[0]
