"""`lrelu apply`: out of place and in place over .npy files, kill-and-resume, bad input."""

import os
import random
import re
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from lrelu import reference
from lrelu.cli import apply
from lrelu.cli.apply import JOURNAL_SUFFIX

from cli_helpers import Running, assert_one_line_error, run_in_process, run_lrelu
from helpers import assert_same, sample

# Chunk sizes in MiB that split rows mid-way: 0.003 MiB is 3145 bytes, not a whole number of
# elements for any of these dtypes, let alone of 37-element rows.
ODD_CHUNK_MB = 0.003


def expected(x, alpha=0.01, derivative=False, at_zero="one"):
    return reference.der_lrelu_typed(x, alpha, at_zero) if derivative else reference.lrelu(x, alpha)


@pytest.fixture(autouse=True)
def state_home(tmp_path_factory, monkeypatch):
    """lrelu's state (completion records, hard-link pointers) in a folder of this test's own,
    never the user's ~/.local/state: the commands started here inherit the variable."""
    home = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def listing(directory):
    return sorted(os.listdir(directory))


def save(path, array):
    np.save(path, array)
    return path


@pytest.fixture
def apply_here(capsys):
    """`lrelu apply ARGS` through main() in this process, which must succeed: the many-dtype
    matrix runs in milliseconds this way; the tests further down start the installed command."""
    def apply(*args):
        done = run_in_process(capsys, "apply", *args)
        assert done.returncode == 0, done.stderr
        return done
    return apply


@pytest.mark.parametrize("derivative", [False, True])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble, np.int16, np.uint8, np.bool_])
def test_out_of_place_equals_the_reference(tmp_path, apply_here, dtype, derivative):
    x = sample((120, 37), dtype, seed=3)
    src = save(tmp_path / "in.npy", x)
    flags = ["--derivative"] if derivative else []
    apply_here(src, "-o", tmp_path / "out.npy", "--alpha", "0.2", "--chunk-mb", ODD_CHUNK_MB, *flags)
    assert_same(np.load(tmp_path / "out.npy"), expected(x, 0.2, derivative))
    assert_same(np.load(src), x)                       # the input is untouched
    assert listing(tmp_path) == ["in.npy", "out.npy"]  # no temporary left behind


@pytest.mark.parametrize("derivative", [False, True])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_in_place_equals_the_reference(tmp_path, apply_here, dtype, derivative):
    x = sample((120, 37), dtype, seed=4)
    src = save(tmp_path / "data.npy", x)
    flags = ["--derivative"] if derivative else []
    apply_here(src, "--in-place", "--alpha", "-1e-3", "--chunk-mb", ODD_CHUNK_MB, *flags)
    assert_same(np.load(src), expected(x, -1e-3, derivative))
    assert listing(tmp_path) == ["data.npy"]           # the journal is gone


@pytest.mark.parametrize("mode", ["out", "in-place"])
def test_the_installed_command_transforms_a_file(tmp_path, mode):
    x = sample((120, 37), np.float32, seed=6)
    src = save(tmp_path / "x.npy", x)
    target = tmp_path / "y.npy" if mode == "out" else src
    done = run_lrelu("apply", src, *(["-o", target] if mode == "out" else ["--in-place"]),
                     "--alpha", "0.3", "--chunk-mb", ODD_CHUNK_MB)
    assert done.returncode == 0, done.stderr
    assert_same(np.load(target), reference.lrelu(x, 0.3))


@pytest.mark.parametrize("mode", ["out", "in-place"])
def test_fortran_order_files_keep_their_order_and_shape(tmp_path, apply_here, mode):
    x = np.asfortranarray(sample((64, 3, 11), np.float64, seed=5))
    src = save(tmp_path / "f.npy", x)
    target = tmp_path / "g.npy" if mode == "out" else src
    where = ["-o", target] if mode == "out" else ["--in-place"]
    apply_here(src, *where, "--chunk-mb", ODD_CHUNK_MB)
    result = np.load(target)
    assert result.flags.f_contiguous and not result.flags.c_contiguous
    assert_same(result, reference.lrelu(x))


@pytest.mark.parametrize("mode", ["out", "in-place"])
def test_an_empty_array_gives_an_empty_array(tmp_path, apply_here, mode):
    x = np.empty((0, 5), np.float32)
    src = save(tmp_path / "e.npy", x)
    target = tmp_path / "r.npy" if mode == "out" else src
    apply_here(src, *(["-o", target] if mode == "out" else ["--in-place"]))
    assert_same(np.load(target), reference.lrelu(x))


def test_output_may_replace_its_own_input(tmp_path, apply_here):
    x = sample((1000,), np.float32)
    src = save(tmp_path / "x.npy", x)
    apply_here(src, "-o", src, "--chunk-mb", ODD_CHUNK_MB)
    assert_same(np.load(src), reference.lrelu(x))


@pytest.mark.parametrize("mode", ["out", "in-place"])
@pytest.mark.parametrize("dtype", [">f2", ">f4", ">f8", "<f4"])
def test_files_keep_their_byte_order_and_are_transformed_by_value(tmp_path, apply_here, mode, dtype):
    x = sample((500,), np.float64).astype(dtype)
    src = save(tmp_path / "x.npy", x)
    target = tmp_path / "y.npy" if mode == "out" else src
    apply_here(src, *(["-o", target] if mode == "out" else ["--in-place"]), "--chunk-mb", ODD_CHUNK_MB)
    result = np.load(target)
    assert result.dtype == np.dtype(dtype)
    native = np.dtype(dtype).newbyteorder("=")
    assert_same(result.astype(native), reference.lrelu(x.astype(native)))


