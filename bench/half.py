"""float16 and bfloat16: lrelu against PyTorch's float16 and bfloat16 tensors of the same values.

Three operations, as the half-precision targets name them: in place (``lrelu.leaky_relu_`` against
``torch.nn.functional.leaky_relu_``), out of place (``leaky_relu`` against
``torch.nn.functional.leaky_relu``) and backward in place (``leaky_relu_backward(g, x, a,
out=g)`` against ``torch.ops.aten.leaky_relu_backward.grad_input(..., grad_input=g)``): the
contender registry's calls (lrelu.cli.bench.CONTENDERS), as `lrelu bench` times them, so
torch's wrap the NumPy arrays as tensors sharing their memory (torch.from_numpy) each call.

Timing is lrelu.cli.timing's: the two contenders alternate round by round (A B, B A, ...);
each round times a batch of calls sized to about ``--target-ms``, after as long again of
untimed calls of the same contender for arrays under 32 MiB (so that each is timed from its
own steady state, not from the caches the other left). A figure is the median over rounds;
the ratio is the median of the per-round ratios torch time / lrelu time, so above 1 means
lrelu is faster. Successive
calls alternate alpha between 0.5 and 2.0, for both contenders, so repeated in-place calls
bring every value back to where it was instead of driving it toward subnormals or inf.
Each contender works on its own copy of the same values (standard normal, rounded to the
dtype). torch runs with ``torch.set_num_threads(lrelu.get_num_threads())``.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/half.py [--sizes 1e3,1e5,1e6,1e7,1e8]
        [--dtypes float16,bfloat16] [--ops inplace,out,backward] [--json FILE]
        [--parallel-threshold BYTES]

The header names the CPU, lrelu's SIMD level and torch's CPU capability: force them with
LRELU_SIMD=avx2_f16c (lrelu) and ATEN_CPU_CAPABILITY=avx2 (torch) to measure the AVX2 case on
an AVX-512 CPU.

bfloat16 needs ml_dtypes; torch is required.
"""

import argparse
import json
import platform
import statistics
import sys

import numpy as np


def cpu_name():
    """The CPU's model name and its AVX-512 flags, from /proc/cpuinfo where there is one."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor() or platform.machine()
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    avx512 = sorted(f for f in flags if f.startswith("avx512"))
    return f"{model} ({', '.join(avx512) if avx512 else 'no avx512'})"


def contenders(op, dtype, n):
    """{"lrelu": call(alpha), "torch": call(alpha)} from the contender registry `lrelu bench`
    times (lrelu.cli.bench), each on its own copy of the same values, and the bytes of x."""
    from lrelu.cli import bench

    values = np.random.default_rng(0).standard_normal((2, n), dtype=np.float32)
    x, g = (v.astype(bench.numpy_dtype(dtype)) for v in values)
    calls = {}
    for name in ("lrelu", "torch"):
        fn = bench.contender(name, op, dtype)
        mine = (x.copy(), g.copy())
        calls[name] = lambda a, fn=fn, x=mine[0], g=mine[1]: fn(x, g, a)
    return calls, x.nbytes


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e3,1e5,1e6,1e7,1e8")
    parser.add_argument("--dtypes", default="float16,bfloat16")
    parser.add_argument("--ops", default="inplace,out,backward")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--target-ms", type=float, default=2.0)
    parser.add_argument("--json", help="append the figures to this file, one JSON line per case")
    parser.add_argument("--threads", type=int, help="threads for both (default: lrelu's own count)")
    parser.add_argument("--parallel-threshold", type=int,
                        help="bytes from which lrelu may use a team (default: lrelu's own); to "
                             "see what a team would give below the threshold")
    args = parser.parse_args()

    # torch first: both then run on torch's own libgomp.so.1 (the same soname, so it is
    # loaded once), the runtime torch was built and tuned with.
    import torch
    import lrelu
    from lrelu.cli import bench
    from lrelu.cli.timing import SETTLE_BELOW_BYTES, measure, ratio

    if args.parallel_threshold is not None:
        lrelu._threads._set_parallel_threshold(args.parallel_threshold)
    if args.threads:
        lrelu.set_num_threads(args.threads)
    threads = lrelu.get_num_threads()
    torch.set_num_threads(threads)
    simd = lrelu._kernels._simd_info()["selected"]
    print(f"# {cpu_name()}, lrelu threads {threads}, torch threads {torch.get_num_threads()}, "
          f"lrelu SIMD {simd}, torch CPU capability {torch.backends.cpu.get_cpu_capability()}, NumPy {np.__version__}, torch "
          f"{torch.__version__}, Python {sys.version.split()[0]}; {args.rounds} rounds; parallel "
          f"threshold {lrelu._threads._openmp_info()['parallel_threshold_bytes']} bytes")
    print("| op | dtype | n | lrelu µs | torch µs | torch/lrelu |")
    print("|---|---|---|---|---|---|")
    for op in args.ops.split(","):
        for dtype in args.dtypes.split(","):
            for size in args.sizes.split(","):
                n = int(float(size))
                calls, nbytes = contenders(op, dtype, n)
                pair = bench.alphas(dtype)
                samples = measure({k: (lambda i, f=f: f(pair[i & 1])) for k, f in calls.items()},
                                  rounds=args.rounds, target_seconds=args.target_ms / 1e3,
                                  settle_first=nbytes < SETTLE_BELOW_BYTES)
                lr, tr = (statistics.median(samples[k]) for k in ("lrelu", "torch"))
                speedup = ratio(samples["torch"], samples["lrelu"])
                print(f"| {op} | {dtype} | {size} | {lr * 1e6:,.1f} | {tr * 1e6:,.1f} | "
                      f"{speedup:.2f} |", flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps({"op": op, "dtype": dtype, "n": n, "simd": simd,
                                            "torch_capability": torch.backends.cpu.get_cpu_capability(),
                                            "threads": threads, "lrelu_s": samples["lrelu"],
                                            "torch_s": samples["torch"], "ratio": speedup}) + "\n")
                del calls


if __name__ == "__main__":
    main()
