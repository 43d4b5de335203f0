#!/usr/bin/env bash
# Build lrelu from HEAD and test it on aarch64 Linux, emulated on an x86-64 Debian machine
# (issue 11). Needs root and apt; installs what it needs on the host.
#
#   tools/check_aarch64.sh [--ci | --full] [-- PYTEST-ARGS...]
#
#   --ci    (the default; CI runs it) the tests in CI_TESTS below, in a venv holding only the
#           build requirements and CI_REQUIREMENTS
#   --full  the whole default suite, in a venv holding the [test] extra minus torch
#
#   LRELU_AARCH64_CACHE   the root file system, the venv and pip's cache live here between
#                         runs (default /var/cache/lrelu-aarch64); delete it to start afresh
#   LRELU_AARCH64_CPU     the emulated CPU (default max,pauth=off: see below)
#   LRELU_AARCH64_MIRROR  the Debian mirror (default http://deb.debian.org/debian)
#
# How it works, and why:
# - An arm64 Debian root file system ("the tree") made by mmdebstrap and pinned to RELEASE (a
#   named release: "stable" moves), run as a chroot through qemu-user-static and binfmt_misc.
#   It is made again only when its stamp (release, mirror, packages) changes.
# - The emulated CPU is QEMU's "max" (every feature QEMU has, SVE and FP16 arithmetic among
#   them, so every SIMD level a kernel could pick runs here) with pointer authentication off:
#   Debian builds arm64 code with PAC instructions, QEMU computes each of them (a block
#   cipher) in software, at every function's entry and return, which slows everything
#   several-fold; with the feature off they are no-ops.
# - Everything after the host packages runs in private mount and PID namespaces (unshare).
#   Its mounts (binfmt_misc, proc, a read-only sysfs, a tmpfs /dev/shm) are never visible on
#   the host, and the kernel removes them when the namespace's last process ends: after a
#   failure, Ctrl-C or kill -9 too. The exit trap stops what a test left running, unmounts
#   them itself and says what is left (nothing). The host's /dev is never bind-mounted; the
#   device nodes are the ones mmdebstrap made in the tree. A tree is only deleted by
#   remove_tree, which unmounts anything under it first and deletes within one file system.
# - pip's configuration is carried in: the host's effective `pip config list` becomes the
#   tree's /etc/pip.conf, PIP_* variables pass through, and the files they name (constraints,
#   CA bundles) are copied to the same paths, as is the host's CA bundle. Local indexes and
#   find-links directories are left out: theirs are wheels for the host's x86-64 Python, and
#   a file:// index's pages link to files outside the directory it names. Packages come from
#   PyPI, as the host's do when its local indexes do not have them.
# - The venv (/opt/lrelu-venv in the tree) gets the build and test requirements once, and is
#   reused; lrelu is built without build isolation, so NumPy and Cython are not installed
#   again under emulation for every build. What is built is still `git archive HEAD`,
#   exported afresh each run.
# - The tests run from a directory with tests/ and no lrelu/, against the installed package.
# - The exit status is 0 only if every test passed; the last line gives the counts.
#
# The whole script is one compound command, read before any of it runs: editing this file or
# checking out another commit during a run does not change what the run does.
# shellcheck disable=SC2317 # on_exit and what it calls run from the trap
{
set -euo pipefail

RELEASE=trixie
# Python, a C compiler and the C library headers: what `pip install .` needs.
PACKAGES=python3,python3-venv,python3-dev,gcc,libc6-dev,ca-certificates

# The CI subset, in one place: update it when test files are renamed or merged (a run fails
# if a file named here is not in HEAD). Conformance (forward and derivative, backward, in
# place, the ufuncs, half precision), the property tests, and threads and fork
# (test_threads.py also runs the loops with LRELU_SIMD=baseline).
CONFORMANCE_TESTS=(test_elementwise.py test_backward.py test_inplace.py test_ufunc.py test_half.py)
CI_TESTS=("${CONFORMANCE_TESTS[@]}" test_properties.py test_threads.py test_concurrency.py)
# What those tests import besides lrelu's build requirements.
CI_REQUIREMENTS=(pytest hypothesis threadpoolctl)

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${LRELU_AARCH64_CACHE:-/var/cache/lrelu-aarch64}
cpu=${LRELU_AARCH64_CPU:-max,pauth=off}
mirror=${LRELU_AARCH64_MIRROR:-http://deb.debian.org/debian}
tool=check_aarch64
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"
parse_args 2,15 --ci --full -- "$@"
mode=ci
[ ${#options[@]} -eq 0 ] || mode=${options[-1]#--}   # the last of --ci and --full

passed=0 failed=0 skipped=0
last_line() { echo "check_aarch64 ($mode): $1: $passed passed, $failed failed, $skipped skipped"; }

# ---------------------------------------------------------------- on the host
if [ -z "${LRELU_AARCH64_IN_NAMESPACE:-}" ]; then
    trap 'last_line "FAILED before the build"' EXIT
    [ "$(id -u)" -eq 0 ] || { echo "check_aarch64: must run as root (chroot, mount, apt)" >&2; exit 1; }
    missing=()
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
    command -v update-binfmts >/dev/null || missing+=(binfmt-support)
    command -v arch-test >/dev/null || missing+=(arch-test)
    [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== host: apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -qq update
        apt-get -qq install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
    fi
    lock_cache "$cache"
    trap - EXIT
    # --kill-child: if unshare itself is killed, the namespace's processes go with it.
    LRELU_AARCH64_IN_NAMESPACE=1 exec unshare --mount --pid --fork --kill-child --mount-proc -- \
        bash "$0" "--$mode" -- "${pytest_args[@]}"
fi

# ---------------------------------------------------------------- in the namespaces
root=$cache/rootfs
venv=/opt/lrelu-venv              # these three are paths in the tree
run=/tmp/lrelu-run                # the export of HEAD, the build log, the test reports
pip_cache=/var/cache/lrelu-pip
export QEMU_CPU=$cpu              # read by every emulated process, mmdebstrap's too
mounted=()
reports=()        # the pytest runs' JUnit reports, paths in the tree
pytest_errors=0   # pytest runs that ended with neither success nor failing tests

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

in_tree_path() {   # the host path of $1 in the tree, refused if a symlink leads out of the tree
    local real
    real=$(realpath -m "$root$1")
    case $real in "$root"/*) echo "$real" ;; *) fail "$1 in the tree leads out of it, to $real" ;; esac
}

put_file() {   # put_file HOST-FILE PATH-IN-TREE: copy, replacing a symlink rather than following it
    local dest
    dest=$(in_tree_path "$2")
    mkdir -p "$(dirname "$dest")"
    cp -L --remove-destination "$1" "$dest"
}

count_reports() {   # passed, failed and skipped: the sums over the reports so far
    local report
    passed=0 failed=$pytest_errors skipped=0
    for report in "${reports[@]}"; do
        if ! read_junit "$root$report"; then   # pytest ended before writing it
            failed=$((failed + 1))
            continue
        fi
        passed=$((passed + junit_passed))
        failed=$((failed + junit_failed))
        skipped=$((skipped + junit_skipped))
    done
}

on_exit() {
    local rc=$? i left
    set +e
    # The trap can run inside a command whose output goes to a log (the build's): report to
    # where the script's own output goes.
    exec 1>&"$stdout" 2>&"$stderr"
    trap - INT TERM HUP
    # This shell is the PID namespace's init, so kill -1 reaches only the namespace: whatever
    # a test left running (a dask worker, a hung child) would keep the mounts busy.
    [ "$$" -eq 1 ] && kill -KILL -1 2>/dev/null
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"
    done
    unmount_under "$root"
    left=$(mounts_under "$root")
    echo "== unmounted ${#mounted[@]} mounts; left under $root: ${left:-none}"
    [ -z "$left" ] || rc=1
    echo "== times: ${times[*]:-none} total ${SECONDS}s"
    count_reports   # again: a run cut short counts what its pytest reported
    if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]; then
        last_line PASSED
    else
        [ "$rc" -ne 0 ] || rc=1
        last_line "FAILED ($phase)"
    fi
    exit "$rc"
}
exec {stdout}>&1 {stderr}>&2
set_traps

chroot_env=("PATH=$venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            HOME=/root LANG=C.UTF-8 TMPDIR=/tmp PIP_ROOT_USER_ACTION=ignore "QEMU_CPU=$cpu")
in_tree() { chroot "$root" /usr/bin/env -i "${chroot_env[@]}" "$@"; }

# ---- emulation (--mount-proc gave this namespace a fresh /proc, without binfmt_misc)
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
    # --variant=apt: the Essential packages and apt, then PACKAGES.
    mmdebstrap --mode=root --arch=arm64 --variant=apt --include="$PACKAGES" \
        --aptopt='Acquire::Languages "none"' "$RELEASE" "$root.new" "$mirror"
    echo "$stamp" > "$root.new/etc/lrelu-rootfs.stamp"
    mv "$root.new" "$root"
    end made
fi
for node in null zero full random urandom tty; do
    [ -c "$root/dev/$node" ] || fail "the tree has no /dev/$node device node"
done

# ---- what the chroot needs: mounts, DNS, CA certificates, proxies, pip's configuration
do_mount "$(in_tree_path /proc)" -t proc proc
do_mount "$(in_tree_path /sys)" -t sysfs -o ro sysfs
mkdir -p "$(in_tree_path /dev/shm)"
do_mount "$(in_tree_path /dev/shm)" -t tmpfs -o mode=1777,nosuid,nodev shm
for file in /etc/resolv.conf /etc/hosts /etc/ssl/certs/ca-certificates.crt; do
    [ ! -e $file ] || put_file $file $file
done
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY SSL_CERT_FILE REQUESTS_CA_BUNDLE; do
    if [ -n "${!name:-}" ]; then
        chroot_env+=("$name=${!name}")
        [ ! -f "${!name}" ] || put_file "${!name}" "${!name}"
    fi
done

pip_dir=$(mktemp -d)
if python3 -m pip --version >/dev/null 2>&1; then
    # pip merges its files (global, user, site, PIP_CONFIG_FILE); `config list` is the result.
    python3 -m pip config list > "$pip_dir/list"
    python3 - "$pip_dir" <<'EOF'
import ast, configparser, os, sys, urllib.parse
out = sys.argv[1]
FILE_KEYS = {"cert", "client-cert", "constraint", "requirement", "build-constraint"}
INDEX_KEYS = {"index-url", "extra-index-url", "find-links"}
copies, dropped = set(), set()

def local_path(token):
    if token.startswith("file:"):
        return urllib.parse.unquote(urllib.parse.urlparse(token).path)
    return token if token.startswith("/") else None

def carry(key, value):
    """The value as the tree should see it: local indexes dropped, named files to copy."""
    kept = []
    for token in value.split():
        path = local_path(token)
        if path is not None and key in INDEX_KEYS:
            dropped.add(token)
            continue
        kept.append(token)
        if path is not None and key in FILE_KEYS and os.path.isfile(path):
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
        if not config.has_section(section):
            config.add_section(section)
        config.set(section, key, value)
with open(f"{out}/pip.conf", "w") as f:
    config.write(f)
with open(f"{out}/env", "w") as f:
    for name, value in os.environ.items():
        # the tree has its own cache, and the merged file above stands for every config file
        if name.startswith("PIP_") and name not in ("PIP_CACHE_DIR", "PIP_CONFIG_FILE"):
            value = carry(name[4:].lower().replace("_", "-"), value)
            if value:
                f.write(f"{name}={value}\0")
with open(f"{out}/copies", "w") as f:
    f.write("".join(p + "\0" for p in sorted(copies)))
for token in sorted(dropped):
    print(f"   pip: left out {token} (local: the host's x86-64 wheels)")
EOF
    put_file "$pip_dir/pip.conf" /etc/pip.conf
    while IFS= read -r -d '' path; do put_file "$path" "$path"; done < "$pip_dir/copies"
    while IFS= read -r -d '' assignment; do chroot_env+=("$assignment"); done < "$pip_dir/env"
    echo "   pip: the host's configuration, as the tree's /etc/pip.conf:"
    sed -e '/^$/d' -e 's/^/     /' "$pip_dir/pip.conf"
else
    echo "   pip: none on the host, so no pip configuration to carry"
fi
rm -rf "$pip_dir"
chroot_env+=("PIP_CACHE_DIR=$pip_cache")   # after the host's variables, so this one wins

# ---- the export of HEAD; the tests run from $run/run, which has no lrelu/
remove_tree "$(in_tree_path $run)"
mkdir -p "$(in_tree_path $run)/src" "$(in_tree_path $run)/run"
git -C "$repo" archive HEAD | tar -x -C "$(in_tree_path $run)/src"
cp -r "$(in_tree_path $run)"/src/{tests,pyproject.toml,README.md} "$(in_tree_path $run)/run/"
echo "   exported $(git -C "$repo" rev-parse --short HEAD) of $repo"
for file in "${CI_TESTS[@]}"; do
    [ -f "$(in_tree_path $run)/src/tests/$file" ] ||
        fail "CI_TESTS names tests/$file, which HEAD does not have: update CI_TESTS in $0"
done

# ---- the venv: the build requirements and this mode's test requirements
begin "venv and test dependencies"
# --full leaves torch out: its aarch64 wheel is a large download, slow to install and import
# under emulation, and its tests skip without it.
if [ "$mode" = full ]; then select=(--skip 'torch\b'); else select=(--only "${CI_REQUIREMENTS[*]}"); fi
requirements=$(in_tree python3 - $run/src/pyproject.toml "${select[@]}" < "$repo/tools/requirements.py")
stamp_file=$(in_tree_path $venv)/lrelu-requirements.txt
have=$(cat "$stamp_file" 2>/dev/null || true)
if [ -e "$(in_tree_path $venv)/pyvenv.cfg" ] && [ -z "$(comm -23 <(echo "$requirements") <(echo "$have"))" ]; then
    end cached
else
    # a venv without the stamp is one whose first install did not finish
    if [ ! -e "$(in_tree_path $venv)/pyvenv.cfg" ] || [ -z "$have" ]; then
        remove_tree "$(in_tree_path $venv)"
        in_tree python3 -m venv $venv
    fi
    echo "   pip install" "$(echo "$requirements" | tr '\n' ' ')"
    # shellcheck disable=SC2086 # one requirement a line, none with spaces
    in_tree python -m pip install -q $requirements
    sort -u <(echo "$requirements") <(echo "$have") | grep . > "$stamp_file"
    end installed
fi

# ---- build
begin build "pip install --no-build-isolation $run/src"
in_tree python -m pip uninstall -q -y lrelu >/dev/null 2>&1 || true
# The extensions compile side by side (gcc is the slow part under emulation), through
# setuptools' extra configuration file rather than by touching the export.
printf '[build_ext]\nparallel = %s\n' "$(nproc)" > "$(in_tree_path $run)/build_ext.cfg"
in_tree sh -c "cd $run/src && DIST_EXTRA_CONFIG=$run/build_ext.cfg python -m pip install -v --no-build-isolation --no-deps ." \
    > "$(in_tree_path $run)/build.log" 2>&1 || { tail -n 60 "$(in_tree_path $run)/build.log"; fail "the build"; }
grep -q -- '-fopenmp' "$(in_tree_path $run)/build.log" || fail "the build did not use OpenMP"
in_tree sh -c "cd $run/run && python -" <<'EOF' || fail "lrelu does not import, or is not the one just built"
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
run_pytest() {   # run_pytest LABEL [VAR=VALUE...] -- PYTEST-ARGS...
    local label=$1 assignments=() status=0 report=$run/junit-${#reports[@]}.xml; shift
    while [ "$1" != -- ]; do assignments+=("$1"); shift; done; shift
    reports+=("$report")
    echo "== [${SECONDS}s] pytest ($label)"
    # shellcheck disable=SC2016 # $0 and $@ are the inner shell's
    in_tree sh -c 'cd "$0" && exec env "$@"' "$run/run" "${assignments[@]}" \
        python -m pytest -q -p no:cacheprovider --junitxml="$report" "$@" || status=$?
    # 1 means some tests failed, which the report counts; anything else is pytest failing
    if [ "$status" -gt 1 ]; then
        echo "   pytest exited with status $status"
        pytest_errors=$((pytest_errors + 1))
    fi
}
if [ "$mode" = full ]; then
    run_pytest "the whole default suite" -- tests "${pytest_args[@]}"
else
    run_pytest "CI subset" -- "${CI_TESTS[@]/#/tests/}" --hypothesis-profile=ci "${pytest_args[@]}"
fi
# The loops at every SIMD level: the run above used the one chosen at import; if that is not
# the baseline, the conformance tests run again on the baseline loop.
simd=$(in_tree python -c 'from lrelu import _kernels; print(_kernels._simd_info()["selected"])')
if [ "$simd" != baseline ]; then
    run_pytest "LRELU_SIMD=baseline" LRELU_SIMD=baseline -- "${CONFORMANCE_TESTS[@]/#/tests/}" "${pytest_args[@]}"
else
    echo "   the loop chosen at import is the baseline one: no other SIMD level to run"
fi
count_reports
end
[ "$failed" -eq 0 ] || exit 1
exit 0
}
