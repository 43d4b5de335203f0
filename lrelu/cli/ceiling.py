"""The machine's memory ceiling for `lrelu bench`: how fast its memory moves streams of the
shape of lrelu's calls. Measured in this process with lrelu's own kernel, its SIMD loops
and its team (_ceiling.pyx), or by a tool of the user's
(``--membw PATH``), run as ``PATH N DTYPE REPS`` and printing ``inplace X ms Y GB/s | out ...
| out-fresh ... | backward ...`` (optionally also the ``-nt`` streams).

The streams, each with ordinary stores and, as ``STREAM-nt``, streaming stores:
  inplace     a = f(a)         read and write one array
  out         b = f(a)         b allocated and touched before
  out-fresh   c = f(a)         c a new array from NumPy, as a call returning its result
                               gets one: fresh pages above glibc's mmap threshold (at most
                               32 MiB), below it often memory just freed (so no page faults)
  backward    g = g * f'(a)    read two arrays, write one in place
"""

import os
import re
import subprocess

import numpy as np

import lrelu

from . import timing

STREAMS = ("inplace", "out", "out-fresh", "backward")
ARRAYS = {"inplace": 2, "out": 2, "out-fresh": 2, "backward": 3}     # arrays moved, for GB/s
# The stream that bounds each benchmark operation: "out" and "derivative" return a fresh
# array, so they pay for new pages as "out-fresh" does; "outarg" writes an out= allocated and
# touched before, the "out" stream.
FOR_OPERATION = {"inplace": "inplace", "out": "out-fresh", "outarg": "out", "derivative": "out-fresh",
                 "backward": "backward"}
# Bytes per array when measuring the ceiling for `lrelu bench`: four times a 32 MiB L3 (a
# common server last-level cache), so the streams come from memory and not from the cache,
# and the four arrays of one measurement (512 MiB) fit any machine that runs the benchmark.
ARRAY_BYTES = 128 * 2**20
REPETITIONS = 10
# The ceiling's passes (and membw's) are float32 and float64 only. Memory moves bytes, not
# elements, so a 16-bit dtype is bounded by the float32 passes over arrays of the same bytes.
MEASURED_AS = {"float16": "float32", "bfloat16": "float32"}

_FIGURE = re.compile(r"(?<![\w-])((?:inplace|out-fresh|out|backward)(?:-nt)?)\s+[\d.]+\s*ms\s+([\d.]+)\s*GB/s")


class CeilingError(Exception):
    """The user's ceiling tool could not be run or read."""


def stores():
    """Which loops this CPU runs: {"ordinary": SIMD level, "streaming": SIMD level or None,
    "openmp": bool}."""
    config = lrelu.show_config(mode="dicts")
    return {"ordinary": config["simd_selected"],
            "streaming": config["simd_selected"] if config["stream"] else None,
            "openmp": config["openmp"]}


def run_pass(g, x, out, alpha, streaming, threads):
    """One pass, out = g * slope(x), on `threads` threads with the store asked for."""
    from . import _ceiling
    with _ceiling.held(threads):
        _ceiling.run_pass(g, x, out, alpha, streaming)


def _passes(n, dtype, streaming):
    """{stream name: call(i)}, each call one pass; alpha alternates 0.01 / 100 with i, so
    repeated passes in place neither decay into subnormals nor grow without bound."""
    from . import _ceiling
    a = np.random.default_rng(0).standard_normal(n).astype(dtype)
    b, g = a.copy(), np.ones_like(a)
    arrays = {"inplace": lambda: (b, b, b), "out": lambda: (a, a, b),
              "out-fresh": lambda: (a, a, np.empty_like(a)), "backward": lambda: (g, a, g)}
    return {stream + ("-nt" if streaming else ""):
            lambda i, arrays=arrays[stream]: _ceiling.run_pass(*arrays(), timing.ALPHAS[i & 1], streaming)
            for stream in STREAMS}


