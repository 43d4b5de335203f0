#!/usr/bin/env bash
# Build ../shared/tools/membw.c with -fno-trapping-math, so its Leaky ReLU loop vectorizes
# (the shared tool's does not: gcc keeps the branch under -ftrapping-math), and print the
# binary's path. bench/report.py --membw-vectorized takes it as a second ceiling.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${MEMBW_SOURCE:-$here/../../shared/tools/membw.c}
out=${TMPDIR:-/tmp}/membw-vectorized-$(sha1sum "$src" | cut -c1-12)
[ -x "$out" ] || gcc -O3 -march=native -fno-trapping-math -fopenmp "$src" -o "$out"
echo "$out"
