"""File operations of results folders, in one place: safe folder names, a checked results root,
whole-or-nothing writes, folders built under `<name>.partial` and renamed into place, and an
exclusive lock so that two processes never build the same folder at once.

Every writer of results (the runner, the presentation, comparisons, parameter studies) goes
through these functions, so a results folder never looks complete before it is.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import shutil
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock (the project runs on Linux)
    fcntl = None

#: longest folder name made from a scenario name (file systems allow 255 bytes)
MAX_NAME = 80
#: top-level folders of the file system that never receive results
SYSTEM_DIRS = frozenset({"bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32",
                         "opt", "proc", "run", "sbin", "srv", "sys", "usr", "var"})
#: system folders whose whole subtree is refused: kernel and device views, the system's
#: programs, libraries and configuration (results have no business there)
SYSTEM_TREES = ("proc", "sys", "dev", "etc", "bin", "sbin", "boot", "usr", "lib", "lib32",
                "lib64", "libx32")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}


class StorageError(Exception):
    """Results could not be written or read for a reason of the environment (a full disk, a
    vanished folder): exit status 1. The message names the path and the problem."""

    def __init__(self, path, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):  # raised in a drawing process, it reaches the command whole
        return type(self), (self.path, self.problem), self.__dict__


class RootError(Exception):
    """The folder given for results cannot take them (a file, unwritable, a system folder):
    bad input, exit status 2."""


def safe_name(name: str, limit: int = MAX_NAME) -> str:
    """A folder name made from a scenario name: letters, digits, `_`, `-` and `.` only, never
    empty, `.` or `..`, never hidden, at most `limit` characters. Names that had to be cut or
    were mostly replaced keep a short hash of the original, so they stay apart."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-")
    base = re.sub(r"\.{2,}", ".", base)
    digest = hashlib.sha256(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    if not base:
        return f"scenario-{digest}"
    if base.split(".")[0].upper() in _WINDOWS_RESERVED:
        base = f"_{base}"
    if len(base) > limit:
        base = f"{base[:limit - 9].rstrip('._-')}-{digest}"
    return base


def check_root(out: str | os.PathLike, option: str = "--out") -> Path:
    """The results root `out`, checked before anything runs: it must be (or can become) a
    writable folder, and not the file system's root or a system folder. Nothing is created."""
    text = os.fspath(out)
    if not str(text).strip():
        raise RootError(f"{option}: empty; give a folder for the results (default: results)")
    if "\0" in str(text):
        raise RootError(f"{option} {text!r}: not a valid path (contains a NUL character)")
    path = Path(text).expanduser()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop, say
        raise RootError(f"{option} {text}: cannot resolve this path ({e})") from None
    parts = resolved.parts
    if len(parts) <= 1 or (len(parts) == 2 and parts[1] in SYSTEM_DIRS) or \
            (len(parts) >= 2 and parts[1] in SYSTEM_TREES):
        raise RootError(f"{option} {text}: refusing to write results into a system folder "
                        f"({resolved}); give a folder of your own, e.g. --out results")
    probe = resolved
    while not probe.exists():
        if probe.is_symlink():  # dangling: writing would go wherever it points
            raise RootError(f"{option} {text}: {probe} is a broken symbolic link")
        probe = probe.parent
    if not probe.is_dir():
        raise RootError(f"{option} {text}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RootError(f"{option} {text}: cannot write into {probe} (permission denied)")
    return path


@contextlib.contextmanager
def storage(path) -> Iterator[None]:
    """Turn an OSError of the file system into a StorageError naming `path`."""
    try:
        yield
    except StorageError:
        raise
    except OSError as e:
        where = e.filename or path
        raise StorageError(where, e.strerror or str(e)) from None


def make_dirs(path: Path) -> Path:
    with storage(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return GrowingHash(path).update().hexdigest()


class GrowingHash:
    """The SHA-256 of a file that is being appended to (a Parquet file while its row groups
    are written: the format only ever appends), hashed as it grows: `update()` hashes the bytes
    written since the last call. Hashing a large file while the runs are computed spares the
    command a second reading at the end (2.3 s for the 2 GB of a million runs)."""

    def __init__(self, path: Path):
        self.path, self.size, self._h = path, 0, hashlib.sha256()

    def update(self) -> GrowingHash:
        with storage(self.path), open(self.path, "rb") as f:
            f.seek(self.size)
            for block in iter(lambda: f.read(1 << 20), b""):
                self._h.update(block)
                self.size += len(block)
        return self

    def hexdigest(self) -> str:
        return self._h.hexdigest()


#: the temporary files being written, each with the process writing it (a process forked
#: meanwhile inherits the entries of its parent, which are not its own), for `abandon`
_IN_FLIGHT: dict[Path, int] = {}
_IN_FLIGHT_LOCK = threading.Lock()


def temporary(path: Path) -> Path:
    """A temporary name beside `path`, unique to this writer (two writers never collide),
    registered as in flight until `settled`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT[tmp] = os.getpid()
    return tmp


def settled(tmp: Path) -> None:
    """A temporary file renamed into place or removed: no longer in flight."""
    with contextlib.suppress(OSError):
        tmp.unlink()
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.pop(tmp, None)


def abandon(code: int = 1) -> None:
    """End this process at once (`os._exit`, from any thread or a signal handler), removing
    the temporary files it was writing first: a drawing process or presenter told to stop
    does not run its `finally` blocks, and would leave them in the results folder. The lock
    is kept, so no other thread of this process starts a file meanwhile."""
    _IN_FLIGHT_LOCK.acquire(timeout=1)
    me = os.getpid()
    for tmp, writer in list(_IN_FLIGHT.items()):
        if writer == me:
            with contextlib.suppress(OSError):
                tmp.unlink()
    os._exit(code)


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def write_bytes(path: Path, data: bytes) -> None:
    """Write a file whole or not at all: a temporary file renamed into place."""
    tmp = temporary(path)
    try:
        with storage(path):
            _write(tmp, data)
            os.replace(tmp, path)
    finally:
        settled(tmp)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def json_text(data, indent: int = 1) -> str:
    """JSON that any parser reads: a number that is not finite (a pressure no amount would
    reach, the interval of a share of no runs) is written null, as JSON has no Infinity or
    NaN (Python would write them, and a strict reader such as a browser's would refuse the
    file)."""
    return json.dumps(_finite(data), indent=indent, default=str, allow_nan=False)


def _finite(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def write_json(path: Path, data) -> None:
    write_text(path, json_text(data) + "\n")


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Path]:
    """For writers that need a file name (matplotlib, pandas, Parquet): yield a temporary
    name and rename it to `path` once the block succeeds; remove it if the block fails."""
    tmp = temporary(path)
    try:
        with storage(path):
            yield tmp
            os.replace(tmp, path)
    finally:
        settled(tmp)


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def empty_folder(path: Path) -> None:
    """Remove what a folder holds, keeping the folder itself (and so a lock held on it)."""
    with storage(path):
        for child in path.iterdir():
            remove_tree(child)


class FolderLock:
    """An exclusive lock on a folder (flock on the folder itself), held until `release`.

    Another process asking for the same folder waits (saying so once through `on_wait`). The
    operating system drops the lock when its holder dies, so a killed run never leaves a stale
    lock behind, and nothing but the folder exists on disk.
    """

    def __init__(self, folder: Path, on_wait: Callable[[str], None] | None = None,
                 poll: float = 0.2):
        self.folder, self.on_wait, self.poll = folder, on_wait, poll
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Create the folder if need be and lock it. False if, while this process waited,
        the folder was renamed or removed by its holder (the caller looks again)."""
        make_dirs(self.folder)
        with storage(self.folder):
            fd = os.open(self.folder, os.O_RDONLY)
        if fcntl is None:  # pragma: no cover
            self.fd = fd
            return True
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP):
                    break  # a file system without locks: go on, as without fcntl
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise StorageError(self.folder, f"cannot lock: {e.strerror}") from None
            except BaseException:
                os.close(fd)
                raise
            if not told and self.on_wait:
                self.on_wait(f"Waiting: another process is writing {self.folder} (the same "
                             "experiment); this one continues when it is done.")
                told = True
            time.sleep(self.poll)
        try:
            same = os.stat(self.folder).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the lock
            self.fd = None

    def __enter__(self) -> FolderLock:
        while not self.acquire():
            pass
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def partial_of(final: Path) -> Path:
    return final.with_name(final.name + ".partial")


def publish(staging: Path, final: Path, replace: bool = False) -> None:
    """Rename a finished staging folder to its final name. With `replace`, an existing final
    folder (a derived one: a comparison, a discovery) is swapped out and removed."""
    with storage(final):
        if replace and final.exists():
            old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(final, old)
            os.replace(staging, final)
            remove_tree(old)
        else:
            os.replace(staging, final)


@contextlib.contextmanager
def derived_folder(final: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Build a derived folder (computed entirely from saved results, such as a comparison)
    under `<final>.partial`, locked, then swap it in for any older copy. On failure the
    staging folder is removed: it holds nothing worth resuming."""
    staging = partial_of(final)
    with FolderLock(staging, on_wait):
        empty_folder(staging)
        try:
            yield staging
        except BaseException:
            with contextlib.suppress(OSError):
                remove_tree(staging)
            raise
        publish(staging, final, replace=True)