def measure(n, dtype, threads, repetitions=REPETITIONS):
    """{stream: GB/s} of n elements of dtype on `threads` threads, the best of `repetitions`
    passes each, the streams taken alternately; the -nt streams are None where the CPU has no
    streaming stores. Arrays small enough to stay in a cache settle before each timed pass,
    as the benchmark's contenders do, so a pass is timed on its own arrays' cache and not on
    what the stream before it left there."""
    from . import _ceiling
    dtype = np.dtype(dtype)
    calls = _passes(n, dtype, False)
    if stores()["streaming"] is not None:
        calls.update(_passes(n, dtype, True))
    with _ceiling.held(threads):
        times = timing.measure(calls, rounds=repetitions, batch=1,
                               settle_first=n * dtype.itemsize < timing.SETTLE_BELOW_BYTES)
    gbps = {}
    for stream in STREAMS:
        for name in (stream, stream + "-nt"):
            gbps[name] = ARRAYS[stream] * n * dtype.itemsize / min(times[name]) / 1e9 if name in times else None
    return gbps


def measured_as(dtype):
    """The dtype whose passes give dtype's ceiling (itself for float32 and float64)."""
    return MEASURED_AS.get(str(dtype), str(dtype))


def measured_dtypes(dtypes):
    """The dtypes a ceiling for `dtypes` is measured with, each once, in order."""
    return list(dict.fromkeys(measured_as(dt) for dt in dtypes))


def thread_counts(threads):
    """The thread counts a ceiling is measured with: one thread, and `threads`. Both matter:
    one thread is steady, while a figure on every core swings when another process is busy."""
    return sorted({1, threads}) if stores()["openmp"] else [1]


def builtin(dtypes, threads, array_bytes=ARRAY_BYTES, repetitions=REPETITIONS, progress=None):
    """The ceiling `lrelu bench` reports: every stream over arrays of array_bytes, per dtype
    measured (measured_dtypes), on one thread and on `threads`; progress(done, total, label)
    after each measurement."""
    found = stores()
    result = {"source": "built-in", "array_bytes": array_bytes, "repetitions": repetitions,
              "stores": found, "gbps": {}}
    jobs = [(count, dt) for count in thread_counts(threads) for dt in measured_dtypes(dtypes)]
    for done, (count, dt) in enumerate(jobs, 1):
        n = max(1, array_bytes // np.dtype(dt).itemsize)
        result["gbps"].setdefault(str(count), {})[dt] = measure(n, dt, count, repetitions)
        if progress:
            progress(done, len(jobs), f"memory ceiling, {dt}, {count} thread{'s' if count > 1 else ''}")
    return result


def parse_tool_output(text):
    """{stream: GB/s} from a membw-like tool's output line."""
    found = {name: float(gbps) for name, gbps in _FIGURE.findall(text)}
    if not found:
        raise CeilingError(f"no 'NAME X ms Y GB/s' figures in its output: {text.strip()[:200]!r}")
    return found


def run_tool(tool, n, dtype, repetitions=REPETITIONS, threads=None, timeout=600):
    """{stream: GB/s} from running ``tool N DTYPE REPS`` (with OMP_NUM_THREADS=threads)."""
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    try:
        done = subprocess.run([tool, str(n), np.dtype(dtype).name, str(repetitions)], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CeilingError(f"cannot run {tool}: {exc}") from None
    if done.returncode != 0:
        raise CeilingError(f"{tool} exited with status {done.returncode}: {done.stderr.strip()[:200]}")
    return parse_tool_output(done.stdout)


def from_tool(tool, dtypes, threads, array_bytes=ARRAY_BYTES):
    """The user's tool's ceiling, in the form `lrelu bench` stores it (per measured_dtypes)."""
    gbps = {dt: run_tool(tool, max(1, array_bytes // np.dtype(dt).itemsize), dt, threads=threads)
            for dt in measured_dtypes(dtypes)}
    return {"path": os.fspath(tool), "threads": threads, "gbps": gbps}


def for_operation(figures, op):
    """(GB/s, stream) bounding a benchmark operation: the faster of the stream's ordinary and
    streaming-store figures in ``figures`` ({stream: GB/s}), or None if neither is known."""
    stream = FOR_OPERATION[op]
    known = [(figures[name], name) for name in (stream, stream + "-nt") if figures.get(name)]
    return max(known) if known else None
