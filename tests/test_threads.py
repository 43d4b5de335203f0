"""Thread control, OpenMP/threadpoolctl interplay, Python threads and fork safety."""

import os
import sys
import threading
import warnings

import numpy as np
import pytest

import lrelu
from lrelu import _threads, reference

from helpers import (always_parallel, assert_same, parallel_threshold_elements, run_in_threads,
                     run_python, sample)

OPENMP = _threads._openmp_info()["enabled"]
# Counts past the CPUs (3 or 4 threads on a 2-CPU runner) are deliberate here: they warn.
pytestmark = pytest.mark.filterwarnings("ignore:.* threads on .* CPUs that this process may use:RuntimeWarning")
needs_openmp = pytest.mark.skipif(not OPENMP, reason="serial build (no OpenMP)")
BIG = 4 * parallel_threshold_elements(np.float64)


def _run(code, env=None, timeout=120):
    """run_python with these variables added to the environment."""
    return run_python(code, env=dict(os.environ, **(env or {})), timeout=timeout)


@pytest.fixture
def process_setting():
    """Leaves the process-wide setting as the test found it (following OpenMP)."""
    yield
    lrelu.set_num_threads(None)


def test_set_num_threads_and_get(process_setting):
    lrelu.set_num_threads(3)
    assert lrelu.get_num_threads() == (3 if OPENMP else 1)


def test_threads_block_wins_over_set_num_threads_within_it(process_setting):
    with lrelu.threads(1):
        lrelu.set_num_threads(3)
        assert lrelu.get_num_threads() == 1
    assert lrelu.get_num_threads() == (3 if OPENMP else 1)


def test_set_num_threads_none_follows_openmp_again(process_setting):
    following = lrelu.get_num_threads()
    lrelu.set_num_threads(following + 1)
    lrelu.set_num_threads(None)
    assert lrelu.get_num_threads() == following


@needs_openmp
def test_threads_applies_to_the_calling_python_thread_only():
    # Two threads inside overlapping blocks each see their own count, and when both have
    # left, each is back where it started: the process is not left at either count.
    before = lrelu.get_num_threads()
    inside, left = threading.Barrier(2), threading.Barrier(2)
    seen = {}

    def block(n):
        with lrelu.threads(n):
            inside.wait(10)
            seen[n] = lrelu.get_num_threads()
            left.wait(10)
        seen[("after", n)] = lrelu.get_num_threads()

    run_in_threads([lambda: block(1), lambda: block(4)])
    assert seen[1] == 1 and seen[4] == 4
    assert seen[("after", 1)] == seen[("after", 4)] == before
    assert lrelu.get_num_threads() == before


@needs_openmp
def test_one_threads_object_entered_by_two_python_threads_restores_each(process_setting):
    shared = lrelu.threads(1)
    inside = threading.Barrier(2)
    after = []

    def block(own):
        with lrelu.threads(own):
            with shared:
                inside.wait(10)
            after.append((own, lrelu.get_num_threads()))

    run_in_threads([lambda: block(2), lambda: block(3)])
    assert sorted(after) == [(2, 2), (3, 3)]


@needs_openmp
def test_a_new_python_thread_starts_from_the_process_wide_setting(process_setting):
    lrelu.set_num_threads(3)
    seen = []
    with lrelu.threads(1):
        run_in_threads([lambda: seen.append(lrelu.get_num_threads())])
    assert seen == [3]


@pytest.mark.parametrize("bad", [0, -1])
def test_fewer_than_one_thread_is_a_value_error(bad):
    with pytest.raises(ValueError, match="at least 1"):
        lrelu.set_num_threads(bad)
    with pytest.raises(ValueError, match="at least 1"):
        lrelu.threads(bad)


@pytest.mark.parametrize("bad", [1.5, "2", True])
def test_non_integer_thread_count_is_a_type_error(bad):
    with pytest.raises(TypeError, match="integer"):
        lrelu.set_num_threads(bad)
    with pytest.raises(TypeError, match="integer"):
        lrelu.threads(bad)


def test_thread_count_errors_name_the_function():
    with pytest.raises(ValueError, match="^set_num_threads: "):
        lrelu.set_num_threads(0)
    with pytest.raises(TypeError, match="^set_num_threads: "):
        lrelu.set_num_threads(1.5)
    with pytest.raises(ValueError, match="^threads: "):
        lrelu.threads(0)


