"""The benchmark behind `lrelu bench`: lrelu against the glossary entry's listing and every peer
installed, on the same data, timed alternately by lrelu.cli.timing (see there for how).

Each contender works on its own copy of the data, so no peer can change what another is timed
on: np.maximum(x, alpha*x), wrong for alpha > 1, drifts its own copy toward 0 and inf; it is
a speed reference only.
"""

import importlib
import importlib.util
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

import lrelu
from lrelu import reference

from . import ceiling, timing

OPERATIONS = ("inplace", "out", "derivative", "backward")
# Arrays each call reads or writes, for GB/s: in place reads x and writes x; backward reads
# grad and x and writes grad.
STREAMS = {"inplace": 2, "out": 2, "derivative": 2, "backward": 3}
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000)
QUICK_SIZES = (1_000, 100_000, 1_000_000, 10_000_000)
# In-place calls alternate alpha (see lrelu.cli.timing). Not timing.ALPHAS for 16-bit dtypes:
# 100 * x overflows float16 (largest finite value 65504) from |x| > 655, and 0.01 is so
# inexact in 16 bits that each 0.01-then-100 pair moves values, so the data drifts call after
# call. Halving and doubling are exact (but for the rare value that halves into a float16
# subnormal), so the data stays as it was; bench/half.py uses the same pair.
ALPHAS_16_BIT = (0.5, 2.0)


def numpy_dtype(name):
    """The NumPy dtype of a benchmark dtype name. bfloat16 is ml_dtypes' type:
    np.dtype("bfloat16") only knows it once ml_dtypes has been imported."""
    if isinstance(name, str) and name == "bfloat16":
        return np.dtype(importlib.import_module("ml_dtypes").bfloat16)
    return np.dtype(name)


def alphas(dtype):
    """The alphas that calls on dtype alternate between."""
    return ALPHAS_16_BIT if numpy_dtype(dtype).itemsize == 2 else timing.ALPHAS


def _lrelu(op, dtype):
    if op == "inplace":
        return lambda x, g, a: lrelu.leaky_relu_(x, a)
    if op == "out":
        return lambda x, g, a: lrelu.leaky_relu(x, a)
    if op == "derivative":
        return lambda x, g, a: lrelu.leaky_relu_derivative(x, a)
    return lambda x, g, a: lrelu.leaky_relu_backward(g, x, a, out=g)


def _listing(op, dtype):
    # The glossary entry's code as written: it has no in-place form, so "inplace" times the same
    # call a user of the listing would write, x = lrelu(x).
    if op in ("inplace", "out"):
        return lambda x, g, a: reference.lrelu(x, a)
    if op == "derivative":
        return lambda x, g, a: reference.der_lrelu(x, a)
    return lambda x, g, a: g * reference.der_lrelu(x, a)


def _maximum(op, dtype):
    # np.maximum(x, a*x): the usual NumPy trick, right only for alpha <= 1 (so it runs with
    # the same alphas here purely as a speed reference).
    if op == "inplace":
        return lambda x, g, a: np.maximum(x, x * a, out=x)
    if op == "out":
        return lambda x, g, a: np.maximum(x, x * a)
    return None


def _numexpr(op, dtype):
    if dtype.itemsize == 2:
        return None       # numexpr has no float16 or bfloat16
    ne = importlib.import_module("numexpr")
    if op == "inplace":
        return lambda x, g, a: ne.evaluate("where(x >= 0, x, a * x)", local_dict={"x": x, "a": x.dtype.type(a)}, out=x)
    if op == "out":
        return lambda x, g, a: ne.evaluate("where(x >= 0, x, a * x)", local_dict={"x": x, "a": x.dtype.type(a)})
    if op == "derivative":
        return lambda x, g, a: ne.evaluate("where(x >= 0, one, a)",
                                           local_dict={"x": x, "a": x.dtype.type(a), "one": x.dtype.type(1)})
    return lambda x, g, a: ne.evaluate("where(x >= 0, g, a * g)", local_dict={"x": x, "g": g, "a": x.dtype.type(a)}, out=g)


_NUMBA_UFUNCS: dict = {}   # the three numba.vectorize ufuncs, compiled on first use


def _numba(op, dtype):
    if dtype.itemsize == 2:
        return None       # Numba compiles no float16 or bfloat16 arithmetic for the CPU
    if not _NUMBA_UFUNCS:
        numba = importlib.import_module("numba")
        sigs1 = ["float32(float32, float32)", "float64(float64, float64)"]
        sigs2 = ["float32(float32, float32, float32)", "float64(float64, float64, float64)"]

        @numba.vectorize(sigs1, target="parallel")
        def forward(x, a):
            return x if x >= 0 else a * x

        @numba.vectorize(sigs1, target="parallel")
        def derivative(x, a):
            return 1.0 if x >= 0 else a

        @numba.vectorize(sigs2, target="parallel")
        def backward(g, x, a):
            return g if x >= 0 else a * g

        _NUMBA_UFUNCS.update(forward=forward, derivative=derivative, backward=backward)
    u = _NUMBA_UFUNCS
    if op == "inplace":
        return lambda x, g, a: u["forward"](x, x.dtype.type(a), out=x)
    if op == "out":
        return lambda x, g, a: u["forward"](x, x.dtype.type(a))
    if op == "derivative":
        return lambda x, g, a: u["derivative"](x, x.dtype.type(a))
    return lambda x, g, a: u["backward"](g, x, x.dtype.type(a), out=g)


