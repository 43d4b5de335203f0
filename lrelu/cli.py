"""lrelu's command line: ``lrelu info`` and ``lrelu bench`` (``python -m lrelu ...``)."""

import argparse
import sys


def _sizes(text):
    return tuple(int(float(s)) for s in text.split(",") if s.strip())


def _dtypes(text):
    return tuple(s.strip() for s in text.split(",") if s.strip())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lrelu", description="Leaky ReLU over NumPy arrays.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, OpenMP, threads, SIMD level")
    bench = sub.add_parser("bench", help="time lrelu against the document's NumPy code and installed peers")
    bench.add_argument("--quick", action="store_true", help="small sizes, in-place and out-of-place only")
    bench.add_argument("--sizes", type=_sizes, help="comma-separated, e.g. 1000,1e6")
    bench.add_argument("--dtype", type=_dtypes, default=("float32", "float64"))
    bench.add_argument("--threads", type=int)
    args = parser.parse_args(argv)

    from . import _bench, show_config
    if args.command == "info":
        show_config()
        return 0
    if args.threads:
        _bench.set_threads(args.threads)
    sizes = args.sizes or (_bench.QUICK_SIZES if args.quick else _bench.DEFAULT_SIZES)
    ops = ("inplace", "out") if args.quick else _bench.OPERATIONS
    result = _bench.run(sizes, args.dtype, ops,
                        progress=lambda i, total, label: print(f"[{i}/{total}] {label}", file=sys.stderr))
    print(_bench.format_report(result))
    return 0
