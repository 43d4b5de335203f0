"""``lrelu apply``: Leaky ReLU (or its derivative) over a .npy file of any size, chunk by chunk.

Memory stays bounded by the chunk size: the input is memory-mapped, and each chunk's pages
are dropped from the process once it is done. The function is elementwise, so the file's
data is processed as one flat run of elements in storage order, whatever its shape or
C/Fortran order; the header (shape, order) is carried over unchanged.

Out of place, the result goes to a temporary file beside OUTPUT, which is fsync'ed and then
renamed over OUTPUT: OUTPUT is either the old file or the whole new one, never a part.

In place, Leaky ReLU is not idempotent (applied twice, a negative x becomes alpha**2 * x),
so a run that is killed and started again must know exactly which elements it changed. The
journal ``INPUT.npy.lrelu-journal`` is a redo log holding one chunk: before chunk k is
touched, a journal naming chunk k and holding its original bytes is written to a temporary
file, fsync'ed, renamed into place and the directory fsync'ed. Then chunk k is transformed
through the memory map and flushed to disk. Writing the journal for chunk k+1 is what marks
chunk k done, since it is only written after chunk k was flushed. So at any moment:
everything before the journal's chunk is done, everything after it is untouched, and the
journal's chunk is in an unknown state but its original bytes are saved. A restart recomputes
that chunk from the saved bytes (which gives the same bits however far the killed run got),
flushes, and goes on. The journal is deleted once the last chunk is flushed.

A journal is trusted only if it is what this module writes: a regular file (not a symbolic
link, a FIFO, a device), owned by the user running apply or by the data file's owner.
Otherwise anyone who can create a file in the directory (a shared one, with the sticky bit)
could plant a journal with a valid CRC whose bytes a resume would write into the data.

Temporary files (the output's, each journal's) are created by mkstemp, which opens with
O_EXCL and, where it exists, O_NOFOLLOW, so a name planted in advance, symbolic link or not,
is never written through. They are named ``.NAME.XXXXXXXX.lrelu-tmp`` beside NAME and locked
while written; one with that name that nobody holds locked was left by a killed run, and the
next run on NAME removes it (remove_stale_temps).

``checkpoint(point, chunk)``, if given, is called at each moment a kill would leave a
different state on disk ("written", "journal-half-written", "journal-written",
"transformed", "flushed"); the kill-and-resume tests stop a run there and SIGKILL it.
"""

import contextlib
import json
import mmap
import os
import re
import stat
import struct
import tempfile
import zlib

import numpy as np

import lrelu

JOURNAL_SUFFIX = ".lrelu-journal"
TEMP_SUFFIX = ".lrelu-tmp"
_JOURNAL_MAGIC = b"LRELU-JOURNAL 1\n"
DEFAULT_CHUNK_MB = 64

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, journal still protects
    fcntl = None  # type: ignore[assignment]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)     # Windows has no symbolic-link flag to give


class InputError(Exception):
    """Bad input or a state the user must resolve: the CLI prints it as one line."""


def journal_path(path):
    return os.fspath(path) + JOURNAL_SUFFIX


def _describe(derivative, alpha):
    return f"{'leaky_relu_derivative' if derivative else 'leaky_relu'}(alpha={alpha!r})"


def _read_header(path):
    """(dtype, shape, fortran_order, data offset) of a .npy file, or InputError."""
    try:
        with open(path, "rb") as f:
            try:
                version = np.lib.format.read_magic(f)
            except ValueError:
                raise InputError(f"{path}: not a .npy file (it does not start with NumPy's magic string)") from None
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                # Version 3.0 exists only for structured dtypes with non-Latin-1 field names,
                # which could not be transformed anyway.
                raise InputError(f"{path}: .npy format version {version[0]}.{version[1]} is not supported")
            offset = f.tell()
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(f"{path}: not a valid .npy file ({exc})") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a .npy file") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "fiub":
        what = "Python objects" if dtype.hasobject else f"dtype {dtype}"
        raise InputError(f"{path}: holds {what}; lrelu works on real numbers (float, integer or bool)")
    n = int(np.prod(shape, dtype=np.int64))
    needed = offset + n * dtype.itemsize
    size = os.path.getsize(path)
    if size < needed:
        raise InputError(f"{path}: truncated .npy file ({size} bytes, its header promises {needed})")
    return dtype, tuple(shape), bool(fortran_order), offset


