#!/usr/bin/env bash
# ThreadSanitizer on the Python-level concurrency tests (issue 24), run as `tools/tsan.sh --python`:
# CPython 3.13 built free-threaded AND TSan-instrumented, lrelu built from HEAD with
# -fsanitize=thread, and tests/test_free_threading.py + tests/test_concurrency.py run with
# PYTHON_GIL=0. Fails on any TSan report whose stack touches lrelu's own code (src/, the C that
# Cython generates from lrelu/*.pyx, or an lrelu extension module). Heavy: run by hand.
#
#   tools/tsan.sh --python [-- PYTEST-ARGS...]
#
#   LRELU_TSAN_CACHE  the TSan interpreter and its venv live here between runs
#                     (default /var/cache/lrelu-tsan); delete it to start afresh
#   LRELU_FT_CACHE    where tools/check_freethreaded.sh keeps CPython's source tarball and its
#                     plain free-threaded venv (default /var/cache/lrelu-freethreaded): run that
#                     script once first
#
# Why, and how:
# - The interpreter: the same Debian python3.13 tarball as check_freethreaded.sh (reused, never
#   fetched here), configured with --disable-gil --with-thread-sanitizer and built with gcc
#   (libtsan). Rebuilt only when the tarball's checksum or the configure line changes.
# - lrelu's wheel is built by check_freethreaded.sh's plain free-threaded venv (same 3.13.5
#   source and configure line but the sanitizer, so the same headers and ABI; -fsanitize=thread
#   in CFLAGS makes pyport.h define _Py_THREAD_SANITIZER as the TSan interpreter's own build
#   does) and installed into the TSan venv: Cython (a pure-Python wheel on 3.13t) and pip
#   running on the instrumented interpreter take many times longer and check nothing.
# - lrelu is built serially (LRELU_OPENMP=0): GCC's libgomp is not TSan-instrumented, so every
#   OpenMP region's barrier would be reported as a race. The Python-level races (the planner's
#   buckets, the one-team lock, per-thread threads(n), first imports) run either way.
#   setup.py puts its -O3 after CFLAGS; TSan instruments at any level.
# - NumPy is PyPI's cp313t wheel, not instrumented: TSan sees NumPy's memory only through the
#   interceptors (memcpy, malloc...). Reports in the interpreter's or NumPy's own code are
#   suppressed by tools/tsan-suppressions.txt (each line says why); lrelu's are never.
# - Reports go to files (log_path), one per process, so tests that read a child's stderr see
#   none of them; every report is classified after the run. Setup steps (pip, the build) run
#   with report_bugs=0: they are not what is checked.
# - On any exit the export and the build are removed, and so is an unfinished interpreter or venv.
# shellcheck disable=SC2317 # on_exit runs from the trap
{
set -euo pipefail

SOURCE_PACKAGE=python3.13
CONFIGURE=(--disable-gil --with-thread-sanitizer --with-ensurepip=install CC=gcc)
TESTS=(tests/test_free_threading.py tests/test_concurrency.py)
# The TSan venv: what the two test files and tests/conftest.py import.
REQUIREMENTS=("numpy>=2.0" "pytest>=7" "hypothesis>=6")

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${LRELU_TSAN_CACHE:-/var/cache/lrelu-tsan}
ft_cache=${LRELU_FT_CACHE:-/var/cache/lrelu-freethreaded}
suppressions=$repo/tools/tsan-suppressions.txt
tool="tsan --python"
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"
parse_args 2,13 -- "$@"

reports=0 in_lrelu=0 passed=0 failed=0

on_exit() {
    local rc=$?
    set +e
    on_exit_cleanup
    local verdict=PASSED
    [ "$rc" -eq 0 ] || verdict="FAILED ($phase)"
    echo "tsan --python: $verdict: $in_lrelu reports in lrelu's code, $reports TSan reports in all" \
         "(after suppressions); tests $passed passed, $failed failed; times: ${times[*]:-none} total ${SECONDS}s"
    exit "$rc"
}
set_traps
lock_cache "$cache"

# ---- the interpreter, from check_freethreaded.sh's tarball
tarball=$(ls "$ft_cache"/src/"$SOURCE_PACKAGE"_*.orig.tar.xz 2>/dev/null | tail -n 1 || true)
[ -n "$tarball" ] || fail "no $SOURCE_PACKAGE tarball in $ft_cache/src: run tools/check_freethreaded.sh once to fetch it"
python_dir=$cache/python
python=$python_dir/bin/python${SOURCE_PACKAGE#python}t
stamp="tarball=$(sha256sum "$tarball" | cut -d' ' -f1) configure=${CONFIGURE[*]}"
begin interpreter "$(basename "$tarball") ${CONFIGURE[*]}"
if ! stamped "$python" "$python_dir" "$stamp"; then
    command -v gcc >/dev/null || fail "gcc is needed"
    echo 'int main(void){return 0;}' | gcc -x c -fsanitize=thread -o /dev/null - 2>/dev/null ||
        fail "gcc cannot link -fsanitize=thread (Debian: apt-get install libtsan2)"
fi
python_from_tarball "$tarball" "$python" "$stamp" TSAN_OPTIONS=report_bugs=0 -- "${CONFIGURE[@]}"
export TSAN_OPTIONS=report_bugs=0     # until the tests
[ "$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("Py_GIL_DISABLED"))')" = 1 ] ||
    fail "$python is not a free-threaded build"
"$python" -c 'import sysconfig, sys; sys.exit("-fsanitize=thread" not in sysconfig.get_config_var("CONFIG_ARGS") + sysconfig.get_config_var("PY_CFLAGS"))' ||
    fail "$python is not built with --with-thread-sanitizer"
version_line="CPython $("$python" -c 'import sys; print(sys.version.split()[0])') free-threaded + TSan"
echo "   $version_line"

# ---- the venv
begin venv "${REQUIREMENTS[*]}"
venv=$cache/venv
want_stamp="$stamp ${REQUIREMENTS[*]}"
fill_venv() {
    # --only-binary: NumPy's cp313t wheel, and hypothesis only as a pure-Python release
    # (a release with a native part has no cp313t wheel and would try to build from Rust).
    PIP_CACHE_DIR=$cache/pip "$venv/bin/python" -m pip install -q --only-binary=:all: "${REQUIREMENTS[@]}" ||
        fail "pip install ${REQUIREMENTS[*]}"
}
venv_of "$python" "$venv" "$want_stamp" fill_venv

# ---- the export of HEAD; the tests run from $run/run, which has no lrelu/
run=$(mktemp -d "$cache/run.XXXXXX")
mkdir -p "$run/src" "$run/run" "$run/tsan"
git -C "$repo" archive HEAD | tar -x -C "$run/src"
cp -r "$run/src/tests" "$run/run/"
echo "   exported $(git -C "$repo" rev-parse --short HEAD) of $repo"

begin build "serial (LRELU_OPENMP=0), CFLAGS=-fsanitize=thread -g -O1"
builder=$ft_cache/venv/bin/python
[ -x "$builder" ] || fail "no $builder: run tools/check_freethreaded.sh once to make it"
(cd "$run/src" && CC=gcc LRELU_OPENMP=0 CFLAGS="-fsanitize=thread -g -O1" LDFLAGS="-fsanitize=thread" \
    "$builder" -m pip wheel -v --no-build-isolation --no-deps -w "$run/dist" .) \
    > "$run/build.log" 2>&1 || { tail -n 60 "$run/build.log"; fail "the build"; }
grep -q -- '-fsanitize=thread' "$run/build.log" || fail "the build did not pass -fsanitize=thread to the compiler"
"$venv/bin/python" -m pip uninstall -q -y lrelu >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install -q --no-deps "$run"/dist/lrelu-*.whl || fail "installing the wheel"
# lrelu's extension modules: a report frame in one of them is lrelu's code, whatever its file.
modules=$("$venv/bin/python" -c 'import glob, os, lrelu
print("|".join(sorted(os.path.basename(p).replace(".", "[.]") for p in glob.glob(os.path.join(os.path.dirname(lrelu.__file__), "**", "*.so"), recursive=True))))' 2>/dev/null || true)
[ -n "$modules" ] || fail "lrelu has no extension modules after the build"
end

# ---- the tests under TSan
begin tests "${TESTS[*]} ${pytest_args[*]:-}, PYTHON_GIL=0"
status=0
(cd "$run/run" && PYTHON_GIL=0 \
    TSAN_OPTIONS="suppressions=$suppressions log_path=$run/tsan/report second_deadlock_stack=1 halt_on_error=0 exitcode=0" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$run/junit.xml" \
    "${TESTS[@]}" "${pytest_args[@]}") || status=$?
reported=0
if read_junit "$run/junit.xml"; then
    reported=1 passed=$junit_passed failed=$junit_failed
fi
end

# ---- classify the reports: a report is lrelu's when any frame is in the export's sources
# (src/*.c, the generated lrelu/*.c) or in one of lrelu's extension modules.
begin reports "$run/tsan"
# No report at all leaves no file, and cat fails on the unmatched glob.
summary=$({ cat "$run"/tsan/report.* 2>/dev/null || true; } | awk -v src="$run/src/" -v mods="^($modules)\\\\+0x" '
    /^WARNING: ThreadSanitizer/ { inside = 1; ours = 0; text = ""; total++ }
    inside { text = text $0 "\n"
             if (index($0, src)) ours = 1
             if (match($0, /\([^ +()]+\+0x/)) { m = substr($0, RSTART + 1); sub(/.*\//, "", m); if (m ~ mods) ours = 1 } }
    /^SUMMARY: ThreadSanitizer/ && inside { inside = 0
             if (ours) { lrelu++; printf "%s", text > "/dev/stderr" } else others[$0]++ }
    END { for (s in others) printf "   not lrelu (%d): %s\n", others[s], s > "/dev/stderr"
          print total + 0, lrelu + 0 }')
read -r reports in_lrelu <<<"$summary"
end
[ "$status" -le 1 ] && [ "$reported" -eq 1 ] || fail "pytest exited with status $status"
[ "$failed" -eq 0 ] || fail "$failed tests failed"
[ "$in_lrelu" -eq 0 ] || fail "$in_lrelu TSan reports in lrelu's code (above)"
exit 0
}
