"""``lrelu bench --plot``: throughput against size, one line per contender, and the machine's
memory ceiling when it is known.

The ceiling comes from a membw-like tool (``--membw PATH`` or ``LRELU_MEMBW=PATH``), run as
``PATH N DTYPE REPS``, which prints per stream ``inplace X ms Y GB/s | out ... | out-fresh ...
| backward ...``; or from ``LRELU_MEMBW=GBPS``, one number for every panel. matplotlib is an
optional dependency (``pip install 'lrelu[plot]'``).
"""

import importlib
import os
import re
import subprocess

# Which of the tool's streams bounds each benchmark operation: lrelu's "out" and "derivative"
# allocate their result, so they pay for fresh pages as "out-fresh" does; in place reads and
# writes one array; backward reads two and writes one.
CEILING_STREAM = {"inplace": "inplace", "out": "out-fresh", "derivative": "out-fresh", "backward": "backward"}
# Elements per array when measuring the ceiling: 64 MiB of float64, far past any cache here,
# and four such arrays stay well under the memory a benchmark may use.
CEILING_ELEMENTS = 2**23

_STREAM = re.compile(r"(?<![\w-])(inplace|out-fresh|out|backward)\s+[\d.]+\s*ms\s+([\d.]+)\s*GB/s")


class CeilingError(Exception):
    """The memory ceiling could not be measured; the plot goes on without it."""


def matplotlib_missing():
    """None if matplotlib can be imported, else a one-line hint."""
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        return "--plot needs matplotlib, which is not installed: pip install 'lrelu[plot]'"
    return None


def parse_membw(text):
    """{stream: GB/s} from the tool's output line."""
    found = {name: float(gbps) for name, gbps in _STREAM.findall(text)}
    if not found:
        raise CeilingError(f"no 'NAME X ms Y GB/s' figures in its output: {text.strip()[:200]!r}")
    return found


def measure_ceilings(dtypes, tool=None, threads=None, timeout=300):
    """{dtype: {stream: GB/s}} from ``tool`` or the LRELU_MEMBW environment variable, or None
    when neither names one. Raises CeilingError when the tool fails."""
    spec = tool or os.environ.get("LRELU_MEMBW")
    if not spec:
        return None
    try:
        gbps = float(spec)
    except ValueError:
        pass
    else:
        return {dt: {stream: gbps for stream in set(CEILING_STREAM.values())} for dt in dtypes}
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)     # the ceiling for the threads lrelu ran with
    ceilings = {}
    for dt in dtypes:
        try:
            done = subprocess.run([spec, str(CEILING_ELEMENTS), dt, "5"], capture_output=True, text=True,
                                  timeout=timeout, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CeilingError(f"cannot run {spec}: {exc}") from None
        if done.returncode != 0:
            raise CeilingError(f"{spec} exited with status {done.returncode}: {done.stderr.strip()[:200]}")
        ceilings[dt] = parse_membw(done.stdout)
    return ceilings


def plot(result, path, ceilings=None):
    """Write a PNG of GB/s against n (log scale), a panel per (dtype, operation) of ``result``
    (as ``lrelu._bench.run`` returns it), a line per contender, the ceiling dashed."""
    from matplotlib.figure import Figure   # no pyplot: no global state, no display needed

    rows = result["rows"]
    dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
    ops = list(dict.fromkeys(r["op"] for r in rows))
    contenders = list(dict.fromkeys(r["contender"] for r in rows))
    colors = {name: f"C{i % 10}" for i, name in enumerate(contenders)}
    fig = Figure(figsize=(4.8 * len(ops), 3.6 * len(dtypes) + 0.6), layout="constrained")
    axes = fig.subplots(len(dtypes), len(ops), squeeze=False)
    for i, dt in enumerate(dtypes):
        for j, op in enumerate(ops):
            ax = axes[i][j]
            for name in contenders:
                sel = sorted((r["n"], r["gbps"]) for r in rows
                             if r["dtype"] == dt and r["op"] == op and r["contender"] == name)
                if sel:
                    ax.plot([n for n, _ in sel], [g for _, g in sel], marker="o", color=colors[name],
                            label=name, linewidth=2.5 if name == "lrelu" else 1.2)
            ceiling = (ceilings or {}).get(dt, {}).get(CEILING_STREAM.get(op))
            if ceiling:
                ax.axhline(ceiling, color="0.3", linestyle="--", linewidth=1,
                           label=f"memory ceiling ({ceiling:.1f} GB/s)")
            ax.set_xscale("log")
            ax.set_ylim(bottom=0)
            ax.set_title(f"{op}, {dt}")
            ax.set_xlabel("elements")
            ax.set_ylabel("GB/s")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize="small")
    fig.suptitle(f"lrelu bench, {result.get('date', '')}\n{result.get('machine', '')}", fontsize="small")
    fig.savefig(path, format="png", dpi=100)