def _fsync_dir(directory):
    if os.name == "nt":  # pragma: no cover - directories cannot be opened there
        return
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(final):
    """A pattern matching only the names mkstemp gives final's temporaries here."""
    return re.compile(re.escape("." + os.path.basename(final) + ".") + "[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))


def _new_temp(final):
    """(fd, path) of a new temporary beside final, created exclusively and locked."""
    while True:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(final)),
                                   prefix="." + os.path.basename(final) + ".", suffix=TEMP_SUFFIX)
        if fcntl is None:  # pragma: no cover - Windows
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:    # not taken for a stale one in the instant before the lock
            return fd, tmp
        os.close(fd)


def remove_stale_temps(final, notice=None):
    """Remove the temporaries of final that killed runs left behind: files named as
    _new_temp names them, regular, this user's, and locked by no running apply. Never anything
    else. notice(message) for each one removed."""
    if fcntl is None:  # pragma: no cover - Windows: without locks, a live one looks the same
        return
    directory = os.path.dirname(os.path.abspath(final))
    pattern = _temp_name(final)
    for name in sorted(os.listdir(directory)):
        if not pattern.fullmatch(name):
            continue
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue                 # gone meanwhile, a symbolic link, unreadable: not ours
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue             # a running apply is writing it
            now = os.lstat(path)
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                os.remove(path)
                if notice:
                    notice(f"removed {path}, a temporary file an interrupted run left behind")
        finally:
            os.close(fd)


@contextlib.contextmanager
def _replace_whole(final, temp=None):
    """Yield a binary file writing a new temporary beside final (or temp, an (fd, path) from
    _new_temp(final)). When the block ends well, the temporary is fsync'ed, renamed over final
    and the directory fsync'ed, so final is the old file or the whole new one even after a
    crash or power cut; otherwise the temporary is removed."""
    fd, tmp = temp or _new_temp(final)
    try:
        with open(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            if fcntl is not None:
                os.replace(tmp, final)      # still locked, so never taken for a stale one
        if fcntl is None:  # pragma: no cover - Windows cannot rename an open file
            os.replace(tmp, final)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(final)))