def test_a_big_endian_integer_file_gives_big_endian_float64(tmp_path, apply_here):
    x = np.arange(-50, 50, dtype=">i4")
    src = save(tmp_path / "i.npy", x)
    apply_here(src, "-o", tmp_path / "y.npy")
    result = np.load(tmp_path / "y.npy")
    assert result.dtype == np.dtype(">f8")
    assert_same(result.astype("=f8"), reference.lrelu(x.astype("=i4")))


def test_a_progress_bar_is_drawn_with_tqdm(tmp_path):
    pytest.importorskip("tqdm")
    src = save(tmp_path / "x.npy", sample((5000,), np.float64))
    with_bar = run_lrelu("apply", src, "-o", tmp_path / "a.npy", "--chunk-mb", 0.01)
    assert with_bar.returncode == 0 and "100%" in with_bar.stderr


def test_without_tqdm_the_work_runs_with_no_bar(tmp_path):
    x = sample((5000,), np.float64)
    src = save(tmp_path / "x.npy", x)
    without = run_lrelu("apply", src, "-o", tmp_path / "b.npy", "--chunk-mb", 0.01, child=("without", "tqdm"))
    assert without.returncode == 0 and without.stderr == ""
    assert_same(np.load(tmp_path / "b.npy"), reference.lrelu(x))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")
# Under tools/sanitize.sh, ASan keeps freed memory in quarantine instead of reusing it, so
# peak memory grew past the bound there (bench/notes.md): that measures ASan, not lrelu.
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="ASan's quarantine holds freed memory")
@pytest.mark.parametrize("mode", ["out", "in-place"])
def test_memory_stays_near_the_chunk_size_not_the_file_size(tmp_path, mode):
    x = np.random.default_rng(0).standard_normal(2**23, dtype=np.float64)   # 64 MiB
    src = save(tmp_path / "big.npy", x)
    where = ["-o", tmp_path / "out.npy"] if mode == "out" else ["--in-place"]
    done = run_lrelu("apply", src, *where, "--chunk-mb", 2, child=("peak-memory", "-"))
    assert done.returncode == 0, done.stderr
    grew_mib = int(done.stderr.split("grew_kib")[1].split()[0]) / 1024
    # A chunk is 2 MiB; its buffers, the mapped pages of one chunk and some slack stay far
    # below the 64 MiB that reading the file whole would take. A free-threaded CPython's
    # allocator (mimalloc, per-thread heaps) holds more freed memory: still half the file.
    assert grew_mib < (40 if getattr(sys, "_is_gil_enabled", None) else 24), grew_mib
    assert_same(np.load(tmp_path / "out.npy" if mode == "out" else src), reference.lrelu(x))


# ---- kill and resume ------------------------------------------------------------------------

def journal_of(path):
    return str(path) + JOURNAL_SUFFIX


def start_paused(src, point, chunk, *extra):
    """`apply --in-place` stopped at the checkpoint (point, chunk), still alive."""
    run = Running("apply", src, "--in-place", *extra, child=("pause", f"{point}:{chunk}"))
    run.wait_for(f"lrelu-test-paused {point} {chunk}")
    return run


CHUNK_MB = 1 / 16                          # 64 KiB: 8192 float64 elements per chunk
CHUNK = 8192


# Each point is a moment where a kill -9 leaves a different state on disk. At "transformed"
# and "flushed", chunk 2 already holds f(x) in the file while the journal still names it as
# unfinished, so a resume that simply re-ran the chunk would apply f twice.
@pytest.mark.parametrize("point, chunk, journal_exists, chunk_already_changed", [
    ("journal-half-written", 0, False, False),   # first journal only half in its temp file
    ("journal-half-written", 3, True, False),    # journal update cut short: the old one holds
    ("journal-written", 2, True, False),         # chunk 2 saved, not yet touched
    ("transformed", 2, True, True),              # chunk 2 changed in the map, not flushed
    ("flushed", 2, True, True),                  # chunk 2 on disk, not yet marked done
    ("flushed", 7, True, True),                  # the last chunk flushed, journal not yet removed
])
def test_killed_at_any_point_then_rerun_applies_the_function_exactly_once(
        tmp_path, point, chunk, journal_exists, chunk_already_changed):
    x = sample((8 * CHUNK,), np.float64, seed=7)
    src = save(tmp_path / "data.npy", x)
    run = start_paused(src, point, chunk, "--alpha", "0.3", "--chunk-mb", CHUNK_MB)
    assert os.path.exists(journal_of(src)) == journal_exists
    on_disk = np.load(src, mmap_mode="r")[chunk * CHUNK:(chunk + 1) * CHUNK]
    assert_same(on_disk, reference.lrelu(x[chunk * CHUNK:(chunk + 1) * CHUNK], 0.3) if chunk_already_changed
                else x[chunk * CHUNK:(chunk + 1) * CHUNK])
    del on_disk
    assert run.kill() == -signal.SIGKILL

    again = run_lrelu("apply", src, "--in-place", "--alpha", "0.3", "--chunk-mb", CHUNK_MB)
    assert again.returncode == 0, again.stderr
    assert ("resuming" in again.stderr) == journal_exists
    assert_same(np.load(src), reference.lrelu(x, 0.3))
    assert listing(tmp_path) == ["data.npy"]


def resumed_from(stderr):
    """Bytes an interrupted run had finished, as the resuming run reports them."""
    return int(re.search(r"resuming .*: (\d+) of \d+ bytes were done", stderr).group(1))


