"""`lrelu apply` under injected faults, from outside the process, as SQLite tests its I/O.

The installed `lrelu` console script runs under strace, which makes the Nth call of one
system call fail (ENOSPC, EIO) or kills the process with SIGKILL as it makes it:

    strace -f -o /dev/null -e trace=SYSCALL -e inject=SYSCALL:error=ENOSPC:when=N lrelu apply ...

Then the tool's own advice is followed (its messages say "run the same command again" where
that finishes the job; a killed run is run again, as the README says), and the test asserts:
the file is exactly f(original) (computed with lrelu.reference) or exactly the original, OUTPUT
is the old one or the whole new one, no temporary or journal is left behind, a run that
exited 0 left a finished result, and an error names the file it is about.

The points are found by tracing one clean run: every call of the syscalls below that the
main thread makes (openat, rename and unlink only where they name the run's own files; the
interpreter's own imports are not lrelu's to survive). The default suite runs a sample;
`tools/check_faults.sh` runs every point (LRELU_FAULT_SWEEP=all).
"""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from lrelu import reference

from cli_helpers import OUTSIDE, lrelu_command
from helpers import assert_same, sample

STRACE = shutil.which("strace")
pytestmark = [
    pytest.mark.skipif(STRACE is None, reason="strace is not installed (apt-get install strace)"),
    # tools/sanitize.sh preloads the sanitizers into every process, strace's own included,
    # whose syscall counts then no longer match the plain run the sweep measured
    pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                       reason="under tools/sanitize.sh's preload; tools/check_faults.sh runs these"),
]

SYSCALLS = ("write", "pwrite64", "msync", "fsync", "fdatasync", "rename", "renameat", "renameat2", "unlink",
            "unlinkat", "ftruncate", "openat")
NAMED = ("openat", "rename", "renameat", "renameat2", "unlink", "unlinkat")   # calls that name a path
FAULTS = ("error=ENOSPC", "error=EIO", "signal=SIGKILL")
CHUNK_MB = 1 / 16                          # 8192 float64 elements: 3 chunks in a run
X = sample((3 * 8192,), np.float64, seed=40)
OLD_OUTPUT = np.arange(5.0)
ALPHA = 0.3
FULL = os.environ.get("LRELU_FAULT_SWEEP") == "all"