@pytest.mark.parametrize("huge", ["bound + 1", 100_000, 2**31 - 1, 2**64])
def test_counts_past_the_bound_are_refused_before_anything_changes(huge, process_setting):
    # libgomp segfaulted on threads(100000) and aborted on 2**31 - 1; the bound is 4 x the
    # CPUs this process may use, and the message says it.
    bound = _threads.MAX_THREADS
    assert bound == 4 * _threads.USABLE_CPUS
    n = bound + 1 if huge == "bound + 1" else huge
    before = lrelu.get_num_threads()
    message = rf"at most {bound} threads \(4 x the {_threads.USABLE_CPUS} CPUs"
    with pytest.raises(ValueError, match="^set_num_threads: " + message):
        lrelu.set_num_threads(n)
    with pytest.raises(ValueError, match="^threads: " + message):
        lrelu.threads(n)
    assert lrelu.get_num_threads() == before


def test_the_bound_itself_is_accepted_in_a_fresh_process():
    # In a child, so a failure to start that many threads (the old segfault) cannot take the
    # test run with it; more threads than CPUs warn.
    result = run_python("""
        import warnings, numpy as np, lrelu
        from lrelu import _threads, reference
        x = np.linspace(-1, 1, 1 << 20)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with lrelu.threads(_threads.MAX_THREADS):
                got = lrelu.leaky_relu(x, 0.1)
        assert np.array_equal(got, reference.lrelu(x, 0.1))
        assert any("threads on" in str(w.message) for w in caught), [str(w.message) for w in caught]
        print("ok")
        """)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