def test_killed_repeatedly_at_random_moments_a_large_file_ends_transformed_once(tmp_path):
    x = np.random.default_rng(11).standard_normal(2**24).astype(np.float32)   # 64 MiB
    src = save(tmp_path / "big.npy", x)
    args = ["apply", src, "--in-place", "--alpha", "0.05", "--chunk-mb", 1]
    # 20 ms per chunk: the 64 chunks take over a second, so each kill lands mid-job.
    rng = random.Random(5)
    resumed_at = []
    for attempt in range(4):
        run = Running(*args, child=("delay", 0.02))
        if attempt == 0:
            deadline = time.monotonic() + 60
            while not os.path.exists(journal_of(src)):            # the job has begun
                assert time.monotonic() < deadline and run.proc.poll() is None
                time.sleep(0.005)
        else:
            resumed_at.append(resumed_from(run.wait_for("resuming")))
        time.sleep(rng.uniform(0.05, 0.25))
        assert run.kill() == -signal.SIGKILL, "the run ended before it could be killed"
        assert os.path.exists(journal_of(src))
    finish = run_lrelu(*args)
    assert finish.returncode == 0, finish.stderr
    resumed_at.append(resumed_from(finish.stderr))
    assert resumed_at == sorted(resumed_at) and 0 < resumed_at[-1] < x.nbytes, resumed_at
    assert_same(np.load(src), reference.lrelu(x, 0.05))
    assert listing(tmp_path) == ["big.npy"]


def test_resuming_with_another_alpha_is_refused_and_changes_nothing(tmp_path):
    x = sample((8 * CHUNK,), np.float64, seed=8)
    src = save(tmp_path / "data.npy", x)
    start_paused(src, "flushed", 3, "--alpha", "0.3", "--chunk-mb", CHUNK_MB).kill()
    before = open(src, "rb").read(), open(journal_of(src), "rb").read()
    for wrong in (["--alpha", "0.5"], ["--alpha", "0.3", "--derivative"]):
        done = run_lrelu("apply", src, "--in-place", *wrong, "--chunk-mb", CHUNK_MB)
        assert_one_line_error(done, 1, "other parameters", "--alpha 0.3")
        assert (open(src, "rb").read(), open(journal_of(src), "rb").read()) == before
    # A different chunk size is fine: the journal counts elements, not chunks.
    assert run_lrelu("apply", src, "--in-place", "--alpha", "0.3", "--chunk-mb", 0.01).returncode == 0
    assert_same(np.load(src), reference.lrelu(x, 0.3))


def test_out_of_place_from_a_half_transformed_file_is_refused(tmp_path):
    src = save(tmp_path / "data.npy", sample((8 * CHUNK,), np.float64))
    start_paused(src, "journal-written", 1, "--chunk-mb", CHUNK_MB).kill()
    done = run_lrelu("apply", src, "-o", tmp_path / "out.npy")
    assert_one_line_error(done, 1, "interrupted", "--in-place")
    assert not os.path.exists(tmp_path / "out.npy")


def test_a_damaged_journal_is_refused_and_kept(tmp_path):
    src = save(tmp_path / "data.npy", sample((8 * CHUNK,), np.float64))
    start_paused(src, "journal-written", 1, "--chunk-mb", CHUNK_MB).kill()
    with open(journal_of(src), "r+b") as f:
        f.seek(-100, os.SEEK_END)
        f.write(b"\xff" * 10)
    before = open(src, "rb").read()
    assert_one_line_error(run_lrelu("apply", src, "--in-place", "--chunk-mb", CHUNK_MB), 1, "damaged")
    assert open(src, "rb").read() == before and os.path.exists(journal_of(src))


ORIGINAL = sample((8 * CHUNK,), np.float64, seed=9)


