"""Running the installed command line (and other code) in a subprocess, as a user would."""

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading

# `python -m lrelu` from a directory outside the source tree, so it imports the installed
# package and not an unbuilt checkout.
OUTSIDE = tempfile.gettempdir()


def lrelu_command():
    """The `lrelu` console script installed beside this interpreter."""
    found = shutil.which("lrelu", path=os.path.dirname(sys.executable))
    assert found, f"no lrelu console script beside {sys.executable}: is lrelu installed?"
    return found


def run_lrelu(*args, cwd=OUTSIDE, env=None, timeout=120, python_code=None):
    """Run `python -m lrelu ARGS` (or `python -c python_code ARGS` to patch things first) and
    return the CompletedProcess with text stdout and stderr."""
    full_env = dict(os.environ, **(env or {}))
    head = [sys.executable, "-c", python_code] if python_code else [sys.executable, "-m", "lrelu"]
    return subprocess.run(head + [str(a) for a in args], cwd=cwd, env=full_env, capture_output=True,
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


# For python_code: run the CLI with some optional library made unimportable.
WITHOUT = "import sys; sys.modules[{0!r}] = None; from lrelu.cli import main; sys.argv[0] = 'lrelu'; " \
          "raise SystemExit(main(sys.argv[1:]))"


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

    def __init__(self, *args, env=None, cwd=OUTSIDE):
        self.proc = subprocess.Popen([sys.executable, "-m", "lrelu"] + [str(a) for a in args], cwd=cwd,
                                     env=dict(os.environ, **(env or {})), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
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
