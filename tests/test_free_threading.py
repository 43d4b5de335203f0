"""Many Python threads in lrelu at once, as free-threaded CPython (3.13t, 3.14t) runs them with
the GIL off: every operation on separate and shared read-only inputs, per-thread
``threads(n)`` with a racing ``set_num_threads``, first imports racing, and the planner's
shared state after such a storm. With the GIL on they still run (the kernels release it), but
only free-threaded Python runs the Python-level parts of the calls truly at once:
tools/check_freethreaded.sh runs this file, and the whole suite, there with PYTHON_GIL=0.
"""

import math
import os
import sysconfig
import threading
import warnings

import numpy as np
import pytest

import lrelu
from lrelu import _threads, reference

from helpers import assert_same, parallel_threshold_elements, run_in_threads, run_python, sample

PYTHON_THREADS = 16
ROUNDS = 3
needs_openmp = pytest.mark.skipif(not _threads._openmp_info()["enabled"], reason="serial build (no OpenMP)")
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

# Every operation, as (name, call(x, g, alpha) -> result, listing(x, g, alpha)). The in-place
# ones work on a copy they own; x and g themselves are shared by every thread and never written.
OPERATIONS = [
    ("leaky_relu", lambda x, g, a: lrelu.leaky_relu(x, a), lambda x, g, a: reference.lrelu(x, a)),
    ("leaky_relu out=", lambda x, g, a: lrelu.leaky_relu(x, a, out=np.empty_like(x)),
     lambda x, g, a: reference.lrelu(x, a)),
    ("leaky_relu_", lambda x, g, a: lrelu.leaky_relu_(x.copy(), a), lambda x, g, a: reference.lrelu(x, a)),
    ("leaky_relu_derivative", lambda x, g, a: lrelu.leaky_relu_derivative(x, a, at_zero="alpha"),
     lambda x, g, a: reference.der_lrelu_typed(x, a, at_zero="alpha")),
    ("leaky_relu_derivative_", lambda x, g, a: lrelu.leaky_relu_derivative_(x.copy(), a),
     lambda x, g, a: reference.der_lrelu_typed(x, a)),
    ("leaky_relu_backward", lambda x, g, a: lrelu.leaky_relu_backward(g, x, a),
     lambda x, g, a: reference.backward(g, x, a)),
    ("leaky_relu_backward in place", lambda x, g, a: _backward_in_place(g, x, a),
     lambda x, g, a: reference.backward(g, x, a)),
    ("prelu_backward grad_x", lambda x, g, a: lrelu.prelu_backward(g, x, np.float64(a))[0],
     lambda x, g, a: reference.prelu_backward(g, x, np.float64(a))[0]),
]


def _backward_in_place(g, x, alpha):
    target = g.copy()
    lrelu.leaky_relu_backward(target, x, alpha, out=target)
    return target


def _inputs(dtype, seed):
    n = 2 * parallel_threshold_elements(dtype) + 17     # past the threshold: a team may run
    return sample((n,), dtype, seed), sample((n,), dtype, seed + 1)


@needs_openmp
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_operation_from_many_threads_at_once_matches_the_listings(dtype):
    shared = _inputs(dtype, 0)
    alphas = [0.01, 0.2, -0.5, 3.0]
    expected_shared = {(name, a): listing(*shared, a) for name, _, listing in OPERATIONS for a in alphas}
    own = [_inputs(dtype, 10 + i) for i in range(PYTHON_THREADS)]
    stop = threading.Event()
    failures = []

    def caller(i):
        def run():
            x, g = own[i]
            with lrelu.threads(1 + i % 2):     # per-thread counts, 1 and 2, inside the storm
                for r in range(ROUNDS):
                    for k, (name, call, listing) in enumerate(OPERATIONS):
                        alpha = alphas[(i + r + k) % len(alphas)]
                        try:
                            assert_same(call(*shared, alpha), expected_shared[name, alpha])
                            assert_same(call(x, g, alpha), listing(x, g, alpha))
                        except BaseException as exc:   # noqa: PERF203 (names the operation)
                            failures.append(f"thread {i}, {name}, alpha={alpha}: {exc}")
                            raise
        return run

    def changer():
        # set_num_threads racing the calls; its warning (2 > CPUs on a one-CPU runner) is not the point
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            counts = [1, 2, None]
            j = 0
            while not stop.is_set():
                lrelu.set_num_threads(counts[j % len(counts)])
                j += 1

    previous = lrelu.set_num_threads(None)
    race = threading.Thread(target=changer, daemon=True)
    race.start()
    try:
        run_in_threads([caller(i) for i in range(PYTHON_THREADS)], timeout=600)
    finally:
        stop.set()
        race.join(60)
        lrelu.set_num_threads(None)
    assert not race.is_alive()
    assert not failures, failures[:3]
    assert previous >= 1
    # the shared inputs were only read
    assert_same(shared[0], _inputs(dtype, 0)[0])
    assert_same(shared[1], _inputs(dtype, 0)[1])


