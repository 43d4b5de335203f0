"""The benchmark report: lrelu against the document's listing and every peer installed.

Timing is alternating: every round times each contender once (a batch of calls sized to
take about a millisecond), reversing the order every other round, so drift on a shared
machine hits all of them alike. A contender's figure is the median over rounds; its ratio
to lrelu is the median of the per-round ratios (peer time / lrelu time: above 1 means lrelu
is faster).

In-place operations alternate alpha between 0.01 and 100 on successive calls, for every
contender, so repeated calls neither decay values into subnormals (which are slow on some
CPUs) nor need an untimed copy between calls. Each contender works on its own copy of the
data, so no peer can change what another is timed on (np.maximum(x, alpha*x), wrong for
alpha > 1, drifts its own copy toward 0 and inf; it is a speed reference only).

Before each timed batch of an array under 32 MiB, the contender runs untimed for about as
long as the batch, so it is timed from its own steady state and not from the caches, heap
and idle threads the previous contender left. After a 5 ms call of the listing, the next
contender's calls ran 2-2.5x slower for the first ~1.5 ms (1e6 float32, out of place, 2-core
EPYC). Without settling, that transient landed on lrelu and torch unevenly and their ratio
there swung from 0.51x to 2.2x between full runs.
"""

import importlib
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

from . import _api, reference

OPERATIONS = ("inplace", "out", "derivative", "backward")
# Arrays each call reads or writes, for GB/s: in place reads x and writes x; backward reads
# grad and x and writes grad.
STREAMS = {"inplace": 2, "out": 2, "derivative": 2, "backward": 3}
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000)
QUICK_SIZES = (1_000, 100_000, 1_000_000, 10_000_000)
ALPHAS = (0.01, 100.0)
# glibc's largest dynamic mmap threshold: a result at least this big is fresh mmapped pages
# for every contender whatever ran before it, so no untimed settling calls are needed there.
SETTLE_BELOW_BYTES = 32 * 2**20


def _lrelu(op, dtype):
    if op == "inplace":
        return lambda x, g, a: _api.leaky_relu_(x, a)
    if op == "out":
        return lambda x, g, a: _api.leaky_relu(x, a)
    if op == "derivative":
        return lambda x, g, a: _api.leaky_relu_derivative(x, a)
    return lambda x, g, a: _api.leaky_relu_backward(g, x, a, out=g)


def _listing(op, dtype):
    # The document's code as written: it has no in-place form, so "inplace" times the same
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
    if op == "inplace":
        return lambda x, g, a: F.leaky_relu_(torch.from_numpy(x), a)
    if op == "out":
        return lambda x, g, a: F.leaky_relu(torch.from_numpy(x), a)
    if op == "derivative":
        return None       # PyTorch has no public elementwise derivative of leaky_relu
    grad_input = torch.ops.aten.leaky_relu_backward.grad_input
    return lambda x, g, a: grad_input(torch.from_numpy(g), torch.from_numpy(x), a, False,
                                      grad_input=torch.from_numpy(g))


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
    from . import _threads
    _threads.set_num_threads(n)
    for module, setter in (("torch", "set_num_threads"), ("numexpr", "set_num_threads"),
                           ("numba", "set_num_threads")):
        if module in sys.modules or importlib.util.find_spec(module) is not None:
            try:
                getattr(importlib.import_module(module), setter)(n)
            except Exception:
                pass


def _time_batch(fn, x, g, calls, alpha_flip):
    start = time.perf_counter()
    for i in range(calls):
        fn(x, g, ALPHAS[i & 1] if alpha_flip else ALPHAS[0])
    return (time.perf_counter() - start) / calls


def _settle(fn, x, g, alpha_flip, seconds):
    """Call fn untimed, in pairs (so in place alpha flips back), for about `seconds`.
    Returns the last pair's time per call: the steady state, for sizing batches."""
    end = time.perf_counter() + seconds
    while True:
        t = _time_batch(fn, x, g, 2, alpha_flip)
        if time.perf_counter() >= end:
            return t


