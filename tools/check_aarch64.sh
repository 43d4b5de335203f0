#!/usr/bin/env bash
# Build lrelu from HEAD and test it on aarch64 Linux, emulated on an x86-64 Debian machine
# (issue 11). Needs root and apt; it installs what it needs on the host.
#
#   tools/check_aarch64.sh [--ci | --full] [-- PYTEST_ARGS...]
#
#   --ci    (the default; CI runs it) the subset in CI_TESTS below, in a venv with only the
#           build requirements and CI_REQUIREMENTS
#   --full  the whole default suite, in a venv with the [test] extra minus torch
#
# LRELU_AARCH64_CACHE (default /var/cache/lrelu-aarch64) keeps the root file system, the venv
# and pip's cache between runs; LRELU_AARCH64_MIRROR picks the Debian mirror.
#
# How it works, and why:
# - An arm64 Debian root file system made by mmdebstrap, pinned to RELEASE (a named release:
#   "stable" moves), run as a chroot through qemu-user-static and binfmt_misc. It is remade
#   only when its stamp (release, mirror, packages) changes.
# - Everything after the host packages runs in private mount and PID namespaces (unshare).
#   The mounts it makes (proc, a read-only sysfs, a tmpfs /dev/shm, binfmt_misc) are never
#   visible on the host, and the kernel removes them all when the namespace's last process
#   ends: after a failure, Ctrl-C, or kill -9 as well. The exit trap also unmounts them
#   itself and says so. The host's /dev is never bind-mounted: the device nodes are the ones
#   mmdebstrap made in the tree. A tree is only deleted by remove_tree(), which first
#   unmounts anything under it and then deletes within one file system.
# - pip's configuration is carried in: the host's effective `pip config list` is written as
#   the chroot's /etc/pip.conf, PIP_* variables pass through, and the files they name
#   (constraints, CA bundles) are copied to the same paths. Local indexes and find-links
#   directories are left out: theirs are wheels for the host's x86-64 Python, and a file://
#   index's pages link to files outside the directory it names. Packages come from PyPI.
# - The venv (/opt/lrelu-venv in the tree) holds the build requirements and the test
#   requirements, installed once and reused; lrelu is built without build isolation, so
#   NumPy and Cython are not reinstalled under emulation on every run. The package built is
#   still `git archive HEAD`, exported afresh each run.
# - The tests run from a directory with tests/ and no lrelu/, against the installed package.
# - The last line gives the pass/fail/skip counts; the exit status is 0 only if all passed.
set -euo pipefail

RELEASE=trixie
# Python, a C compiler and the C library headers: what `pip install .` needs.
PACKAGES=python3,python3-venv,python3-dev,gcc,libc6-dev,ca-certificates

# The CI subset: one place to change when test files are renamed or merged (the run fails if
# a file named here is not in HEAD). Conformance (forward, derivative, backward, in place, the
# ufuncs, half precision), the property tests, and threads, fork and the LRELU_SIMD=baseline
# loop (test_threads.py).
CONFORMANCE_TESTS="test_forward.py test_derivative.py test_backward.py test_inplace.py test_ufunc.py test_half.py"
CI_TESTS="$CONFORMANCE_TESTS test_properties.py test_threads.py test_concurrency.py"
# What the CI subset imports besides lrelu's build requirements.
CI_REQUIREMENTS="pytest hypothesis threadpoolctl"

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${LRELU_AARCH64_CACHE:-/var/cache/lrelu-aarch64}
mirror=${LRELU_AARCH64_MIRROR:-http://deb.debian.org/debian}
mode=ci
pytest_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --ci) mode=ci ;;
        --full) mode=full ;;
        --) shift; pytest_args=("$@"); break ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "check_aarch64: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

last_line() { echo "check_aarch64 ($mode): $1: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"; }