@needs_openmp
def test_planner_counts_add_up_exactly_and_estimates_stay_finite_after_a_storm():
    calls_each = 12
    x = sample((2 * parallel_threshold_elements(np.float64),), np.float64)
    g = sample(x.shape, np.float64, seed=1)
    kinds = {"out": lambda y: lrelu.leaky_relu(x, 0.1, out=y),
             "three": lambda y: lrelu.leaky_relu_backward(g, x, 0.1, out=y)}
    _threads._reset_learning()
    before = {kind: _threads._learning(x.nbytes, kind)["calls"] for kind in kinds}
    assert before == {kind: 0 for kind in kinds}

    def caller(kind):
        def run():
            y = np.empty_like(x)
            with lrelu.threads(2):
                for _ in range(calls_each):
                    kinds[kind](y)
            assert_same(y, reference.lrelu(x, 0.1) if kind == "out" else reference.backward(g, x, 0.1))
        return run

    run_in_threads([caller(kind) for kind in kinds for _ in range(PYTHON_THREADS // 2)], timeout=600)
    report = {(c["kind"], c["bytes"]): c for c in lrelu.thread_report()["classes"]}
    for kind in kinds:
        learned = _threads._learning(x.nbytes, kind)
        # every call past the threshold on more than one thread is counted once: none lost
        # (each either timed or, when another thread had the team, run serially untimed)
        assert learned["calls"] == calls_each * PYTHON_THREADS // 2, (kind, learned)
        assert 0 <= learned["explorations"] <= learned["calls"]
        for field in ("serial", "parallel", "relative", "credit"):
            assert math.isfinite(learned[field]), (kind, field, learned)
        assert learned["serial"] >= 0 and learned["parallel"] >= 0 and learned["relative"] >= 0
        entry = [c for (k, _), c in report.items() if k == kind]
        assert len(entry) == 1 and entry[0]["calls"] == learned["calls"]
        lo, hi = entry[0]["bytes"]
        assert lo <= x.nbytes < hi
        assert entry[0]["mode"] in ("team", "one thread", "warming up")


@pytest.mark.parametrize("modules", [["lrelu"], ["ml_dtypes", "lrelu"], ["lrelu", "ml_dtypes"]])
def test_first_imports_racing_from_several_threads(modules):
    # A fresh interpreter: the first import of lrelu (and of ml_dtypes, whose import registers
    # lrelu's bfloat16 loops) happens in 8 threads at once, then each thread computes with it.
    if "ml_dtypes" in modules:
        pytest.importorskip("ml_dtypes")
    code = f"""
        import importlib, sys, threading
        import numpy as np
        modules = {modules!r}
        barrier = threading.Barrier(8)
        errors = []

        def run():
            try:
                barrier.wait(60)
                for name in modules:
                    importlib.import_module(name)
                import lrelu
                from lrelu import reference
                x = np.linspace(-3, 3, 1001)
                assert np.array_equal(lrelu.leaky_relu(x, 0.1), reference.lrelu(x, 0.1))
                if "ml_dtypes" in modules:
                    import ml_dtypes
                    b = x.astype(ml_dtypes.bfloat16)
                    got = lrelu.leaky_relu(b, 0.1)
                    assert got.dtype == ml_dtypes.bfloat16, got.dtype
                    want = reference.lrelu(b.astype(np.float32), np.float32(0.1)).astype(ml_dtypes.bfloat16)
                    assert np.array_equal(got.view(np.uint16), want.view(np.uint16))
            except BaseException as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=run) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join(120)
        assert not any(t.is_alive() for t in threads), "an import hung"
        assert not errors, errors
        if hasattr(sys, "_is_gil_enabled") and {FREE_THREADED!r} and "PYTHON_GIL" not in __import__("os").environ:
            assert not sys._is_gil_enabled(), "importing turned the GIL on"
        print("ok")
        """
    result = run_python(code, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded CPython")
def test_importing_every_module_keeps_the_gil_disabled():
    # A fresh interpreter: in this one, some other test's import may already have enabled it.
    # PYTHON_GIL would override what the modules declare, so it is dropped.
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = ("import sys, lrelu, lrelu.ufuncs, lrelu._kernels, lrelu._threads; "
            "assert not sys._is_gil_enabled(), 'importing lrelu enabled the GIL'")
    result = run_python(code, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
