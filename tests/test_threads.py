"""Thread control, OpenMP/threadpoolctl interplay, Python threads and fork safety."""

import os

import numpy as np
import pytest

import lrelu
from lrelu import _threads, reference

from helpers import assert_same, parallel_threshold_elements, run_in_threads, run_python, sample

OPENMP = _threads._openmp_info()["enabled"]
needs_openmp = pytest.mark.skipif(not OPENMP, reason="serial build (no OpenMP)")
BIG = 4 * parallel_threshold_elements(np.float64)


def _run(code, env=None, timeout=120):
    """run_python with these variables added to the environment."""
    return run_python(code, env=dict(os.environ, **(env or {})), timeout=timeout)


def test_set_num_threads_and_get():
    with lrelu.threads(1):
        lrelu.set_num_threads(3)
        assert lrelu.get_num_threads() == (3 if OPENMP else 1)
    # threads() restores what was there before it, not what set_num_threads did inside


@pytest.mark.parametrize("bad", [0, -1])
def test_fewer_than_one_thread_is_a_value_error(bad):
    with pytest.raises(ValueError, match="at least 1"):
        lrelu.set_num_threads(bad)
    with pytest.raises(ValueError, match="at least 1"):
        lrelu.threads(bad)


@pytest.mark.parametrize("bad", [1.5, "2", None, True])
def test_non_integer_thread_count_is_a_type_error(bad):
    with pytest.raises(TypeError, match="integer"):
        lrelu.set_num_threads(bad)


def test_threads_context_restores_the_previous_setting():
    before = lrelu.get_num_threads()
    with lrelu.threads(1):
        assert lrelu.get_num_threads() == 1
        with lrelu.threads(2):
            assert lrelu.get_num_threads() == (2 if OPENMP else 1)
        assert lrelu.get_num_threads() == 1
    assert lrelu.get_num_threads() == before


@needs_openmp
def test_threads_one_runs_serially_and_large_arrays_run_parallel():
    x = sample((BIG,), np.float64)
    with lrelu.threads(2):
        start = _threads._parallel_region_count()
        lrelu.leaky_relu(x)
        assert _threads._parallel_region_count() == start + 1
    with lrelu.threads(1):
        start = _threads._parallel_region_count()
        lrelu.leaky_relu(x)
        assert _threads._parallel_region_count() == start


@needs_openmp
def test_small_arrays_and_buffered_chunks_stay_serial():
    start = _threads._parallel_region_count()
    lrelu.leaky_relu(sample((1000,), np.float64))
    # casting makes NumPy call the loop on 8192-element buffers: each call is small
    lrelu.leaky_relu(sample((BIG,), np.float64), dtype=np.float32, casting="unsafe")
    assert _threads._parallel_region_count() == start


@needs_openmp
def test_omp_num_threads_is_respected():
    out = _run(f"""
        import numpy as np, lrelu
        from lrelu import _threads
        assert lrelu.get_num_threads() == 1, lrelu.get_num_threads()
        lrelu.leaky_relu(np.ones({BIG}))
        assert _threads._parallel_region_count() == 0
        print("ok")
        """, env={"OMP_NUM_THREADS": "1"})
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


@needs_openmp
def test_threadpoolctl_lists_and_limits_lrelu():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    lrelu.leaky_relu(sample((BIG,), np.float64))       # make sure the runtime is loaded
    apis = {info["user_api"] for info in threadpoolctl.threadpool_info()}
    assert "openmp" in apis
    x = sample((BIG,), np.float64)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert lrelu.get_num_threads() == 1
        start = _threads._parallel_region_count()
        y = lrelu.leaky_relu(x)
        assert _threads._parallel_region_count() == start
    assert_same(y, reference.lrelu(x))


@pytest.mark.parametrize("size_factor", [0.25, 3])
def test_many_python_threads_get_right_answers(size_factor):
    n = int(size_factor * parallel_threshold_elements(np.float32)) + 17
    inputs = [sample((n,), np.float32, seed=s) for s in range(8)]
    expected = [reference.lrelu(x, 0.1) for x in inputs]
    results = [None] * 8

    def work(i):
        for _ in range(5):
            results[i] = lrelu.leaky_relu(inputs[i], 0.1)
            y = inputs[i].copy()
            lrelu.leaky_relu_(y, 0.1)
            assert_same(y, expected[i])

    run_in_threads([lambda i=i: work(i) for i in range(8)])
    for r, e in zip(results, expected):
        assert_same(r, e)


@needs_openmp
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_forked_child_after_parallel_use_does_not_hang():
    # GNU libgomp hangs here without lrelu's fork handler: the parent's thread pool does not
    # survive the fork (issue #3). The child must finish, serially, with the right values.
    out = _run(f"""
        import os, sys
        import numpy as np, lrelu
        from lrelu import _threads, reference
        x = np.random.default_rng(0).standard_normal({BIG})
        lrelu.leaky_relu(x)
        assert _threads._parallel_region_count() >= 1
        pid = os.fork()
        if pid == 0:
            start = _threads._parallel_region_count()
            ok = (np.array_equal(lrelu.leaky_relu(x), reference.lrelu(x))
                  and lrelu.get_num_threads() == 1
                  and _threads._parallel_region_count() == start)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """, timeout=60)
    assert out.returncode == 0, out.stderr


@needs_openmp
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_multiprocessing_fork_pool_after_parallel_use():
    out = _run(f"""
        import multiprocessing as mp
        import numpy as np, lrelu
        from lrelu import reference
        def child(seed):
            x = np.random.default_rng(seed).standard_normal({BIG})
            return bool(np.array_equal(lrelu.leaky_relu(x), reference.lrelu(x)))
        if __name__ == "__main__":
            lrelu.leaky_relu(np.ones({BIG}))
            with mp.get_context("fork").Pool(2) as pool:
                print(all(pool.map(child, range(4))))
        """, timeout=90)
    assert out.returncode == 0 and "True" in out.stdout, out.stderr


def test_simd_baseline_gives_the_same_results():
    # The AVX2 loop is chosen at import where the CPU has it; LRELU_SIMD=baseline forces
    # the portable loop, which must agree with the listing too.
    out = _run("""
        import numpy as np, lrelu
        from lrelu import _kernels, reference
        assert _kernels._simd_info()["selected"] == "baseline"
        rng = np.random.default_rng(1)
        for dtype in (np.float32, np.float64):
            for n in (1, 7, 64, 1001, 300000):
                x = rng.standard_normal(n).astype(dtype)
                x[::5] = -0.0
                x[::7] = np.nan
                for alpha in (0.01, -2.0, 3.0):
                    y = lrelu.leaky_relu(x, alpha)
                    e = reference.lrelu(x, alpha)
                    assert np.array_equal(y, e, equal_nan=True) and np.array_equal(np.signbit(y), np.signbit(e))
                    d = lrelu.leaky_relu_derivative(x, alpha)
                    assert np.array_equal(d, reference.der_lrelu_typed(x, alpha))
                    g = lrelu.leaky_relu_backward(x, x[::-1].copy(), alpha)
                    assert np.array_equal(g, reference.backward(x, x[::-1].copy(), alpha), equal_nan=True)
        print("ok")
        """, env={"LRELU_SIMD": "baseline"})
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
