# Shared by the long tools/ scripts (check_freethreaded.sh, tsan_python.sh, check_aarch64.sh):
# sourced, never run. Set `tool` (the name their messages start with) before sourcing:
#
#   tool=check_freethreaded
#   . "$(dirname "$0")/lib.sh"
#
# The caller keeps its own on_exit (its last line is its own); lib.sh gives it the parts they
# share: phases timed into `times`, the cleanup of a half-made cache entry (`making`) and of
# the run's export (`run`), the lock on the cache, and the counts of a pytest JUnit report.
# shellcheck shell=bash disable=SC2034 # the variables set here are read by the caller

phase=setup
times=()          # "PHASE SECONDSs (NOTE)," for the last line
run=""            # the export of HEAD: removed on any exit
making=""         # an interpreter or venv being made: removed if the run ends before it is
SECONDS=0
phase_start=0

begin() { phase=$1; phase_start=$SECONDS; echo "== [${SECONDS}s] $1${2:+: $2}"; }
end() { times+=("$phase $((SECONDS - phase_start))s${1:+ ($1)},"); }
fail() { echo "$tool: FAILED ($phase): $*" >&2; exit 1; }

# parse_args HELP-LINES [OPTION...] -- "$@": the command line [OPTION...] [-- PYTEST-ARGS...].
# Sets `options` (the OPTIONs given, in order) and `pytest_args`; -h/--help prints lines
# HELP-LINES (a sed range) of the script; anything else is refused with status 2.
parse_args() {
    local help=$1 known=(); shift
    while [ "$1" != -- ]; do known+=("$1"); shift; done; shift
    options=() pytest_args=()
    while [ $# -gt 0 ]; do
        case $1 in
            --) shift; pytest_args=("$@"); return 0 ;;
            -h|--help) sed -n "${help}p" "$0"; exit 0 ;;
            *) [[ " ${known[*]} " == *" $1 "* ]] ||
                   { echo "$tool: unknown argument $1 (see --help)" >&2; exit 2; }
               options+=("$1") ;;
        esac
        shift
    done
}

# on_exit_cleanup: the first steps of a caller's on_exit (after `local rc=$?; set +e`): no
# second signal trap, and the unfinished cache entry and the export removed.
on_exit_cleanup() {
    trap - INT TERM HUP
    [ -z "$making" ] || { echo "== removing the unfinished $making"; rm -rf "$making"; }
    [ -z "$run" ] || rm -rf "$run"
}

# set_traps: on_exit on any exit, and a signal ends the script with the shell's usual status,
# so that on_exit runs for it too.
set_traps() {
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

# lock_cache DIR: one run at a time on a cache (fd 9 holds the lock until the script ends).
lock_cache() {
    mkdir -p "$1"
    exec 9>"$1/lock"
    flock -n 9 || { echo "== waiting for another $tool run on $1"; flock 9; }
}

# stamped FILE DIR STAMP: FILE is executable and DIR/lrelu-stamp holds STAMP, i.e. what DIR
# holds was made, to the end, from the inputs STAMP names.
stamped() { [ -x "$1" ] && [ "$(cat "$2/lrelu-stamp" 2>/dev/null)" = "$3" ]; }

# venv_of PYTHON VENV STAMP INSTALL: a venv of PYTHON at VENV, made afresh and filled by the
# caller's function INSTALL (it may use $venv), unless VENV is stamped with STAMP already.
# Ends the current phase ("cached" or "installed").
venv_of() {
    if stamped "$2/bin/python" "$2" "$3"; then
        end cached
        return 0
    fi
    making=$2
    rm -rf "$2"
    "$1" -m venv "$2"
    "$4"
    echo "$3" > "$2/lrelu-stamp"
    making=""
    end installed
}

# python_from_tarball TARBALL PYTHON STAMP [VAR=VALUE...] -- CONFIGURE-ARGS...: CPython built
# from TARBALL, in $cache/build, and installed so that PYTHON (PREFIX/bin/pythonX.Yt) is its
# interpreter, with make run under the VAR=VALUEs; nothing is done if PREFIX is stamped with
# STAMP already. Ends the current phase ("cached" or "built").
python_from_tarball() {
    local tarball=$1 python=$2 stamp=$3 prefix=${2%/bin/*} make_env=() build=$cache/build; shift 3
    while [ "$1" != -- ]; do make_env+=("$1"); shift; done; shift
    if stamped "$python" "$prefix" "$stamp"; then
        end cached
        return 0
    fi
    making=$prefix
    rm -rf "$build" "$prefix"; mkdir -p "$build"
    tar -xJf "$tarball" -C "$build"
    (cd "$build"/Python-* && ./configure -q --prefix="$prefix" "$@" &&
        env "${make_env[@]}" make -j"$(nproc)" && env "${make_env[@]}" make install) \
        > "$build/build.log" 2>&1 || { tail -n 40 "$build/build.log"; fail "the CPython build (log above)"; }
    echo "$stamp" > "$prefix/lrelu-stamp"
    making=""
    rm -rf "$build"
    end built
}

# read_junit REPORT: sets junit_passed, junit_failed (failures and errors) and junit_skipped
# from pytest's JUnit report; fails (status 1) when there is none (pytest ended before writing it).
read_junit() {
    local suite total
    suite=$(grep -o '<testsuite [^>]*>' "$1" 2>/dev/null | head -n 1 || true)
    [ -n "$suite" ] || return 1
    total=$(junit_count tests "$suite")
    junit_failed=$(($(junit_count failures "$suite") + $(junit_count errors "$suite")))
    junit_skipped=$(junit_count skipped "$suite")
    junit_passed=$((total - junit_failed - junit_skipped))
}
junit_count() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$2"; }