def _torch(op, dtype):
    torch = importlib.import_module("torch")
    F = torch.nn.functional
    if dtype.name == "bfloat16":
        # torch.from_numpy knows no ml_dtypes bfloat16: take the bits as int16 and view them as
        # torch's bfloat16, still sharing memory, so in-place calls write the NumPy array.
        def tensor(a):
            return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    else:
        tensor = torch.from_numpy
    if op == "inplace":
        return lambda x, g, a: F.leaky_relu_(tensor(x), a)
    if op == "out":
        return lambda x, g, a: F.leaky_relu(tensor(x), a)
    if op == "derivative":
        return None       # PyTorch has no public elementwise derivative of leaky_relu
    grad_input = torch.ops.aten.leaky_relu_backward.grad_input
    return lambda x, g, a: grad_input(tensor(g), tensor(x), a, False, grad_input=tensor(g))


# name -> (module it needs, factory(op, dtype) -> callable(x, grad, alpha) or None)
PEERS = {
    "listing": (None, _listing),
    "np.maximum": (None, _maximum),
    "numexpr": ("numexpr", _numexpr),
    "numba": ("numba", _numba),
    "torch": ("torch", _torch),
}


def available_peers(names=None):
    """(peers to run, {peer: reason it is skipped})."""
    run, skipped = [], {}
    for name in names or PEERS:
        module, _ = PEERS[name]
        if module is not None:
            try:
                importlib.import_module(module)
            except Exception as exc:  # ImportError, or a broken install
                skipped[name] = f"not installed ({type(exc).__name__}); pip install 'lrelu[bench]'"
                continue
        run.append(name)
    return run, skipped


def set_threads(n):
    """Give lrelu and every installed peer the same thread count."""
    lrelu.set_num_threads(n)
    for module, setter in (("torch", "set_num_threads"), ("numexpr", "set_num_threads"),
                           ("numba", "set_num_threads")):
        if module in sys.modules or importlib.util.find_spec(module) is not None:
            try:
                getattr(importlib.import_module(module), setter)(n)
            except Exception:
                pass


def measure(n, dtype, op, peers, rounds=None, target_seconds=1e-3, rng=None):
    """Time lrelu and peers on one (n, dtype, op). Returns rows (dicts), lrelu first."""
    rng = rng or np.random.default_rng(0)
    dtype = numpy_dtype(dtype)
    x = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype) if op == "backward" else None
    # In place and backward change their data, so alpha alternates; the rest keep alpha fixed.
    flip = 1 if op in ("inplace", "backward") else 0
    pair = alphas(dtype)
    calls = {}
    for name, factory in [("lrelu", _lrelu)] + [(name, PEERS[name][1]) for name in peers]:
        fn = factory(op, dtype)
        if fn is not None:
            mine_x = x.copy() if op == "inplace" else x
            mine_g = None if g is None else g.copy()
            calls[name] = lambda i, fn=fn, x=mine_x, g=mine_g: fn(x, g, pair[i & flip])
    # Overflow warnings would only come from np.maximum's own copy drifting to inf.
    with np.errstate(all="ignore"):
        times = timing.measure(calls, rounds=rounds, target_seconds=target_seconds,
                               settle_first=n * dtype.itemsize < timing.SETTLE_BELOW_BYTES)
    nbytes = STREAMS[op] * n * dtype.itemsize
    return [{"op": op, "dtype": dtype.name, "n": n, "contender": name,
             "seconds": statistics.median(times[name]), "gbps": nbytes / statistics.median(times[name]) / 1e9,
             "ratio": timing.ratio(times[name], times["lrelu"]),
             "rounds": len(times[name])}
            for name in calls]