def interrupted(tmp_path):
    """ORIGINAL in a file whose in-place run was killed after its journal for chunk 1 was
    written: the file's path, its bytes and the journal's path."""
    src = save(tmp_path / "data.npy", ORIGINAL)
    start_paused(src, "journal-written", 1, "--chunk-mb", CHUNK_MB).kill()
    return src, open(src, "rb").read(), journal_of(src)


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_a_journal_that_is_a_symbolic_link_is_refused(tmp_path):
    src, before, journal = interrupted(tmp_path)
    os.rename(journal, tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", journal)
    done = run_lrelu("apply", src, "--in-place", "--chunk-mb", CHUNK_MB)
    assert_one_line_error(done, 1, "symbolic link", "not used")
    assert open(src, "rb").read() == before and os.path.islink(journal)


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_journal_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    src, before, journal = interrupted(tmp_path)
    os.remove(journal)
    os.mkdir(journal) if kind == "directory" else os.mkfifo(journal)
    done = run_lrelu("apply", src, "--in-place", "--chunk-mb", CHUNK_MB, timeout=30)
    assert_one_line_error(done, 1, "not a regular file")
    assert open(src, "rb").read() == before


ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.mark.skipif(not ROOT, reason="needs root to give a file to another user")
def test_a_journal_of_another_user_is_refused(tmp_path):
    src, before, journal = interrupted(tmp_path)
    os.chown(journal, 12345, 12345)
    done = run_lrelu("apply", src, "--in-place", "--chunk-mb", CHUNK_MB)
    assert_one_line_error(done, 1, "user id 12345", "not used")
    assert open(src, "rb").read() == before


@pytest.mark.skipif(not ROOT, reason="needs root to give a file to another user")
def test_a_journal_of_the_data_files_owner_is_trusted(tmp_path):
    src, _, journal = interrupted(tmp_path)
    os.chown(src, 12345, 12345)
    os.chown(journal, 12345, 12345)
    done = run_lrelu("apply", src, "--in-place", "--chunk-mb", CHUNK_MB)
    assert done.returncode == 0 and "resuming" in done.stderr, done.stderr
    assert_same(np.load(src), reference.lrelu(ORIGINAL))


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_journal_temporaries_never_write_through_a_planted_link(tmp_path, monkeypatch, apply_here):
    # mkstemp's next names made known in advance: the first is taken by a link to a victim.
    names = iter(["aaaaaaaa", "bbbbbbbb", "cccccccc", "dddddddd"])
    monkeypatch.setattr(apply.tempfile, "_get_candidate_names", lambda: names)
    x = sample((1000,), np.float64)
    src = save(tmp_path / "data.npy", x)
    (tmp_path / "victim").write_bytes(b"keep")
    planted = tmp_path / f".data.npy{JOURNAL_SUFFIX}.aaaaaaaa{apply.TEMP_SUFFIX}"
    planted.symlink_to(tmp_path / "victim")
    apply_here(src, "--in-place")
    assert (tmp_path / "victim").read_bytes() == b"keep"
    assert planted.is_symlink()                       # not lrelu's, so not removed either
    assert_same(np.load(src), reference.lrelu(x))


def test_a_second_in_place_run_on_the_same_file_is_refused_while_one_runs(tmp_path):
    x = sample((8 * CHUNK,), np.float64)
    src = save(tmp_path / "data.npy", x)
    first = start_paused(src, "transformed", 1, "--chunk-mb", CHUNK_MB)
    try:
        assert_one_line_error(run_lrelu("apply", src, "--in-place", "--chunk-mb", CHUNK_MB), 1, "another")
    finally:
        first.kill()
    assert run_lrelu("apply", src, "--in-place", "--chunk-mb", CHUNK_MB).returncode == 0
    assert_same(np.load(src), reference.lrelu(x))


def start_paused_out_of_place(src, out, chunk):
    run = Running("apply", src, "-o", out, "--chunk-mb", CHUNK_MB, child=("pause", f"written:{chunk}"))
    run.wait_for(f"lrelu-test-paused written {chunk}")
    return run


def temporaries(directory):
    return [name for name in listing(directory) if name.endswith(apply.TEMP_SUFFIX)]


def test_a_killed_out_of_place_run_leaves_the_old_output_whole_and_the_next_run_cleans_up(tmp_path):
    x = sample((8 * CHUNK,), np.float64)
    src = save(tmp_path / "in.npy", x)
    out = save(tmp_path / "out.npy", np.arange(10.0))
    assert start_paused_out_of_place(src, out, 4).kill() == -signal.SIGKILL
    assert_same(np.load(out), np.arange(10.0))
    [stale] = temporaries(tmp_path)                 # the hidden temporary, beside OUTPUT
    assert stale.startswith(".out.npy.")
    again = run_lrelu("apply", src, "-o", out)
    assert again.returncode == 0, again.stderr
    assert f"removed {tmp_path / stale}" in again.stderr
    assert_same(np.load(out), reference.lrelu(x))
    assert listing(tmp_path) == ["in.npy", "out.npy"]


def test_a_temporary_a_running_apply_is_writing_is_left_alone(tmp_path):
    x = sample((8 * CHUNK,), np.float64)
    src = save(tmp_path / "in.npy", x)
    out = tmp_path / "out.npy"
    first = start_paused_out_of_place(src, out, 2)
    try:
        [live] = temporaries(tmp_path)
        second = run_lrelu("apply", src, "-o", out)
        assert second.returncode == 0 and "removed" not in second.stderr, second.stderr
        assert temporaries(tmp_path) == [live]
    finally:
        first.kill()
    assert_same(np.load(out), reference.lrelu(x))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_files_that_only_look_like_its_temporaries_are_left_alone(tmp_path, apply_here):
    src = save(tmp_path / "in.npy", sample((100,), np.float32))
    (tmp_path / "victim").write_bytes(b"keep")
    others = {
        ".out.npy.abcdefgh.lrelu-tmp": "another user's",
        ".out.npy.abc.lrelu-tmp": "another name",
        ".out.npy.zzzzzzzz.lrelu-tmp": "a symbolic link",
        ".out.npy.yyyyyyyy.lrelu-tmp": "a directory",
    }
    for name, what in others.items():
        path = tmp_path / name
        if what == "a symbolic link":
            path.symlink_to(tmp_path / "victim")
        elif what == "a directory":
            path.mkdir()
        else:
            path.write_bytes(b"not lrelu's")
    os.chown(tmp_path / ".out.npy.abcdefgh.lrelu-tmp", 12345, 12345)
    done = apply_here(src, "-o", tmp_path / "out.npy")
    assert "removed" not in done.stderr
    assert set(others) <= set(listing(tmp_path))
    assert (tmp_path / "victim").read_bytes() == b"keep"


# ---- bad input: one line, non-zero, nothing left behind --------------------------------------

def bad_input_cases(tmp):
    """name -> (arguments, exit status, words the message must contain)."""
    good = save(tmp / "good.npy", sample((100,), np.float32))
    (tmp / "text.npy").write_text("x,y\n1,2\n")
    np.savez(tmp / "archive.npz", a=np.zeros(3))
    save(tmp / "ints.npy", np.arange(10, dtype=np.int32))
    np.save(tmp / "objects.npy", np.array([1.0, "a"], dtype=object), allow_pickle=True)
    save(tmp / "complex.npy", np.zeros(4, np.complex128))
    with open(tmp / "cut.npy", "wb") as f:
        f.write(open(good, "rb").read()[:200])
    (tmp / "plain-file").write_text("")
    (tmp / "a-directory").mkdir()
    return {
        "not npy": (["apply", tmp / "text.npy", "-o", tmp / "o.npy"], 1, ["not a .npy file"]),
        "npz archive": (["apply", tmp / "archive.npz", "-o", tmp / "o.npy"], 1, ["not a .npy file"]),
        "missing": (["apply", tmp / "nope.npy", "-o", tmp / "o.npy"], 1, ["nope.npy", "No such file"]),
        "missing in place": (["apply", tmp / "nope.npy", "--in-place"], 1, ["No such file"]),
        "integer in place": (["apply", tmp / "ints.npy", "--in-place"], 1, ["floating-point", "int32"]),
        "objects": (["apply", tmp / "objects.npy", "-o", tmp / "o.npy"], 1, ["Python objects"]),
        "complex": (["apply", tmp / "complex.npy", "-o", tmp / "o.npy"], 1, ["complex128"]),
        "truncated": (["apply", tmp / "cut.npy", "-o", tmp / "o.npy"], 1, ["truncated"]),
        "output dir missing": (["apply", good, "-o", tmp / "no-dir" / "o.npy"], 1, ["cannot write"]),
        "output under a file": (["apply", good, "-o", tmp / "plain-file" / "o.npy"], 1, ["cannot write"]),
        "output is a directory": (["apply", good, "-o", tmp / "a-directory"], 1, ["is a directory"]),
        "input is a directory": (["apply", tmp / "a-directory", "-o", tmp / "o.npy"], 1, ["is a directory"]),
        "alpha nan": (["apply", good, "-o", tmp / "o.npy", "--alpha", "nan"], 2, ["finite"]),
        "alpha inf": (["apply", good, "--in-place", "--alpha", "-inf"], 2, ["finite"]),
        "alpha text": (["apply", good, "--in-place", "--alpha", "small"], 2, ["real number"]),
        "no destination": (["apply", good], 2, ["-o", "--in-place"]),
        "both destinations": (["apply", good, "-o", tmp / "o.npy", "--in-place"], 2, ["not allowed"]),
        "chunk zero": (["apply", good, "--in-place", "--chunk-mb", "0"], 2, ["--chunk-mb", "positive"]),
    }


BAD_INPUT = ["not npy", "npz archive", "missing", "missing in place", "integer in place", "objects", "complex",
             "truncated", "output dir missing", "output under a file", "output is a directory",
             "input is a directory", "alpha nan", "alpha inf", "alpha text", "no destination",
             "both destinations", "chunk zero"]


def files_in(directory):
    return {name: (directory / name).read_bytes() for name in listing(directory) if (directory / name).is_file()}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_fails_with_one_line_and_leaves_nothing(tmp_path, capsys, case):
    args, status, words = bad_input_cases(tmp_path)[case]
    before = files_in(tmp_path)
    assert_one_line_error(run_in_process(capsys, *args), status, *words)
    assert files_in(tmp_path) == before
    assert listing(tmp_path) == sorted(list(before) + ["a-directory"])


@pytest.mark.parametrize("case", ["not npy", "integer in place", "output dir missing", "alpha inf"])
def test_the_installed_command_reports_bad_input_in_one_line(tmp_path, case):
    args, status, words = bad_input_cases(tmp_path)[case]
    before = files_in(tmp_path)
    assert_one_line_error(run_lrelu(*args), status, *words)
    assert files_in(tmp_path) == before


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_file_cannot_be_changed_in_place(tmp_path):
    src = save(tmp_path / "ro.npy", sample((100,), np.float32))
    os.chmod(src, 0o444)
    assert_one_line_error(run_lrelu("apply", src, "--in-place"), 1, "cannot open it for writing")
    assert listing(tmp_path) == ["ro.npy"]


# ---- issue 20: no silent wrong data -----------------------------------------------------------

LAST = 7                                   # the last chunk of an 8-chunk file


def resume(src, *extra):
    return run_lrelu("apply", src, "--in-place", "--chunk-mb", CHUNK_MB, *extra)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_after_the_last_chunk_is_durable_does_not_interrupt(tmp_path, signame):
    # Reproduction 5: the run used to say "interrupted, run again" here, and the rerun applied
    # f twice. The last chunk is on disk: the run is done, and says so with status 0.
    x = sample((8 * CHUNK,), np.float64, seed=20)
    src = save(tmp_path / "data.npy", x)
    run = start_paused(src, "flushed", LAST, "--alpha", "0.3", "--chunk-mb", CHUNK_MB)
    run.proc.send_signal(getattr(signal, signame))
    time.sleep(0.2)
    run.proc.send_signal(signal.SIGUSR1)               # the test's pause lets go
    assert run.proc.wait(timeout=60) == 0
    rest = "".join(iter(run.lines.get, None))
    assert "interrupted" not in rest and "after the work was on disk" in rest, rest
    assert_same(np.load(src), reference.lrelu(x, 0.3))
    assert listing(tmp_path) == ["data.npy"]
    again = resume(src, "--alpha", "0.3")             # what a user unsure of the outcome does
    assert again.returncode == 0 and "already transformed" in again.stdout, again
    assert_same(np.load(src), reference.lrelu(x, 0.3))


@pytest.mark.parametrize("point, chunk", [("journal-written", 2), ("transformed", LAST)])
def test_a_signal_before_the_commit_point_says_interrupted_and_the_rerun_finishes(tmp_path, point, chunk):
    x = sample((8 * CHUNK,), np.float64, seed=21)
    src = save(tmp_path / "data.npy", x)
    run = start_paused(src, point, chunk, "--chunk-mb", CHUNK_MB)
    run.proc.send_signal(signal.SIGTERM)
    assert run.proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert "interrupted (run the same command again to finish)" in "".join(iter(run.lines.get, None))
    done = resume(src)
    assert done.returncode == 0 and "resuming" in done.stderr, done.stderr
    assert_same(np.load(src), reference.lrelu(x))


@pytest.mark.parametrize("point", ["flushed", "recorded"])
def test_killed_between_the_commit_point_and_the_journals_removal_the_rerun_is_exact(tmp_path, point):
    x = sample((8 * CHUNK,), np.float64, seed=22)
    src = save(tmp_path / "data.npy", x)
    assert start_paused(src, point, LAST if point == "flushed" else 0, "--chunk-mb", CHUNK_MB).kill() == -9
    for _ in range(2):
        done = resume(src)
        assert done.returncode == 0, done.stderr
        assert_same(np.load(src), reference.lrelu(x))
    assert "already transformed" in done.stdout
    assert listing(tmp_path) == ["data.npy"]


def test_a_rerun_on_a_transformed_file_changes_nothing_unless_again(tmp_path, state_home):
    x = sample((3 * CHUNK,), np.float32, seed=23)
    src = save(tmp_path / "data.npy", x)
    assert resume(src, "--alpha", "0.2").returncode == 0
    once = reference.lrelu(x, 0.2)
    done = resume(src, "--alpha", "0.2")
    assert done.returncode == 0 and done.stderr == ""
    assert "already transformed by leaky_relu(alpha=0.2)" in done.stdout and "UTC" in done.stdout
    assert_same(np.load(src), once)
    [record] = os.listdir(state_home / "lrelu" / "done")
    assert os.stat(state_home / "lrelu" / "done" / record).st_mode & 0o777 == 0o600
    assert os.stat(state_home / "lrelu").st_mode & 0o777 == 0o700
    assert resume(src, "--alpha", "0.2", "--again").returncode == 0
    assert_same(np.load(src), reference.lrelu(once, 0.2))
    save(src, x)                                       # new contents: transformed as usual
    assert resume(src, "--alpha", "0.2").returncode == 0
    assert_same(np.load(src), once)


def test_output_onto_a_file_with_a_pending_journal_is_refused(tmp_path):
    # Reproduction 6: -o over y.npy left y's stale journal to steer the next run on it.
    y = sample((8 * CHUNK,), np.float64, seed=24)
    target = save(tmp_path / "y.npy", y)
    src = save(tmp_path / "x.npy", sample((8 * CHUNK,), np.float64, seed=25))
    start_paused(target, "journal-written", 3, "--chunk-mb", CHUNK_MB).kill()
    before = target.read_bytes()
    done = run_lrelu("apply", src, "-o", target)
    assert_one_line_error(done, 1, str(target), "journal", "--in-place")
    assert target.read_bytes() == before
    assert resume(target).returncode == 0
    assert_same(np.load(target), reference.lrelu(y))


def test_a_running_in_place_job_is_not_reported_as_interrupted(tmp_path):
    # Reproduction 7: the second command read the live journal and advised a rerun.
    x = sample((8 * CHUNK,), np.float64, seed=26)
    src = save(tmp_path / "same.npy", x)
    first = start_paused(src, "transformed", 2, "--chunk-mb", CHUNK_MB)
    try:
        for args in (["-o", tmp_path / "out.npy"], ["--in-place", "--chunk-mb", CHUNK_MB]):
            line = assert_one_line_error(run_lrelu("apply", src, *args), 1, "working on this file right now")
            assert "interrupted" not in line
        assert not os.path.exists(tmp_path / "out.npy")
    finally:
        first.proc.send_signal(signal.SIGUSR1)
    assert first.proc.wait(timeout=60) == 0
    assert_same(np.load(src), reference.lrelu(x))


@pytest.mark.skipif(sys.platform == "win32", reason="links need privileges there")
@pytest.mark.parametrize("link", ["symlink", "hardlink", "hardlink-elsewhere"])
def test_the_journal_follows_the_file_whatever_name_the_run_was_given(tmp_path, link):
    # Reproduction 8: a run killed on an alias left a journal the real name did not see.
    x = sample((8 * CHUNK,), np.float64, seed=27)
    real = save(tmp_path / "d.npy", x)
    (tmp_path / "other").mkdir()
    alias = tmp_path / ("other" if link == "hardlink-elsewhere" else ".") / "alias.npy"
    os.symlink(real, alias) if link == "symlink" else os.link(real, alias)
    start_paused(alias, "journal-written", 3, "--chunk-mb", CHUNK_MB).kill()
    before = real.read_bytes()
    assert_one_line_error(run_lrelu("apply", real, "-o", tmp_path / "copy.npy"), 1, "interrupted", "--in-place")
    assert not os.path.exists(tmp_path / "copy.npy")
    assert real.read_bytes() == before
    done = resume(real)
    assert done.returncode == 0 and "resuming" in done.stderr, done.stderr
    assert_same(np.load(real), reference.lrelu(x))
    assert not [name for name in listing(tmp_path) + listing(tmp_path / "other") if JOURNAL_SUFFIX in name]


def test_a_file_rewritten_between_kill_and_resume_is_refused_and_left_alone(tmp_path):
    # Reproduction 9: new values of the same shape were resumed as if they were the old ones.
    src = save(tmp_path / "data.npy", sample((8 * CHUNK,), np.float64, seed=28))
    start_paused(src, "journal-written", 3, "--chunk-mb", CHUNK_MB).kill()
    save(src, sample((8 * CHUNK,), np.float64, seed=29))
    before = src.read_bytes()
    assert_one_line_error(resume(src), 1, "not yet transformed changed", "left untouched")
    assert src.read_bytes() == before and os.path.exists(journal_of(src))


def test_a_file_replaced_between_kill_and_resume_is_refused_and_left_alone(tmp_path):
    src = save(tmp_path / "data.npy", sample((8 * CHUNK,), np.float64, seed=30))
    start_paused(src, "journal-written", 3, "--chunk-mb", CHUNK_MB).kill()
    save(tmp_path / "new.npy", sample((8 * CHUNK,), np.float64, seed=31))
    os.replace(tmp_path / "new.npy", src)              # a new inode under the old name
    before = src.read_bytes()
    assert_one_line_error(resume(src), 1, "belongs to another file", "inode")
    assert src.read_bytes() == before


@pytest.mark.parametrize("field, value", [("start", "zero"), ("count", -1), ("alpha", "nonsense"),
                                          ("shape", None), ("at_zero", "both")])
def test_a_journal_of_the_right_checksum_with_bad_fields_is_refused_in_one_line(tmp_path, field, value):
    import json
    import struct
    import zlib
    src, before, journal = interrupted(tmp_path)
    data = open(journal, "rb").read()
    magic = apply._JOURNAL_MAGIC
    (body_len,) = struct.unpack_from("<Q", data, len(magic))
    state = json.loads(data[len(magic) + 8:len(magic) + 8 + body_len])
    state[field] = value
    body = json.dumps(state).encode()
    rest = data[len(magic) + 8 + body_len:-4]
    forged = magic + struct.pack("<Q", len(body)) + body + rest
    with open(journal, "wb") as f:
        f.write(forged + struct.pack("<I", zlib.crc32(forged)))
    assert_one_line_error(resume(src), 1, "damaged")
    assert open(src, "rb").read() == before


def npy_with_header(path, header_text, data=b""):
    """A .npy file whose header dictionary is header_text, verbatim."""
    text = header_text.encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct_len(len(text) + pad + 1) + text + b" " * pad + b"\n" + data)
    return path


