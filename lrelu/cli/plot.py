"""``lrelu bench --plot``: throughput against size, a panel per dtype and operation, a line per
contender, and the machine's memory ceiling; points the report marks noisy or busy are ringed. Both axes are logarithmic: the contenders span
two orders of magnitude (BENCHMARKS.md), and on a linear axis the slow ones lie flat on zero. One legend for the figure sits outside the panels, so it
never covers a line. matplotlib is optional (``pip install matplotlib``).
"""

import importlib

from . import ceiling


def matplotlib_missing():
    """None if matplotlib can be imported, else a one-line hint."""
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        return "--plot needs matplotlib, which is not installed: pip install matplotlib"
    return None


def ceiling_lines(result, dtype, op):
    """[(GB/s, label, line style)] of the memory ceilings to mark on one panel: the built-in
    one on every thread count it was measured with, and the user's tool's (float32's for a
    16-bit dtype, as ceiling.MEASURED_AS says)."""
    found = result.get("ceiling") or {}
    dtype = ceiling.measured_as(dtype)
    lines = []
    for threads, styles in zip(sorted(found.get("gbps", {}), key=int, reverse=True), ("--", ":")):
        best = ceiling.for_operation(found["gbps"][threads].get(dtype, {}), op)
        if best:
            lines.append((best[0], f"memory ceiling, {threads} thread{'s' if int(threads) > 1 else ''}", styles))
    best = ceiling.for_operation(found.get("tool", {}).get("gbps", {}).get(dtype, {}), op)
    if best:
        lines.append((best[0], "memory ceiling, your tool", "-."))
    return lines


def plot(result, path):
    """Write a PNG of GB/s against n of ``result`` (as ``lrelu bench --json`` saves it)."""
    from matplotlib.figure import Figure   # no pyplot: no global state, no display needed

    rows = result["rows"]
    dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
    ops = list(dict.fromkeys(r["op"] for r in rows))
    contenders = list(dict.fromkeys(r["contender"] for r in rows))
    colors = {name: f"C{i % 10}" for i, name in enumerate(contenders)}
    fig = Figure(figsize=(4.2 * len(ops) + 1.8, 3.4 * len(dtypes) + 0.6), layout="constrained")
    axes = fig.subplots(len(dtypes), len(ops), squeeze=False)
    for i, dt in enumerate(dtypes):
        for j, op in enumerate(ops):
            ax = axes[i][j]
            for name in contenders:
                sel = sorted((r["n"], r["gbps"], bool(r.get("noisy") or r.get("busy"))) for r in rows
                             if r["dtype"] == dt and r["op"] == op and r["contender"] == name)
                if sel:
                    ax.plot([n for n, _, _ in sel], [g for _, g, _ in sel], marker="o", color=colors[name],
                            label=name, linewidth=2.5 if name == "lrelu" else 1.2)
                doubtful = [(n, g) for n, g, bad in sel if bad]
                if doubtful:      # a ring around each point the report marks noisy or busy
                    ax.scatter(*zip(*doubtful), s=150, facecolors="none", edgecolors="0.2",
                               label="noisy or busy (bench report)")
            for gbps, label, style in ceiling_lines(result, dt, op):
                ax.axhline(gbps, color="0.3", linestyle=style, linewidth=1, label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{op}, {dt}")
            ax.set_xlabel("elements")
            ax.set_ylabel("GB/s")
            ax.grid(True, which="both", alpha=0.3)
    # One legend for all panels, from whichever panel has the most entries.
    handles, labels = max((ax.get_legend_handles_labels() for ax in fig.axes), key=lambda hl: len(hl[1]))
    fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    fig.suptitle(f"lrelu bench, {result.get('date', '')}\n{result.get('machine', '')}", fontsize="small")
    fig.savefig(path, format="png", dpi=100)
