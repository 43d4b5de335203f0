# cython: boundscheck=False, wraparound=False
"""The passes of `lrelu bench`'s memory ceiling: one call of the kernels' own kernel()
(lrelu/_kernels.pyx: the same SIMD loops at the same level, the same team and thread layer,
so a forked child runs serially and a second Python thread never opens a second team), with
the kind of store chosen by the caller: ordinary, or streaming (non-temporal) even where the
kernels would not stream (in place).

Every pass is out = g * slope(x), the shape of all of lrelu's calls (the forward: g is x).
An ordinary store first reads the cache line it writes (write-allocate), so a loop writing a
whole array moves those bytes twice; a streaming store goes past the cache and skips that
read, but leaves the result out of the cache. Which is faster depends on the machine, so the
ceiling measures both. held() sets the thread count and the rules around the passes. This
module is the one place in lrelu/cli/ that reaches below lrelu's public API."""

import contextlib
import sys
import warnings

import lrelu
from lrelu import _kernels, _threads

from lrelu._kernels cimport Operands, kernel

cdef extern from "simd.h" nogil:
    enum:
        LRELU_STREAM

ctypedef fused real:
    float
    double

_STREAM = _kernels._simd_info()["stream"]      # whether the loops have streaming stores


def run_pass(real[::1] g, real[::1] x, real[::1] out, double s, bint streaming):
    """out = g * (x >= 0 ? 1 : s) over whole contiguous arrays of one dtype, without the GIL;
    out may be g or x. streaming: every store streams; otherwise none does, whatever the
    kernels' own threshold. ValueError where the loops have no streaming stores (the kernels
    would store as usual, and the pass would be measured under the wrong name)."""
    cdef Operands a
    cdef real alpha = <real>s
    cdef Py_ssize_t n = out.shape[0]
    if streaming and not _STREAM:
        raise ValueError("this CPU has no streaming stores that lrelu knows")
    if not g.shape[0] == x.shape[0] == n:
        raise ValueError("g, x and out must have the same length")
    if n == 0:
        return
    a.g, a.g_step = &g[0], sizeof(real)
    a.x, a.x_step = &x[0], sizeof(real)
    a.alpha, a.alpha_step = &alpha, 0
    a.out, a.out_step = &out[0], sizeof(real)
    a.flags = LRELU_STREAM if streaming else 0
    with nogil:
        kernel(<const real*>NULL, n, &a)


@contextlib.contextmanager
def held(threads):
    """The kernels held, for the ceiling's passes, to a team of `threads` on every call (as a
    fixed rule would run them: the planner does not choose) and to the store each pass asks
    for (no streaming by size). In a forked child the team layer runs every call serially,
    so lrelu.threads' warning there is not the user's to see."""
    adaptive = _threads._set_adaptive(False)
    threshold = _threads._set_parallel_threshold(0)
    stream_threshold = _kernels._set_stream_threshold(sys.maxsize)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with lrelu.threads(threads):
                yield
    finally:
        _kernels._set_stream_threshold(stream_threshold)
        _threads._set_parallel_threshold(threshold)
        _threads._set_adaptive(adaptive)