def struct_len(n):
    return n.to_bytes(2, "little")


@pytest.mark.parametrize("shape", ["(4294967296, 4294967296)", "(-3,)", "(2**100,)", "(100000000000000000000000,)",
                                   "(1.5,)", "(True,)", "(0, 9223372036854775807, 4)", "(-1, 0)"])
@pytest.mark.parametrize("mode", ["out", "in-place"])
def test_headers_numpy_would_not_accept_give_one_line_and_touch_nothing(tmp_path, capsys, shape, mode):
    src = npy_with_header(tmp_path / "h.npy", f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}",
                          bytes(128))
    before = files_in(tmp_path)
    where = ["-o", tmp_path / "o.npy"] if mode == "out" else ["--in-place"]
    assert_one_line_error(run_in_process(capsys, "apply", src, *where), 1, str(src))
    assert files_in(tmp_path) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_as_input_and_never_replaced_as_output(tmp_path):
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    good = save(tmp_path / "good.npy", sample((100,), np.float32))
    for args in ([fifo, "-o", tmp_path / "o.npy"], [fifo, "--in-place"]):
        assert_one_line_error(run_lrelu("apply", *args, timeout=30), 1, str(fifo), "a FIFO")
    assert_one_line_error(run_lrelu("apply", good, "-o", fifo, timeout=30), 1, str(fifo), "a FIFO", "regular")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert listing(tmp_path) == ["good.npy", "pipe.npy"]


