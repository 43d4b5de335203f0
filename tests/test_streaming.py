"""Streaming (non-temporal) stores: the same bits as the ordinary stores on every path, and
taken only where kernel() says (a contiguous result that is not an input, past the threshold).

The threshold is lowered to 4 KiB with the private setter, so small arrays cross it. The whole
file runs again in a subprocess for every SIMD level this CPU has (LRELU_SIMD=<level>).
"""

import contextlib
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import lrelu
from lrelu import _kernels, _threads, reference

from helpers import always_parallel, assert_same, run_python, sample

THRESHOLD = 4096            # bytes written per call, for these tests
SIZES = [1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 129, 1000, 1023, 1024, 1025, 1100, 4097,
         30_001]
OFFSETS = range(8)          # elements from an aligned base: every start a vector can have
ALPHAS = [0.01, -0.5]       # a negative alpha turns -0.0 into +0.0: the sign of zero is tested
STREAMS = _kernels._simd_info()["stream"]
LEVELS = ["baseline"] + _kernels._simd_info()["dispatch"]

needs_streaming = pytest.mark.skipif(not STREAMS, reason="no streaming loop at this SIMD level")


@contextlib.contextmanager
def stream_threshold(nbytes):
    old = _kernels._set_stream_threshold(nbytes)
    try:
        yield
    finally:
        _kernels._set_stream_threshold(old)


@contextlib.contextmanager
def thread_mode(threads):
    """1: every call serial. 2: every call, however small, on a team of two (chunk edges
    inside small arrays, each chunk with its own unaligned head)."""
    if threads == 1:
        with lrelu.threads(1):
            yield
        return
    old = _threads._set_parallel_threshold(0)
    try:
        with always_parallel(), lrelu.threads(2):
            yield
    finally:
        _threads._set_parallel_threshold(old)


def streamed(call):
    """Run call(); return (its result, whether any of its chunks took the streaming loop)."""
    before = _kernels._streamed_chunks()
    result = call()
    return result, _kernels._streamed_chunks() > before


