"""``lrelu apply``: Leaky ReLU (or its derivative) over a .npy file of any size, chunk by chunk.

Memory stays bounded by the chunk size. The function is elementwise, so the file's data is
processed as one flat run of elements in storage order, whatever its shape or C/Fortran
order; the header (shape, order) is carried over unchanged. Data is read and written with
pread/pwrite, never through a memory map: a file truncated under the run, or a sparse file
whose file system fills, then gives an error naming the file instead of SIGBUS.

Out of place, the result goes to a temporary file beside OUTPUT, which is fsync'ed and then
renamed over OUTPUT: OUTPUT is either the old file or the whole new one, never a part.

In place, Leaky ReLU is not idempotent (applied twice, a negative x becomes alpha**2 * x),
so a run that is killed and started again must know exactly which elements it changed. The
journal (``INPUT.npy.lrelu-journal`` beside the real file, symbolic links resolved) is a
redo log holding one chunk: before chunk k is touched, a journal naming chunk k and holding
its original bytes is written to a temporary file, fsync'ed, renamed into place and the
directory fsync'ed. Then chunk k is transformed, written and fdatasync'ed. Writing the
journal for chunk k+1 is what marks chunk k done. So at any moment everything before the
journal's chunk is done, everything after it is untouched, and the journal's chunk is in an
unknown state but its original bytes are saved; a restart recomputes that chunk from them.

The journal belongs to the file, not to a name. It records the file's device, inode and size
and a CRC-32 checksum of the data after its chunk (the part not yet transformed): a file replaced or
rewritten since (even with the same shape) is refused, untouched. A hard link in another
directory finds the journal through a pointer kept under ``$XDG_STATE_HOME/lrelu`` and keyed
by (device, inode).

The commit point is the fdatasync of the last chunk: SIGINT, SIGTERM and SIGHUP are blocked
around it, and one arriving after it no longer interrupts. The run then writes a completion
record under ``$XDG_STATE_HOME/lrelu`` (keyed by device and inode, holding the size and a
checksum of the whole transformed file) before it removes the journal, so a rerun on the
unchanged file, even after a kill between the two, says it was already transformed.

A journal is trusted only if it is what this module writes: a regular file, owned by the
user running apply or by the data file's owner. Temporary files are created by mkstemp
(O_EXCL, O_NOFOLLOW), named ``.NAME.XXXXXXXX.lrelu-tmp`` beside NAME and locked while
written; one that nobody holds locked was left by a killed run, and the next run on NAME
removes it (remove_stale_temps). Names longer than the file system allows are shortened with
a hash of the whole name.

``checkpoint(point, chunk)``, if given, is called at each moment a kill would leave a
different state on disk ("written", "journal-half-written", "journal-written", "transformed",
"flushed", "recorded"); the kill-and-resume tests stop a run there.
"""

import contextlib
import hashlib
import io
import json
import math
import os
import re
import signal
import stat
import struct
import sys
import tempfile
import threading
import time
import zlib

import numpy as np

import lrelu

JOURNAL_SUFFIX = ".lrelu-journal"
TEMP_SUFFIX = ".lrelu-tmp"
_JOURNAL_MAGIC = b"LRELU-JOURNAL 2\n"
DEFAULT_CHUNK_MB = 64
# Completion records older than this, or past this many, are removed when one is written.
RECORD_MAX_AGE_DAYS = 365
RECORD_MAX_COUNT = 1000
_DIGEST = 16                     # bytes of BLAKE2b in the chain of the chunks' CRCs

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, journal still protects
    fcntl = None  # type: ignore[assignment]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)     # Windows has no symbolic-link flag to give
# A FIFO cannot block an open; Windows opens in text mode (CR LF translated) without O_BINARY.
_OPEN_EXTRA = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _pread(fd, count, pos):
    """os.pread, or a seek and a read where there is none (Windows; the run holds the file)."""
    if hasattr(os, "pread"):
        return os.pread(fd, count, pos)
    os.lseek(fd, pos, os.SEEK_SET)      # pragma: no cover - Windows
    return os.read(fd, count)


def _pwrite(fd, data, pos):
    """os.pwrite, or a seek and a write where there is none (Windows)."""
    if hasattr(os, "pwrite"):
        return os.pwrite(fd, data, pos)
    os.lseek(fd, pos, os.SEEK_SET)      # pragma: no cover - Windows
    return os.write(fd, data)


class InputError(Exception):
    """Bad input or a state the user must resolve: the CLI prints it as one line."""


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) before the run's commit point."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _why(exc):
    return exc.strerror or str(exc)


@contextlib.contextmanager
def _io(path, doing, then=""):
    """OSError inside becomes InputError naming path and what was being done."""
    try:
        yield
    except OSError as exc:
        raise InputError(f"{path}: cannot {doing} ({_why(exc)}){then}") from None


# ---- the operation -------------------------------------------------------------------------

