"""The one timer behind `lrelu bench` and the scripts in bench/.

Contenders are timed alternately: every round times each once, and every other round runs
them in reverse order, so drift on a shared machine (another process, the clock, the heat)
falls on all of them alike. A contender's figure is the median over rounds, and its ratio to
another is the median of the per-round ratios, which cancels drift that hits one round.

A contender is ``call(i)``, given a running count of its own calls: in-place contenders use it
to alternate alpha between 0.01 and 100 (``ALPHAS[i & 1]``), so repeated calls neither decay
values into subnormals, slow on some CPUs, nor need an untimed copy between calls. Batches
hold an even number of calls, so each one ends where it began.

Settling: before each timed batch, a contender can first run untimed for about as long as the
batch, so it is timed from its own steady state and not from the caches, heap and idle threads
the one before it left. Without it, a slow contender (the listing) made the next one's first
calls much slower, and that transient fell on lrelu and PyTorch unevenly: their ratio swung
from run to run (figures in bench/notes.md, "Settling").
"""

import os
import statistics
import time

ALPHAS = (0.01, 100.0)
# glibc's largest dynamic mmap threshold: an array at least this big is fresh mmapped pages
# whatever ran before, and is far past any cache, so there is nothing to settle from.
SETTLE_BELOW_BYTES = 32 * 2**20


def time_batch(call, calls, first=0):
    """Seconds per call of ``call(first) ... call(first + calls - 1)``."""
    start = time.perf_counter()
    for i in range(first, first + calls):
        call(i)
    return (time.perf_counter() - start) / calls


def settle(call, seconds):
    """Run ``call`` untimed, in pairs, for about ``seconds``; the time per call in the steady
    state, which sizes the batches: the median pair of the second half, not the last pair, as
    on a loaded machine a pair that meets another process's time slice (milliseconds, against
    microseconds for a small call) would size batches of 2 calls, whose ratios would be mostly
    that noise."""
    end = time.perf_counter() + seconds
    pairs = []
    while True:
        pairs.append(time_batch(call, 2))
        if time.perf_counter() >= end:
            return statistics.median(pairs[len(pairs) // 2:])


def alternate(samplers, rounds, before=None):
    """{name: [sampler() of each round]}, the samplers taken alternately (A B, B A, ...).
    ``before(name)``, if given, runs untimed before each sample (a thread count to set, say)."""
    names = list(samplers)
    samples = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            if before:
                before(name)
            samples[name].append(samplers[name]())
    return samples


def measure(calls, rounds=None, batch=None, target_seconds=1e-3, settle_first=False, before=None,
            round_budget_seconds=2.0):
    """Time each ``calls[name](i)`` alternately; {name: [seconds per call, one per round]}.

    Each contender first settles untimed for twice ``target_seconds``, which also sizes its
    batches to about ``target_seconds`` each (2 to 10,000 calls, even) unless ``batch`` fixes
    the count. ``rounds`` defaults to what fits ``round_budget_seconds``, from 11 to 31: with
    fewer than 11, one slow round moved ratios by tens of percent (bench/notes.md). With
    ``settle_first``, each batch is preceded by ``target_seconds`` of untimed calls.
    """
    sizes, counts = {}, {}
    for name, call in calls.items():
        if before:
            before(name)
        per_call = settle(call, 2 * target_seconds)
        sizes[name] = batch or max(2, min(10_000, int(target_seconds / max(per_call, 1e-9)))) & ~1
        counts[name] = per_call * sizes[name]
    if rounds is None:
        rounds = int(min(31, max(11, round_budget_seconds / max(sum(counts.values()), 1e-9))))
    done = dict.fromkeys(calls, 0)

    def sampler(name):
        def sample():
            if settle_first:
                settle(calls[name], target_seconds)
            seconds = time_batch(calls[name], sizes[name], done[name])
            done[name] += sizes[name]
            return seconds
        return sample

    return alternate({name: sampler(name) for name in calls}, rounds, before)


def ratio(samples, base):
    """Median over rounds of samples[r] / base[r]: with times, how many times slower than base
    (above 1: base is faster)."""
    return statistics.median(s / b for s, b in zip(samples, base))


def cpu_snapshot():
    """(wall seconds, CPU seconds the whole machine spent busy, this process's CPU seconds),
    or None where /proc/stat cannot be read (not Linux)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    own = os.times()
    return (time.perf_counter(), (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK"),
            own.user + own.system)


def others_cpus(before, after):
    """How many CPUs other processes kept busy, on average, between two cpu_snapshot()s: the
    machine's busy time less this process's own, over the wall time. None if unknown or if
    too little time passed to tell (the kernel counts in ticks of 10 ms)."""
    if before is None or after is None or after[0] - before[0] < 0.2:
        return None
    wall = after[0] - before[0]
    return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / wall)