@pytest.mark.skipif(not ROOT, reason="needs root to make a device node")
def test_a_device_node_is_never_replaced(tmp_path):
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    good = save(tmp_path / "good.npy", sample((100,), np.float32))
    assert_one_line_error(run_lrelu("apply", good, "-o", node), 1, "character device")
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_output_keeps_an_existing_files_permissions_and_a_new_one_follows_the_umask(tmp_path):
    good = save(tmp_path / "good.npy", sample((100,), np.float32))
    private = save(tmp_path / "private.npy", np.zeros(3))
    os.chmod(private, 0o600)
    assert run_lrelu("apply", good, "-o", private).returncode == 0
    assert os.stat(private).st_mode & 0o7777 == 0o600
    umask = os.umask(0o027)
    try:
        assert run_lrelu("apply", good, "-o", tmp_path / "new.npy").returncode == 0
    finally:
        os.umask(umask)
    assert os.stat(tmp_path / "new.npy").st_mode & 0o7777 == 0o640
    assert_same(np.load(private), reference.lrelu(np.load(good)))


def test_an_input_truncated_under_the_run_gives_one_line_and_no_sigbus(tmp_path):
    x = sample((8 * CHUNK,), np.float64, seed=32)
    src = save(tmp_path / "in.npy", x)
    out = save(tmp_path / "out.npy", np.arange(3.0))
    run = start_paused_out_of_place(src, out, 2)
    os.truncate(src, 1000)
    run.proc.send_signal(signal.SIGUSR1)
    assert run.proc.wait(timeout=60) == 1
    errors = [line for line in iter(run.lines.get, None) if "error" in line]    # a progress bar aside
    assert len(errors) == 1 and str(src) in errors[0] and "changed size" in errors[0], errors
    assert_same(np.load(out), np.arange(3.0))
    assert listing(tmp_path) == ["in.npy", "out.npy"]


