"""Atomic writes: a kill at any moment leaves either the old file (or folder) or the new
one, never a half-written one.

Everything is written under a temporary name beside its destination (same folder, so the
final ``os.replace`` is an atomic rename on POSIX and Windows), flushed to disk, then renamed
onto the destination; the folder is fsynced so the rename itself survives a crash. A failed
write removes its temporary file. Temporary names start with ``.`` and end in ``.tmp`` unless
the caller names them (the result store encodes its writer's host and pid in the name).
A final file gets the mode ``0o666 & ~umask`` whatever its writer used (safetensors and
``mkstemp`` create ``0600`` files).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["temp_path", "atomic_path", "atomic_write", "atomic_dir", "fsync_dir", "current_umask"]


def temp_path(final: str | os.PathLike) -> Path:
    """A fresh temporary name beside ``final``: ``.<name>.<pid>.<random>.tmp``."""
    final = Path(final)
    return final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make the renames inside ``folder`` durable (not possible on every platform: then a no-op)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read from ``/proc/self/status`` where Linux offers it; otherwise set
    and restored under a lock, since ``os.umask`` can only be read by writing it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _normal_mode(path: Path) -> None:
    # some writers (safetensors, tempfile.mkstemp) create 0600 files; a final file gets the
    # mode a plain open() would give it: 0o666 minus the umask
    try:
        os.chmod(path, 0o666 & ~current_umask())
    except OSError:  # pragma: no cover - a file system without modes
        pass


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, tmp: str | os.PathLike | None = None, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write ``final``'s new content to (any writer that takes a
    file name: ``np.save``, ``safetensors.save_file``, ``DataFrame.to_csv``, ...); on a normal
    exit the file is fsynced and renamed onto ``final``, on an exception it is removed."""
    final = Path(final)
    if final.is_dir():  # found before writing, and named as the destination, not the temporary file
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(final))
    tmp = temp_path(final) if tmp is None else Path(tmp)
    try:
        yield tmp
        _normal_mode(tmp)
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    if fsync:
        fsync_dir(final.parent)


def atomic_write(final: str | os.PathLike, data: bytes | str, *, tmp: str | os.PathLike | None = None,
                 fsync: bool = True) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``final`` atomically; return ``final``."""
    final = Path(final)
    blob = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(final, tmp=tmp, fsync=fsync) as t:
        with open(t, "xb") as fh:
            fh.write(blob)
    return final


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``final``; on a normal exit it replaces
    ``final`` (an old ``final`` is removed first: a reader sees the old folder, no folder for
    an instant, or the new one, never a mixture), on an exception it is removed."""
    final = Path(final)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    fsync_dir(final.parent)