def test_more_threads_than_usable_cpus_warn_and_up_to_them_do_not(process_setting):
    usable = _threads.USABLE_CPUS
    with pytest.warns(RuntimeWarning, match=f"set_num_threads: {usable + 1} threads on {usable} CPUs"):
        lrelu.set_num_threads(usable + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lrelu.set_num_threads(usable)
        lrelu.threads(usable)


def test_set_num_threads_returns_the_count_in_force_before(process_setting):
    following = lrelu.get_num_threads()
    assert lrelu.set_num_threads(1) == following
    assert isinstance(lrelu.set_num_threads(2), int)
    assert lrelu.set_num_threads(None) == (2 if OPENMP else 1)
    assert lrelu.get_num_threads() == following
    with lrelu.threads(1):     # what get_num_threads() gives in this thread
        assert lrelu.set_num_threads(None) == 1


@needs_openmp
def test_thread_report_shows_what_the_planner_measured():
    _threads._reset_learning()
    x = sample((2 * parallel_threshold_elements(np.float64),), np.float64)
    with lrelu.threads(2):
        for _ in range(6):
            lrelu.leaky_relu_(x.copy(), 0.1)
    report = lrelu.thread_report()
    assert report["max_threads"] == _threads.MAX_THREADS
    assert report["planner"] == _threads.PLANNER
    assert report["parallel_threshold_bytes"] == _threads._openmp_info()["parallel_threshold_bytes"]
    (entry,) = [c for c in report["classes"] if c["kind"] == "inplace"]
    assert entry["calls"] == 6 == _threads._learning(x.nbytes, "inplace")["calls"]
    assert entry["bytes"][0] <= x.nbytes < entry["bytes"][1]
    assert entry["mode"] in ("team", "one thread")     # past its warm-up
    assert entry["one_thread"] > 0 and entry["team"] > 0 and entry["team_over_one"] > 0


def test_threads_none_is_a_type_error():
    # None means "follow OpenMP" for the process-wide setting; a block needs a number.
    with pytest.raises(TypeError, match="integer"):
        lrelu.threads(None)


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
    with lrelu.threads(2), always_parallel():
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
    with always_parallel():
        lrelu.leaky_relu(sample((1000,), np.float64))
        # casting makes NumPy call the loop on 8192-element buffers: each call is small
        lrelu.leaky_relu(sample((BIG,), np.float64), dtype=np.float32, casting="unsafe")
    assert _threads._parallel_region_count() == start


CONVERTED = [  # (x dtype, alpha): NumPy hands these to a loop that converts x to float64
    pytest.param(np.int32, 0.1, id="int32 x"),
    pytest.param(np.uint8, 0.1, id="uint8 x"),
    pytest.param(np.bool_, 0.1, id="bool x"),
    pytest.param(np.float32, "float64 array", id="float32 x, float64 alpha array"),
    pytest.param(np.float32, "float64 scalar", id="float32 x, np.float64 alpha"),
]


def _alpha_for(kind, n):
    if kind == "float64 array":
        return np.linspace(-0.5, 2.0, n)
    if kind == "float64 scalar":
        return np.float64(0.3)
    return kind


@needs_openmp
@pytest.mark.parametrize("dtype, alpha", CONVERTED)
@pytest.mark.parametrize("function, listing", [
    (lrelu.leaky_relu, reference.lrelu), (lrelu.leaky_relu_derivative, reference.der_lrelu_typed)])
def test_converting_loops_run_one_parallel_region_per_call(dtype, alpha, function, listing):
    # Planned once per call: a whole int32 -> float64 call is one parallel region, where
    # before NumPy's 1,024- or 8,192-element pieces were each too small to start one.
    x = sample((BIG,), dtype)
    alpha = _alpha_for(alpha, BIG)
    with lrelu.threads(2), always_parallel():
        start = _threads._parallel_region_count()
        result = function(x, alpha)
        assert _threads._parallel_region_count() == start + 1
    assert_same(result, listing(x, alpha))     # float64 under NumPy 2 (NEP 50), as the listing


@needs_openmp
def test_mixed_precision_backward_runs_one_parallel_region():
    grad, x = sample((BIG,), np.float32), sample((BIG,), np.float32, seed=1)
    alpha = np.linspace(-0.5, 2.0, BIG)
    with lrelu.threads(2), always_parallel():
        start = _threads._parallel_region_count()
        result = lrelu.leaky_relu_backward(grad, x, alpha)
        assert _threads._parallel_region_count() == start + 1
    assert_same(result, reference.backward(grad, x, alpha))


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
    with threadpoolctl.threadpool_limits(1, user_api="openmp"), always_parallel():
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
        _threads._set_adaptive(False)
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
            lrelu._threads._set_adaptive(False)
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


@needs_openmp
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_thread_settings_in_a_forked_child_warn_instead_of_being_ignored():
    out = _run("""
        import os, sys, warnings
        import lrelu
        pid = os.fork()
        if pid == 0:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                lrelu.set_num_threads(2)
                with lrelu.threads(2):
                    pass
                lrelu.set_num_threads(1)        # one thread is what the child does anyway
            messages = [str(w.message) for w in caught if w.category is RuntimeWarning]
            ok = len(messages) == 2 and all("fork" in m for m in messages)
            os._exit(0 if ok and lrelu.get_num_threads() == 1 else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """, timeout=60)
    assert out.returncode == 0, out.stderr


# ---- the CPUs a process may use: affinity and cgroup quota (lrelu/_cpus.py) ---------------

def _fake_cgroup_tree(tmp_path, version, quota, nested_quota=None, member="/job/step"):
    """A fake /proc/self and /sys/fs/cgroup under tmp_path, as a container would show them."""
    proc = tmp_path / "proc" / "self"
    proc.mkdir(parents=True)
    if version == 2:
        (proc / "cgroup").write_text(f"0::{member}\n")
        (proc / "mountinfo").write_text(
            "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
        top = tmp_path / "sys/fs/cgroup"
        files = lambda q: {"cpu.max": "max 100000\n" if q is None else f"{int(q * 100000)} 100000\n"}
    else:
        (proc / "cgroup").write_text(f"5:memory:/\n4:cpu,cpuacct:{member}\n")
        (proc / "mountinfo").write_text(
            "40 31 0:36 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
            "41 31 0:37 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
        top = tmp_path / "sys/fs/cgroup/cpu,cpuacct"
        files = lambda q: {"cpu.cfs_quota_us": "-1\n" if q is None else f"{int(q * 100000)}\n",
                           "cpu.cfs_period_us": "100000\n"}
    parent, child = top / member.strip("/").split("/")[0], top / member.strip("/")
    for directory, q in ((top, None), (parent, quota), (child, nested_quota)):
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files(q).items():
            (directory / name).write_text(text)
    return str(tmp_path)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("quota, nested, expected", [
    (None, None, None),         # no quota anywhere
    (1.0, None, 1),             # a quota on the parent group limits the process below it
    (1.5, None, 2),             # part of a CPU rounds up
    (4.0, 0.5, 1),              # the smallest quota on the way up wins
    (0.25, 3.0, 1),
])
def test_cgroup_quota_is_read_from_the_process_group_and_its_parents(tmp_path, version, quota,
                                                                     nested, expected):
    root = _fake_cgroup_tree(tmp_path, version, quota, nested)
    assert lrelu._cpus.cgroup_cpu_limit(root) == expected


def test_no_cgroup_files_means_no_limit(tmp_path):
    assert lrelu._cpus.cgroup_cpu_limit(str(tmp_path)) is None


def test_available_cpus_is_the_affinity_capped_by_the_quota(tmp_path, monkeypatch):
    root = _fake_cgroup_tree(tmp_path, 2, 1.0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert lrelu._cpus.available_cpus(root) == 1
    assert lrelu._cpus.available_cpus(str(tmp_path / "nothing")) == 4


CPU_CGROUP = "/sys/fs/cgroup/cpu"


def _writable_cpu_cgroup():
    return (os.geteuid() == 0 and os.path.isfile(os.path.join(CPU_CGROUP, "cpu.cfs_quota_us"))
            and os.access(CPU_CGROUP, os.W_OK))


@needs_openmp
@pytest.mark.skipif(not hasattr(os, "geteuid") or not _writable_cpu_cgroup(),
                    reason="needs root and a writable cgroup v1 cpu controller")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 CPUs to see a cap")
def test_a_process_in_a_one_cpu_cgroup_uses_one_thread_unless_omp_num_threads_says_more(tmp_path):
    group = os.path.join(CPU_CGROUP, f"lrelu-test-{os.getpid()}")
    os.mkdir(group)
    try:
        with open(os.path.join(group, "cpu.cfs_period_us"), "w") as f:
            f.write("100000")
        with open(os.path.join(group, "cpu.cfs_quota_us"), "w") as f:
            f.write("100000")       # one CPU's worth of time
        # The child moves itself into the group before lrelu is imported.
        code = f"""
            import os, sys
            with open({os.path.join(group, "cgroup.procs")!r}, "w") as f:
                f.write(str(os.getpid()))
            import lrelu
            print(lrelu.get_num_threads(), lrelu._cpus.available_cpus())
            """
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        capped = run_python(code, env=env, timeout=60)
        assert capped.returncode == 0, capped.stderr
        assert capped.stdout.split() == ["1", "1"]
        chosen = run_python(code, env=dict(env, OMP_NUM_THREADS="2"), timeout=60)
        assert chosen.returncode == 0, chosen.stderr
        assert chosen.stdout.split() == ["2", "1"]
    finally:
        os.rmdir(group)     # the children have exited, so the group is empty


# ---- the planner: one thread or a team, from what it measured -----------------------------

@needs_openmp
def test_the_planner_times_both_modes_on_this_machine():
    # End to end on the real clock: both modes are timed, every call is counted, and tries
    # do not alternate with every call (an earlier rule did when costs were close). How
    # many tries come depends on this machine's speed and load; the rules behind that
    # number are checked on the pretended machines below, through the planner's rule alone
    # (_threads._learn_from: calls planned as real ones, learned from costs a test chose).
    _threads._reset_learning()
    x = sample((BIG,), np.float64)
    with lrelu.threads(2):
        for _ in range(400):
            lrelu.leaky_relu(x, 0.1, out=np.empty_like(x))
    learned = _threads._learning(x.nbytes, "out")
    assert learned["calls"] == 400
    assert learned["serial"] > 0 and learned["parallel"] > 0
    # 5 % of 400 calls pays for about ten tries of two calls each; tries alternating with
    # calls would be some 130. 30 leaves room for a noisy CI machine.
    assert learned["explorations"] <= 30


EXPLORE_BUDGET = _threads.PLANNER["explore_budget"]   # the share of time tries may cost
TRY_CALLS = _threads.PLANNER["try_calls"]             # calls of the other mode in one try


WARMUP_CALLS = _threads.PLANNER["warmup_calls"]


NBYTES = BIG * np.dtype(np.float64).itemsize     # a size class past the threshold


def _learn_on_a_pretended_machine(calls, machine, warm_up=None):
    """Plan `calls` calls of one size and teach the planner that one thread took machine[0]
    seconds per byte, a team machine[1], and the caller's share of a team call machine[2];
    `warm_up`, if given, is the machine for the first four calls instead."""
    _threads._reset_learning()
    with lrelu.threads(2):
        for i in range(calls):
            _threads._learn_from(NBYTES, "out",
                                 *(warm_up if warm_up and i < WARMUP_CALLS else machine))
    return _threads._learning(NBYTES, "out")


@needs_openmp
@pytest.mark.parametrize("machine", [
    (2.0, 1.0, 1.0),    # a team twice as fast: two cores, quiet
    (4.0, 1.0, 1.0),    # four times
    (1.0, 1.0, 0.5),    # the same: a team whose helper does half the work late
    (1.0, 1.0, 1.0),    # the same: one usable core (a CI runner)
    (1.0, 3.0, 1.0),    # a team three times slower: busy machine
])
def test_tries_of_the_slower_mode_stay_within_their_budget(machine):
    serial, team, _ = machine
    calls = 400
    learned = _learn_on_a_pretended_machine(calls, machine)
    # What it learned is the machine it was given (a team: the team's time per byte)...
    assert learned["calls"] == calls
    assert learned["serial"] == pytest.approx(serial)
    assert learned["parallel"] == pytest.approx(team)
    # ...and tries of the slower mode (the team when they cost the same) spent the budget:
    # no more than its share of the time, plus the one try that savings may run ahead by,
    # and no less than that share less two tries (the warm-up earns nothing, and the first
    # try waits for savings from zero).
    faster, slower = min(serial, team), max(serial, team)
    budget = EXPLORE_BUDGET * calls * faster
    spent = learned["explorations"] * TRY_CALLS * slower
    assert learned["explorations"] >= 1
    assert budget - 2 * TRY_CALLS * slower <= spent <= budget + TRY_CALLS * slower


@needs_openmp
@pytest.mark.parametrize("warm_up", [
    (20.0, 1.0, 1.0),   # one thread's two warm-up calls slowed by another process
    (2.0, 20.0, 1.0),   # the team's
])
def test_a_warm_up_that_overrated_one_mode_is_corrected(warm_up):
    # The machine of the CI failure: a team twice as fast as one thread, but one mode's
    # warm-up calls ran next to a compiler. A try of the mode that looked ten times slower
    # waited for ten times the savings (800 calls), so 400 calls made none, and the
    # estimate stayed wrong. A try's cost is now believed only up to a few calls' time.
    learned = _learn_on_a_pretended_machine(400, (2.0, 1.0, 1.0), warm_up)
    assert learned["explorations"] >= 1
    assert learned["parallel"] < learned["serial"]          # it runs on the team
    assert learned["serial"] < 10.0 and learned["parallel"] < 10.0   # fell from 20 by half


@pytest.mark.parametrize("costs", [(1.0, 0.0, 1.0), (-1.0, 1.0, 1.0), (1.0, 1.0, float("nan"))])
def test_pretended_costs_must_be_positive(costs):
    _threads._reset_learning()
    with pytest.raises(ValueError, match="positive"):
        _threads._learn_from(NBYTES, "out", *costs)
    assert _threads._learning(NBYTES, "out")["calls"] == 0     # refused before planning


def _forgotten_planner_and_operands():
    """A planner that has measured nothing, and x, a gradient and an out past the threshold."""
    _threads._reset_learning()
    x = sample((BIG,), np.float64)
    return x, sample((BIG,), np.float64, seed=1), np.empty_like(x)


@needs_openmp
def test_each_kind_of_call_is_timed_apart():
    # A training step alternates forward and backward on one size; their costs per byte
    # differ, so each kind keeps its own estimates instead of being judged by the other's.
    x, g, out = _forgotten_planner_and_operands()
    ints = np.arange(BIG, dtype=np.int32)
    with lrelu.threads(2):
        for _ in range(10):
            lrelu.leaky_relu(x, 0.1, out=out)                       # read one, write another
            lrelu.leaky_relu_backward(g, x, 0.1, out=out)           # read two, write a third
            lrelu.leaky_relu_(out, 0.1)                             # one array
            lrelu.leaky_relu(ints, 0.1)                             # converted to float64
            grad = g.copy()
            lrelu.leaky_relu_backward(grad, x, 0.1, out=grad)       # read two, write one of them
    counts = {kind: _threads._learning(x.nbytes, kind)["calls"]
              for kind in ("out", "fresh", "three", "inplace", "convert", "grad_inplace")}
    # (results this small are not checked for residency: "fresh" starts at fresh_min_bytes)
    assert counts == {"out": 10, "fresh": 0, "three": 10, "inplace": 10, "convert": 10,
                      "grad_inplace": 10}


@needs_openmp
@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="Linux only: Windows has no mincore(), and macOS's allocator keeps "
                           "freed large blocks and hands them out again resident")
def test_a_fresh_result_is_timed_apart_from_an_out_written_before():
    # A fresh result this large is mapped but not yet in memory, so its first touch faults
    # each page in and a team gains little; an out= written before is resident, and a team
    # gains. Timed together, each taught the other; the planner tells them apart by whether
    # the result's memory is resident, not by how the call was written.
    _threads._reset_learning()
    n = _threads.PLANNER["fresh_min_bytes"] * 5 // 4 // 8      # just past the bound, float64
    x = sample((n,), np.float64)
    written = np.ones_like(x)
    expected = reference.lrelu(x, 0.1)
    with lrelu.threads(2):
        for _ in range(3):
            assert_same(lrelu.leaky_relu(x, 0.1), expected)
            lrelu.leaky_relu(x, 0.1, out=written)
            assert_same(written, expected)
    counts = {kind: _threads._learning(x.nbytes, kind)["calls"] for kind in ("fresh", "out")}
    assert counts == {"fresh": 3, "out": 3}


@needs_openmp
def test_a_backward_in_place_after_fresh_results_goes_back_to_a_team():
    # The trap of a benchmark report's order at 1e8 float64: in place, a fresh result, out=,
    # then the backward in place. A fresh result's team calls are bound by page faults and
    # gain nothing; timed in the same class as fresh results, the backward inherited "a team
    # does not pay" and stayed on one thread, though a team ran it in two thirds of the time.
    # Here the planner learns that machine through its rule: a team no faster than one
    # thread for the first three kinds, twice as fast for the backward. Each backward then
    # really runs in the mode the planner chose, and its results are checked.
    x, g, _ = _forgotten_planner_and_operands()
    no_gain, gain = (1.0, 1.0, 1.0), (2.0, 1.0, 1.0)
    with lrelu.threads(2):
        for _ in range(20):
            for kind in ("inplace", "fresh", "out"):
                _threads._learn_from(x.nbytes, kind, *no_gain)
        grad = g.copy()
        team_calls = 0
        calls = 2 * _threads.PLANNER["warmup_calls"] + 2
        for _ in range(calls):
            on_team = _threads._learn_from(x.nbytes, "grad_inplace", *gain)
            before = _threads._parallel_region_count()
            with lrelu.threads(2 if on_team else 1), always_parallel():
                lrelu.leaky_relu_backward(grad, x, 0.1, out=grad)
            assert (_threads._parallel_region_count() > before) == on_team
            team_calls += on_team
        (entry,) = [c for c in lrelu.thread_report()["classes"] if c["kind"] == "grad_inplace"]
        # after its own warm-up (both modes twice), every call ran on the team
        assert entry["mode"] == "team", entry
        assert team_calls >= calls - _threads.PLANNER["warmup_calls"] // 2
    expected = g
    for _ in range(calls):
        expected = reference.backward(expected, x, 0.1)
    assert_same(grad, expected)


@needs_openmp
def test_one_thread_requested_is_never_timed_or_parallel():
    _threads._reset_learning()
    x = sample((BIG,), np.float64)
    start = _threads._parallel_region_count()
    with lrelu.threads(1):
        lrelu.leaky_relu(x)
    assert _threads._parallel_region_count() == start
    assert _threads._learning(x.nbytes, "out")["calls"] == 0


@needs_openmp
def test_right_answers_while_another_process_keeps_the_cpus_busy():
    # Results must not depend on which mode the planner picks as load comes and goes.
    busy = [__import__("subprocess").Popen(
        [__import__("sys").executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        for seed in range(20):
            x = sample((BIG + seed,), np.float32, seed=seed)
            assert_same(lrelu.leaky_relu(x, 0.2), reference.lrelu(x, 0.2))
            y = x.copy()
            lrelu.leaky_relu_derivative_(y, 0.2)
            assert_same(y, reference.der_lrelu_typed(x, 0.2))
    finally:
        for p in busy:
            p.kill()
            p.wait()