def measure(n, dtype, op, peers, rounds=None, target_seconds=1e-3, rng=None):
    """Time lrelu and peers on one (n, dtype, op). Returns rows (dicts), lrelu first."""
    rng = rng or np.random.default_rng(0)
    dtype = np.dtype(dtype)
    contenders = [("lrelu", _lrelu(op, dtype))]
    for name in peers:
        fn = PEERS[name][1](op, dtype)
        if fn is not None:
            contenders.append((name, fn))
    x = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype) if op == "backward" else None
    # Every contender changes only its own copy: sharing one array let np.maximum, which is
    # wrong for alpha > 1, grow it toward inf and shrink it toward 0 for everyone timed after.
    data = {name: (x.copy() if op == "inplace" else x, None if g is None else g.copy())
            for name, _ in contenders}
    flip = op in ("inplace", "backward")
    calls, per_call = {}, {}
    # Overflow warnings would only come from np.maximum's own copy drifting to inf.
    with np.errstate(all="ignore"):
        for name, fn in contenders:                       # warm up, and size the batches
            per_call[name] = _settle(fn, *data[name], flip, 2 * target_seconds)
            calls[name] = max(2, min(10_000, int(target_seconds / max(per_call[name], 1e-9)))) & ~1
        if rounds is None:
            per_round = sum(calls[name] * per_call[name] for name, _ in contenders)
            # At least 11 rounds: with fewer, one slow round (a page-cache or THP hiccup, another
            # pool's threads still spinning) moved the 1e7 ratios by 30 % between runs.
            rounds = int(min(31, max(11, 2.0 / max(per_round, 1e-9))))
        times = {name: [] for name, _ in contenders}
        settle = n * dtype.itemsize < SETTLE_BELOW_BYTES
        for r in range(rounds):
            order = contenders if r % 2 == 0 else contenders[::-1]
            for name, fn in order:
                if settle:
                    _settle(fn, *data[name], flip, target_seconds)
                times[name].append(_time_batch(fn, *data[name], calls[name], flip))
    nbytes = STREAMS[op] * n * dtype.itemsize
    base = times["lrelu"]
    rows = []
    for name, _ in contenders:
        med = statistics.median(times[name])
        rows.append({
            "op": op, "dtype": dtype.name, "n": n, "contender": name,
            "seconds": med, "gbps": nbytes / med / 1e9,
            "ratio": statistics.median(t / b for t, b in zip(times[name], base)),
            "rounds": rounds, "calls_per_round": calls[name],
        })
    return rows


def machine():
    """One line on where a report was measured."""
    from . import _threads
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, NumPy {np.__version__}, lrelu threads {_threads.get_num_threads()}")


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
    return {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "rows": rows, "skipped": skipped}


# membw's columns for each operation: what a call of that kind must move at best.
CEILING_COLUMN = {"inplace": "inplace", "out": "out-fresh", "derivative": "out-fresh", "backward": "backward"}


def parse_membw(text):
    """{column: GB/s} from one line of ../shared/tools/membw output, e.g.
    'float32 n=1000 threads=2  inplace 0.002 ms 4.8 GB/s | out 0.001 ms 6.0 GB/s | ...'."""
    found = {}
    for part in text.split("|"):
        words = part.split()
        if "GB/s" in words:
            i = words.index("GB/s")
            found[words[i - 4]] = float(words[i - 1])
    return found


def membw_ceilings(tool, sizes, dtypes, repetitions=10):
    """{(dtype, n): {column: GB/s}} by running the membw tool once per size and dtype."""
    import subprocess
    result = {}
    for dt in dtypes:
        for n in sizes:
            out = subprocess.run([tool, str(n), dt, str(repetitions)], capture_output=True, text=True, check=True)
            result[(dt, n)] = parse_membw(out.stdout)
    return result


def _fmt_n(n):
    exp = int(round(math.log10(n))) if n > 0 else 0
    return f"1e{exp}" if n == 10 ** exp else f"{n:,}"


def format_report(result):
    """Markdown tables: one per dtype and operation, a row per size, a column per contender
    with GB/s and how many times faster lrelu is (>1: lrelu faster)."""
    rows = result["rows"]
    out = [f"Machine: {result['machine']}", f"Date: {result['date']}", ""]
    keys = []
    for r in rows:
        if (r["dtype"], r["op"]) not in keys:
            keys.append((r["dtype"], r["op"]))
    for dt, op in keys:
        sel = [r for r in rows if r["dtype"] == dt and r["op"] == op]
        names = list(dict.fromkeys(r["contender"] for r in sel))
        out.append(f"### {op}, {dt}  (GB/s; ×: lrelu's speedup over that peer, median of alternating rounds)")
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