class Operation:
    """What a run computes: leaky_relu or its derivative, alpha, and f'(0)'s convention.
    alpha is checked once, here, by the public function itself on one value."""

    def __init__(self, alpha=0.01, derivative=False, at_zero="one", bfloat16=False):
        if at_zero != "one" and not derivative:
            raise InputError("--at-zero applies to --derivative only")
        self.derivative, self.at_zero, self.bfloat16 = bool(derivative), at_zero, bool(bfloat16)
        self._fn = lrelu.leaky_relu_derivative if derivative else lrelu.leaky_relu
        self._kwargs = {"at_zero": at_zero} if derivative else {}
        try:
            self._fn(np.float64(0.0), alpha, **self._kwargs)
        except (TypeError, ValueError) as exc:
            raise InputError(str(exc).split(": ", 1)[-1]) from None
        self.alpha = alpha

    @property
    def name(self):
        return "leaky_relu_derivative" if self.derivative else "leaky_relu"

    def describe(self):
        extra = f", at_zero={self.at_zero!r}" if self.derivative else ""
        return f"{self.name}(alpha={self.alpha!r}{extra})"

    def flags(self):
        """The command-line options that give this operation."""
        flags = f"--alpha {self.alpha!r}"
        if self.derivative:
            flags += f" --derivative --at-zero {self.at_zero}"
        return flags + (" --dtype bfloat16" if self.bfloat16 else "")

    def record(self):
        return {"alpha": float(self.alpha).hex(), "derivative": self.derivative, "at_zero": self.at_zero}

    def __call__(self, values, out):
        return self._fn(values, self.alpha, out=out, **self._kwargs)


def describe_record(fields):
    op = "leaky_relu_derivative" if fields.get("derivative") else "leaky_relu"
    extra = f", at_zero={fields.get('at_zero')!r}" if fields.get("derivative") else ""
    return f"{op}(alpha={float.fromhex(fields['alpha'])!r}{extra})"


def output_dtype(dtype):
    """What lrelu gives for this input dtype: floating dtypes (bfloat16 too) are kept, integers
    and bool give float64, in the input's byte order (a big-endian file gives a big-endian file)."""
    if dtype.kind == "f" or dtype.name == "bfloat16":
        return dtype
    result = np.dtype(np.float64)
    return result.newbyteorder(dtype.byteorder) if dtype.byteorder in "<>" else result


def _bfloat16():
    try:
        import ml_dtypes
    except Exception as exc:  # ImportError, or a broken install
        raise InputError(f"--dtype bfloat16 needs ml_dtypes, which cannot be imported "
                         f"({type(exc).__name__}): pip install ml_dtypes") from None
    return np.dtype(ml_dtypes.bfloat16)


# ---- names ---------------------------------------------------------------------------------

def _name_max(directory):
    try:
        return os.pathconf(directory or ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _fit(directory, name, extra):
    """name, or a shortened one ending in a hash of it, so that name plus `extra` more bytes
    fits the file system's limit on a file name."""
    limit = _name_max(directory)
    raw = os.fsencode(name)
    if len(raw) + extra <= limit:
        return name
    tag = "~" + hashlib.blake2b(raw, digest_size=8).hexdigest()
    return os.fsdecode(raw[:max(0, limit - extra - len(tag))]) + tag


def real_path(path):
    """path with every symbolic link resolved: the journal sits beside the real file."""
    return os.path.realpath(os.fspath(path))


def journal_path(path):
    real = real_path(path)
    directory, base = os.path.split(real)
    return os.path.join(directory, _fit(directory, base, len(JOURNAL_SUFFIX)) + JOURNAL_SUFFIX)


def _temp_prefix(final):
    directory, base = os.path.split(os.path.abspath(final))
    # "." + name + "." + 8 random characters + suffix
    return directory, "." + _fit(directory, base, 2 + 8 + len(TEMP_SUFFIX)) + "."


def _temp_name(final):
    """A pattern matching only the names mkstemp gives final's temporaries here."""
    prefix = _temp_prefix(final)[1]
    return re.compile(re.escape(prefix) + "[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))


def _fsync_dir(directory):
    if os.name == "nt":  # pragma: no cover - directories cannot be opened there
        return
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_temp(final):
    """(fd, path) of a new temporary beside final, created exclusively and locked."""
    directory, prefix = _temp_prefix(final)
    while True:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=TEMP_SUFFIX)
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
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _OPEN_EXTRA)
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


def _write_all(fd, data):
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view):]


