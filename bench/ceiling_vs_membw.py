"""The memory ceiling `lrelu bench` measures in-process with lrelu's own loops
(lrelu/cli/ceiling.py), beside an external membw-like tool of yours (--membw or $LRELU_MEMBW,
run as `lrelu bench --membw` runs it), on the
same sizes, dtypes, thread counts and repetitions. Rounds alternate the two (lrelu.cli.timing);
each sample is the best of --repetitions passes per stream, as membw reports it, and the table
gives the median over rounds of each and their ratio.

    python bench/ceiling_vs_membw.py --membw PATH > bench/results/ceiling_vs_membw.log
"""

import argparse
import os
import statistics

from lrelu.cli import ceiling, timing


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--membw", default=os.environ.get("LRELU_MEMBW"),
                        help="path of the membw-like tool (default: $LRELU_MEMBW)")
    parser.add_argument("--sizes", default="1e6,1e8", help="comma-separated element counts")
    parser.add_argument("--dtype", default="float32,float64")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.membw:
        parser.error("give the tool: --membw PATH or LRELU_MEMBW=PATH")
    stores = ceiling.stores()
    print(f"Built-in loops: ordinary {stores['ordinary']}, streaming {stores['streaming'] or 'n/a'}; "
          f"best of {args.repetitions} passes per stream, median of {args.rounds} alternating rounds; GB/s")
    print()
    print("| threads | dtype | n | stream | membw | built-in | built-in / membw |")
    print("|---|---|---|---|---|---|---|")
    for threads in (int(t) for t in args.threads.split(",")):
        for dt in args.dtype.split(","):
            for n in (int(float(s)) for s in args.sizes.split(",")):
                samples = timing.alternate({
                    "membw": lambda: ceiling.run_tool(args.membw, n, dt, args.repetitions, threads=threads),
                    "built-in": lambda: ceiling.measure(n, dt, threads, args.repetitions),
                }, args.rounds)
                for stream in ceiling.STREAMS:
                    for name in (stream, stream + "-nt"):
                        tool = statistics.median(s[name] for s in samples["membw"])
                        mine = [s[name] for s in samples["built-in"]]
                        cells = ("n/a", "") if None in mine else (f"{statistics.median(mine):.1f}",
                                                                  f"{statistics.median(mine) / tool:.2f}")
                        print(f"| {threads} | {dt} | {n:.0e} | {name} | {tool:.1f} | {cells[0]} | {cells[1]} |",
                              flush=True)


if __name__ == "__main__":
    main()
