"""lrelu's command line: ``lrelu info | bench | apply`` (also ``python -m lrelu ...``).

Exit status: 0 done; 1 bad input or a failure, reported as one line on stderr (no traceback,
nothing left behind); 2 a malformed command line. Progress bars need tqdm and plots need
matplotlib, both optional (``pip install 'lrelu[cli]'``): without tqdm the work runs with no
bar; without matplotlib ``bench --plot`` stops before benchmarking, with a hint and status 1.
"""

import argparse
import json
import os
import sys

from . import _apply, _bench, _config, _plot
from ._api import _checked_alpha

EXIT_ERROR = 1


class CommandError(Exception):
    """A one-line error for the user."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, as for every other bad input; --help has the usage.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Progress:
    """progress(done, total, label=None) drawing a tqdm bar on stderr, or nothing at all when
    tqdm is not installed: the work itself never depends on it."""

    def __init__(self, **options):
        try:
            from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no stubs
        except ImportError:
            tqdm = None
        self._tqdm, self._options, self._bar = tqdm, options, None

    def __call__(self, done, total, label=None):
        if self._tqdm is None:
            return
        if self._bar is None:
            self._bar = self._tqdm(total=total, file=sys.stderr, **self._options)
        if label:
            self._bar.set_postfix_str(label, refresh=False)
        self._bar.update(done - self._bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()


def _positive(kind, text, convert):
    try:
        value = convert(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{kind} must be a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{kind} must be a positive number, got {text!r}")
    return value


def _sizes(text):
    sizes = tuple(_positive("a size", s.strip(), lambda s: int(float(s))) for s in text.split(",") if s.strip())
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one size, e.g. 1000,1e6")
    return sizes


BENCH_DTYPES = ("float32", "float64")


def _dtypes(text):
    dtypes = tuple(s.strip() for s in text.split(",") if s.strip())
    for dt in dtypes:
        if dt not in BENCH_DTYPES:
            raise argparse.ArgumentTypeError(f"the benchmark times {' and '.join(BENCH_DTYPES)}, not {dt!r}")
    if not dtypes:
        raise argparse.ArgumentTypeError("give at least one dtype, e.g. float32,float64")
    return dtypes


def _threads(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--threads must be a whole number of at least 1, got {text!r}")
    return value


def _alpha(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"alpha must be a real number, got {text!r}") from None
    try:
        return _checked_alpha("lrelu apply", value)   # the API's own rule: finite
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


APPLY_HELP = """\
Transform a .npy file with Leaky ReLU (or its derivative) chunk by chunk, with memory
bounded by --chunk-mb however large the file is. Shape, C/Fortran order and floating dtype
are kept (integer and bool input gives float64, out of place only).

-o OUTPUT.npy  The result goes to a hidden temporary file beside OUTPUT, is fsync'ed, and
               only then renamed over OUTPUT: a crash leaves OUTPUT as it was (at worst a
               stray .OUTPUT.npy.*.lrelu-tmp beside it), never half written.

--in-place     INPUT is rewritten through a memory map. A run killed at any moment (even
               kill -9, or a power cut) and started again with the same command finishes
               the job without applying the function twice to any element. Before each
               chunk is changed, its original bytes and the run's parameters are made
               durable in a journal INPUT.npy.lrelu-journal (written, fsync'ed, renamed
               into place); then the chunk is transformed and flushed to disk, and the
               journal for the next chunk marks it done. A restart recomputes the one
               unfinished chunk from its saved bytes and goes on. The journal is removed at
               the end. A restart with a different --alpha or --derivative is refused (a
               different --chunk-mb is fine); while a journal exists, other runs on the
               file are refused too, since its contents are partly transformed.