@contextlib.contextmanager
def _replace_whole(final, temp=None, commit=None):
    """Yield the fd of a new temporary beside final (or temp, an (fd, path) from
    _new_temp(final)). When the block ends well, the temporary is fsync'ed, renamed over final
    (inside commit(), if given) and the directory fsync'ed, so final is the old file or the
    whole new one even after a crash; otherwise the temporary is removed. The directory sync
    after the rename raises a plain OSError."""
    fd, tmp = temp or _new_temp(final)
    try:
        try:
            yield fd
            os.fsync(fd)
            with commit() if commit else contextlib.nullcontext():
                os.replace(tmp, final)      # still locked, so never taken for a stale one
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    # The rename is durable only once the directory is synced; an OSError here comes after
    # final was replaced, which the callers' messages must say.
    _fsync_dir(os.path.dirname(os.path.abspath(final)))


# ---- signals and the commit point ------------------------------------------------------------

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Guard:
    """Until commit(), SIGINT, SIGTERM and SIGHUP raise Interrupted; the commit itself runs
    with them blocked, and one that arrives after it is remembered (.late) and ignored, since
    the work is done and saying "interrupted" would send the user to run it again."""

    def __init__(self):
        self.committed, self.late, self._old = False, None, None

    def _handler(self, signum, frame):
        if self.committed:
            self.late = signum
        else:
            raise Interrupted(signum)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handler) for s in _SIGNALS}
        return self

    def __exit__(self, *exc):
        if self._old:
            for s, old in self._old.items():
                signal.signal(s, old)

    @contextlib.contextmanager
    def commit(self):
        blocking = self._old and hasattr(signal, "pthread_sigmask")
        if blocking:
            signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            yield
            self.committed = True
        finally:
            if blocking:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


# ---- state kept under $XDG_STATE_HOME/lrelu --------------------------------------------------

def state_dir():
    base = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):          # the XDG spec: a relative value is ignored
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "lrelu")


def _safe_dir(sub, create):
    """state_dir()/sub, made owner-only if created; None if absent (and not create). Refused
    unless it (and lrelu's folder) is a directory of this user's that nobody else may write
    (a symbolic link to one is fine: only its owner could have made it there)."""
    top = state_dir()
    path = os.path.join(top, sub)
    for directory in (top, path):
        if create:
            with _io(directory, "create lrelu's state folder"):
                os.makedirs(directory, mode=0o700, exist_ok=True)
        try:
            st = os.stat(directory)
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o022 or \
                (hasattr(os, "geteuid") and st.st_uid != os.geteuid()):
            raise InputError(f"{directory}: lrelu's state folder is not a directory of yours that only you "
                             "can write; fix it, or set XDG_STATE_HOME")
    return path


