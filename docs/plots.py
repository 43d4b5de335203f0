"""The benchmark figures of the documentation, drawn from the recorded run in
bench/results/results.json (written by bench/report.py, the same run as BENCHMARKS.md).

    python docs/plots.py            # docs/_generated/: a PNG per dtype and bench_figures.md
    python docs/plots.py --readme   # the README's three speed figures, from the same JSON

conf.py runs it at the start of every build, so the site's plots always match the JSON.
The plots are lrelu bench --plot's own (lrelu.cli.plot), one image per dtype.
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "results.json"
OUT = ROOT / "docs" / "_generated"

# The README's three figures: (operation, dtype, n, peer, what the figure says).
HEADLINES = [
    ("inplace", "float32", 10**5, "torch", "in place, float32, 1e5 elements"),
    ("out", "float32", 10**8, "torch", "fresh result, float32, 1e8 elements"),
    ("inplace", "float32", 10**6, "listing", "in place, float32, 1e6 elements"),
]
PEERS = {"torch": "PyTorch", "listing": "listing 1 (`np.where`)"}


def load():
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    return data.get("result", data)


def _row(result, op, dtype, n, contender):
    for r in result["rows"]:
        if (r["op"], r["dtype"], r["n"], r["contender"]) == (op, dtype, n, contender):
            return r
    raise LookupError(f"{RESULTS.name} has no {op} {dtype} n={n} row for {contender}")


def headlines(result):
    """The README's speed figures, one line each, as the README holds them."""
    lines = []
    for op, dtype, n, peer, what in HEADLINES:
        ours, theirs = _row(result, op, dtype, n, "lrelu"), _row(result, op, dtype, n, peer)
        lines.append(f"- {what}: {ours['gbps']:.1f} GB/s, {theirs['ratio']:.2f}× the speed of {PEERS[peer]}")
    return lines


def provenance(result):
    """Date, machine and versions of the recorded run, as far as the JSON says them."""
    parts = [f"Recorded {result.get('date', '(no date)')} on {result.get('machine', '(no machine)')}"]
    if result.get("threads"):
        parts.append(f"{result['threads']} threads")
    versions = result.get("versions")
    if isinstance(versions, dict):
        parts.append(", ".join(f"{name} {version}" for name, version in versions.items()))
    return "; ".join(parts) + "."


def main():
    from lrelu.cli import plot

    result = load()
    OUT.mkdir(exist_ok=True)
    lines = ["Plots of the recorded run (`bench/results/results.json`), drawn by `docs/plots.py`",
             f"with `lrelu bench --plot`'s own code. {provenance(result)}", ""]
    for dtype in dict.fromkeys(r["dtype"] for r in result["rows"]):
        name = f"bench_{dtype}.png"
        plot.plot({**result, "rows": [r for r in result["rows"] if r["dtype"] == dtype]}, OUT / name)
        lines += [f"![GB/s against size, {dtype}]({name})", ""]
    lines += ["The README's figures, from the same run:", ""] + headlines(result)
    (OUT / "bench_figures.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--readme"]:
        print("\n".join(headlines(load())))
    else:
        main()
