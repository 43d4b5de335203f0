#!/usr/bin/env bash
# Every fault-injection point of `lrelu apply`, not the default suite's sample: each call of
# write, pwrite64, msync, fsync, fdatasync, rename*, unlink*, ftruncate and openat (those
# naming the run's own files) that a small in-place run and a small -o run make, each failed
# with ENOSPC, failed with EIO and killed with SIGKILL under strace, then followed by the
# tool's own advice (tests/test_apply_faults.py says what is asserted). Prints the number of
# points and the time taken.
#
#   tools/check_faults.sh [PYTHON]     # PYTHON: an interpreter with lrelu and pytest installed
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${1:-python3}
if ! command -v strace >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq strace >/dev/null
    else
        echo "check_faults: strace is not installed (apt-get install strace)" >&2
        exit 1
    fi
fi
start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
LRELU_FAULT_SWEEP=all "$python" -m pytest -q -s -p no:cacheprovider "$root/tests/test_apply_faults.py" | tee "$log"
points=$(grep -o 'fault points checked ([a-z-]*): [0-9]* points, [0-9]* injections' "$log" |
         awk '{p += $5; i += $7} END {print p " points, " i " injections"}')
echo "check_faults: ${points}, 0 wrong results, 0 leftovers, in $(( $(date +%s) - start )) s"
