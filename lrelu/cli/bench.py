"""The benchmark behind `lrelu bench` and bench/report.py: lrelu against the glossary entry's
listing and every peer installed, on the same data, timed alternately by lrelu.cli.timing
(see there for how). CONTENDERS is the one registry of contenders; bench/ scripts that time a
peer take it from there (contender(name, op, dtype)).

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

# The default run's operations; "outarg" (leaky_relu(x, out=y), y preallocated) on request.
OPERATIONS = ("inplace", "out", "derivative", "backward")
ALL_OPERATIONS = OPERATIONS + ("outarg",)
# Arrays each call reads or writes, for GB/s: in place reads x and writes x; backward reads
# grad and x and writes grad.
STREAMS = {"inplace": 2, "out": 2, "outarg": 2, "derivative": 2, "backward": 3}
# A contender whose rounds in one cell spread more than this (slowest / fastest) met another
# process's work: its figure is marked noisy instead of shown as clean.
NOISY_SPREAD = 3.0
# A cell during which other processes kept more than this many CPUs busy (Linux) is marked
# busy: even rounds that agree can all be slowed alike (a peer's threads waiting on a CPU
# another process holds slow every round of a small call, not just one).
BUSY_CPUS = 0.5
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
    if op == "outarg":
        return lambda x, g, a: lrelu.leaky_relu(x, a, out=g)
    if op == "derivative":
        return lambda x, g, a: lrelu.leaky_relu_derivative(x, a)
    return lambda x, g, a: lrelu.leaky_relu_backward(g, x, a, out=g)


def _listing(op, dtype):
    # The glossary entry's code as written: it has no in-place form, so "inplace" times the same
    # call a user of the listing would write, x = lrelu(x); nor an out= form.
    if op in ("inplace", "out"):
        return lambda x, g, a: reference.lrelu(x, a)
    if op == "outarg":
        return None
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
    if op == "outarg":
        return lambda x, g, a: np.maximum(x, x * a, out=g)
    return None


def _numexpr(op, dtype):
    if dtype.itemsize == 2:
        return None       # numexpr has no float16 or bfloat16
    ne = importlib.import_module("numexpr")
    forward = "where(x >= 0, x, a * x)"
    if op == "inplace":
        return lambda x, g, a: ne.evaluate(forward, local_dict={"x": x, "a": x.dtype.type(a)}, out=x)
    if op == "out":
        return lambda x, g, a: ne.evaluate(forward, local_dict={"x": x, "a": x.dtype.type(a)})
    if op == "outarg":
        return lambda x, g, a: ne.evaluate(forward, local_dict={"x": x, "a": x.dtype.type(a)}, out=g)
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
    if op == "outarg":
        return lambda x, g, a: u["forward"](x, x.dtype.type(a), out=g)
    if op == "derivative":
        return lambda x, g, a: u["derivative"](x, x.dtype.type(a))
    return lambda x, g, a: u["backward"](g, x, x.dtype.type(a), out=g)


def torch_tensor(dtype):
    """array -> a torch tensor sharing its memory, for arrays of dtype."""
    torch = importlib.import_module("torch")
    if numpy_dtype(dtype).name == "bfloat16":
        # torch.from_numpy knows no ml_dtypes bfloat16: take the bits as int16 and view them as
        # torch's bfloat16, still sharing memory, so in-place calls write the NumPy array.
        return lambda a: torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy


def _torch(op, dtype):
    torch = importlib.import_module("torch")
    F = torch.nn.functional
    tensor = torch_tensor(dtype)
    if op == "inplace":
        return lambda x, g, a: F.leaky_relu_(tensor(x), a)
    if op == "out":
        return lambda x, g, a: F.leaky_relu(tensor(x), a)
    if op == "outarg":
        return lambda x, g, a: torch.ops.aten.leaky_relu.out(tensor(x), a, out=tensor(g))
    if op == "derivative":
        return None       # PyTorch has no public elementwise derivative of leaky_relu
    grad_input = torch.ops.aten.leaky_relu_backward.grad_input
    return lambda x, g, a: grad_input(tensor(g), tensor(x), a, False, grad_input=tensor(g))


# The contender registry: name -> (module it needs, what to install for it, factory(op, dtype)
# -> callable(x, grad, alpha) or None where the contender has no such operation). For "outarg"
# grad is the preallocated result; for "backward" it is the gradient, updated in place.
CONTENDERS = {
    "lrelu": (None, None, _lrelu),
    "listing": (None, None, _listing),
    "np.maximum": (None, None, _maximum),
    "numexpr": ("numexpr", "pip install numexpr", _numexpr),
    "numba": ("numba", "pip install numba", _numba),
    "torch": ("torch", "pip install torch --index-url https://download.pytorch.org/whl/cpu (the CPU build; docs: Benchmarks)", _torch),
}
PEERS = tuple(name for name in CONTENDERS if name != "lrelu")


def contender(name, op, dtype):
    """The registry's callable(x, grad, alpha) for one contender, operation and dtype, or None
    where that contender has no such operation."""
    return CONTENDERS[name][2](op, numpy_dtype(dtype))


def available_peers(names=None):
    """(peers to run, {peer: reason it is skipped})."""
    run, skipped = [], {}
    for name in names or PEERS:
        module, install, _ = CONTENDERS[name]
        if module is not None:
            try:
                importlib.import_module(module)
            except Exception as exc:  # ImportError, or a broken install
                skipped[name] = f"not installed ({type(exc).__name__}); {install}"
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


def summarize(op, dtype, n, times, others=None):
    """Rows (dicts) of one cell from {contender: [seconds per call, one per round]}, lrelu
    first. GB/s and × come from the same statistic, the median time over the same rounds, so
    a row never contradicts itself: × is the peer's median / lrelu's median, which is exactly
    lrelu's GB/s / the peer's. Every round is kept ("times"), with the quartiles; a row whose
    own rounds, or lrelu's, spread more than NOISY_SPREAD× (slowest / fastest) is "noisy";
    ``others``, the CPUs other processes kept busy meanwhile (timing.others_cpus), makes every
    row of the cell "busy" above BUSY_CPUS."""
    nbytes = STREAMS[op] * n * numpy_dtype(dtype).itemsize
    stats = {name: _stats(t) for name, t in times.items()}
    base = stats["lrelu"]
    return [{"op": op, "dtype": numpy_dtype(dtype).name, "n": n, "contender": name,
             "seconds": s["median"], "gbps": nbytes / s["median"] / 1e9,
             "ratio": s["median"] / base["median"], "rounds": len(times[name]),
             "quartiles": s["quartiles"], "spread": s["spread"],
             "noisy": max(s["spread"], base["spread"]) > NOISY_SPREAD,
             "others_cpus": others, "busy": others is not None and others > BUSY_CPUS, "times": list(times[name])}
            for name, s in stats.items()]


def _stats(times):
    median = statistics.median(times)
    quartiles = (statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [median] * 3)
    return {"median": median, "quartiles": [quartiles[0], median, quartiles[2]],
            "spread": max(times) / min(times)}


def measure(n, dtype, op, peers, rounds=None, target_seconds=1e-3, rng=None):
    """Time lrelu and peers on one (n, dtype, op). Returns rows (dicts), lrelu first."""
    rng = rng or np.random.default_rng(0)
    dtype = numpy_dtype(dtype)
    x = rng.standard_normal(n).astype(dtype)
    g = (rng.standard_normal(n).astype(dtype) if op == "backward"
         else np.empty_like(x) if op == "outarg" else None)
    # In place and backward change their data, so alpha alternates; the rest keep alpha fixed.
    flip = 1 if op in ("inplace", "backward") else 0
    pair = alphas(dtype)
    calls = {}
    for name in ["lrelu"] + list(peers):
        fn = contender(name, op, dtype)
        if fn is not None:
            mine_x = x.copy() if op == "inplace" else x
            mine_g = None if g is None else g.copy()
            calls[name] = lambda i, fn=fn, x=mine_x, g=mine_g: fn(x, g, pair[i & flip])
    # Overflow warnings would only come from np.maximum's own copy drifting to inf.
    before = timing.cpu_snapshot()
    with np.errstate(all="ignore"):
        times = timing.measure(calls, rounds=rounds, target_seconds=target_seconds,
                               settle_first=n * dtype.itemsize < timing.SETTLE_BELOW_BYTES)
    return summarize(op, dtype, n, times, timing.others_cpus(before, timing.cpu_snapshot()))


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
    before = timing.cpu_snapshot()
    for i, (dt, op, n) in enumerate(jobs):
        rows += measure(n, dt, op, names, rounds=rounds)
        if progress:
            progress(i + 1, len(jobs), f"{op} {dt} n={n:,}")
    return {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "threads": lrelu.get_num_threads(),
            "noisy_spread": NOISY_SPREAD, "others_cpus": timing.others_cpus(before, timing.cpu_snapshot()),
            "rows": rows, "skipped": skipped}


def measure_ceiling(dtypes, threads, array_bytes, passes, progress=None):
    """The built-in memory ceiling (ceiling.builtin) as the best of ``passes`` single passes,
    keeping every pass's GB/s under "passes" ({threads: {dtype: {stream: [GB/s, ...]}}}) so the
    report can show how far they spread: on a busy machine even the best pass moves several-fold
    between runs, and the best alone would not say so."""
    runs = []
    for i in range(passes):
        step = None if progress is None else (lambda done, total, label, i=i: progress(i * total + done, passes * total, label))
        runs.append(ceiling.builtin(dtypes, threads, array_bytes, repetitions=1, progress=step))
    found = dict(runs[0], repetitions=passes, passes={}, gbps={})
    for t, by_dtype in runs[0]["gbps"].items():
        for dt, figures in by_dtype.items():
            every = {name: [r["gbps"][t][dt][name] for r in runs] for name in figures}
            found["passes"].setdefault(t, {})[dt] = every
            found["gbps"].setdefault(t, {})[dt] = {name: None if None in g else max(g) for name, g in every.items()}
    return found


def _fmt_n(n):
    exp = int(round(math.log10(n))) if n > 0 else 0
    return f"1e{exp}" if n == 10 ** exp else f"{n:,}"


HEADER = """\
lrelu bench: how fast lrelu runs on this machine, against the NumPy code of the Leaky ReLU
glossary entry lrelu follows (lrelu.reference) and the peers installed, on the same arrays.
- GB/s: the bytes a call must read and write (x and the result; grad, x and the result for
  backward), divided by its median time per call over alternating rounds.