def _read_state_file(path):
    """The JSON in a state file (opened without following links, regular, this user's), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _OPEN_EXTRA)
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (hasattr(os, "geteuid") and st.st_uid != os.geteuid()):
        os.close(fd)
        return None
    with open(fd, "rb") as f:
        try:
            value = json.loads(f.read(1 << 20))
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _write_state_file(path, value):
    with _replace_whole(path) as fd:            # mkstemp: 0600, O_EXCL, O_NOFOLLOW
        _write_all(fd, json.dumps(value, sort_keys=True).encode())


def _key(st):
    return f"{st.st_dev}-{st.st_ino}"


def _pointer_path(st, create=False):
    directory = _safe_dir("pending", create)
    return directory and os.path.join(directory, _key(st))


def _record_path(st, create=False):
    directory = _safe_dir("done", create)
    return directory and os.path.join(directory, _key(st) + ".json")


def _prune(directory):
    now = time.time()
    entries = []
    for name in os.listdir(directory):
        with contextlib.suppress(OSError):
            entries.append((os.lstat(os.path.join(directory, name)).st_mtime, name))
    entries.sort(reverse=True)
    for i, (mtime, name) in enumerate(entries):
        if i >= RECORD_MAX_COUNT or now - mtime > RECORD_MAX_AGE_DAYS * 86400:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(directory, name))


# ---- the .npy header -------------------------------------------------------------------------

_KIND = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory", stat.S_IFLNK: "a symbolic link"}


def _kind(st):
    return _KIND.get(stat.S_IFMT(st.st_mode), "not a regular file")


def _open_regular(path, flags, doing):
    """(fd, stat) of path, opened without blocking on a FIFO, refused unless a regular file."""
    try:
        fd = os.open(path, flags | _OPEN_EXTRA)
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a .npy file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot {doing} ({_why(exc)})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise InputError(f"{path}: is {_kind(st)}, not a regular file; lrelu apply reads only .npy files")
    return fd, st


class Header:
    """A checked .npy header: dtype, shape, fortran_order, offset (of the data), n (elements)."""

    def __init__(self, fd, path, size, bfloat16):
        with _io(path, "read it"):
            head = _pread(fd, 1 << 20, 0)
        f = io.BytesIO(head)
        try:
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
        except InputError:
            raise
        except Exception as exc:  # ValueError, SyntaxError, EOFError... from a damaged header
            raise InputError(f"{path}: not a valid .npy file ({str(exc).splitlines()[0][:200]})") from None
        self.offset = f.tell()
        self.file_dtype = dtype
        self.dtype = self._dtype(path, dtype, bfloat16)
        self.shape, self.fortran_order = self._shape(path, shape), bool(fortran_order)
        self.n = math.prod(self.shape)
        needed = self.offset + self.n * self.dtype.itemsize
        if self.n * self.dtype.itemsize > sys.maxsize:
            raise InputError(f"{path}: the header's shape {self.shape} makes an array too big for NumPy")
        if self.n == 0:
            try:
                np.empty(self.shape, self.dtype)
            except (ValueError, MemoryError) as exc:
                raise InputError(f"{path}: the header's shape {self.shape} is not valid ({exc})") from None
        if size < needed:
            raise InputError(f"{path}: truncated .npy file ({size} bytes, its header promises {needed})")
        self.size = size

    @staticmethod
    def _shape(path, shape):
        for dim in shape:
            if type(dim) is not int or dim < 0 or dim > sys.maxsize:
                raise InputError(f"{path}: not a valid .npy file (dimension {dim!r} in shape {shape!r}: "
                                 "dimensions are whole numbers from 0)")
        return tuple(shape)

    @staticmethod
    def _dtype(path, dtype, bfloat16):
        if bfloat16:
            if dtype.kind == "V" and dtype.itemsize == 2 and dtype.fields is None and dtype.subdtype is None:
                return _bfloat16()
            raise InputError(f"{path}: --dtype bfloat16 reads files of raw 2-byte values (|V2, as ml_dtypes "
                             f"arrays are saved), this one holds {dtype}")
        if dtype.hasobject or dtype.fields is not None or dtype.kind not in "fiub":
            if dtype.kind == "V" and dtype.itemsize == 2 and dtype.fields is None:
                raise InputError(f"{path}: holds raw 2-byte values (|V2); if it is bfloat16 (ml_dtypes saves "
                                 "bfloat16 arrays so), give --dtype bfloat16")
            what = "Python objects" if dtype.hasobject else f"dtype {dtype}"
            raise InputError(f"{path}: holds {what}; lrelu works on real numbers (float, integer or bool)")
        return dtype

    def params(self):
        return {"dtype": np.lib.format.dtype_to_descr(self.file_dtype), "shape": list(self.shape),
                "fortran_order": self.fortran_order, "offset": self.offset}


def _chunk_elements(chunk_mb, itemsize):
    if not chunk_mb > 0:
        raise InputError(f"--chunk-mb must be a positive number of MiB, got {chunk_mb!r}")
    return max(1, int(chunk_mb * 2**20) // itemsize)


def _lock(fd, path, exclusive, whose=""):
    """Advisory lock: one in-place run per file, and no reader while it runs."""
    if fcntl is None:  # pragma: no cover
        return
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InputError(f"{path}: another `lrelu apply` is working on this file right now{whose}; "
                         "wait for it to finish") from None


def _read_exact(fd, count, pos, path, size):
    with _io(path, "read it"):
        data = _pread(fd, count, pos)
    if len(data) != count:
        raise InputError(f"{path}: the file was truncated under the run (it was {size} bytes; reading "
                         f"{count} bytes at {pos} gave {len(data)})")
    return data


def _check_size(fd, path, size):
    with _io(path, "stat it"):
        now = os.fstat(fd).st_size
    if now != size:
        raise InputError(f"{path}: the file changed size under the run (it was {size} bytes, now {now}); "
                         "something else is writing it")


def _pieces(start, stop, chunk):
    return [(p, min(p + chunk, stop)) for p in range(start, stop, chunk)]


# ---- out of place ----------------------------------------------------------------------------

def _existing_output(output):
    """The stat of an existing OUTPUT (a regular file), None if there is none; refused if it is
    something a rename must not replace, or a file with work in progress."""
    try:
        st = os.stat(output)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{output}: cannot write there ({_why(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{output}: is a directory; give a file name for the output")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{output}: is {_kind(st)}; -o replaces only regular files")
    try:
        fd = os.open(output, os.O_RDONLY | _OPEN_EXTRA)
    except OSError:
        return st                    # unreadable: no run of this user can be working on it
    try:
        _lock(fd, output, exclusive=False, whose=" (an in-place run)")
        found = _find_journal(output, os.fstat(fd))
        if found is not None:
            raise InputError(f"{output}: an interrupted in-place run on this file left the journal "
                             f"{found[0]}, so it is partly transformed and -o will not replace it; finish "
                             f"that run first (`lrelu apply {output} --in-place {found[1]}`) or remove the journal")
    finally:
        os.close(fd)
    return st


@contextlib.contextmanager
def _then(context, done):
    """context, then done.append(True) once its block ended well."""
    with context:
        yield
    done.append(True)


def _keep_mode(fd, old, output):
    """OUTPUT's permission bits (and group, where allowed) as before, as cp and sed -i keep
    them; a new one gets 0666 minus the umask, as any new file."""
    if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
        return
    if old is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    else:
        mode = stat.S_IMODE(old.st_mode)
        if hasattr(os, "fchown"):       # not on Windows, whose files have no owner bits
            with contextlib.suppress(OSError):
                os.fchown(fd, old.st_uid if os.geteuid() == 0 else -1, old.st_gid)
    with _io(output, "set its permissions"):
        os.fchmod(fd, mode)


def apply_to_new_file(path, output, op=None, chunk_mb=DEFAULT_CHUNK_MB, progress=None, notice=None,
                      checkpoint=None, guard=None):
    """Write op(INPUT) to OUTPUT, atomically. progress(done_bytes, total_bytes) after each chunk;
    notice(message) for what the user should know (a stale temporary removed). Returns
    (output dtype, shape)."""
    op = op or Operation()
    checkpoint = checkpoint or (lambda point, chunk: None)
    path, output = os.fspath(path), os.fspath(output)
    fd, st = _open_regular(path, os.O_RDONLY, "read it")
    with open(fd, "rb", buffering=0), guard or Guard() as guard:
        header = Header(fd, path, st.st_size, op.bfloat16)
        _lock(fd, path, exclusive=False, whose=" (an in-place run)")
        _refuse_pending(path, st)
        old = _existing_output(output)
        out_dtype = output_dtype(header.dtype)
        n = header.n
        # The chunk bounds the input read and the result buffer alike (int8 in, float64 out).
        chunk = _chunk_elements(chunk_mb, max(header.dtype.itemsize, out_dtype.itemsize))
        with _io(output, "write there"):
            remove_stale_temps(output, notice)
            temp = _new_temp(output)
        replaced = []
        try:
            with _replace_whole(output, temp, commit=lambda: _then(guard.commit(), replaced)) as dst:
                descr = header.file_dtype if op.bfloat16 else out_dtype
                meta = {"descr": np.lib.format.dtype_to_descr(descr), "fortran_order": header.fortran_order,
                        "shape": header.shape}
                head = io.BytesIO()
                try:
                    np.lib.format.write_array_header_1_0(head, meta)
                except ValueError:  # header over 64 KiB (a great many dimensions)
                    np.lib.format.write_array_header_2_0(head, meta)
                _write_all(dst, head.getvalue())
                buffer = np.empty(min(chunk, n), out_dtype)
                itemsize = header.dtype.itemsize
                for k, (start, stop) in enumerate(_pieces(0, n, chunk)):
                    _check_size(fd, path, st.st_size)
                    raw = _read_exact(fd, (stop - start) * itemsize, header.offset + start * itemsize, path, st.st_size)
                    result = op(np.frombuffer(raw, header.dtype), buffer[:stop - start])
                    _write_all(dst, result.view(np.uint8))
                    checkpoint("written", k)
                    if progress:
                        progress(stop * itemsize, n * itemsize)
                _keep_mode(dst, old, output)
                now = os.fstat(fd)
                if (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                    raise InputError(f"{path}: the file was changed under the run, so {output} is not written; "
                                     "run again once nothing else writes it")
        except OSError as exc:
            if replaced:
                raise InputError(f"{output}: written whole, but syncing its directory failed ({_why(exc)}), "
                                 "so a power cut could still undo the rename") from None
            raise InputError(f"{output}: cannot write it ({_why(exc)}); it is left as it was") from None
    return out_dtype, header.shape


# ---- the journal ---------------------------------------------------------------------------
# magic, u64 length + JSON state, u64 length + the pending chunk's original bytes, u32 CRC-32
# of everything before it. It is always replaced whole (write a temporary, fsync, rename,
# fsync the directory), so a reader sees the old journal or the new one; the CRC catches a
# journal damaged some other way.

def _write_journal(jpath, state, saved, chunk_index, checkpoint):
    body = json.dumps(state, sort_keys=True).encode()
    head = _JOURNAL_MAGIC + struct.pack("<Q", len(body)) + body + struct.pack("<Q", len(saved))
    crc = zlib.crc32(saved, zlib.crc32(head))
    with _replace_whole(jpath) as fd:
        _write_all(fd, head)
        checkpoint("journal-half-written", chunk_index)
        _write_all(fd, saved)
        _write_all(fd, struct.pack("<I", crc))


def _read_trusted(jpath, data_file, data_uid):
    """The journal's bytes, if it can be trusted (see the module docstring); else InputError."""
    distrust = (f"it could write anyone's bytes into {data_file}, so it is not used: find out "
                "who made it, then remove it and run again")
    try:
        seen = os.lstat(jpath)
        if stat.S_ISLNK(seen.st_mode):
            raise InputError(f"{jpath}: the journal is a symbolic link, which lrelu never makes; {distrust}")
        fd = os.open(jpath, os.O_RDONLY | _NOFOLLOW | _OPEN_EXTRA)
    except OSError as exc:
        raise InputError(f"{jpath}: cannot read the journal ({_why(exc)})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (seen.st_dev, seen.st_ino):
            raise InputError(f"{jpath}: the journal is not a regular file; {distrust}")
        if hasattr(os, "geteuid") and st.st_uid not in (os.geteuid(), data_uid):
            raise InputError(f"{jpath}: the journal belongs to user id {st.st_uid}, neither you nor the "
                             f"owner of {data_file}; {distrust}")
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "rb") as f, _io(jpath, "read the journal"):
        return f.read()


