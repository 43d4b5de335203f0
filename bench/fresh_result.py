"""Where an out-of-place call's time goes for large float64 arrays: a fresh result (what
`leaky_relu(x)` must return), the same into a preallocated `out`, NumPy first-touching a fresh
array serially (np.ones), PyTorch's fresh result, and the document's listing. 11 alternating
rounds, median ms.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/fresh_result.py
"""

import statistics
import time

import numpy as np

import lrelu
from lrelu import reference

try:
    import torch
    torch.set_num_threads(lrelu.get_num_threads())
except ImportError:
    torch = None

print("| n, dtype | lrelu fresh | lrelu out=buf | np.ones (fault + fill) | torch fresh | listing | listing / lrelu fresh | listing / lrelu out=buf |")
print("|---|---|---|---|---|---|---|---|")
for n in (10_000_000, 100_000_000):
    for dtype in ("float32", "float64"):
        x = np.random.default_rng(0).standard_normal(n).astype(dtype)
        buf = np.ones_like(x)
        calls = {"fresh": lambda: lrelu.leaky_relu(x), "out": lambda: lrelu.leaky_relu(x, out=buf),
                 "ones": lambda: np.ones(n, dtype), "listing": lambda: reference.lrelu(x)}
        if torch is not None:
            tx = torch.from_numpy(x)
            calls["torch"] = lambda: torch.nn.functional.leaky_relu(tx)
        times = {k: [] for k in calls}
        for r in range(11):
            for k, f in (list(calls.items()) if r % 2 else list(calls.items())[::-1]):
                s = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - s)
        ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        print(f"| {n:.0e}, {dtype} | {ms['fresh']:.1f} | {ms['out']:.1f} | {ms['ones']:.1f} | "
              f"{ms.get('torch', float('nan')):.1f} | {ms['listing']:.1f} | "
              f"{ms['listing'] / ms['fresh']:.1f}× | {ms['listing'] / ms['out']:.1f}× |", flush=True)