- listing: the glossary entry's own code, np.where(x >= 0, x, alpha * x) (the derivative:
  np.where(x >= 0, 1.0, alpha)); it has no in-place form, so "inplace" times x = lrelu(x).
- np.maximum: np.maximum(x, alpha * x), the usual NumPy shortcut, right only for 0 <= alpha
  <= 1; a speed reference. Peers run on the thread count lrelu runs on.
- ×: how many times faster lrelu is than that peer: the peer's median time / lrelu's, from
  the same rounds as the GB/s, so lrelu's GB/s / the peer's GB/s (above 1, lrelu is faster).
- noisy: that contender's rounds, or lrelu's, spread more than 3× (slowest / fastest round).
  busy (beside the size): other processes kept more than half a CPU busy while that row was
  timed, so even steady rounds may all be slowed. Neither figure is to be trusted: run again
  on a quiet machine. --json keeps every round.
- Memory ceiling: how fast this machine's memory streams arrays of the same shape, measured
  with lrelu's own loops over arrays much larger than the cache, with ordinary and with
  streaming (-nt) stores: the best pass, and (in brackets) the slowest and fastest passes.
  Figures far above it come from the cache: those arrays fit in it."""


def _ceiling_report(found):
    """The memory-ceiling table: a row per stream, a column per dtype and thread count."""
    columns = [(threads, dt) for threads in sorted(found["gbps"], key=int) for dt in found["gbps"][threads]]
    stores = found["stores"]
    passes = found.get("passes", {})
    out = [f"### Memory ceiling (GB/s, best of {found['repetitions']} passes over "
           f"{found['array_bytes'] / 2**20:g} MiB arrays; stores: ordinary {stores['ordinary']}, "
           f"streaming {stores['streaming'] or 'n/a'})", "",
           "| stream | " + " | ".join(f"{dt}, {t} thread{'s' if int(t) > 1 else ''}" for t, dt in columns) + " |",
           "|---" * (len(columns) + 1) + "|"]

    def cell(t, dt, name):
        best = found["gbps"][t][dt].get(name)
        every = passes.get(t, {}).get(dt, {}).get(name)
        if best is None:
            return "n/a"
        return f"{best:.1f} ({min(every):.1f}–{max(every):.1f})" if every and len(every) > 1 else f"{best:.1f}"

    for stream in ceiling.STREAMS:
        for name in (stream, stream + "-nt"):
            out.append(f"| {name} | " + " | ".join(cell(t, dt, name) for t, dt in columns) + " |")
    tool = found.get("tool")
    if tool:
        out += ["", f"Your tool, {tool['path']} on {tool['threads']} threads: " + "; ".join(
            f"{dt} " + ", ".join(f"{name} {g:.1f}" for name, g in figures.items()) for dt, figures in tool["gbps"].items())]
    return out + [""]


def cell(row, first=False):
    """One table cell: GB/s, and for a peer (lrelu's speedup over it), marked noisy when its
    rounds or lrelu's spread too far (row["noisy"]; rows saved without rounds have none)."""
    figure = f"{row['gbps']:.1f}" if first else f"{row['gbps']:.1f} ({row['ratio']:.2f}×)"
    return figure + (" noisy" if row.get("noisy") else "")


def consistent(rows):
    """rows with each ratio recomputed as the peer's median time / lrelu's in the same cell,
    the statistic the GB/s come from (rows saved before ratios were computed that way)."""
    base = {(r["op"], r["dtype"], r["n"]): r["seconds"] for r in rows if r["contender"] == "lrelu"}
    return [dict(r, ratio=r["seconds"] / base[(r["op"], r["dtype"], r["n"])]) for r in rows]


def noisy_note(rows):
    """A line saying how many figures were noisy or busy, or nothing."""
    noisy = sum(1 for r in rows if r.get("noisy"))
    busy = [r["others_cpus"] for r in rows if r.get("busy")]
    if not noisy and not busy:
        return []
    return [f"Not a quiet run: of {len(rows)} figures, {noisy} are noisy (rounds spread more than "
            f"{NOISY_SPREAD:g}×) and {len(busy)} were timed while other processes kept "
            f"{min(busy, default=0):.1f} to {max(busy, default=0):.1f} CPUs busy. Run again when the machine is quiet.", ""]


def size_label(sel, n):
    """The n column: the size, and how busy the machine was if it was."""
    busy = next((r["others_cpus"] for r in sel if r["n"] == n and r.get("busy")), None)
    return _fmt_n(n) + (f" (busy: others {busy:.1f} CPUs)" if busy is not None else "")


def format_report(result):
    """The header, the memory ceiling, and a markdown table per dtype and operation: a row per
    size, a column per contender with GB/s and how many times faster lrelu is."""
    rows = result["rows"]
    found = result.get("ceiling")
    threads = result.get("threads")
    out = [HEADER, "", f"Machine: {result['machine']}", f"Date: {result['date']}", ""]
    if found:
        out += _ceiling_report(found)
    others = result.get("others_cpus")
    if others is not None and others > BUSY_CPUS:
        # Also for cells too short to tell on their own (others_cpus needs 0.2 s).
        out += [f"Other processes kept {others:.1f} CPUs busy, on average, while the tables below were timed.", ""]
    out += noisy_note(rows)
    keys = []
    for r in rows:
        if (r["dtype"], r["op"]) not in keys:
            keys.append((r["dtype"], r["op"]))
    for dt, op in keys:
        sel = [r for r in rows if r["dtype"] == dt and r["op"] == op]
        names = list(dict.fromkeys(r["contender"] for r in sel))
        measured_as = ceiling.measured_as(dt)
        limit = found and ceiling.for_operation(found["gbps"].get(str(threads), {}).get(measured_as, {}), op)
        passes = f", {measured_as} passes" if measured_as != dt else ""
        limit = f"; memory ceiling {limit[0]:.1f} ({limit[1]}{passes})" if limit else ""
        out.append(f"### {op}, {dt}  (GB/s; ×: lrelu's speedup over that peer{limit})")
        out.append("")
        out.append("| n | " + " | ".join(names) + " |")
        out.append("|---" * (len(names) + 1) + "|")
        for n in dict.fromkeys(r["n"] for r in sel):
            cells = []
            for name in names:
                r = next((r for r in sel if r["n"] == n and r["contender"] == name), None)
                cells.append("" if r is None else cell(r, first=name == "lrelu"))
            out.append(f"| {size_label(sel, n)} | " + " | ".join(cells) + " |")
        out.append("")
    for name, why in result.get("skipped", {}).items():
        out.append(f"skipped {name}: {why}")
    return "\n".join(out)