def test_a_file_truncated_under_an_in_place_run_is_reported_and_not_resumed(tmp_path):
    src = save(tmp_path / "data.npy", sample((8 * CHUNK,), np.float64, seed=33))
    run = start_paused(src, "flushed", 2, "--chunk-mb", CHUNK_MB)
    os.truncate(src, 4096)
    run.proc.send_signal(signal.SIGUSR1)
    assert run.proc.wait(timeout=60) == 1
    assert "changed size" in "".join(iter(run.lines.get, None))
    before = src.read_bytes()
    assert_one_line_error(resume(src), 1, "truncated")
    assert src.read_bytes() == before


LONG = "n" * 246 + ".npy"                     # 250 bytes: the file system takes it, barely


def test_a_250_character_name_gets_journals_and_temporaries_that_fit(tmp_path):
    x = sample((8 * CHUNK,), np.float64, seed=34)
    src = save(tmp_path / LONG, x)
    start_paused(src, "journal-written", 3, "--chunk-mb", CHUNK_MB).kill()
    [journal] = [name for name in listing(tmp_path) if name.endswith(JOURNAL_SUFFIX)]
    assert len(journal) <= 255
    assert resume(src).returncode == 0
    assert_same(np.load(src), reference.lrelu(x))
    out = tmp_path / ("o" * 246 + ".npy")
    done = run_lrelu("apply", src, "-o", out)
    assert done.returncode == 0, done.stderr
    assert listing(tmp_path) == sorted([LONG, out.name])


