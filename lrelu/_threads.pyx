# cython: language_level=3
"""Thread control for lrelu's OpenMP kernels: how many threads, and when to use more than one.

The decision is made once per call, in one place: ``plan_begin`` (src/threads.c), which the
kernels ask before they start a parallel region, and ``plan_end`` after, which reads the
clock and gives the call's times to the rule, ``lrelu_plan_learn`` (tests give it costs
they chose instead, through ``_learn_from``). A call smaller than the parallel threshold
runs on one thread. A larger one runs on a team or on one thread, whichever has been faster
for calls of its kind (in place, out of place, out of place into memory not yet touched, a
backward, a converting one, PReLU's) and size in this process: each call is timed, and the
mode that looks slower is tried again within a small time budget. A team call is judged
against what one thread would take at the same moment, from the calling thread's own share
of the work, so a slow moment of the whole machine is not mistaken for load; the team's
speedup behind that comes from each mode's quiet moments, and a team is left only when it
is clearly slower than one thread, so one late helper does not send every call to one
thread (src/threads.c says how).
That is how lrelu keeps its speed where users run it. On a quiet machine a team wins and is
used; next to another busy process, a team waits at OpenMP's closing barrier for a member
the OS has not scheduled, and two threads lose to one (BENCHMARKS.md, "Under load"), so
one thread is used until a team pays again.

How others deal with the same problem, and why this way:
- numexpr and PyTorch's ``at::parallel_for`` split work over a fixed pool above a grain
  size; they do not look at load, so under load they pay the barrier as lrelu did.
- OpenBLAS and libgomp's ``OMP_WAIT_POLICY=passive`` make idle threads sleep rather than
  spin, which stops one program from starving another but makes every team start slower
  (the wake-up), and the runtime reads it once, when it is loaded, possibly by another
  library; lrelu cannot set it for its users.
- scikit-learn (threadpoolctl) and loky cap the team at the CPUs the process may use, from
  the affinity mask and the cgroup quota. lrelu does that too (lrelu/_cpus.py), since a
  container's quota is load that never goes away.

Thread counts, from the strongest:
1. ``with lrelu.threads(n)``: this Python thread only, for the block; it nests.
2. ``lrelu.set_num_threads(n)``: every Python thread, from now on; ``None`` goes back to 3.
3. OpenMP's own: ``OMP_NUM_THREADS``, ``threadpoolctl.threadpool_limits``, else the CPUs in
   the affinity mask, capped by the cgroup CPU quota (unless ``OMP_NUM_THREADS`` is set).
The count is the largest team a call may use; the planner may use one thread.
"""

import os
import threading
import warnings

from lrelu import _cpus

cdef extern from "threads.h" nogil:
    int lrelu_openmp_enabled()
    int lrelu_openmp_version()
    int lrelu_install_atfork()
    int lrelu_forked_child()
    int lrelu_thread_request()
    void lrelu_set_thread_request(int n)
    int lrelu_process_request()
    void lrelu_set_process_request(int n)
    void lrelu_set_cpu_limit(int n, int omp_num_threads_set)
    int lrelu_threads_now()
    lrelu_plan lrelu_plan_begin(Py_ssize_t nbytes, int kind, const void* result_end)
    void lrelu_plan_end(const lrelu_plan* plan)
    void lrelu_plan_learn(const lrelu_plan* plan, double elapsed, double work, int woke)
    double lrelu_clock()
    Py_ssize_t lrelu_parallel_min_bytes()
    void lrelu_set_parallel_min_bytes(Py_ssize_t nbytes)
    long lrelu_parallel_regions()
    int lrelu_set_adaptive(int on)
    int lrelu_adaptive()
    ctypedef struct lrelu_bucket_snapshot:
        double serial
        double team
        double relative
        double credit
        int on_team
        unsigned long calls
        unsigned long explorations
    void lrelu_bucket_view(int kind, int bucket, lrelu_bucket_snapshot* view)
    # the planner's constants (threads.h)
    int LRELU_N_BUCKETS
    double LRELU_EXPLORE_BUDGET
    double LRELU_ACTIVE_WEIGHT
    double LRELU_EXPLORE_WEIGHT
    int LRELU_TRY_CALLS
    double LRELU_CREDIT_CAP
    double LRELU_SAMPLE_CAP
    double LRELU_BILL_CAP
    int LRELU_WARMUP_CALLS
    double LRELU_IDLE_GAP
    double LRELU_STAY_MARGIN
    Py_ssize_t LRELU_FRESH_MIN_BYTES
    int lrelu_bucket_of(Py_ssize_t nbytes)
    void lrelu_reset_learning()

