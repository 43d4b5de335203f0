# cython: language_level=3
"""Thread control for lrelu's OpenMP kernels: how many threads, and when to use more than one."""

import operator

cdef extern from "lrelu_threads.h" nogil:
    int lrelu_openmp_enabled()
    int lrelu_openmp_version()
    int lrelu_omp_max_threads()
    int lrelu_install_atfork()
    int lrelu_try_acquire_team()
    void lrelu_release_team()
    int lrelu_forked_child

# Below this many bytes in the largest array a call runs serially: starting the OpenMP team
# costs about 3.5 µs here, more than a second core saves on a small array. Measured with
# bench/threshold.py (1 vs 2 threads, alternating, 41 rounds, medians; log in
# bench/threshold.log) on the 2-core AMD EPYC dev machine, 2026-11-28, after the loop was
# unrolled: over four runs two threads break even at 256 KiB (speedup 0.88-1.42, median
# about 0.97, over in place/out of place, float32/float64) and win from 512 KiB on
# (1.00-1.53x, rising to 1.8-2.0x at 8 MiB). 256 KiB rather than 512: between the two, calls
# made back to back (the team still awake) gain most; 1e5 float32 in place (400 KB) runs at
# 97 GB/s on two threads (BENCHMARKS.md, in-place table) against 49 on one (SIMD table).
# It also keeps NumPy's 8192-element buffered chunks (casting) and per-row calls on
# non-contiguous views serial.
cdef Py_ssize_t PARALLEL_MIN_BYTES = 256 * 1024

cdef int _requested = 0     # 0: follow OpenMP (OMP_NUM_THREADS, threadpoolctl)
cdef Py_ssize_t _parallel_regions = 0   # written only while holding the team

if lrelu_install_atfork() != 0:
    raise ImportError("lrelu: pthread_atfork failed; a forked child could hang in OpenMP")


cdef inline int _threads_now() noexcept nogil:
    if not lrelu_openmp_enabled() or lrelu_forked_child:
        return 1
    if _requested > 0:
        return _requested
    return lrelu_omp_max_threads()


cdef int acquire_team(Py_ssize_t nbytes) noexcept nogil:
    if nbytes < PARALLEL_MIN_BYTES:
        return 1
    cdef int n = _threads_now()
    if n <= 1 or not lrelu_try_acquire_team():
        return 1
    global _parallel_regions
    _parallel_regions += 1
    return n


cdef void release_team() noexcept nogil:
    lrelu_release_team()


def get_num_threads():
    """Number of threads lrelu uses for a large array.

    By default this is what OpenMP would use: ``OMP_NUM_THREADS``, or a limit set with
    ``threadpoolctl.threadpool_limits(n, user_api="openmp")``, or else all cores.
    ``set_num_threads`` and ``threads`` override it. It is 1 in a build without OpenMP
    and in a child process created by ``fork``.
    """
    return _threads_now()


def _check_count(n):
    if isinstance(n, bool):
        raise TypeError(f"number of threads must be an integer, got {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"number of threads must be an integer, got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"number of threads must be at least 1, got {n}")
    return n


def set_num_threads(n):
    """Use ``n`` threads (n >= 1) for large arrays from now on, in every Python thread.

    This takes precedence over ``OMP_NUM_THREADS`` and threadpoolctl limits, as an explicit
    ``num_threads`` clause does in OpenMP itself. Small arrays always run on one thread.
    """
    global _requested
    _requested = _check_count(n)


class threads:
    """Context manager: ``with lrelu.threads(1): ...`` runs the block with ``n`` threads and
    then restores the previous setting (including "follow OpenMP")."""

    def __init__(self, n):
        self.n = _check_count(n)
        self._saved = []

    def __enter__(self):
        global _requested
        self._saved.append(_requested)
        _requested = self.n
        return self

    def __exit__(self, *exc_info):
        global _requested
        _requested = self._saved.pop()
        return False


def _set_parallel_threshold(nbytes):
    """Change the serial/parallel threshold (bytes per array); returns the old one. For
    bench/threshold.py, which measures where it should be; not for users."""
    global PARALLEL_MIN_BYTES
    old = PARALLEL_MIN_BYTES
    PARALLEL_MIN_BYTES = max(0, int(nbytes))
    return old


def _parallel_region_count():
    """How many parallel regions lrelu has started in this process (tests use it to see
    that a call ran serially)."""
    return _parallel_regions


def _openmp_info():
    """For show_config(): whether OpenMP is compiled in, and its spec version."""
    return {
        "enabled": bool(lrelu_openmp_enabled()),
        "version": lrelu_openmp_version(),
        "forked_child": bool(lrelu_forked_child),
        "requested_threads": _requested,
        "parallel_threshold_bytes": PARALLEL_MIN_BYTES,
    }
