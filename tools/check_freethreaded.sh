#!/usr/bin/env bash
# Build lrelu from HEAD on a free-threaded CPython and run the whole suite with the GIL off
# (issue 24). Debian only: the interpreter is built from Debian's source package.
#
#   tools/check_freethreaded.sh [-- PYTEST-ARGS...]
#
#   LRELU_FT_CACHE    the interpreter, its venv and pip's cache live here between runs
#                     (default /var/cache/lrelu-freethreaded); delete it to start afresh
#   LRELU_FT_MIRROR   the Debian mirror for the source package (default http://deb.debian.org/debian)
#
# How it works, and why:
# - CPython 3.13 from Debian trixie's source package python3.13 (its upstream tarball, which
#   apt verifies against the signed index), configured with --disable-gil: the first run adds
#   a deb-src line for trixie and runs `apt-get source` (root), later runs reuse the tarball.
#   The interpreter is built once into the cache and reused while its inputs (the tarball's
#   checksum and CONFIGURE) are unchanged; a build that did not finish is never used.
# - A venv on it holds the build requirements and every test requirement of the [test] extra
#   that installs from a wheel for this interpreter (--only-binary: no source builds). Those
#   without one are named, and the tests that import them skip (importorskip), as they do
#   anywhere the package is missing. torch is left out (SKIP_REQUIREMENTS says why).
# - lrelu is built from `git archive HEAD`, exported afresh each run, without build
#   isolation; the tests run from a directory with tests/ and no lrelu/, with PYTHON_GIL=0.
# - Before the tests: in fresh interpreters with PYTHON_GIL unset, importing lrelu (all of its
#   modules) leaves sys._is_gil_enabled() False, and so does importing it with each companion
#   that installed (ml_dtypes, pandas, ...). A companion that turns the GIL on by itself is
#   named and not held against lrelu.
# - On any exit (failure, Ctrl-C) the export and the build are removed, and so is an
#   interpreter or a venv whose making did not finish. The last line gives the counts.
#
# The whole script is one compound command, read before any of it runs: editing this file or
# checking out another commit during a run does not change what the run does.
# shellcheck disable=SC2317 # on_exit runs from the trap
{
set -euo pipefail

RELEASE=trixie
SOURCE_PACKAGE=python3.13
CONFIGURE=(--disable-gil --with-ensurepip=install)
# Not installed: torch's wheels on the default index are the CUDA build (gigabytes), and its
# CPU build is not on PyPI. Its tests skip.
SKIP_REQUIREMENTS='^torch\b'
# The companions whose import must leave the GIL off next to lrelu's (import names).
COMPANIONS=(ml_dtypes pandas pyarrow xarray dask.array distributed threadpoolctl tqdm matplotlib)

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${LRELU_FT_CACHE:-/var/cache/lrelu-freethreaded}
mirror=${LRELU_FT_MIRROR:-http://deb.debian.org/debian}
tool=check_freethreaded
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"
parse_args 2,12 -- "$@"

passed=0 failed=0 skipped=0

on_exit() {
    local rc=$?
    set +e
    on_exit_cleanup
    echo "== times: ${times[*]:-none} total ${SECONDS}s"
    if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]; then
        echo "check_freethreaded ($version_line): PASSED: $passed passed, $failed failed, $skipped skipped"
    else
        [ "$rc" -ne 0 ] || rc=1
        echo "check_freethreaded ($version_line): FAILED ($phase): $passed passed, $failed failed, $skipped skipped"
    fi
    exit "$rc"
}
version_line="no interpreter yet"
set_traps
lock_cache "$cache"

# ---- the source: Debian's upstream tarball of python3.13
begin source "$SOURCE_PACKAGE from Debian $RELEASE"
tarball=$(ls "$cache"/src/"$SOURCE_PACKAGE"_*.orig.tar.xz 2>/dev/null | tail -n 1 || true)
if [ -n "$tarball" ]; then
    end cached
else
    [ "$(id -u)" -eq 0 ] || fail "must run as root the first time (apt-get source needs a deb-src line)"
    command -v dpkg-source >/dev/null || { apt-get -qq update; apt-get -qq install -y --no-install-recommends dpkg-dev >/dev/null; }
    list=/etc/apt/sources.list.d/lrelu-$RELEASE-src.sources
    if [ ! -e "$list" ]; then
        printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$mirror" "$RELEASE" > "$list"
        echo "   added $list"
    fi
    apt-get -qq update
    making=$cache/src.new
    rm -rf "$making"; mkdir -p "$making"
    (cd "$making" && apt-get source -qq --download-only "$SOURCE_PACKAGE/$RELEASE" 2>&1 |
        grep -v 'unsandboxed as root' || true)
    ls "$making"/"$SOURCE_PACKAGE"_*.orig.tar.xz >/dev/null 2>&1 || fail "apt-get source $SOURCE_PACKAGE/$RELEASE fetched no tarball"
    rm -rf "$cache/src"; mv "$making" "$cache/src"; making=""
    tarball=$(ls "$cache"/src/"$SOURCE_PACKAGE"_*.orig.tar.xz | tail -n 1)
    end fetched
fi
upstream=$(basename "$tarball" | sed -n "s/^${SOURCE_PACKAGE}_\(.*\)\.orig\.tar\.xz$/\1/p")

# ---- the interpreter
python_dir=$cache/python
python=$python_dir/bin/python${SOURCE_PACKAGE#python}t
stamp="tarball=$(sha256sum "$tarball" | cut -d' ' -f1) configure=${CONFIGURE[*]}"
begin interpreter "CPython $upstream ${CONFIGURE[*]}"
python_from_tarball "$tarball" "$python" "$stamp" -- "${CONFIGURE[@]}"
version_line="CPython $("$python" -c 'import sys; print(sys.version.split()[0])') free-threaded"
[ "$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("Py_GIL_DISABLED"))')" = 1 ] ||
    fail "$python is not a free-threaded build"
echo "   $version_line"

# ---- the export of HEAD; the tests run from $run/run, which has no lrelu/
run=$(mktemp -d "$cache/run.XXXXXX")
mkdir -p "$run/src" "$run/run"
git -C "$repo" archive HEAD | tar -x -C "$run/src"
# and what tests/test_release.py reads beside them
cp -r "$run"/src/{tests,pyproject.toml,README.md,CHANGELOG.md,.github} "$run/run/"
echo "   exported $(git -C "$repo" rev-parse --short HEAD) of $repo"

# ---- the venv
begin venv "build and test requirements that have wheels for $upstream free-threaded"
venv=$cache/venv
requirements=$("$python" "$repo/tools/requirements.py" "$run/src/pyproject.toml" --skip "$SKIP_REQUIREMENTS")
want_stamp="$stamp
$requirements"
fill_venv() {
    PIP_CACHE_DIR=$cache/pip "$venv/bin/python" -m pip install -q --upgrade pip
    missing=()
    while read -r requirement; do
        # one at a time, so that one without a wheel leaves the others installed
        PIP_CACHE_DIR=$cache/pip "$venv/bin/python" -m pip install -q --only-binary=:all: "$requirement" \
            > "$run/pip.log" 2>&1 || missing+=("$requirement")
    done <<<"$requirements"
    printf '%s\n' "${missing[@]}" > "$venv/lrelu-missing"
}
venv_of "$python" "$venv" "$want_stamp" fill_venv
missing=$(grep . "$venv/lrelu-missing" | paste -sd ' ' || true)
echo "   no wheel for this interpreter (their tests skip): ${missing:-none}; left out: torch"
for needed in numpy Cython setuptools pytest; do
    "$venv/bin/python" -c "import $needed" 2>/dev/null || fail "$needed did not install: it is needed to build or test"
done

# ---- build
begin build "pip install --no-build-isolation $run/src"
"$venv/bin/python" -m pip uninstall -q -y lrelu >/dev/null 2>&1 || true
printf '[build_ext]\nparallel = %s\n' "$(nproc)" > "$run/build_ext.cfg"
(cd "$run/src" && DIST_EXTRA_CONFIG=$run/build_ext.cfg "$venv/bin/python" -m pip install -v --no-build-isolation --no-deps .) \
    > "$run/build.log" 2>&1 || { tail -n 60 "$run/build.log"; fail "the build"; }
end

# ---- the GIL stays off: lrelu alone, then with each companion that installed
begin "GIL check" "PYTHON_GIL unset"
gil_after() {   # prints True or False: sys._is_gil_enabled() after importing the modules named
    (cd "$run/run" && env -u PYTHON_GIL "$venv/bin/python" -W ignore -c \
        'import importlib, sys
for name in sys.argv[1:]: importlib.import_module(name)
print(sys._is_gil_enabled())' "$@")
}
[ "$(gil_after lrelu lrelu.ufuncs lrelu._kernels lrelu._threads lrelu._prelu lrelu.cli)" = False ] ||
    fail "importing lrelu turned the GIL on"
checked=(lrelu)
for companion in "${COMPANIONS[@]}"; do
    alone=$(gil_after "$companion" 2>/dev/null) || continue    # not installed
    if [ "$alone" = True ]; then
        echo "   $companion turns the GIL on by itself (not lrelu's doing)"
        continue
    fi
    [ "$(gil_after lrelu "$companion")" = False ] || fail "importing lrelu with $companion turned the GIL on"
    [ "$(gil_after "$companion" lrelu)" = False ] || fail "importing $companion, then lrelu, turned the GIL on"
    checked+=("$companion")
done
echo "   GIL off after importing: ${checked[*]}"
end

# ---- tests
begin tests "the whole default suite, PYTHON_GIL=0"
status=0
(cd "$run/run" && PYTHON_GIL=0 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    --junitxml="$run/junit.xml" tests "${pytest_args[@]}") || status=$?
reported=0
if read_junit "$run/junit.xml"; then
    reported=1 passed=$junit_passed failed=$junit_failed skipped=$junit_skipped
fi
[ "$status" -le 1 ] && [ "$reported" -eq 1 ] || { failed=$((failed + 1)); fail "pytest exited with status $status"; }
end
[ "$failed" -eq 0 ] || exit 1
exit 0
}
