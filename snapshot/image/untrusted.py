"""Reading a file that may be hostile: a regular file, bounded, never blocking.

``snap info``, ``snap check`` and ``snap doctor`` promise to read any file safely:
an image somebody sent, the source files its manifest names. A path can name a
FIFO (an ``open`` that waits for a writer forever), a device (``/dev/zero``: a
read that never ends), a file of any size. So a file is opened without
blocking (``O_NONBLOCK``; ``O_NOCTTY``: a terminal does not become ours), must be
a regular file by ``fstat`` of the descriptor read (not of a path a rename could
swap), and is read up to a limit known before reading: its size then, capped.
A device is refused before it is opened at all (opening some has effects).
"""
from __future__ import annotations

import errno
import os
import stat

MAX_SOURCE_BYTES = 64 << 20       # a Python source file (generated ones can be large)

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class UnsafeFile(OSError):
    """Not read: not a regular file, or larger than the limit (``strerror`` says which)."""


def kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _check(st: os.stat_result, limit: int | None) -> None:
    if not stat.S_ISREG(st.st_mode):
        e = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
        raise UnsafeFile(e, f"is {kind(st.st_mode)}, not a regular file")
    if limit is not None and st.st_size > limit:
        raise UnsafeFile(errno.EFBIG, f"is {st.st_size} bytes, more than the {limit} bytes read at most")


def open_regular(path: str | os.PathLike, limit: int | None = None) -> tuple[int, int]:
    """(descriptor, size) of a regular file of at most ``limit`` bytes; UnsafeFile otherwise
    (OSError as open raises it for a missing or unreadable file)."""
    _check(os.stat(path), limit)          # a device is not even opened
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)                  # what was opened, whatever the path names now
        _check(st, limit)
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def read_fd(fd: int, size: int, at: int = 0) -> bytes:
    """At most ``size`` bytes from offset ``at`` (fewer if the file is shorter now)."""
    chunks, got = [], 0
    while got < size:
        chunk = os.pread(fd, min(size - got, 1 << 24), at + got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """The content of a regular file of at most ``limit`` bytes (UnsafeFile, OSError)."""
    fd, size = open_regular(path, limit)
    try:
        return read_fd(fd, size)
    finally:
        os.close(fd)