_STATE_TYPES = {"alpha": str, "derivative": bool, "at_zero": str, "dtype": str, "shape": list,
                "fortran_order": bool, "offset": int, "device": int, "inode": int, "size": int,
                "start": int, "count": int, "chunk": int, "tail": str}


def _read_journal(jpath, data_file, st):
    """(state, saved bytes) of a journal, checked; InputError if damaged."""
    data = _read_trusted(jpath, data_file, st.st_uid)
    damaged = InputError(f"{jpath}: the journal is damaged, so it is unknown which part of {data_file} "
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
    try:
        state = json.loads(data[magic_len + 8:magic_len + 8 + body_len])
        if not isinstance(state, dict) or set(state) != set(_STATE_TYPES) or any(
                type(state[key]) is not kind for key, kind in _STATE_TYPES.items()):
            raise ValueError
        float.fromhex(state["alpha"])
        if state["at_zero"] not in ("one", "alpha") or not 0 <= state["start"] or not 0 < state["count"] \
                or not 0 < state["chunk"] or saved_len % state["count"]:
            raise ValueError
    except ValueError:
        raise damaged from None
    return state, memoryview(data)[saved_at:saved_at + saved_len]


def _find_journal(path, st):
    """(journal path, its run's flags) of an in-place run on this file (by device and inode)
    that is still pending, or None. Looked for beside the real file, then through the pointer
    a run on another name (a hard link) left."""
    candidates = [journal_path(path)]
    pointer = _pointer_path(st)
    if pointer:
        value = _read_state_file(pointer)
        if value and isinstance(value.get("journal"), str):
            if os.path.lexists(value["journal"]):
                candidates.append(value["journal"])
            else:
                # Left by a run killed between the pointer and its first journal, or before
                # removing it; every caller holds a lock on the file, so no live run wrote it.
                with contextlib.suppress(OSError):
                    os.remove(pointer)
    for jpath in candidates:
        if not os.path.lexists(jpath):
            continue
        state, _ = _read_journal(jpath, path, st)
        if (state["device"], state["inode"]) == (st.st_dev, st.st_ino):
            return jpath, describe_flags(state)
        if jpath == candidates[0]:
            raise InputError(f"{path}: the journal {jpath} beside it belongs to another file (device "
                             f"{state['device']}, inode {state['inode']}; this file is device {st.st_dev}, "
                             f"inode {st.st_ino}): the file was replaced since that in-place run was "
                             "interrupted. It is left untouched; remove the journal if the file is what "
                             "you want transformed")
    return None


def describe_flags(fields):
    flags = f"--alpha {float.fromhex(fields['alpha'])!r}"
    if fields["derivative"]:
        flags += f" --derivative --at-zero {fields['at_zero']}"
    return flags + (" --dtype bfloat16" if fields.get("dtype") == "|V2" else "")


def _refuse_pending(path, st):
    found = _find_journal(path, st)
    if found is not None:
        raise InputError(f"{path}: an in-place run on this file was interrupted and its journal {found[0]} "
                         f"is still there, so the file is partly transformed; run `lrelu apply {path} "
                         f"--in-place {found[1]}` again to finish it")


class _Crc:
    """A running CRC-32 (zlib's, several times faster than any hashlib digest, and a checksum
    of a file's data costs one such pass): it catches a rewrite, not a forgery, which the
    journal's trust rules are for."""

    def __init__(self):
        self.value = 0

    def update(self, data):
        self.value = zlib.crc32(data, self.value)

    def hexdigest(self):
        return f"{self.value:08x}"


def _crc(data):
    return zlib.crc32(data).to_bytes(4, "little")


def _chain(digests):
    """tails[j]: a digest of pieces j, j+1, ... (tails[len] of nothing)."""
    tails = [b""] * (len(digests) + 1)
    for j in range(len(digests) - 1, -1, -1):
        tails[j] = hashlib.blake2b(digests[j] + tails[j + 1], digest_size=_DIGEST).digest()
    return tails


class _File:
    """The data file of an in-place run: fd, path, stat, header."""

    def __init__(self, path, op):
        self.path = os.fspath(path)
        self.fd, self.st = _open_regular(self.path, os.O_RDWR, "open it for writing")
        try:
            self.header = Header(self.fd, self.path, self.st.st_size, op.bfloat16)
        except BaseException:
            os.close(self.fd)
            raise
        h = self.header
        self.itemsize = h.dtype.itemsize

    def read(self, start, stop):
        h = self.header
        _check_size(self.fd, self.path, self.st.st_size)
        return _read_exact(self.fd, (stop - start) * self.itemsize, h.offset + start * self.itemsize,
                           self.path, self.st.st_size)

    @staticmethod
    def _resumable(done_bytes, total_bytes):
        return (f"; {done_bytes} of {total_bytes} data bytes are done, and the same command finishes "
                "the job once that is fixed")

    def write(self, start, values, done_bytes, total_bytes):
        view = memoryview(values.view(np.uint8)).cast("B")
        pos = self.header.offset + start * self.itemsize
        with _io(self.path, "write it", self._resumable(done_bytes, total_bytes)):
            while view:
                written = _pwrite(self.fd, view, pos)
                view, pos = view[written:], pos + written

    def sync(self, done_bytes, total_bytes):
        with _io(self.path, "write it to disk", self._resumable(done_bytes, total_bytes)):
            os.fdatasync(self.fd) if hasattr(os, "fdatasync") else os.fsync(self.fd)

    def digests(self, start, chunk, whole=None):
        """CRC-32s of the pieces of [start, n) `chunk` elements long; whole (a _Crc), if given,
        is fed the whole file on the way."""
        h = self.header
        found = []
        if whole is not None:
            whole.update(_read_exact(self.fd, h.offset, 0, self.path, self.st.st_size))
        for a, b in _pieces(start, h.n, chunk):
            raw = self.read(a, b)
            found.append(_crc(raw))
            if whole is not None:
                whole.update(raw)
        if whole is not None:
            end = h.offset + h.n * self.itemsize
            whole.update(_read_exact(self.fd, self.st.st_size - end, end, self.path, self.st.st_size))
        return found


def _identity_changes(state, st, header):
    changes = []
    if (state["device"], state["inode"]) != (st.st_dev, st.st_ino):
        changes.append("device/inode")
    if state["size"] != st.st_size:
        changes.append(f"size ({state['size']} bytes, now {st.st_size})")
    for key in ("dtype", "shape", "fortran_order", "offset"):
        if state[key] != header.params()[key]:
            changes.append(f"{key} ({state[key]!r}, now {header.params()[key]!r})")
    return changes


def apply_in_place(path, op=None, chunk_mb=DEFAULT_CHUNK_MB, progress=None, notice=None, checkpoint=None,
                   again=False, guard=None):
    """Transform the .npy file at path in place, resumably (see the module docstring).
    progress(done_bytes, total_bytes) after each chunk; notice(message) for what the user
    should know (an interrupted run resumed, a stale temporary removed). Returns (dtype,
    shape, None), or (dtype, shape, record) when a completion record shows the unchanged file
    was already transformed (and again is false): nothing is changed then."""
    op = op or Operation()
    notice = notice or (lambda message: None)
    checkpoint = checkpoint or (lambda point, chunk: None)
    data = _File(path, op)
    with open(data.fd, "rb", buffering=0), guard or Guard() as guard:
        h, st, path = data.header, data.st, data.path
        if h.dtype.kind != "f" and h.dtype.name != "bfloat16":
            raise InputError(f"{path}: --in-place needs a floating-point file, this one is {h.dtype}; "
                             "use -o OUTPUT.npy for a float64 result")
        _lock(data.fd, path, exclusive=True)
        # Only now, holding the lock, is a journal known to be an interrupted run's.
        found = _find_journal(path, st)
        jpath = found[0] if found else journal_path(path)
        total = h.n * data.itemsize
        whole = _Crc()
        if found:
            state, saved = _read_journal(jpath, path, st)
            chunk, done = state["chunk"], state["start"]
            changes = _identity_changes(state, st, h)
            if changes or done + state["count"] > h.n or len(saved) != state["count"] * data.itemsize:
                raise InputError(f"{path}: the file changed since the in-place run recorded in {jpath} was "
                                 f"interrupted ({', '.join(changes) or 'the journal does not fit it'}), so it "
                                 "cannot be resumed; it is left untouched. Restore it, or remove the journal "
                                 "if the file is what you want transformed")
            said = {key: state[key] for key in ("alpha", "derivative", "at_zero")}
            if said != op.record() or (state["dtype"] == "|V2") != op.bfloat16:
                raise InputError(f"{path}: an interrupted in-place run used other parameters "
                                 f"({describe_record(said)}, now {op.describe()}); finish it first with "
                                 f"`lrelu apply {path} --in-place {describe_flags(state)}`")
            digests = data.digests(done + state["count"], chunk)
            tails = _chain(digests)
            if tails[0].hex() != state["tail"]:
                raise InputError(f"{path}: the data not yet transformed changed since the in-place run "
                                 f"recorded in {jpath} was interrupted (the file was rewritten), so it "
                                 "cannot be resumed; it is left untouched. Restore it, or remove the journal "
                                 "if the file is what you want transformed")
            notice(f"resuming an interrupted run on {path}: {done * data.itemsize} of {total} bytes were done")
            whole.update(_read_exact(data.fd, h.offset, 0, path, st.st_size))
            for a, b in _pieces(0, done, chunk):
                whole.update(data.read(a, b))
            pieces = [(done, done + state["count"])] + _pieces(done + state["count"], h.n, chunk)
            tails = [bytes.fromhex(state["tail"])] + tails[1:]
            first_saved = saved
        else:
            with _io(jpath, "create the journal beside it"):
                if not os.access(os.path.dirname(jpath), os.W_OK):
                    raise InputError(f"{path}: cannot create the journal {jpath} beside it "
                                     "(directory not writable)")
            chunk = _chunk_elements(chunk_mb, data.itemsize)
            record_path = _record_path(st)
            record = _read_state_file(record_path) if record_path else None
            check = _Crc() if record and record.get("size") == st.st_size else None
            digests = data.digests(0, chunk, check)
            if check is not None and record.get("digest") == check.hexdigest() and not again:
                return h.dtype, h.shape, record
            pieces = _pieces(0, h.n, chunk)
            tails = _chain(digests)[1:]
            whole.update(_read_exact(data.fd, h.offset, 0, path, st.st_size))
            first_saved = None
            if pieces:
                _write_pointer(st, jpath, notice)
        remove_stale_temps(jpath, notice)      # journal updates that a kill cut short
        buffer = np.empty(min(chunk, max(h.n, 1)), h.dtype)
        for j, (a, b) in enumerate(pieces):
            k = a // chunk
            if first_saved is not None and j == 0:
                saved = first_saved      # redo: from the original bytes, whatever the state now
            else:
                saved = data.read(a, b)
                if _crc(saved) != digests[len(digests) - len(pieces) + j]:
                    raise InputError(f"{path}: the file was changed under the run (at data byte "
                                     f"{a * data.itemsize}); something else is writing it")
                state = dict(op.record(), **h.params(), device=st.st_dev, inode=st.st_ino, size=st.st_size,
                             start=a, count=b - a, chunk=chunk, tail=tails[j].hex())
                # Durable before the chunk is touched; it also records that all before it is done.
                try:
                    _write_journal(jpath, state, saved, k, checkpoint)
                except OSError as exc:
                    raise InputError(f"{jpath}: cannot write the journal ({_why(exc)}); {a * data.itemsize} "
                                     f"of {total} data bytes of {path} are done, and the same command "
                                     "finishes the job once that is fixed") from None
                checkpoint("journal-written", k)
            result = op(np.frombuffer(saved, h.dtype), buffer[:b - a])
            data.write(a, result, a * data.itemsize, total)
            checkpoint("transformed", k)
            whole.update(result.view(np.uint8))
            if b == h.n:
                with guard.commit():     # the commit point: the last chunk is durable
                    data.sync(a * data.itemsize, total)
            else:
                data.sync(a * data.itemsize, total)
            checkpoint("flushed", k)
            if progress:
                progress(b * data.itemsize, total)
        end = h.offset + h.n * data.itemsize
        whole.update(_read_exact(data.fd, st.st_size - end, end, path, st.st_size))
        if pieces:
            _finish(data, op, jpath, whole.hexdigest(), notice, checkpoint)
    return h.dtype, h.shape, None


def _write_pointer(st, jpath, notice):
    """Where a run on another name (a hard link elsewhere) finds this file's journal."""
    try:
        pointer = _pointer_path(st, create=True)
        _write_state_file(pointer, {"journal": jpath})
    except (InputError, OSError) as exc:
        if st.st_nlink > 1:
            raise InputError(f"{jpath}: the file has {st.st_nlink} names, and a run on another one could not "
                             f"find this run's journal: {exc}") from None


def _finish(data, op, jpath, digest, notice, checkpoint):
    """After the commit point: the completion record, then the journal and its pointer go."""
    st, path = data.st, data.path
    try:
        record_path = _record_path(st, create=True)
        _write_state_file(record_path, dict(op.record(), operation=op.name, size=st.st_size, digest=digest,
                                            path=path, time=time.time(),
                                            dtype=np.lib.format.dtype_to_descr(data.header.file_dtype)))
        _prune(os.path.dirname(record_path))
    except (InputError, OSError) as exc:
        notice(f"{path} is transformed, but its completion record could not be written ({exc}); "
               "a rerun would not know it was done")
    checkpoint("recorded", 0)
    if os.path.lexists(jpath):
        with _io(jpath, "remove the journal", f"; {path} is completely transformed, and running the same "
                 "command again removes it"):
            os.remove(jpath)
            _fsync_dir(os.path.dirname(jpath))
    with contextlib.suppress(InputError, OSError, TypeError):
        pointer = _pointer_path(st)
        if pointer and os.path.lexists(pointer):
            os.remove(pointer)
