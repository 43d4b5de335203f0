#!/usr/bin/env bash
# Check the float16 and bfloat16 C loops (src/half.c) without Python, at every level this
# machine can run, and on aarch64 under emulation, both as wheels build it (armv8-a: NEON
# conversions) and with half-precision arithmetic (armv8.2-a+fp16: the half multiply).
#
#   tools/check_half_loops.sh
#
# The aarch64 builds need aarch64-linux-gnu-gcc and qemu-aarch64-static (Debian:
# gcc-aarch64-linux-gnu qemu-user-static); without them they are skipped, and said so.
# Exits non-zero if any build disagrees with the rule (tools/check_half_loops.c).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-O3 -fno-trapping-math -I"$repo/src" -I"$repo/lrelu/include")
sources=("$repo/src/simd.c" "$repo/src/half.c" "$repo/tools/check_half_loops.c")
status=0

gcc "${flags[@]}" "${sources[@]}" -o "$tmp/native" -lm
for level in baseline avx2 avx2_f16c avx512 avx512_bf16; do
    if ! out=$(LRELU_SIMD=$level "$tmp/native"); then status=1; fi
    if [ "$(head -1 <<<"$out" | awk '{print $2}')" != "$level" ]; then
        echo "$level: not run (not compiled, or this CPU lacks it)"
        continue
    fi
    echo "$level: $(tail -1 <<<"$out")"
done

if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64-static >/dev/null; then
    for march in armv8-a armv8.2-a+fp16; do
        aarch64-linux-gnu-gcc -static -march="$march" "${flags[@]}" "${sources[@]}" \
            -o "$tmp/aarch64" -lm
        if ! out=$(qemu-aarch64-static -cpu max "$tmp/aarch64"); then status=1; fi
        echo "aarch64 -march=$march ($(head -1 <<<"$out" | awk '{print $4}')): $(tail -1 <<<"$out")"
    done
else
    echo "aarch64: skipped (no aarch64-linux-gnu-gcc or qemu-aarch64-static)"
fi
exit $status