if lrelu_install_atfork() != 0:
    raise ImportError("lrelu: pthread_atfork failed; a forked child could hang in OpenMP")

_cpu_limit = _cpus.available_cpus()
lrelu_set_cpu_limit(_cpu_limit, "OMP_NUM_THREADS" in os.environ)

# The CPUs this process may use when lrelu was imported (affinity mask and cgroup quota), or
# the machine's count where neither can be read.
USABLE_CPUS = _cpu_limit or os.cpu_count() or 1
# The most threads threads(n) and set_num_threads(n) accept. OpenMP's runtimes accept
# anything and then fail: libgomp segfaults starting 100,000 threads and aborts out of memory
# at 2**31 - 1. More threads than CPUs only wait for each other here (the kernels are bound
# by memory, a team member per CPU is the most that helps), so four times the CPUs leaves
# room to experiment and stays far from those failures.
MAX_THREADS = 4 * USABLE_CPUS

# The planner's tuning constants, as src/threads.h names them once (what each is for is
# said there and in src/threads.c).
PLANNER = {
    "size_classes": LRELU_N_BUCKETS,
    "explore_budget": LRELU_EXPLORE_BUDGET,
    "active_weight": LRELU_ACTIVE_WEIGHT,
    "explore_weight": LRELU_EXPLORE_WEIGHT,
    "try_calls": LRELU_TRY_CALLS,
    "credit_cap": LRELU_CREDIT_CAP,
    "sample_cap": LRELU_SAMPLE_CAP,
    "bill_cap": LRELU_BILL_CAP,
    "warmup_calls": LRELU_WARMUP_CALLS,
    "idle_gap_seconds": LRELU_IDLE_GAP,
    "stay_margin": LRELU_STAY_MARGIN,
    "fresh_min_bytes": LRELU_FRESH_MIN_BYTES,
}


cdef lrelu_plan plan_begin(Py_ssize_t nbytes, int kind, const void* result_end) noexcept nogil:
    return lrelu_plan_begin(nbytes, kind, result_end)


cdef void plan_end(const lrelu_plan* plan) noexcept nogil:
    lrelu_plan_end(plan)


cdef double plan_clock() noexcept nogil:
    return lrelu_clock()


def get_num_threads():
    """The largest number of threads an lrelu call in this Python thread may use.

    ``lrelu.threads(n)`` in this thread, else ``set_num_threads(n)``, else what OpenMP would
    use (``OMP_NUM_THREADS``, a ``threadpoolctl`` limit, or the CPUs this process may use:
    its affinity mask and its cgroup CPU quota). It is 1 in a build without OpenMP and in a
    child process created by ``fork``. Small arrays, and calls that have measured one thread
    to be faster (a busy machine), use one thread.
    """
    return lrelu_threads_now()


