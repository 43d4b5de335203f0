"""lrelu's command line: ``lrelu info | bench | apply`` (also ``python -m lrelu ...``).

Exit status: 0 done (also when the reader of stdout went away, as in ``lrelu info | head
-1``); 1 bad input or a failure, reported as one line on stderr (no traceback, nothing left
behind); 2 a malformed command line. Progress bars need tqdm and plots need matplotlib, both
optional (``pip install tqdm matplotlib``): without tqdm the work runs with no bar; without
matplotlib ``bench --plot`` stops before benchmarking, with a hint and status 1.

The tools use only lrelu's public API (``lrelu.__all__``), and ``import lrelu`` loads none
of them.
"""

import argparse
import importlib
import json
import os
import sys
import time

import lrelu

from . import apply, bench, ceiling, plot

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


BENCH_DTYPES = ("float32", "float64", "float16", "bfloat16")
DEFAULT_BENCH_DTYPES = ("float32", "float64")


def _dtypes(text):
    dtypes = tuple(s.strip() for s in text.split(",") if s.strip())
    for dt in dtypes:
        if dt not in BENCH_DTYPES:
            raise argparse.ArgumentTypeError(
                f"the benchmark times {', '.join(BENCH_DTYPES[:-1])} and {BENCH_DTYPES[-1]}, not {dt!r}")
    if not dtypes:
        raise argparse.ArgumentTypeError("give at least one dtype, e.g. float32,float64")
    if "bfloat16" in dtypes:
        # Here, while parsing, so a missing ml_dtypes stops the command before any timing.
        try:
            importlib.import_module("ml_dtypes")
        except Exception as exc:  # ImportError, or a broken install
            raise argparse.ArgumentTypeError(f"bfloat16 needs ml_dtypes, which cannot be imported "
                                             f'({type(exc).__name__}): pip install ml_dtypes') from None
    return dtypes


def _names(kind, allowed):
    """An argparse type for a comma-separated list of names from ``allowed``."""
    def parse(text):
        names = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{kind} must be among {', '.join(allowed)}, got {text!r}")
        return names
    return parse


def _threads(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--threads must be a whole number of at least 1, got {text!r}")
    return value


def _alpha(text):
    # Only parsed here; lrelu checks the value once, when the operation is made (_run_apply).
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"alpha must be a real number, got {text!r}") from None


BENCH_HELP = """\
Time lrelu against the glossary entry's np.where listing and every installed peer (np.maximum,
numexpr, Numba, PyTorch), contenders alternating round by round, and print markdown tables of
GB/s and speedups. A figure whose rounds spread more than 3x is marked "noisy", and a row
timed while other processes kept more than half a CPU busy "busy" (Linux).

How long, on 2 cores: the default run (sizes 1e3 to 1e8, four operations, float32 and
float64, a 10-pass memory ceiling) takes about 5 minutes per dtype, 10 for the default two.
--quick skips 1e4 and 1e8, the derivative and backward, and times 11 rounds per cell with a
4-pass ceiling: about a minute. Other processes busy on the same cores make either several
times longer (and the report says they were there).
"""


APPLY_HELP = """\
Transform a .npy file with Leaky ReLU (or its derivative) chunk by chunk, with memory
bounded by --chunk-mb however large the file is. Shape, C/Fortran order, byte order and
floating dtype are kept (integer and bool input gives float64, out of place only).

-o OUTPUT.npy  The result goes to a hidden temporary file beside OUTPUT, is fsync'ed, and
               only then renamed over OUTPUT: a crash leaves OUTPUT as it was, never half
               written. A killed run leaves its .OUTPUT.npy.XXXXXXXX.lrelu-tmp behind; the
               next run on OUTPUT removes it and says so.

--in-place     INPUT is rewritten chunk by chunk. A run killed at any moment (even kill -9,
               or a power cut) and started again with the same command finishes the job
               without applying the function twice to any element. Before each chunk is
               changed, its original bytes, the run's parameters and the file's identity
               (device, inode, size, a checksum of the data not yet transformed) are made
               durable in a journal INPUT.npy.lrelu-journal beside the real file; a restart
               recomputes the one unfinished chunk from the saved bytes and goes on. A
               restart with other parameters, or on a file replaced or rewritten since, is
               refused and changes nothing; while a journal exists, -o from or onto the file
               is refused too. Once the last chunk is on disk the run is done: a signal after
               that does not interrupt it. A completion record under $XDG_STATE_HOME/lrelu
               (default ~/.local/state/lrelu) makes a rerun on the unchanged file say it was
               already transformed and change nothing; --again transforms it again.
"""