def views(dtype, n, offset, seed):
    """A view of n sample values starting `offset` elements past a 64-byte-aligned base."""
    base = np.empty(n + 16 + 64 // np.dtype(dtype).itemsize, dtype)
    skip = (-base.ctypes.data % 64) // base.itemsize
    view = base[skip + offset: skip + offset + n]
    view[...] = sample((n,), dtype, seed)
    return view


OPERATIONS = {
    # name: (lrelu call with out (None: a fresh result), the listing)
    "forward": (lambda g, x, a, out: lrelu.leaky_relu(x, a, out=out),
                lambda g, x, a: reference.lrelu(x, a)),
    "derivative": (lambda g, x, a, out: lrelu.leaky_relu_derivative(x, a, out=out),
                   lambda g, x, a: reference.der_lrelu_typed(x, a)),
    "backward": (lambda g, x, a, out: lrelu.leaky_relu_backward(g, x, a, out=out),
                 lambda g, x, a: reference.backward(g, x, a)),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("into", ["out", "fresh"])
@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streaming_gives_the_listings_bits_across_the_threshold_and_every_alignment(
        dtype, operation, into, threads):
    call, listing = OPERATIONS[operation]
    streamed_any = False
    with stream_threshold(THRESHOLD), thread_mode(threads):
        for n in SIZES:
            for offset in OFFSETS:
                x = views(dtype, n, offset, seed=n)
                g = views(dtype, n, (offset + 5) % 8, seed=n + 1)
                for alpha in ALPHAS:
                    out = views(dtype, n, (offset + 3) % 8, seed=0) if into == "out" else None
                    result, took = streamed(lambda: call(g, x, alpha, out))
                    assert_same(result, listing(g, x, alpha))
                    streamed_any |= took
    assert streamed_any == STREAMS      # the streaming loop really ran (where it exists)


@needs_streaming
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_call_streams_only_when_it_writes_more_than_the_threshold(dtype, threads):
    at = THRESHOLD // np.dtype(dtype).itemsize
    x = sample((at + 1,), dtype)
    with stream_threshold(THRESHOLD), thread_mode(threads):
        _, below = streamed(lambda: lrelu.leaky_relu(x[:at], out=np.empty(at, dtype)))
        _, above = streamed(lambda: lrelu.leaky_relu(x, out=np.empty(at + 1, dtype)))
    assert (below, above) == (False, True)


def test_the_default_threshold_is_half_the_last_level_cache():
    # Checked in a fresh process: this file lowers the threshold in this one.
    done = run_python("""
        from lrelu import _kernels
        info = _kernels._simd_info()
        print(info["stream_threshold_bytes"], info["llc_bytes"])
        """)
    threshold, llc = (int(v) for v in done.stdout.split())
    assert threshold == (llc or 32 << 20) // 2


def _lscpu_last_level_cache():
    """The largest cache of the highest level, in bytes, as util-linux's lscpu reads it from
    sysfs (an independent reader, not a copy of src/simd.c's); None without lscpu or caches."""
    try:
        done = subprocess.run(["lscpu", "-C=LEVEL,ONE-SIZE", "-B"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    rows = [line.split() for line in done.stdout.splitlines()[1:]]
    found = [(int(level), int(size)) for level, size in rows if level.isdigit() and size.isdigit()]
    return max(found)[1] if done.returncode == 0 and found else None


@pytest.mark.skipif(not os.path.isdir("/sys/devices/system/cpu/cpu0/cache")
                    or _lscpu_last_level_cache() is None,
                    reason="no cache sizes in sysfs, or no lscpu to read them independently")
def test_the_last_level_cache_is_read_from_sysfs():
    info = _kernels._simd_info()
    assert (info["llc_bytes"], info["llc_source"]) == (_lscpu_last_level_cache(), "sysfs")


IN_PLACE = {
    "leaky_relu_": lambda g, x: lrelu.leaky_relu_(x),
    "leaky_relu out=x": lambda g, x: lrelu.leaky_relu(x, out=x),
    "leaky_relu_derivative_": lambda g, x: lrelu.leaky_relu_derivative_(x),
    "leaky_relu_derivative out=x": lambda g, x: lrelu.leaky_relu_derivative(x, out=x),
    "backward out=grad": lambda g, x: lrelu.leaky_relu_backward(g, x, out=g),
    "backward out=x": lambda g, x: lrelu.leaky_relu_backward(g, x, out=x),
}
IN_PLACE_LISTING = {
    "leaky_relu_": lambda g, x: reference.lrelu(x),
    "leaky_relu out=x": lambda g, x: reference.lrelu(x),
    "leaky_relu_derivative_": lambda g, x: reference.der_lrelu_typed(x),
    "leaky_relu_derivative out=x": lambda g, x: reference.der_lrelu_typed(x),
    "backward out=grad": lambda g, x: reference.backward(g, x),
    "backward out=x": lambda g, x: reference.backward(g, x),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(IN_PLACE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_calls_never_stream(dtype, name, threads):
    x, g = views(dtype, 100_000, 1, seed=2), views(dtype, 100_000, 0, seed=3)
    expected = IN_PLACE_LISTING[name](g.copy(), x.copy())
    with stream_threshold(0), thread_mode(threads):
        result, took = streamed(lambda: IN_PLACE[name](g, x))
    assert not took
    assert_same(result, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_strided_out_never_streams(dtype):
    x = sample((50_000,), dtype)
    out = np.empty(100_000, dtype)[::2]
    with stream_threshold(0):
        result, took = streamed(lambda: lrelu.leaky_relu(x, out=out))
    assert not took
    assert_same(result, reference.lrelu(x))


def test_forced_simd_level_is_the_one_in_use():
    # In the subprocesses below: LRELU_SIMD picked these loops, or this file tests nothing new.
    forced = os.environ.get("LRELU_SIMD")
    if not forced:
        pytest.skip("LRELU_SIMD not set: the level chosen at import is tested")
    assert _kernels._simd_info()["selected"] == forced


@pytest.mark.parametrize("level", LEVELS)
def test_every_simd_level_this_cpu_has_passes_this_file(level):
    if "LRELU_SIMD" in os.environ:
        pytest.skip("already inside a forced-level run")
    env = dict(os.environ, LRELU_SIMD=level)
    chosen = run_python("from lrelu import _kernels; print(_kernels._simd_info()['selected'])", env=env)
    if chosen.stdout.strip() != level:
        pytest.skip(f"this CPU cannot run the {level} loops")
    # From the temp directory, so that `import lrelu` finds the installed package; pytest
    # finds the project's configuration from the file's path.
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
                          cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]
