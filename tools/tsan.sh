#!/usr/bin/env bash
# ThreadSanitizer on lrelu's thread layer: src/threads.c (the planner's buckets, the one-team
# lock, the per-thread and process-wide thread counts) driven by 16 racing threads in
# tools/tsan_threads.c, built with gcc -fsanitize=thread. Fails on any TSan report or a
# broken invariant (calls counted exactly, estimates finite, the team handed back).
#
#   tools/tsan.sh            # from anywhere; a few seconds
#   tools/tsan.sh --python   # the concurrency tests on a TSan-built free-threaded CPython
#                            # (tools/tsan_python.sh says how); long, run by hand
#
# Why a C harness by default: the kernels' OpenMP regions run in GCC's libgomp, which is not
# instrumented, so TSan reports every region's barrier as a race; and an instrumented CPython
# (--with-thread-sanitizer) is a separate long build, which --python makes. The harness
# runs exactly the calls the kernels make into the thread layer (plan_begin, the caller's
# share timed into plan.work, plan_end), which is where lrelu's shared state lives; the
# regions themselves write only each call's own output. No suppressions are used.
# The planner's bucket fields are plain (not atomics) and guarded by a lock, so an access
# outside the lock is a race TSan reports: removing the lock from lrelu_plan_begin makes this
# script fail.
set -euo pipefail
[ "${1:-}" != --python ] || { shift; exec "$(dirname "$0")/tsan_python.sh" "$@"; }
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# -fopenmp: threads.c reads OpenMP's clock and thread count, as in the build (no region runs).
gcc -O1 -g -fsanitize=thread -fopenmp -pthread -I"$root/src" \
    "$root/src/threads.c" "$root/tools/tsan_threads.c" -lm -o "$work/tsan_threads"
status=0
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" "$work/tsan_threads" 2>"$work/report" || status=$?
cat "$work/report"
reports=$(grep -c '^WARNING: ThreadSanitizer' "$work/report" || true)
echo "tsan: $reports reports, exit status $status"
[ "$status" -eq 0 ] && [ "$reports" -eq 0 ]
