"""An in-place pipeline over a .npy file larger than you want in memory: Leaky ReLU applied
chunk by chunk through a memory map, twice over, with the command line and with the API.

    python examples/npy_pipeline.py                    # a 400 MiB float32 file in a temporary directory
    python examples/npy_pipeline.py --mb 4 --dir /tmp

1. ``lrelu apply x.npy --in-place``: resumable after a crash, even ``kill -9`` (a journal
   beside the file keeps the one unfinished chunk's original bytes).
2. The API on a memory map: ``lrelu.leaky_relu_`` on each chunk of ``np.load(...,
   mmap_mode="r+")``, with no copy; simple, but not crash-safe: a run killed half way leaves
   the file partly transformed, with nothing to tell which part.

Both results are checked against the glossary entry's listing.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

import lrelu
from lrelu import reference

ALPHA = 0.1


def make_input(path: str, n: int) -> None:
    """A float32 .npy of n normal numbers, written a piece at a time, as large data is."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n,))
    rng = np.random.default_rng(0)
    for start in range(0, n, 1 << 22):
        stop = min(start + (1 << 22), n)
        out[start:stop] = rng.standard_normal(stop - start, dtype=np.float32)
    out.flush()
    del out


def with_api(path: str, chunk_elements: int) -> None:
    x = np.load(path, mmap_mode="r+")
    for start in range(0, x.shape[0], chunk_elements):
        lrelu.leaky_relu_(x[start:start + chunk_elements], ALPHA)   # in the mapped pages
    x.flush()
    del x


def main(mb: float, directory: str) -> None:
    n = int(mb * 2**20) // 4
    by_cli, by_api = (os.path.join(directory, name) for name in ("by_cli.npy", "by_api.npy"))
    make_input(by_cli, n)
    make_input(by_api, n)
    expected = reference.lrelu(np.load(by_cli, mmap_mode="r"), np.float32(ALPHA))

    chunk_mb = max(mb / 8, 0.001)
    subprocess.run([sys.executable, "-m", "lrelu", "apply", by_cli, "--in-place",
                    "--alpha", str(ALPHA), "--chunk-mb", str(chunk_mb)], check=True)
    with_api(by_api, int(chunk_mb * 2**20) // 4)

    for path in (by_cli, by_api):
        assert np.array_equal(np.load(path, mmap_mode="r"), expected), path
    print(f"{n} float32 elements ({mb:g} MiB), in place in chunks of {chunk_mb:g} MiB: "
          "lrelu apply and the API both equal the listing")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=400, help="size of the file in MiB")
    parser.add_argument("--dir", help="where to write the files (default: a temporary directory)")
    args = parser.parse_args()
    if args.dir:
        main(args.mb, args.dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(args.mb, tmp)