"""


def _parser():
    parser = _Parser(prog="lrelu", description="Leaky ReLU over NumPy arrays: f(x) = x if x >= 0 else alpha*x.",
                     epilog="Exit status: 0 done, 1 bad input or failure (one line on stderr), 2 bad usage.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{info,bench,apply}")

    info = sub.add_parser("info", help="version, NumPy, OpenMP, threads, parallel threshold, compiler, SIMD",
                          description="What this build of lrelu is and how it runs here.")
    info.add_argument("--json", action="store_true", help="print the facts as JSON")

    bench = sub.add_parser(
        "bench", help="time lrelu against the document's NumPy code and the peers installed",
        description="Time lrelu against the document's np.where listing and every installed peer "
                    "(np.maximum, numexpr, Numba, PyTorch), and print markdown tables of GB/s and speedups.")
    bench.add_argument("--quick", action="store_true",
                       help="sizes up to 1e7, in place and out of place only (well under a minute)")
    bench.add_argument("--sizes", type=_sizes, metavar="N,N,...", help="element counts, e.g. 1000,1e6")
    bench.add_argument("--dtype", type=_dtypes, default=BENCH_DTYPES, metavar="DTYPE,...",
                       help="float32, float64 or both (default both)")
    bench.add_argument("--threads", type=_threads, metavar="N", help="threads for lrelu and every peer")
    bench.add_argument("--plot", metavar="FILE.png",
                       help="write a PNG of GB/s against size, a line per contender (needs matplotlib)")
    bench.add_argument("--json", metavar="FILE", help="write the raw measurements as JSON")
    bench.add_argument("--membw", metavar="PATH",
                       help="a tool printing the machine's memory ceilings (`PATH N DTYPE REPS` prints "
                            "'inplace X ms Y GB/s | out ... | out-fresh ... | backward ...'), marked on the "
                            "plot and stored in the JSON; default: $LRELU_MEMBW, a path or a number in GB/s")

    apply = sub.add_parser("apply", help="transform a .npy file of any size, chunk by chunk",
                           description=APPLY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    apply.add_argument("input", metavar="INPUT.npy")
    where = apply.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", metavar="OUTPUT.npy", help="write the result here (atomically)")
    where.add_argument("--in-place", action="store_true", help="rewrite INPUT itself, resumably (see above)")
    apply.add_argument("--alpha", type=_alpha, default=0.01, metavar="A",
                       help="slope for negative inputs, any finite number (default 0.01)")
    apply.add_argument("--derivative", action="store_true", help="write f'(x) instead of f(x)")
    apply.add_argument("--chunk-mb", type=lambda t: _positive("--chunk-mb", t, float), default=_apply.DEFAULT_CHUNK_MB,
                       metavar="N",
                       help="MiB of input per chunk (default 64): memory use is about twice this")
    return parser


def _run_info(args):
    if args.json:
        print(json.dumps(_config.config(), indent=2))
    else:
        _config.show_config()


def _check_writable(path, what):
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CommandError(f"{what} {path}: is a directory")
    if not os.path.isdir(directory):
        raise CommandError(f"{what} {path}: no such directory {directory}")
    if not os.access(directory, os.W_OK):
        raise CommandError(f"{what} {path}: directory not writable")


def _run_bench(args):
    # Everything that can fail fast does, before a minute of benchmarking.
    if args.plot:
        hint = _plot.matplotlib_missing()
        if hint:
            raise CommandError(hint)
        _check_writable(args.plot, "--plot")
    if args.json:
        _check_writable(args.json, "--json")
    if args.threads:
        _bench.set_threads(args.threads)
    sizes = args.sizes or (_bench.QUICK_SIZES if args.quick else _bench.DEFAULT_SIZES)
    ops = ("inplace", "out") if args.quick else _bench.OPERATIONS
    with _Progress(desc="bench", unit="run") as progress:
        progress(0, len(sizes) * len(args.dtype) * len(ops))
        # --quick: 11 rounds everywhere (the least the engine takes), not ~2 s per case, so
        # the whole run stays well under a minute.
        result = _bench.run(sizes, args.dtype, ops, progress=progress,
                            rounds=11 if args.quick else None)
    print(_bench.format_report(result))

    ceilings = None
    if args.plot or args.json:
        try:
            ceilings = _plot.measure_ceilings(args.dtype, args.membw, args.threads)
        except _plot.CeilingError as exc:
            print(f"lrelu bench: memory ceiling unknown: {exc}", file=sys.stderr)
    if ceilings:
        result["memory_ceiling_gbps"] = ceilings
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    if args.plot:
        _plot.plot(result, args.plot, ceilings)
        print(f"wrote {args.plot}", file=sys.stderr)


def _run_apply(args):
    kwargs = dict(alpha=args.alpha, derivative=args.derivative, chunk_mb=args.chunk_mb)
    what = "leaky_relu_derivative" if args.derivative else "leaky_relu"
    with _Progress(desc=what, unit="B", unit_scale=True, unit_divisor=1024) as progress:
        if args.in_place:
            def resumed(done, total):
                print(f"lrelu apply: resuming an interrupted run on {args.input}: "
                      f"{done} of {total} bytes were done", file=sys.stderr)
            dtype, shape = _apply.apply_in_place(args.input, progress=progress, resumed=resumed, **kwargs)
            target = args.input
        else:
            dtype, shape = _apply.apply_to_new_file(args.input, args.output, progress=progress, **kwargs)
            target = args.output
    print(f"{target}: {what}(alpha={args.alpha!r}) of {args.input}, {dtype} {shape}")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _attach_negative_values(argv):
    """argparse takes "-1e-3" or "-inf" after --alpha for an option, not its value: join them."""
    joined, i = [], 0
    while i < len(argv):
        if argv[i] == "--alpha" and i + 1 < len(argv) and argv[i + 1].startswith("-") and _is_number(argv[i + 1]):
            joined.append(f"--alpha={argv[i + 1]}")
            i += 2
        else:
            joined.append(argv[i])
            i += 1
    return joined


def main(argv=None):
    args = _parser().parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
    try:
        {"info": _run_info, "bench": _run_bench, "apply": _run_apply}[args.command](args)
    except (CommandError, _apply.InputError) as exc:
        print(f"lrelu {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"lrelu {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        again = " (run the same command again to finish)" if getattr(args, "in_place", False) else ""
        print(f"lrelu {args.command}: interrupted{again}", file=sys.stderr)
        return 130
    return 0