def _lock(fileobj, path, exclusive):
    """Advisory lock: one in-place run per file, and no reader while it runs."""
    if fcntl is None:  # pragma: no cover
        return
    try:
        fcntl.flock(fileobj.fileno(), (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InputError(f"{path}: another `lrelu apply --in-place` is working on this file") from None


def _chunk_elements(chunk_mb, itemsize):
    if not chunk_mb > 0:
        raise InputError(f"--chunk-mb must be a positive number of MiB, got {chunk_mb!r}")
    return max(1, int(chunk_mb * 2**20) // itemsize)


def _release(mm, start_byte, end_byte, flush):
    """Flush (if asked) the pages of [start_byte, end_byte) to disk, then drop them from this
    process, so its resident memory stays about one chunk however large the file is."""
    start = start_byte - start_byte % mmap.ALLOCATIONGRANULARITY   # flush() needs aligned offsets
    length = end_byte - start
    if length <= 0:
        return
    if flush:
        mm.flush(start, length)
    if hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        # MAP_SHARED pages are backed by the file, so dropping them loses nothing.
        mm.madvise(mmap.MADV_DONTNEED, start, length)


def _close(mm):
    try:
        mm.close()
    except BufferError:
        # An exception's traceback still holds an array over the map; it is unmapped when
        # that goes, and the original exception is the one worth reporting.
        pass


def _transform(values, alpha, derivative, out):
    fn = lrelu.leaky_relu_derivative if derivative else lrelu.leaky_relu
    return fn(values, alpha, out=out)


def _no_checkpoint(point, chunk):
    pass


def checked_alpha(alpha):
    """alpha if lrelu takes it (any finite real number), else InputError: lrelu.leaky_relu's
    own check, run on an empty array before any file is touched."""
    try:
        lrelu.leaky_relu(np.zeros(0), alpha)
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc).split(": ", 1)[-1]) from None
    return alpha


def output_dtype(dtype, alpha):
    """The dtype lrelu gives for this input dtype and alpha (float64 for integers), in the
    input's byte order: a big-endian file gives a big-endian file."""
    result = lrelu.leaky_relu(np.zeros(0, dtype), alpha).dtype
    return result.newbyteorder(dtype.byteorder) if dtype.byteorder in "<>" else result


def _check_no_journal(path):
    jpath = journal_path(path)
    if os.path.lexists(jpath):
        raise InputError(f"{path}: an in-place run on this file was interrupted and its journal "
                         f"{jpath} is still there, so the file is partly transformed; run the same "
                         f"`lrelu apply {path} --in-place ...` again to finish it")


def apply_to_new_file(path, output, alpha=0.01, derivative=False, chunk_mb=DEFAULT_CHUNK_MB,
                      progress=None, notice=None, checkpoint=None):
    """Write f(INPUT) to OUTPUT, atomically. progress(done_bytes, total_bytes) after each chunk;
    notice(message) for what the user should know (a stale temporary removed). Returns
    (output dtype, shape)."""
    checked_alpha(alpha)
    checkpoint = checkpoint or _no_checkpoint
    dtype, shape, fortran_order, offset = _read_header(path)
    _check_no_journal(path)
    out_dtype = output_dtype(dtype, alpha)
    n = int(np.prod(shape, dtype=np.int64))
    # The chunk bounds the input read and the result buffer alike (int8 in, float64 out).
    chunk = _chunk_elements(chunk_mb, max(dtype.itemsize, out_dtype.itemsize))
    output = os.fspath(output)
    if os.path.isdir(output):
        raise InputError(f"{output}: is a directory; give a file name for the output")
    try:
        remove_stale_temps(output, notice)
        temp = _new_temp(output)
    except OSError as exc:
        raise InputError(f"{output}: cannot write there ({exc.strerror or exc})") from None
    with _replace_whole(output, temp) as dst, open(path, "rb") as src:
        _lock(src, path, exclusive=False)
        header = {"descr": np.lib.format.dtype_to_descr(out_dtype), "fortran_order": fortran_order,
                  "shape": shape}
        try:
            np.lib.format.write_array_header_1_0(dst, header)
        except ValueError:  # header over 64 KiB (a great many dimensions)
            np.lib.format.write_array_header_2_0(dst, header)
        if n:
            mm = mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                values = np.frombuffer(mm, dtype=dtype, count=n, offset=offset)
                buffer = np.empty(min(chunk, n), out_dtype)
                for start in range(0, n, chunk):
                    stop = min(start + chunk, n)
                    result = _transform(values[start:stop], alpha, derivative, buffer[:stop - start])
                    dst.write(result.view(np.uint8).data)
                    checkpoint("written", start // chunk)
                    _release(mm, offset + start * dtype.itemsize, offset + stop * dtype.itemsize, flush=False)
                    if progress:
                        progress(stop * dtype.itemsize, n * dtype.itemsize)
                del values
            finally:
                _close(mm)
        if hasattr(os, "fchmod"):          # mkstemp makes it 0600; give it a normal file's mode
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(dst.fileno(), 0o666 & ~umask)
    return out_dtype, shape


# The journal: magic, u64 length + JSON state, u64 length + the pending chunk's original
# bytes, u32 CRC-32 of everything before it. It is always replaced whole (write a temporary,
# fsync, rename, fsync the directory), so a reader sees the old journal or the new one; the
# CRC catches a journal damaged some other way.

def _write_journal(jpath, state, saved, chunk_index, checkpoint):
    body = json.dumps(state, sort_keys=True).encode()
    head = _JOURNAL_MAGIC + struct.pack("<Q", len(body)) + body + struct.pack("<Q", saved.nbytes)
    crc = zlib.crc32(saved, zlib.crc32(head))
    with _replace_whole(jpath) as f:
        f.write(head)
        checkpoint("journal-half-written", chunk_index)
        f.write(saved)
        f.write(struct.pack("<I", crc))


def _read_trusted(jpath, data_file):
    """The journal's bytes, if it can be trusted (see the module docstring); else InputError."""
    distrust = (f"it could write anyone's bytes into {data_file}, so it is not used: find out "
                "who made it, then remove it and run again")
    try:
        seen = os.lstat(jpath)
        if stat.S_ISLNK(seen.st_mode):
            raise InputError(f"{jpath}: the journal is a symbolic link, which lrelu never makes; {distrust}")
        # O_NOFOLLOW and O_NONBLOCK: what is opened cannot be a link swapped in since, and a
        # FIFO cannot block the open.
        fd = os.open(jpath, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"{jpath}: cannot read the journal ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (seen.st_dev, seen.st_ino):
            raise InputError(f"{jpath}: the journal is not a regular file; {distrust}")
        if hasattr(os, "geteuid") and st.st_uid not in (os.geteuid(), os.stat(data_file).st_uid):
            raise InputError(f"{jpath}: the journal belongs to user id {st.st_uid}, neither you nor the "
                             f"owner of {data_file}; {distrust}")
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "rb") as f:
        return f.read()


def _read_journal(jpath, data_file):
    data = _read_trusted(jpath, data_file)
    damaged = InputError(f"{jpath}: the journal is damaged, so it is unknown which part of the file "
                         "was transformed; restore the file from a backup and delete the journal")
    magic_len = len(_JOURNAL_MAGIC)
    if len(data) < magic_len + 20 or not data.startswith(_JOURNAL_MAGIC):
        raise damaged
    (body_len,) = struct.unpack_from("<Q", data, magic_len)
    saved_at = magic_len + 8 + body_len + 8
    if saved_at > len(data) - 4:
        raise damaged
    (saved_len,) = struct.unpack_from("<Q", data, saved_at - 8)
    if saved_at + saved_len + 4 != len(data) or \
            zlib.crc32(memoryview(data)[:-4]) != struct.unpack_from("<I", data, len(data) - 4)[0]:
        raise damaged
    state = json.loads(data[magic_len + 8:magic_len + 8 + body_len])
    return state, memoryview(data)[saved_at:saved_at + saved_len]


def _params(path, dtype, shape, fortran_order, offset, alpha, derivative):
    return {"alpha": float(alpha).hex(), "derivative": bool(derivative),
            "dtype": np.lib.format.dtype_to_descr(dtype), "shape": list(shape),
            "fortran_order": fortran_order, "offset": offset, "file_size": os.path.getsize(path)}


def _mismatch(path, journal_params, params):
    """The one-line refusal to resume a run with other parameters."""
    said = dict(journal_params, alpha=float.fromhex(journal_params["alpha"]))
    now = dict(params, alpha=float.fromhex(params["alpha"]))
    diffs = ", ".join(f"{key} {said[key]!r} (now {now[key]!r})" for key in sorted(said) if said[key] != now[key])
    if any(said[key] != now[key] for key in ("dtype", "shape", "fortran_order", "offset", "file_size")):
        return InputError(f"{path}: the file changed since the interrupted in-place run recorded in "
                          f"{journal_path(path)} ({diffs}); it cannot be resumed")
    flag = " --derivative" if said["derivative"] else ""
    return InputError(f"{path}: an interrupted in-place run used other parameters ({diffs}); finish it "
                      f"first with `lrelu apply {path} --in-place --alpha {said['alpha']!r}{flag}`")


def apply_in_place(path, alpha=0.01, derivative=False, chunk_mb=DEFAULT_CHUNK_MB, progress=None,
                   notice=None, checkpoint=None):
    """Transform the .npy file at path in place, resumably (see the module docstring).
    progress(done_bytes, total_bytes) after each chunk; notice(message) for what the user
    should know (an interrupted run resumed, a stale temporary removed). Returns (dtype, shape)."""
    checked_alpha(alpha)
    notice = notice or (lambda message: None)
    checkpoint = checkpoint or _no_checkpoint
    dtype, shape, fortran_order, offset = _read_header(path)
    if dtype.kind != "f":
        raise InputError(f"{path}: --in-place needs a floating-point file, this one is {dtype}; "
                         "use -o OUTPUT.npy for a float64 result")
    n = int(np.prod(shape, dtype=np.int64))
    chunk = _chunk_elements(chunk_mb, dtype.itemsize)
    jpath = journal_path(path)
    params = _params(path, dtype, shape, fortran_order, offset, alpha, derivative)
    try:
        f = open(path, "r+b")
    except OSError as exc:
        raise InputError(f"{path}: cannot open it for writing ({exc.strerror or exc})") from None
    with f:
        _lock(f, path, exclusive=True)
        journal = None
        if os.path.lexists(jpath):
            journal = _read_journal(jpath, path)
            if journal[0]["params"] != params:
                raise _mismatch(path, journal[0]["params"], params)
        elif not os.access(os.path.dirname(os.path.abspath(jpath)), os.W_OK):
            raise InputError(f"{path}: cannot create the journal {jpath} beside it (directory not writable)")
        remove_stale_temps(jpath, notice)      # journal updates that a kill cut short
        if n == 0:
            if journal is not None:
                os.remove(jpath)
            return dtype, shape
        itemsize = dtype.itemsize
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_WRITE)
        try:
            values = np.frombuffer(mm, dtype=dtype, count=n, offset=offset)
            done = 0
            if journal is not None:
                state, saved = journal
                start, count = state["start"], state["count"]
                notice(f"resuming an interrupted run on {path}: {start * itemsize} of {n * itemsize} "
                       "bytes were done")
                # Redo: the chunk may be untouched, half or fully transformed; recomputing it
                # from its saved original bytes gives the right bits in every case.
                original = np.frombuffer(saved, dtype=dtype, count=count)
                _transform(original, alpha, derivative, values[start:start + count])
                _release(mm, offset + start * itemsize, offset + (start + count) * itemsize, flush=True)
                done = start + count
                del original, saved, journal, state
            saved = np.empty(min(chunk, n), dtype)
            while done < n:
                stop = min(done + chunk, n)
                k = done // chunk
                saved[:stop - done] = values[done:stop]
                # Durable before the chunk is touched; it also records that all before it is done.
                try:
                    _write_journal(jpath, {"params": params, "start": done, "count": stop - done},
                                   saved[:stop - done].view(np.uint8), k, checkpoint)
                except OSError as exc:
                    raise InputError(f"{path}: cannot write the journal {jpath} ({exc.strerror or exc}); "
                                     f"{done * itemsize} of {n * itemsize} data bytes are done, and the "
                                     "same command finishes the job once that is fixed") from None
                checkpoint("journal-written", k)
                _transform(values[done:stop], alpha, derivative, values[done:stop])
                checkpoint("transformed", k)
                _release(mm, offset + done * itemsize, offset + stop * itemsize, flush=True)
                checkpoint("flushed", k)
                done = stop
                if progress:
                    progress(done * itemsize, n * itemsize)
            del values
        finally:
            _close(mm)
        # Everything is on disk: the journal can go (a kill before this just redoes the last chunk).
        os.remove(jpath)
        _fsync_dir(os.path.dirname(os.path.abspath(jpath)))
    return dtype, shape
