"""Test-only: the command line, run with something changed first, as ``python -m cli_child
MODE VALUE ARGS...`` (tests/cli_helpers.py starts it with tests/ on PYTHONPATH).

  without MODULE          MODULE cannot be imported (an optional one: tqdm, matplotlib)
  pause POINT:CHUNK       `apply` announces "lrelu-test-paused POINT CHUNK" on stderr at that
                          checkpoint and stops there, for the test to SIGKILL it, or to send
                          it other signals and then SIGUSR1 to let it go on
  delay SECONDS           `apply` sleeps at every chunk, so a kill at a random time lands mid-job
  peak-memory -           prints "grew_kib N" on stderr: how much the peak resident memory grew

The checkpoints are lrelu.cli.apply's injected ``checkpoint(point, chunk)`` callback; nothing
in lrelu reads the environment for tests.
"""

import functools
import signal
import sys
import time


def _with_checkpoint(checkpoint):
    from lrelu.cli import apply
    for name in ("apply_in_place", "apply_to_new_file"):
        setattr(apply, name, functools.partial(getattr(apply, name), checkpoint=checkpoint))


def _pause_at(wanted):
    go = []
    signal.signal(signal.SIGUSR1, lambda signum, frame: go.append(signum))

    def checkpoint(point, chunk):
        if f"{point}:{chunk}" == wanted:
            print(f"lrelu-test-paused {point} {chunk}", file=sys.stderr, flush=True)
            deadline = time.monotonic() + 3600
            while not go and time.monotonic() < deadline:
                time.sleep(0.01)
    return checkpoint


def _delay(seconds):
    def checkpoint(point, chunk):
        if point in ("transformed", "written"):
            time.sleep(seconds)
    return checkpoint


def _peak_kib():
    # VmHWM is this process's peak resident memory; unlike ru_maxrss it is not inherited
    # from the (large) pytest process that started this one.
    with open("/proc/self/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmHWM:")))


def main():
    mode, value, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "without":
        sys.modules[value] = None       # makes `import value` raise ImportError
    elif mode == "pause":
        _with_checkpoint(_pause_at(value))
    elif mode == "delay":
        _with_checkpoint(_delay(float(value)))
    from lrelu.cli import main as lrelu_main
    sys.argv[0] = "lrelu"
    before = _peak_kib() if mode == "peak-memory" else None
    status = lrelu_main(args)
    if before is not None:
        print("grew_kib", _peak_kib() - before, file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