# ---------------------------------------------------------------- on the host
if [ -z "${LRELU_AARCH64_IN_NAMESPACE:-}" ]; then
    trap 'rc=$?; [ $rc -eq 0 ] || last_line "FAILED before the build"' EXIT
    [ "$(id -u)" -eq 0 ] || { echo "check_aarch64: must run as root (chroot, mount, apt)" >&2; exit 1; }
    [ "$(uname -m)" = x86_64 ] || echo "check_aarch64: written for an x86-64 host, this is $(uname -m)" >&2
    missing=()
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
    command -v update-binfmts >/dev/null || missing+=(binfmt-support)
    command -v arch-test >/dev/null || missing+=(arch-test)
    [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== host: apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -q update
        apt-get -q install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
    fi
    mkdir -p "$cache"
    exec 9>"$cache/lock"
    flock -n 9 || { echo "== waiting for another check_aarch64 run on $cache"; flock 9; }
    trap - EXIT
    # --kill-child: if unshare itself is killed, the namespace's processes go with it.
    LRELU_AARCH64_IN_NAMESPACE=1 exec unshare --mount --pid --fork --kill-child --mount-proc -- \
        bash "$0" "--$mode" -- "${pytest_args[@]}"
fi

# ---------------------------------------------------------------- in the namespaces
root=$cache/rootfs
venv=/opt/lrelu-venv                # inside the tree
run=/tmp/lrelu-run                  # inside the tree: the export of HEAD, logs, reports
pip_cache=/var/cache/lrelu-pip      # inside the tree
phase=setup
times=()
mounted=()
passed=0 failed=0 skipped=0
SECONDS=0
phase_start=0

begin() { phase=$1; phase_start=$SECONDS; echo "== [${SECONDS}s] $1${2:+: $2}"; }
end() { times+=("$phase $((SECONDS - phase_start))s${1:+ ($1)}"); }
fail() { echo "check_aarch64: FAILED ($phase): $*" >&2; exit 1; }

mounts_under() {   # mount points at or below $1, deepest first
    findmnt -rn -o TARGET | awk -v p="$1" '$0 == p || index($0, p "/") == 1' | sort -r
}

unmount_under() {
    local target
    for target in $(mounts_under "$1"); do
        umount "$target" 2>/dev/null || umount -l "$target" || true
    done
}

remove_tree() {   # rm -rf that cannot reach through a mount point into another file system
    [ -e "$1" ] || return 0
    unmount_under "$1"
    [ -z "$(mounts_under "$1")" ] || fail "still mounted under $1: $(mounts_under "$1" | tr '\n' ' ')"
    rm -rf --one-file-system "$1"
}

do_mount() {   # do_mount TARGET MOUNT-ARGS...: mount, and remember it for the exit trap
    local target=$1; shift
    mount "$@" "$target"
    mounted+=("$target")
}

inside_tree() {   # the path $root$1, refused if a symlink in the tree leads out of it
    local real
    real=$(realpath -m "$root$1")
    case $real in "$root"/*) echo "$real" ;; *) fail "$1 in the tree leads out of it, to $real" ;; esac
}

put_file() {   # put_file HOST-FILE PATH-IN-TREE: copy, replacing a symlink rather than following it
    local dest
    dest=$(inside_tree "$2")
    mkdir -p "$(dirname "$dest")"
    cp -L --remove-destination "$1" "$dest"
}

on_exit() {
    local rc=$? target
    set +e
    trap - INT TERM HUP
    # The namespace's init is this shell: stop whatever a test left running (a dask worker,
    # a hung child), which would keep the mounts busy. kill -1 from PID 1 of a PID namespace
    # reaches only that namespace.
    [ "$$" -eq 1 ] && kill -KILL -1 2>/dev/null
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"
    done
    unmount_under "$root"
    local left
    left=$(mounts_under "$root")
    echo "== unmounted ${#mounted[@]} mounts; left under $root: ${left:-none}"
    [ -z "$left" ] || rc=1
    echo "== times: ${times[*]:-none} (total ${SECONDS}s)"
    if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]; then
        last_line PASSED
    else
        [ "$rc" -ne 0 ] || rc=1
        last_line "FAILED ($phase)"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

chroot_env=(PATH=$venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
            LANG=C.UTF-8 TMPDIR=/tmp PIP_ROOT_USER_ACTION=ignore)
in_tree() { chroot "$root" /usr/bin/env -i "${chroot_env[@]}" "$@"; }

# ---- emulation
[ -e /proc/sys/fs/binfmt_misc/register ] ||
    do_mount /proc/sys/fs/binfmt_misc -t binfmt_misc binfmt_misc
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || update-binfmts --enable qemu-aarch64
arch-test arm64 >/dev/null || fail "this machine cannot run arm64 binaries (arch-test arm64)"

# ---- root file system
stamp="release=$RELEASE mirror=$mirror packages=$PACKAGES"
begin "root file system" "$root"
if [ -d "$root" ] && [ "$(cat "$root/etc/lrelu-rootfs.stamp" 2>/dev/null)" = "$stamp" ]; then
    end cached
else
    remove_tree "$root"
    remove_tree "$root.new"
    # --variant=apt: only Essential packages and apt, plus PACKAGES.
    mmdebstrap --mode=root --arch=arm64 --variant=apt --include="$PACKAGES" \
        --aptopt='Acquire::Languages "none"' "$RELEASE" "$root.new" "$mirror"
    echo "$stamp" > "$root.new/etc/lrelu-rootfs.stamp"
    mv "$root.new" "$root"
    end made
fi
for node in null zero full random urandom tty; do
    [ -c "$root/dev/$node" ] || fail "the tree has no /dev/$node device node"
done

# ---- what the chroot needs from the host: mounts, DNS, CA certificates, pip's configuration
do_mount "$(inside_tree /proc)" -t proc proc
do_mount "$(inside_tree /sys)" -t sysfs -o ro sysfs
mkdir -p "$(inside_tree /dev/shm)"
do_mount "$(inside_tree /dev/shm)" -t tmpfs -o mode=1777,nosuid,nodev shm
for file in /etc/resolv.conf /etc/hosts; do [ ! -e $file ] || put_file $file $file; done
[ ! -e /etc/ssl/certs/ca-certificates.crt ] || put_file /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY SSL_CERT_FILE REQUESTS_CA_BUNDLE; do
    if [ -n "${!name:-}" ]; then
        chroot_env+=("$name=${!name}")
        [ ! -f "${!name}" ] || put_file "${!name}" "${!name}"
    fi
done

pip_dir=$(mktemp -d)
if python3 -m pip --version >/dev/null 2>&1; then
    # The effective configuration: files (global, user, site, PIP_CONFIG_FILE) merged by pip.
    python3 -m pip config list > "$pip_dir/list"
    python3 - "$pip_dir" <<'EOF'
import ast, configparser, os, sys, urllib.parse
out = sys.argv[1]
FILE_KEYS = {"cert", "client-cert", "constraint", "requirement", "build-constraint"}
INDEX_KEYS = {"index-url", "extra-index-url", "find-links"}

def local_path(token):
    if token.startswith("file:"):
        return urllib.parse.unquote(urllib.parse.urlparse(token).path)
    return token if token.startswith("/") else None

copies, dropped = set(), set()
def carry(key, value):
    """The value as the chroot should see it: local index entries dropped, files to copy."""
    kept = []
    for token in value.split():
        path = local_path(token)
        if path is None:
            kept.append(token)
        elif key in INDEX_KEYS:
            dropped.add(token)
        else:
            kept.append(token)
            if key in FILE_KEYS and os.path.isfile(path):
                copies.add(path)
    return " ".join(kept)

config = configparser.RawConfigParser()
for line in open(f"{out}/list"):
    name, _, value = line.rstrip("\n").partition("=")
    section, _, key = name.partition(".")
    if section == ":env:":   # PIP_* variables: carried as variables, below
        continue
    value = carry(key, ast.literal_eval(value))
    if value:
        config.setdefault(section, {})[key] = value
with open(f"{out}/pip.conf", "w") as f:
    config.write(f)
with open(f"{out}/env", "w") as f:
    for name, value in os.environ.items():
        # the cache is the tree's own; the configuration file is the merged one above
        if not name.startswith("PIP_") or name in ("PIP_CACHE_DIR", "PIP_CONFIG_FILE"):
            continue
        value = carry(name[4:].lower().replace("_", "-"), value)
        if value:
            f.write(f"{name}={value}\0")
open(f"{out}/copies", "w").write("".join(p + "\0" for p in sorted(copies)))
for token in sorted(dropped):
    print(f"   pip: left out {token} (local; its wheels are for this x86-64 host)")
EOF
    put_file "$pip_dir/pip.conf" /etc/pip.conf
    while IFS= read -r -d '' path; do put_file "$path" "$path"; done < "$pip_dir/copies"
    while IFS= read -r -d '' assignment; do chroot_env+=("$assignment"); done < "$pip_dir/env"
    echo "   pip: the host's configuration, in the chroot's /etc/pip.conf:"
    sed 's/^/     /' "$pip_dir/pip.conf"
else
    echo "   pip: none on the host, so no pip configuration to carry"
fi
rm -rf "$pip_dir"
chroot_env+=(PIP_CACHE_DIR=$pip_cache)   # after the host's: the cache lives in the tree

# ---- the export of HEAD; the tests run from $run/run, which has no lrelu/
remove_tree "$(inside_tree $run)"
mkdir -p "$(inside_tree $run)/src" "$(inside_tree $run)/run"
git -C "$repo" archive HEAD | tar -x -C "$(inside_tree $run)/src"
cp -r "$(inside_tree $run)"/src/{tests,pyproject.toml,README.md} "$(inside_tree $run)/run/"
echo "   exported $(git -C "$repo" rev-parse --short HEAD) of $repo"
for file in $CI_TESTS; do
    [ -f "$(inside_tree $run)/src/tests/$file" ] ||
        fail "CI_TESTS names tests/$file, which HEAD does not have: update CI_TESTS in $0"
done

# ---- venv: the build requirements and this mode's test requirements
begin "venv and test dependencies"
requirements=$(in_tree python3 - "$mode" "$CI_REQUIREMENTS" $run/src/pyproject.toml <<'EOF'
import re, sys, tomllib
mode, ci_requirements, path = sys.argv[1:]
project = tomllib.load(open(path, "rb"))
extras = project["project"]["optional-dependencies"]

def expand(extra):   # an extra, with lrelu[...] self-references expanded
    for r in extras[extra]:
        m = re.fullmatch(r"lrelu\[(.+)\]", r.replace(" ", ""))
        yield from (x for e in m.group(1).split(",") for x in expand(e)) if m else [r]

wanted = project["build-system"]["requires"] + project["project"]["dependencies"]
if mode == "full":
    # torch: its aarch64 wheel is not on this machine's disk; the torch tests skip without it.
    wanted += [r for r in expand("test") if not re.match(r"torch\b", r)]
else:
    wanted += ci_requirements.split()
print("\n".join(sorted(set(wanted))))
EOF
)
have=$(cat "$(inside_tree $venv)/lrelu-requirements.txt" 2>/dev/null || true)
new=$(comm -23 <(echo "$requirements") <(echo "$have"))
if [ -e "$(inside_tree $venv)/pyvenv.cfg" ] && [ -z "$new" ]; then
    end cached
else
    [ -e "$(inside_tree $venv)/pyvenv.cfg" ] && [ -n "$have" ] || {
        remove_tree "$(inside_tree $venv)"
        in_tree python3 -m venv $venv
    }
    echo "   installing:" $requirements
    # shellcheck disable=SC2086
    in_tree python -m pip install -q $requirements
    sort -u <(echo "$requirements") <(echo "$have") | grep . > "$(inside_tree $venv)/lrelu-requirements.txt"
    end installed
fi

# ---- build
begin build "pip install --no-build-isolation $run/src"
in_tree python -m pip uninstall -q -y lrelu >/dev/null 2>&1 || true
in_tree sh -c "cd $run/src && python -m pip install -v --no-build-isolation --no-deps ." \
    > "$(inside_tree $run)/build.log" 2>&1 || { tail -n 60 "$(inside_tree $run)/build.log"; fail "the build"; }
grep -q -- '-fopenmp' "$(inside_tree $run)/build.log" || fail "the build did not use OpenMP"
in_tree sh -c "cd $run/run && python -" <<'EOF' || fail "lrelu does not import or is not the one built"
import pathlib, platform, sysconfig
import lrelu
from lrelu._config import config
site = pathlib.Path(sysconfig.get_path("platlib")).resolve()
where = pathlib.Path(lrelu.__file__).resolve()
assert site in where.parents, f"lrelu imported from {where}, not from {site}"
assert platform.machine() == "aarch64", platform.machine()
lrelu.show_config()
assert config()["openmp"], "built without OpenMP"
EOF
end

# ---- tests
begin tests "$mode"
reports=()
pytest_errors=0
run_pytest() {   # run_pytest LABEL ENV-ASSIGNMENTS... -- PYTEST-ARGS...
    local label=$1 assignments=(); shift
    while [ "$1" != -- ]; do assignments+=("$1"); shift; done; shift
    local report=$run/junit-${#reports[@]}.xml
    reports+=("$report")
    echo "== [${SECONDS}s] pytest ($label)"
    local status=0
    in_tree sh -c 'cd "$0" && exec env "$@"' "$run/run" "${assignments[@]}" \
        python -m pytest -q -p no:cacheprovider --junitxml="$report" "$@" || status=$?
    # 1 is "some tests failed", which the report counts; anything else is pytest failing
    if [ "$status" -gt 1 ]; then
        echo "   pytest exited with status $status"
        pytest_errors=$((pytest_errors + 1))
    fi
}
if [ "$mode" = full ]; then
    run_pytest "the whole default suite" -- tests "${pytest_args[@]}"
else
    # shellcheck disable=SC2086
    run_pytest "CI subset" -- $(printf 'tests/%s ' $CI_TESTS) --hypothesis-profile=ci "${pytest_args[@]}"
fi
# The loop at every SIMD level: the run above took the one chosen at import; if that is not
# the baseline, the conformance tests run again on the baseline loop (LRELU_SIMD=baseline).
simd=$(in_tree python -c 'from lrelu import _kernels; print(_kernels._simd_info()["selected"])')
if [ "$simd" != baseline ]; then
    # shellcheck disable=SC2086
    run_pytest "LRELU_SIMD=baseline" LRELU_SIMD=baseline -- $(printf 'tests/%s ' $CONFORMANCE_TESTS) "${pytest_args[@]}"
else
    echo "   the loop chosen at import is the baseline: no other SIMD level to run"
fi
read -r passed failed skipped < <(in_tree python - "${reports[@]}" <<'EOF'
import sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        suites = ET.parse(path).getroot().iter("testsuite")
    except (OSError, ET.ParseError):
        failed += 1   # pytest died before writing its report
        continue
    for s in suites:
        f = int(s.get("failures", 0)) + int(s.get("errors", 0))
        k = int(s.get("skipped", 0))
        passed += int(s.get("tests", 0)) - f - k
        failed += f
        skipped += k
print(passed, failed, skipped)
EOF
)
failed=$((failed + pytest_errors))
end
[ "$failed" -eq 0 ] || exit 1
