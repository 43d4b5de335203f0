"""Many Python threads at once: in-place calls on disjoint parts of one array, calls racing
while the thread count changes, and how many OS threads that costs.

lrelu runs one OpenMP team at a time; a call that finds it busy runs serially on its own
Python thread (src/threads.c). These tests check that this never mixes up whose data is
whose, that nothing hangs (every thread is joined with a timeout), and that threads do not
pile up.
"""

import contextlib
import itertools
import os
import threading
import time

import numpy as np
import pytest

import lrelu
from lrelu import _threads, reference

from helpers import assert_same, parallel_threshold_elements, run_in_threads, sample

PYTHON_THREADS = 8
# Counts past the CPUs (3 or 4 threads on a 2-CPU runner) are deliberate here: they warn.
pytestmark = pytest.mark.filterwarnings("ignore:.* threads on .* CPUs that this process may use:RuntimeWarning")
needs_openmp = pytest.mark.skipif(not _threads._openmp_info()["enabled"], reason="serial build (no OpenMP)")


def _forward(target, other, alpha):
    return lrelu.leaky_relu_(target, alpha)


def _derivative(target, other, alpha):
    return lrelu.leaky_relu_derivative_(target, alpha)


def _backward(target, other, alpha):
    return lrelu.leaky_relu_backward(target, other, alpha, out=target)


IN_PLACE = [  # (writes its result into `target`; `other` is backward's x, listing)
    pytest.param(_forward, lambda target, other, alpha: reference.lrelu(target, alpha), id="forward"),
    pytest.param(_derivative, lambda target, other, alpha: reference.der_lrelu_typed(target, alpha),
                 id="derivative"),
    pytest.param(_backward, lambda target, other, alpha: reference.backward(target, other, alpha),
                 id="backward"),
]


def _slices(split, count):
    """`count` disjoint views covering one array: contiguous blocks, or every count-th element
    (so neighbouring elements, and cache lines, belong to different threads)."""
    if split == "blocks":
        return [lambda a, i=i: a.reshape(count, -1)[i] for i in range(count)]
    return [lambda a, i=i: a[i::count] for i in range(count)]


@pytest.mark.parametrize("function, listing", IN_PLACE)
@pytest.mark.parametrize("split", ["blocks", "interleaved"])
@pytest.mark.parametrize("per_thread", ["below", "above"])
def test_python_threads_on_disjoint_slices_of_one_array_in_place(function, listing, split, per_thread):
    # Each slice is on its own side of the parallel threshold: above it, the threads contend
    # for the one OpenMP team and the losers run serially.
    threshold = parallel_threshold_elements(np.float32)
    n = threshold // 4 + 13 if per_thread == "below" else 2 * threshold + 13
    size = n * PYTHON_THREADS
    x = sample((size,), np.float32, seed=1)
    slices = _slices(split, PYTHON_THREADS)
    for round_ in range(3):
        shared = sample((size,), np.float32, seed=round_ + 2)
        with np.errstate(all="ignore"):
            expected = listing(shared.copy(), x, 0.1)
        run_in_threads([lambda view=view: function(view(shared), view(x), 0.1) for view in slices])
        assert_same(shared, expected)


@contextlib.contextmanager
def _thread_count_changing():
    """A thread that keeps changing lrelu's thread count, both ways (set_num_threads and the
    threads() context), until the block ends; the previous setting comes back after it."""
    stop = threading.Event()
    errors = []

    def toggle():
        try:
            for count in itertools.cycle([1, 2, 3, 4]):
                if stop.is_set():
                    return
                if count % 2:
                    lrelu.set_num_threads(count)
                else:
                    with lrelu.threads(count):
                        time.sleep(0.0005)
        except BaseException as exc:      # re-raised below, in the test's thread
            errors.append(exc)

    with lrelu.threads(lrelu.get_num_threads()):    # undoes the toggler's set_num_threads
        toggler = threading.Thread(target=toggle, daemon=True)
        toggler.start()
        try:
            yield
        finally:
            stop.set()
            toggler.join(30)
    assert not toggler.is_alive(), "the thread-count toggler hung"
    if errors:
        raise errors[0]


def test_in_place_calls_race_with_calls_on_other_arrays_while_the_thread_count_changes():
    threshold = parallel_threshold_elements(np.float64)
    n = 2 * threshold + 5                   # every call large enough to want the team
    in_place, out_of_place = 4, 3
    source = sample((n * in_place,), np.float64, seed=1)
    shared = source.copy()
    expected_shared = reference.lrelu(source, 0.2)
    others = [sample((n,), np.float64, seed=10 + i) for i in range(out_of_place)]
    expected_others = [reference.der_lrelu_typed(a, 0.3) for a in others]
    slices = _slices("interleaved", in_place)

    def transform_own_slice(view):
        for _ in range(10):
            view(shared)[...] = view(source)
            lrelu.leaky_relu_(view(shared), 0.2)
            assert_same(view(shared), view(expected_shared))

    def differentiate_own_array(i):
        for _ in range(10):
            assert_same(lrelu.leaky_relu_derivative(others[i], 0.3), expected_others[i])

    with _thread_count_changing():
        run_in_threads([lambda v=v: transform_own_slice(v) for v in slices]
                       + [lambda i=i: differentiate_own_array(i) for i in range(out_of_place)])
    assert_same(shared, expected_shared)


def _os_threads():
    """The ids of this process's OS threads."""
    return set(os.listdir("/proc/self/task"))


@needs_openmp
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_os_threads_stay_bounded_while_python_threads_hammer_lrelu_and_end_with_them():
    # GNU libgomp keeps, for every Python thread that has started a team, a pool of
    # team-size - 1 idle workers until that Python thread ends. lrelu runs one team at a
    # time, but each of the P Python threads may start it in turn, so P pools can exist:
    # at most P Python threads + P * (T - 1) pool threads, and none once the Python threads
    # have ended.
    # Threads are counted by id, not by number: a thread left by an earlier test may exit
    # while this one runs, and a plain count then came out one short (CI, stop 7).
    team = 3
    before = _os_threads()
    python_ids, new_counts = set(), []
    arrays = [sample((4 * parallel_threshold_elements(np.float64),), np.float64, seed=i)
              for i in range(PYTHON_THREADS)]

    all_counted = threading.Barrier(PYTHON_THREADS)

    def hammer(x):
        python_ids.add(str(threading.get_native_id()))
        all_counted.wait(60)
        for _ in range(15):
            lrelu.leaky_relu_(x, 0.5)
            lrelu.leaky_relu(x)
            new_counts.append(len(_os_threads() - before))

    with lrelu.threads(team):
        run_in_threads([lambda x=x: hammer(x) for x in arrays])

    assert len(python_ids) == PYTHON_THREADS
    assert python_ids.isdisjoint(before)                  # the counting sees new threads
    assert max(new_counts) >= PYTHON_THREADS              # ...and all of them at once
    assert max(new_counts) <= PYTHON_THREADS * team
    deadline = time.monotonic() + 10                     # pool threads exit asynchronously
    while _os_threads() - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _os_threads() - before