def _parser():
    parser = _Parser(prog="lrelu", description="Leaky ReLU over NumPy arrays: f(x) = x if x >= 0 else alpha*x.",
                     epilog="Exit status: 0 done, 1 bad input or failure (one line on stderr), 2 bad usage.")
    parser.add_argument("--version", action="version", version=f"lrelu {lrelu.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{info,bench,apply}")

    info = sub.add_parser("info", help="version, NumPy, OpenMP, threads, parallel threshold, compiler, SIMD",
                          description="What this build of lrelu is and how it runs here.")
    info.add_argument("--json", action="store_true", help="print the facts as JSON")

    bench_ = sub.add_parser(
        "bench", help="time lrelu against the glossary entry's NumPy code and the peers installed",
        description=BENCH_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_.add_argument("--quick", action="store_true",
                       help="sizes 1e3, 1e5, 1e6, 1e7 (no 1e4, no 1e8), in place and out of place only "
                            "(no derivative, no backward), 11 rounds per cell and a 4-pass ceiling: "
                            "about a minute on 2 quiet cores")
    bench_.add_argument("--sizes", type=_sizes, metavar="N,N,...", help="element counts, e.g. 1000,1e6")
    bench_.add_argument("--ops", type=_names("--ops", bench.ALL_OPERATIONS), metavar="OP,...",
                       help=f"operations, any of {', '.join(bench.ALL_OPERATIONS)} (outarg: leaky_relu(x, out=y) "
                            f"into a preallocated y); default {','.join(bench.OPERATIONS)}, or inplace,out with --quick")
    bench_.add_argument("--peers", type=_names("--peers", bench.PEERS), metavar="NAME,...",
                       help=f"peers to time lrelu against, any of {', '.join(bench.PEERS)} (default: all installed)")
    bench_.add_argument("--dtype", type=_dtypes, default=DEFAULT_BENCH_DTYPES, metavar="DTYPE,...",
                       help="any of float32, float64, float16 and bfloat16, comma-separated (default "
                            "float32,float64); bfloat16 needs ml_dtypes")
    bench_.add_argument("--threads", type=_threads, metavar="N", help="threads for lrelu and every peer")
    bench_.add_argument("--plot", metavar="FILE.png",
                       help="write a PNG of GB/s against size, a line per contender (needs matplotlib)")
    bench_.add_argument("--json", metavar="FILE", help="write the raw measurements as JSON")
    bench_.add_argument("--ceiling-mb", type=lambda t: _positive("--ceiling-mb", t, float),
                       default=ceiling.ARRAY_BYTES / 2**20, metavar="N",
                       help="MiB per array for the built-in memory ceiling (default 128): a few times "
                            "the last-level cache, so the arrays come from memory")
    bench_.add_argument("--membw", metavar="PATH",
                       help="also run your own ceiling tool (`PATH N DTYPE REPS` printing "
                            "'inplace X ms Y GB/s | out ... | out-fresh ... | backward ...'), shown beside "
                            "the built-in ceiling; default: $LRELU_MEMBW")

    apply_ = sub.add_parser("apply", help="transform a .npy file of any size, chunk by chunk",
                           description=APPLY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    apply_.add_argument("input", metavar="INPUT.npy")
    where = apply_.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", metavar="OUTPUT.npy", help="write the result here (atomically)")
    where.add_argument("--in-place", action="store_true", help="rewrite INPUT itself, resumably (see above)")
    apply_.add_argument("--alpha", type=_alpha, default=0.01, metavar="A",
                       help="slope for negative inputs, any finite number (default 0.01)")
    apply_.add_argument("--derivative", action="store_true", help="write f'(x) instead of f(x)")
    apply_.add_argument("--at-zero", choices=("one", "alpha"), default="one",
                       help="with --derivative, f'(0): one (default) or alpha (PyTorch's convention)")
    apply_.add_argument("--dtype", choices=("bfloat16",),
                       help="read a file of raw 2-byte values (|V2, as ml_dtypes saves bfloat16) as "
                            "bfloat16; the result is saved the same way (needs ml_dtypes)")
    apply_.add_argument("--again", action="store_true",
                       help="with --in-place, transform a file that a finished run already transformed")
    apply_.add_argument("--chunk-mb", type=lambda t: _positive("--chunk-mb", t, float), default=apply.DEFAULT_CHUNK_MB,
                       metavar="N",
                       help="MiB of input per chunk (default 64): memory use is about twice this")
    return parser


def _run_info(args):
    if args.json:
        print(json.dumps(lrelu.show_config(mode="dicts"), indent=2))
    else:
        lrelu.show_config()


def _check_writable(path, what):
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CommandError(f"{what} {path}: is a directory")
    if not os.path.isdir(directory):
        raise CommandError(f"{what} {path}: no such directory {directory}")
    if not os.access(directory, os.W_OK):
        raise CommandError(f"{what} {path}: directory not writable")


def _stage(progress, offset, total):
    """progress(done, total, label) for one stage of a run whose steps are counted together."""
    return lambda done, _, label=None: progress(offset + done, total, label)


def _run_bench(args):
    # Everything that can fail fast does, before a minute of benchmarking: the user's ceiling
    # tool runs first of all.
    if args.plot:
        hint = plot.matplotlib_missing()
        if hint:
            raise CommandError(hint)
        _check_writable(args.plot, "--plot")
    if args.json:
        _check_writable(args.json, "--json")
    tool = args.membw or os.environ.get("LRELU_MEMBW")
    if args.threads:
        bench.set_threads(args.threads)
    threads = lrelu.get_num_threads()
    sizes = args.sizes or (bench.QUICK_SIZES if args.quick else bench.DEFAULT_SIZES)
    ops = args.ops or (("inplace", "out") if args.quick else bench.OPERATIONS)
    array_bytes = int(args.ceiling_mb * 2**20)
    passes = 4 if args.quick else ceiling.REPETITIONS
    ceiling_steps = passes * len(ceiling.measured_dtypes(args.dtype)) * len(ceiling.thread_counts(threads))
    total = ceiling_steps + len(sizes) * len(args.dtype) * len(ops)
    found = None
    if tool:
        try:
            found = ceiling.from_tool(tool, args.dtype, threads, array_bytes)
        except ceiling.CeilingError as exc:
            raise CommandError(f"--membw: {exc}") from None
    with _Progress(desc="bench", unit="step") as progress:
        progress(0, total)
        measured = bench.measure_ceiling(args.dtype, threads, array_bytes, passes,
                                         progress=_stage(progress, 0, total))
        # --quick: 11 rounds everywhere (the least the timer takes by itself), not ~2 s per
        # case, so the whole run stays under a minute.
        result = bench.run(sizes, args.dtype, ops, peers=args.peers, progress=_stage(progress, ceiling_steps, total),
                           rounds=11 if args.quick else None)
    result["ceiling"] = dict(measured, **({"tool": found} if found else {}))
    print(bench.format_report(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    if args.plot:
        plot.plot(result, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)


class _Quiet:
    """A progress bar or notice whose failure (stderr full, or closed) never stops the work:
    a lost line is not worth a half-done run."""

    def __init__(self, draw):
        self._draw = draw

    def __call__(self, *args):
        if self._draw is not None:
            try:
                self._draw(*args)
            except OSError:
                self._draw = None


def _run_apply(args, op):
    notice = _Quiet(lambda message: print(f"lrelu apply: {message}", file=sys.stderr, flush=True))
    kwargs = dict(op=op, chunk_mb=args.chunk_mb, notice=notice, guard=args.guard)
    bar = _Progress(desc=op.name, unit="B", unit_scale=True, unit_divisor=1024)
    try:
        if args.in_place:
            dtype, shape, record = apply.apply_in_place(args.input, progress=_Quiet(bar), again=args.again,
                                                        **kwargs)
            target = args.input
        else:
            dtype, shape = apply.apply_to_new_file(args.input, args.output, progress=_Quiet(bar), **kwargs)
            target, record = args.output, None
    finally:
        _Quiet(bar.__exit__)(None, None, None)
    if args.guard.late:
        notice(f"signal {args.guard.late} arrived after the work was on disk; the run finished")
    if record is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.get("time", 0)))
        summary = (f"{target}: already transformed by {apply.describe_record(record)} at {when}; nothing "
                   "changed (--again transforms it again)")
    else:
        summary = f"{target}: {op.describe()} of {args.input}, {dtype} {shape}"
    try:
        print(summary, flush=True)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise CommandError(f"{target}: done, but its summary could not be printed ({exc.strerror or exc})") from None


def _apply_operation(parser, args):
    """The operation of an apply command line, or a usage error (status 2)."""
    if args.again and not args.in_place:
        parser.error("--again goes with --in-place")
    if args.at_zero != "one" and not args.derivative:
        parser.error("--at-zero goes with --derivative")
    try:
        if args.dtype == "bfloat16":
            apply._bfloat16()
        return apply.Operation(args.alpha, args.derivative, args.at_zero, bfloat16=args.dtype == "bfloat16")
    except apply.InputError as exc:
        parser.error(f"argument --alpha: {exc}" if "alpha" in str(exc) else str(exc))


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


def _quiet_stdout():
    """The reader of stdout went away (`lrelu info | head -1`): send what is still buffered,
    and Python's own flush at exit, to /dev/null, so nothing complains about it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
    run = {"info": _run_info, "bench": _run_bench}.get(args.command)
    if args.command == "apply":
        op = _apply_operation(parser, args)
        args.guard = apply.Guard()
        run = lambda args: _run_apply(args, op)  # noqa: E731
    try:
        run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except (CommandError, apply.InputError) as exc:
        print(f"lrelu {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"lrelu {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", 2)
        if args.command == "apply" and args.guard.committed:
            # Python's own SIGINT, after the guard gave its handlers back: the work is done.
            print(f"lrelu apply: signal {signum} arrived after the work was on disk; the run finished",
                  file=sys.stderr)
            return 0
        if args.command == "apply":
            again = (" (run the same command again to finish)" if args.in_place
                     else f"; {args.output} is left as it was")
        else:
            again = ""
        print(f"lrelu {args.command}: interrupted{again}", file=sys.stderr)
        return 128 + signum
    return 0