def _check_count(n, function):
    """n as an int, checked before anything changes; errors name the public function."""
    if isinstance(n, bool):
        raise TypeError(f"{function}: number of threads must be an integer, got {n!r}")
    try:
        n = n.__index__()
    except (AttributeError, TypeError):
        raise TypeError(f"{function}: number of threads must be an integer, "
                        f"got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"{function}: number of threads must be at least 1, got {n}")
    if n > MAX_THREADS:
        raise ValueError(f"{function}: at most {MAX_THREADS} threads (4 x the {USABLE_CPUS} "
                         f"CPUs this process may use), got {n}")
    if n > USABLE_CPUS:
        warnings.warn(f"{function}: {n} threads on {USABLE_CPUS} CPUs that this process may "
                      f"use: threads past that wait for each other, and large calls get slower",
                      RuntimeWarning, stacklevel=3)
    return n


def _warn_if_forked(n):
    if n > 1 and lrelu_forked_child():
        warnings.warn("lrelu runs serially in a process created by fork (GNU OpenMP would hang "
                      "there), so this thread count has no effect; start worker processes "
                      "with 'spawn' or 'forkserver' to use threads in them",
                      RuntimeWarning, stacklevel=3)


def set_num_threads(n):
    """Use up to ``n`` threads for large arrays from now on, in every Python thread.

    This takes precedence over ``OMP_NUM_THREADS`` and threadpoolctl limits, as an explicit
    ``num_threads`` clause does in OpenMP itself; ``lrelu.threads(n)`` takes precedence over
    it within its block. ``set_num_threads(None)`` goes back to following OpenMP (passing
    back the count this returned instead pins that count).

    Returns the count in force before the call, as ``get_num_threads()`` gave it in this
    Python thread (numexpr's ``set_num_threads`` does the same).

    ``n`` is at most ``lrelu._threads.MAX_THREADS``, 4 times the CPUs this process may use
    (its affinity mask and cgroup quota, read at import): a larger ``n`` raises
    ``ValueError``, and one above the CPUs warns (``RuntimeWarning``). In a process created
    by ``fork``, lrelu runs serially and this warns (``RuntimeWarning``).
    """
    previous = lrelu_threads_now()
    if n is None:
        lrelu_set_process_request(0)
        return previous
    n = _check_count(n, "set_num_threads")
    _warn_if_forked(n)
    lrelu_set_process_request(n)
    return previous


class threads:
    """Context manager: ``with lrelu.threads(1): ...`` runs the block's lrelu calls with up to
    ``n`` threads, in this Python thread only, then restores what this thread had before.

    Other Python threads keep their own setting, and a new thread starts from the
    process-wide one (``set_num_threads``). Blocks nest. The same object may be entered by
    several threads at once. ``n`` has the bound that ``set_num_threads`` has."""

    def __init__(self, n):
        self.n = _check_count(n, "threads")
        self._saved = threading.local()

    def __enter__(self):
        _warn_if_forked(self.n)
        stack = self._saved.__dict__.setdefault("stack", [])
        stack.append(lrelu_thread_request())
        lrelu_set_thread_request(self.n)
        return self

    def __exit__(self, *exc_info):
        lrelu_set_thread_request(self._saved.stack.pop())
        return False


def _set_parallel_threshold(nbytes):
    """Change the serial/parallel threshold (bytes moved by a call); returns the old one. For
    bench/threshold.py, which measures where it should be; not for users."""
    old = lrelu_parallel_min_bytes()
    lrelu_set_parallel_min_bytes(max(0, int(nbytes)))
    return old


def _set_adaptive(on):
    """True (the default): the planner picks one thread or a team from what it measured.
    False: every call above the threshold runs on a team, as a fixed rule would. Returns the
    old setting. For bench/ (the fixed rule is the comparison) and for tests that must see a
    parallel region."""
    return bool(lrelu_set_adaptive(1 if on else 0))


_KINDS = {"inplace": LRELU_PLAN_INPLACE, "out": LRELU_PLAN_OUT, "fresh": LRELU_PLAN_FRESH,
          "three": LRELU_PLAN_THREE, "grad_inplace": LRELU_PLAN_GRAD_INPLACE,
          "convert": LRELU_PLAN_CONVERT, "prelu": LRELU_PLAN_PRELU}


def _learning(nbytes, kind):
    """What the planner has measured for calls of ``kind`` moving ``nbytes`` bytes per array:
    seconds per byte on one thread and on a team (0.0 while unknown), the time budget left
    for trying the slower one, and how many calls and tries it has seen.
    ``kind``: "inplace" (one array), "out" (read one, write another), "fresh" (the same,
    into pages not yet in memory: a fresh result of ``PLANNER["fresh_min_bytes"]`` or
    more), "three" (read two,
    write a third: a backward), "grad_inplace" (a backward into its gradient), "convert"
    (integer or mixed-precision input), "prelu"."""
    return _bucket(_KINDS[kind], lrelu_bucket_of(nbytes))


def _bucket(int kind, int size_class):
    cdef lrelu_bucket_snapshot view
    lrelu_bucket_view(kind, size_class, &view)
    return {"serial": view.serial, "parallel": view.team, "relative": view.relative,
            "credit": view.credit, "on_team": bool(view.on_team), "calls": view.calls,
            "explorations": view.explorations}


def thread_report():
    """What lrelu's thread planner decided and why, for every kind of call and size class it
    has seen in this process: a dict with the thread settings and a list ``"classes"``.

    Each entry of ``"classes"``: ``kind`` ("inplace": one array read and written; "out":
    read one, write another; "fresh": the same into a result whose pages are not yet in
    memory, as a fresh result of ``planner["fresh_min_bytes"]`` or more is, so its first
    touch pays page faults; "three": read two, write a third, a backward out of place;
    "grad_inplace": a backward into its gradient; "convert": integer or mixed-precision
    input; "prelu"), ``bytes`` (the size class:
    calls moving from ``bytes[0]`` up to ``bytes[1]`` bytes per array), ``mode`` ("team",
    "one thread", or "warming up" during its first ``PLANNER["warmup_calls"]`` calls),
    ``one_thread`` and ``team`` (measured seconds per byte, None while unknown),
    ``team_over_one`` (a team call's time over one thread's at the same moment; a team is
    used below 1 and left above 1 + ``PLANNER["stay_margin"]``), ``calls`` (timed calls)
    and ``tries`` (tries of the mode not in use). Calls below ``parallel_threshold_bytes``,
    under one thread, or made while another Python thread had the team are not timed and
    not counted. ``planner`` holds the rules' constants."""
    classes = []
    for name, kind in _KINDS.items():
        for size_class in range(LRELU_N_BUCKETS):
            b = _bucket(kind, size_class)
            if not b["calls"]:
                continue
            warming = b["calls"] <= LRELU_WARMUP_CALLS or not b["serial"] or not b["relative"]
            classes.append({
                "kind": name,
                "bytes": (1 << size_class, 1 << (size_class + 1)),
                "mode": "warming up" if warming else "team" if b["on_team"] else "one thread",
                "one_thread": b["serial"] or None,
                "team": b["parallel"] or None,
                "team_over_one": b["relative"] or None,
                "calls": b["calls"],
                "tries": b["explorations"],
            })
    info = _openmp_info()
    return {"threads": lrelu_threads_now(), "max_threads": MAX_THREADS,
            "usable_cpus": USABLE_CPUS, "adaptive": info["adaptive"],
            "parallel_threshold_bytes": info["parallel_threshold_bytes"],
            "planner": dict(PLANNER), "classes": classes}


def _reset_learning():
    """Forget every measurement (tests and bench/ start from a clean slate)."""
    lrelu_reset_learning()


def _learn_from(nbytes, kind, serial, team, share):
    """One call of ``kind`` moving ``nbytes`` bytes per array, planned as a real call is and
    then learned from costs a test chose instead of the clock: ``serial`` seconds per byte on
    one thread, ``team`` on a team, and ``share`` for the calling thread's own part of a team
    call (tests check the planner's rules against a machine of known speed). No kernel runs.
    Returns True when the planner put the call on a team."""
    if not serial > 0 or not team > 0 or not share > 0:
        raise ValueError(f"costs must be positive, got {serial}, {team}, {share}")
    cdef lrelu_plan plan = lrelu_plan_begin(nbytes, _KINDS[kind], NULL)
    cdef lrelu_plan untimed = plan
    untimed.bucket = -1
    lrelu_plan_end(&untimed)        # hands the team back, reads no clock
    if plan.parallel:
        lrelu_plan_learn(&plan, team * nbytes, share * nbytes, 0)
    else:
        lrelu_plan_learn(&plan, serial * nbytes, 0.0, 0)
    return plan.threads > 1


def _parallel_region_count():
    """How many parallel regions lrelu has started in this process (tests use it to see
    that a call ran serially)."""
    return lrelu_parallel_regions()


def _openmp_info():
    """For show_config(): whether OpenMP is compiled in, its spec version, the settings."""
    return {
        "enabled": bool(lrelu_openmp_enabled()),
        "version": lrelu_openmp_version(),
        "forked_child": bool(lrelu_forked_child()),
        "requested_threads": lrelu_process_request(),
        "cpu_limit": _cpus.available_cpus(),
        "parallel_threshold_bytes": lrelu_parallel_min_bytes(),
        "adaptive": bool(lrelu_adaptive()),
    }
