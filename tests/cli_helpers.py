"""Running the installed command line (and other code) in a subprocess, as a user would."""

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading

# Everything runs from a directory outside the source tree, so it imports the installed
# package and not an unbuilt checkout.
OUTSIDE = tempfile.gettempdir()
TESTS = os.path.dirname(os.path.abspath(__file__))


def lrelu_command():
    """The `lrelu` console script installed beside this interpreter."""
    found = shutil.which("lrelu", path=os.path.dirname(sys.executable))
    assert found, f"no lrelu console script beside {sys.executable}: is lrelu installed?"
    return found


def _command(args, child):
    """The installed `lrelu ARGS`, or with child=(MODE, VALUE) tests/cli_child.py, which runs
    the same command line with an optional module hidden or a checkpoint injected."""
    if child is None:
        return [lrelu_command()] + [str(a) for a in args]
    return [sys.executable, "-m", "cli_child", child[0], str(child[1])] + [str(a) for a in args]


def _environment(env, child):
    full = dict(os.environ, **(env or {}))
    if child is not None:
        full["PYTHONPATH"] = os.pathsep.join(filter(None, [TESTS, full.get("PYTHONPATH")]))
    return full


def run_lrelu(*args, cwd=OUTSIDE, env=None, timeout=120, child=None):
    """Run the installed `lrelu ARGS` (or, with child, tests/cli_child.py) and return the
    CompletedProcess with text stdout and stderr."""
    return subprocess.run(_command(args, child), cwd=cwd, env=_environment(env, child), capture_output=True,
                          text=True, timeout=timeout)


def run_in_process(capsys, *args):
    """The command line's main() in this process, as a CompletedProcess (argparse's SystemExit
    gives the status): for tables of cases that would each cost an interpreter start."""
    from lrelu.cli import main
    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, captured.out, captured.err)


def assert_one_line_error(done, code=1, *fragments):
    """Failed with `code`, exactly one line on stderr containing every fragment, no traceback."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


class Running:
    """A command line started in the background, whose stderr is read line by line."""

    def __init__(self, *args, child=None, cwd=OUTSIDE):
        self.proc = subprocess.Popen(_command(args, child), cwd=cwd, env=_environment(None, child),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, fragment, timeout=60):
        """Block until a stderr line contains fragment; fail if the process ends first."""
        while True:
            line = self.lines.get(timeout=timeout)
            assert line is not None, f"ended with status {self.proc.wait()} before printing {fragment!r}"
            if fragment in line:
                return line

    def kill(self):
        """SIGKILL, as `kill -9` does, and reap it."""
        self.proc.kill()
        return self.proc.wait(timeout=30)