class Scene:
    """A fresh folder with the data (and an old OUTPUT for -o) and its own state folder."""

    def __init__(self, root, mode):
        self.dir = root / "work"
        self.state = root / "state"
        shutil.rmtree(root, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.mode = mode
        self.data = self.dir / "data.npy"
        self.out = self.dir / "out.npy"
        np.save(self.data, X)
        if mode == "out":
            np.save(self.out, OLD_OUTPUT)
        self.env = dict(os.environ, XDG_STATE_HOME=str(self.state))

    def command(self):
        where = ["-o", str(self.out)] if self.mode == "out" else ["--in-place"]
        return [lrelu_command(), "apply", str(self.data), *where, "--alpha", str(ALPHA), "--chunk-mb", str(CHUNK_MB)]

    def run(self, prefix=()):
        return subprocess.run([*prefix, *self.command()], cwd=OUTSIDE, env=self.env, capture_output=True,
                              text=True, timeout=120)

    def leftovers(self):
        return [name for name in os.listdir(self.dir) if name not in ("data.npy", "out.npy")]

    def target(self):
        return self.out if self.mode == "out" else self.data


def is_exactly(path, values):
    try:
        got = np.load(path)
    except Exception:
        return False
    try:
        assert_same(got, values)
    except (AssertionError, pytest.fail.Exception):
        return False
    return True


def find_points(root, mode):
    """[(syscall, N)]: the calls of a clean run that faults are injected into."""
    scene = Scene(root, mode)
    log = root / "trace.log"
    done = scene.run([STRACE, "-f", "-o", str(log), "-e", "trace=" + ",".join(SYSCALLS)])
    assert done.returncode == 0, done.stderr
    lines = log.read_text(errors="replace").splitlines()
    main = lines[0].split()[0]
    counts, points = {}, []
    for line in lines:
        found = re.match(r"(\d+)\s+(\w+)\(", line)
        if not found or found.group(1) != main or found.group(2) not in SYSCALLS:
            continue
        name = found.group(2)
        counts[name] = counts.get(name, 0) + 1
        if name not in NAMED or str(root) in line:
            points.append((name, counts[name]))
    return points


def sample_points(points):
    """The default suite's sample: one point per syscall, its last call in the run (for
    write and openat, the calls in the middle of the run: the journal's and the data's)."""
    chosen = []
    for name in dict.fromkeys(name for name, _ in points):
        ns = [n for s, n in points if s == name]
        chosen.append((name, ns[len(ns) // 2] if name in ("write", "openat") else ns[-1]))
    return chosen


def check_point(root, mode, syscall, n, fault):
    scene = Scene(root, mode)
    expected = reference.lrelu(X, ALPHA)
    faulty = scene.run([STRACE, "-f", "-o", "/dev/null", "-e", f"trace={syscall}",
                        "-e", f"inject={syscall}:{fault}:when={n}"])
    where = f"{mode} {syscall} #{n} {fault}: status {faulty.returncode}, stderr {faulty.stderr[-600:]!r}"
    killed = faulty.returncode == -9 or faulty.returncode == 137
    errors = [line for line in faulty.stderr.splitlines() if "error:" in line]
    if faulty.returncode == 0:
        assert is_exactly(scene.target(), expected), where
        assert "interrupted" not in faulty.stderr, where
    elif not killed and errors:
        # A failure says which file, in one line.
        assert len(errors) == 1 and (str(scene.dir) in errors[0] or str(scene.state) in errors[0]), where
    if mode == "out":
        # OUTPUT is the old file or the whole new one, whatever happened.
        assert is_exactly(scene.out, OLD_OUTPUT) or is_exactly(scene.out, expected), where
        if faulty.returncode != 0 and not killed and not syscall.startswith("unlink"):
            assert scene.leftovers() == [], (where, scene.leftovers())
    advised = killed or "again" in faulty.stderr or "same command" in faulty.stderr or (mode == "out" and faulty.returncode != 0)
    if faulty.returncode != 0 and not advised:
        # No advice to run again: then nothing was changed (the file, and no journal), or the
        # work was done and the message says so.
        assert is_exactly(scene.data, X) or ("done" in faulty.stderr and is_exactly(scene.data, expected)), where
        assert scene.leftovers() == [], (where, scene.leftovers())
    if advised:
        again = scene.run()
        assert again.returncode == 0, (where, again.stderr)
    assert is_exactly(scene.target(), expected) or (faulty.returncode != 0 and not advised), where
    assert "Traceback" not in faulty.stderr or "lrelu apply:" not in faulty.stderr, where
    if mode == "out":
        assert is_exactly(scene.data, X), where
    assert scene.leftovers() == [], (where, scene.leftovers())
    # (Unless the run said its completion record could not be written: then it warned that a
    # rerun would not know, and a rerun transforms again, as said.)
    if (killed or FULL and faulty.returncode == 0) and "a rerun would not know" not in faulty.stderr:
        # And a further run on the finished file changes nothing (in place: "already transformed").
        if mode == "in-place":
            last = scene.run()
            assert last.returncode == 0 and "already transformed" in last.stdout, (where, last.stdout, last.stderr)
            assert is_exactly(scene.data, expected), where


@pytest.mark.parametrize("mode", ["in-place", "out"])
def test_every_sampled_fault_leaves_the_original_or_the_result_and_no_leftovers(tmp_path, mode):
    points = find_points(tmp_path / "find", mode)
    assert any(name == "fdatasync" for name, _ in points) == (mode == "in-place")
    assert any(name.startswith("rename") for name, _ in points)
    cases = all_cases_for(points)
    for syscall, n, fault in cases:
        check_point(tmp_path / "run", mode, syscall, n, fault)
    print(f"fault points checked ({mode}): {len({(s, n) for s, n, _ in cases})} points, {len(cases)} injections")


def all_cases_for(points):
    if FULL:
        return [(s, n, fault) for s, n in points for fault in FAULTS]
    return [(s, n, FAULTS[i % len(FAULTS)]) for i, (s, n) in enumerate(sample_points(points))]