def machine():
    """One line on where a report was measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, NumPy {np.__version__}, lrelu threads {lrelu.get_num_threads()}")


def run(sizes=QUICK_SIZES, dtypes=("float32", "float64"), ops=OPERATIONS, peers=None,
        progress=None, rounds=None):
    """All measurements; progress(done, total, label) is called after each one."""
    names, skipped = available_peers(peers)
    jobs = [(dt, op, n) for dt in dtypes for op in ops for n in sizes]
    rows = []
    for i, (dt, op, n) in enumerate(jobs):
        rows += measure(n, dt, op, names, rounds=rounds)
        if progress:
            progress(i + 1, len(jobs), f"{op} {dt} n={n:,}")
    return {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "threads": lrelu.get_num_threads(),
            "rows": rows, "skipped": skipped}


def _fmt_n(n):
    exp = int(round(math.log10(n))) if n > 0 else 0
    return f"1e{exp}" if n == 10 ** exp else f"{n:,}"


HEADER = """\
lrelu bench: how fast lrelu runs on this machine, against the NumPy code of the Leaky ReLU
glossary entry lrelu follows (lrelu.reference) and the peers installed, on the same arrays.
- GB/s: the bytes a call must read and write (x and the result; grad, x and the result for
  backward), divided by its median time per call.
- listing: the glossary entry's own code, np.where(x >= 0, x, alpha * x) (the derivative:
  np.where(x >= 0, 1.0, alpha)); it has no in-place form, so "inplace" times x = lrelu(x).
- np.maximum: np.maximum(x, alpha * x), the usual NumPy shortcut, right only for 0 <= alpha
  <= 1; a speed reference. Peers run on the thread count lrelu runs on.
- ×: how many times faster lrelu is than that peer (the median over alternating rounds of
  peer time / lrelu time; above 1, lrelu is faster).
- Memory ceiling: how fast this machine's memory streams arrays of the same shape, measured
  with lrelu's own loops over arrays much larger than the cache, with ordinary and with
  streaming (-nt) stores. Figures far above it come from the cache: those arrays fit in it."""


def _ceiling_report(found):
    """The memory-ceiling table: a row per stream, a column per dtype and thread count."""
    columns = [(threads, dt) for threads in sorted(found["gbps"], key=int) for dt in found["gbps"][threads]]
    stores = found["stores"]
    out = [f"### Memory ceiling (GB/s, best of {found['repetitions']} passes over "
           f"{found['array_bytes'] / 2**20:g} MiB arrays; stores: ordinary {stores['ordinary']}, "
           f"streaming {stores['streaming'] or 'n/a'})", "",
           "| stream | " + " | ".join(f"{dt}, {t} thread{'s' if int(t) > 1 else ''}" for t, dt in columns) + " |",
           "|---" * (len(columns) + 1) + "|"]
    for stream in ceiling.STREAMS:
        for name in (stream, stream + "-nt"):
            cells = [found["gbps"][t][dt].get(name) for t, dt in columns]
            out.append(f"| {name} | " + " | ".join("n/a" if g is None else f"{g:.1f}" for g in cells) + " |")
    tool = found.get("tool")
    if tool:
        out += ["", f"Your tool, {tool['path']} on {tool['threads']} threads: " + "; ".join(
            f"{dt} " + ", ".join(f"{name} {g:.1f}" for name, g in figures.items()) for dt, figures in tool["gbps"].items())]
    return out + [""]


def format_report(result):
    """The header, the memory ceiling, and a markdown table per dtype and operation: a row per
    size, a column per contender with GB/s and how many times faster lrelu is."""
    rows = result["rows"]
    found = result.get("ceiling")
    threads = result.get("threads")
    out = [HEADER, "", f"Machine: {result['machine']}", f"Date: {result['date']}", ""]
    if found:
        out += _ceiling_report(found)
    keys = []
    for r in rows:
        if (r["dtype"], r["op"]) not in keys:
            keys.append((r["dtype"], r["op"]))
    for dt, op in keys:
        sel = [r for r in rows if r["dtype"] == dt and r["op"] == op]
        names = list(dict.fromkeys(r["contender"] for r in sel))
        measured_as = ceiling.measured_as(dt)
        bound = found and ceiling.for_operation(found["gbps"].get(str(threads), {}).get(measured_as, {}), op)
        passes = f", {measured_as} passes" if measured_as != dt else ""
        limit = f"; memory ceiling {bound[0]:.1f} ({bound[1]}{passes})" if bound else ""
        out.append(f"### {op}, {dt}  (GB/s; ×: lrelu's speedup over that peer{limit})")
        out.append("")
        out.append("| n | " + " | ".join(names) + " |")
        out.append("|---" * (len(names) + 1) + "|")
        for n in dict.fromkeys(r["n"] for r in sel):
            cells = []
            for name in names:
                r = next((r for r in sel if r["n"] == n and r["contender"] == name), None)
                if r is None:
                    cells.append("")
                elif name == "lrelu":
                    cells.append(f"{r['gbps']:.1f}")
                else:
                    cells.append(f"{r['gbps']:.1f} ({r['ratio']:.2f}×)")
            out.append(f"| {_fmt_n(n)} | " + " | ".join(cells) + " |")
        out.append("")
    for name, why in result.get("skipped", {}).items():
        out.append(f"skipped {name}: {why}")
    return "\n".join(out)
