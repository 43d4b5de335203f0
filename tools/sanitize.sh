#!/usr/bin/env bash
# Build lrelu with AddressSanitizer and UndefinedBehaviorSanitizer into a fresh venv, run the
# whole default test suite under them, and fail unless they report 0 errors.
#
#   tools/sanitize.sh          # from anywhere; CI runs it from .ci/run
#
# Why it is built this way:
# - The sources are copied first: pip builds a local directory in place, and setuptools would
#   reuse an uninstrumented build/ left by an earlier `pip install .`.
# - The flags go in through CC, which setuptools uses to compile, to link the extensions and
#   to link setup.py's OpenMP probe (with CFLAGS/LDFLAGS the probe would link without the
#   sanitizer runtime, fail, and give a serial build). setup.py's own -O3 -fno-trapping-math
#   come after them, so the sanitizers check the optimized, vectorized loops that ship (ASan
#   wants -O1 or more, and instruments vector loads and stores too).
# - CPython and NumPy are not instrumented, so the gcc runtimes are LD_PRELOADed (they must
#   be loaded before anything else). PYTHONMALLOC=malloc sends Python's allocations through
#   ASan's malloc as well, so NumPy buffers get redzones an out-of-bounds access would hit.
# - detect_leaks=0: CPython deliberately leaves memory allocated at exit (interned strings,
#   static types), which LeakSanitizer would report; lrelu's kernels never allocate.
# - -fno-sanitize-recover=all plus halt_on_error make the first error fatal. ASan's reports go
#   to log files, printed at the end, so one from a subprocess a test starts is counted too.
#   UBSan's do not: with ASan in the same process gcc 12's UBSan ignores log_path and writes
#   to stderr. So pytest runs with --capture=sys (with its default, fd capture, a report
#   written just before the process halts went into a capture file nobody read, and the
#   count said 0 errors) and its stderr goes to the logs as well.
# - UBSan's alignment check also catches NumPy handing the typed loops unaligned data (the
#   property tests make unaligned and byteswapped arrays).
# Needs gcc (the compiler Python builds extensions with) with libasan and libubsan.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir "$work/src" "$work/logs"
tar -C "$root" --exclude=./.git --exclude='./.venv*' --exclude=./build --exclude='*.so' \
    --exclude='./lrelu/*.c' --exclude='./lrelu/cli/*.c' --exclude=./lrelu/_build_info.py -cf - . |
    tar -C "$work/src" -xf -

python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"

cc=$(python -c 'import sysconfig; print(sysconfig.get_config_var("CC").split()[0])')
libasan=$("$cc" -print-file-name=libasan.so)
libubsan=$("$cc" -print-file-name=libubsan.so)
[ -e "$libasan" ] && [ -e "$libubsan" ] || {
    echo "sanitize.sh: $cc has no libasan.so/libubsan.so (install gcc's sanitizer runtimes)"; exit 1; }

flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
echo "== building lrelu with $flags"
CC="$cc $flags" python -m pip install -q --no-cache-dir "$work/src[test]"

# A build that silently lost the flags (or OpenMP) would pass every test and prove nothing.
site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
for so in "$site"/lrelu/*.so "$site"/lrelu/cli/*.so; do
    symbols=$(nm -D "$so")
    grep -q __asan_report_ <<<"$symbols" && grep -q __ubsan_handle_ <<<"$symbols" || {
        echo "sanitize.sh: $so is not instrumented"; exit 1; }
done

sanitized() {   # run a command under the sanitizers, outside the sources (so the tests import
                # the installed, instrumented lrelu)
    (cd "$work" && env LD_PRELOAD="$libasan:$libubsan" PYTHONMALLOC=malloc \
        ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:log_path=$work/logs/asan" \
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$work/logs/ubsan" "$@")
}
sanitized python -c 'import lrelu, sys; sys.exit(not lrelu._threads._openmp_info()["enabled"])' || {
    echo "sanitize.sh: lrelu was built without OpenMP"; exit 1; }

run_tests() {   # $1: label, $2: extra environment (or ""), the rest: test files
    local label=$1 environment=$2; shift 2
    echo "== tests under ASan + UBSan ($label)"
    sanitized env $environment python -m pytest -q -p no:cacheprovider --capture=sys \
        -c "$work/src/pyproject.toml" --rootdir "$work/src" "$@" \
        2>>"$work/logs/stderr" || status=1
}

status=0
SECONDS=0
run_tests "the whole default suite" "" "$work/src/tests"
# The portable loop that CPUs without AVX2 get (the run above takes the AVX2 one where the CPU
# has it). Only the files that drive the contiguous loops: all would double the run time.
tests=$work/src/tests
run_tests "LRELU_SIMD=baseline" LRELU_SIMD=baseline "$tests/test_elementwise.py" \
    "$tests/test_backward.py" "$tests/test_inplace.py" "$tests/test_ufunc.py"
errors=$(cat "$work"/logs/* 2>/dev/null | grep -cE "ERROR: AddressSanitizer|runtime error:" || true)
echo "== sanitizers: $errors errors (tests took ${SECONDS}s)"
if [ "$errors" -ne 0 ] || [ "$status" -ne 0 ]; then
    cat "$work"/logs/*
    status=1
fi
exit $status