@pytest.mark.parametrize("mode", ["out", "in-place"])
def test_at_zero_alpha_gives_pytorchs_derivative(tmp_path, apply_here, mode):
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.nan, -np.inf], np.float32)
    src = save(tmp_path / "x.npy", x)
    target = tmp_path / "y.npy" if mode == "out" else src
    apply_here(src, *(["-o", target] if mode == "out" else ["--in-place"]), "--alpha", "0.1", "--derivative",
               "--at-zero", "alpha")
    assert_same(np.load(target), expected(x, 0.1, True, "alpha"))


def test_at_zero_is_part_of_the_journal_and_a_resume_cannot_mix_conventions(tmp_path):
    x = sample((8 * CHUNK,), np.float64, seed=35)
    src = save(tmp_path / "data.npy", x)
    flags = ["--derivative", "--at-zero", "alpha"]
    start_paused(src, "flushed", 3, "--chunk-mb", CHUNK_MB, *flags).kill()
    assert_one_line_error(resume(src, "--derivative"), 1, "other parameters", "--at-zero alpha")
    assert resume(src, *flags).returncode == 0
    assert_same(np.load(src), expected(x, 0.01, True, "alpha"))
    assert "at_zero='alpha'" in resume(src, *flags).stdout      # already done, and how


def test_at_zero_without_derivative_is_a_usage_error(tmp_path, capsys):
    src = save(tmp_path / "x.npy", np.zeros(3))
    assert_one_line_error(run_in_process(capsys, "apply", src, "--in-place", "--at-zero", "alpha"), 2, "--derivative")


@pytest.mark.parametrize("mode", ["out", "in-place"])
def test_bfloat16_files_with_dtype_bfloat16(tmp_path, mode):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bf16 = np.dtype(ml_dtypes.bfloat16)
    x = sample((3, 1000), np.float32, seed=36).astype(bf16)
    src = save(tmp_path / "b.npy", x)
    assert np.load(src).dtype == np.dtype("V2")       # how ml_dtypes arrays are saved
    target = tmp_path / "c.npy" if mode == "out" else src
    where = ["-o", target] if mode == "out" else ["--in-place"]
    refused = run_lrelu("apply", src, *where)
    assert_one_line_error(refused, 1, "--dtype bfloat16")
    done = run_lrelu("apply", src, *where, "--dtype", "bfloat16", "--alpha", "0.25", "--chunk-mb", ODD_CHUNK_MB)
    assert done.returncode == 0, done.stderr
    import lrelu
    assert_same(np.load(target).view(bf16), lrelu.leaky_relu(x, 0.25))
    # lrelu's bfloat16 rule is the listing in float32 rounded once; 0.25 * x is exact in it.
    assert_same(np.load(target).view(bf16).astype(np.float32), reference.lrelu(x.astype(np.float32), 0.25))


def test_dtype_bfloat16_without_ml_dtypes_is_refused_clearly(tmp_path):
    src = save(tmp_path / "b.npy", np.zeros(4, np.uint16).view("V2"))
    done = run_lrelu("apply", src, "-o", tmp_path / "c.npy", "--dtype", "bfloat16", child=("without", "ml_dtypes"))
    assert_one_line_error(done, 2, "ml_dtypes")
    assert listing(tmp_path) == ["b.npy"]


def test_alpha_is_checked_once_then_each_chunk_is_one_call(tmp_path, capsys, monkeypatch):
    # The command used to check alpha three times through calls on empty arrays.
    import lrelu
    sizes = []
    real = lrelu.leaky_relu
    monkeypatch.setattr(lrelu, "leaky_relu", lambda x, *a, **k: sizes.append(np.size(x)) or real(x, *a, **k))
    src = save(tmp_path / "x.npy", sample((3 * CHUNK,), np.float64))
    assert run_in_process(capsys, "apply", src, "-o", tmp_path / "y.npy", "--chunk-mb", CHUNK_MB).returncode == 0
    assert sizes == [1, CHUNK, CHUNK, CHUNK]


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs (root only), unmounted afterwards."""
    if not ROOT or not sys.platform.startswith("linux"):
        pytest.skip("needs root on Linux to mount a small tmpfs")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_sparse_file_on_a_file_system_that_fills_gives_one_line_and_the_rerun_finishes(small_tmpfs):
    # The memory map used to end this in SIGBUS: on tmpfs, even reading a hole through a shared
    # map allocates. 64 KiB of data, then holes the run must fill; a filler leaves room for
    # about two chunks.
    chunk_mb = 0.125
    n = 2**17
    src = small_tmpfs / "sparse.npy"
    head = sample((2**13,), np.float64, seed=41)
    with open(src, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
        f.write(head.tobytes())
        f.truncate(f.tell() + (n - head.size) * 8)
    x = np.load(src)
    free = os.statvfs(small_tmpfs)
    (small_tmpfs / "filler").write_bytes(bytes(free.f_bavail * free.f_frsize - 2 * int(chunk_mb * 2**20) - 16384))
    first = run_lrelu("apply", src, "--in-place", "--chunk-mb", chunk_mb, child=("without", "tqdm"))
    assert_one_line_error(first, 1, str(small_tmpfs), "No space left on device", "same command finishes")
    os.remove(small_tmpfs / "filler")
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_tmpfs)], check=True)
    again = run_lrelu("apply", src, "--in-place", "--chunk-mb", chunk_mb)
    assert again.returncode == 0, again.stderr
    assert_same(np.load(src), reference.lrelu(x))


def test_a_state_folder_others_can_write_is_refused_before_anything_changes(tmp_path, state_home):
    x = sample((100,), np.float64)
    src = save(tmp_path / "data.npy", x)
    (state_home / "lrelu").mkdir(mode=0o777)
    os.chmod(state_home / "lrelu", 0o777)           # anyone could plant a record or pointer
    assert_one_line_error(run_lrelu("apply", src, "--in-place"), 1, "state folder", "XDG_STATE_HOME")
    assert_same(np.load(src), x)
