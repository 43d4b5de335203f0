#!/usr/bin/env bash
# Build a membw-like tool's C source (MEMBW_SOURCE=path/to/membw.c, which the project does not
# ship) with -fno-trapping-math, so its Leaky ReLU loop vectorizes (gcc keeps the branch under
# the default -ftrapping-math), and print the binary's path. bench/report.py
# --membw-vectorized takes it as a second ceiling.
set -euo pipefail
src="${MEMBW_SOURCE:?set MEMBW_SOURCE to the C source of the tool}"
out=${TMPDIR:-/tmp}/membw-vectorized-$(sha1sum "$src" | cut -c1-12)
[ -x "$out" ] || gcc -O3 -march=native -fno-trapping-math -fopenmp "$src" -o "$out"
echo "$out"
