"""Ship an image's bytes to processes that do not share the file system.

An image travels as an ``ImageBlob``: its file name, the SHA-256 of its bytes and
the bytes. The receiving side (a Dask nanny or worker, or snap's own staging
directory for Ray's ``py_modules``) stores it with ``store``: the bytes are checked
against the SHA-256 they came with, written to a temporary file in the destination
directory, checked again by the linker (the image checksum the loader verifies at
activation), then renamed into place as ``<sha256[:24]>-<name>``. The name is a
function of the content, so a restarted worker (or another worker of the same
machine) finds the file there and reuses it; a file of that name whose content does
not match (a torn copy from a crash before the rename cannot exist, but a damaged
disk can) is replaced.

Used by snapshot/dask.py and snapshot/ray.py; imports neither Numba nor Dask/Ray.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from typing import NamedTuple

from ..errors import SnapError
from ..image.fingerprint import sha256_file as digest_file  # noqa: F401  (part of this API)


class ImageBlob(NamedTuple):
    name: str          # the image's file name (kept for readable paths)
    digest: str        # SHA-256 of ``data`` (hex)
    data: bytes | None  # None: not shipped (the path must exist where it is used)


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(path: str) -> bytes:
    """The image's bytes as the linker checked them (ELF structure, image directory,
    checksum): read once, so what is shipped is what was checked even if the file is
    rewritten meanwhile. SnapError if bad."""
    import linker
    try:
        with linker.ImageFile.open(path, headers=False) as img:
            return bytes(img.content)
    except (linker.LinkError, OSError) as e:
        raise SnapError(f"cannot use image {path}: {e}") from None


def check_image(path: str) -> None:
    """The linker's own checks (ELF structure, image directory, checksum): SnapError if bad."""
    _checked(path)


def pack(path: str, *, data: bool = True) -> ImageBlob:
    """Read and check an image for shipping (``data=False``: its digest only)."""
    path = os.path.abspath(path)
    raw = _checked(path)
    return ImageBlob(os.path.basename(path), digest_bytes(raw), raw if data else None)


def file_name(blob: ImageBlob) -> str:
    return f"{blob.digest[:24]}-{blob.name}"


def matches(path: str, digest: str) -> bool:
    """Whether ``path`` exists and holds exactly the bytes of that digest."""
    try:
        return os.path.isfile(path) and digest_file(path) == digest
    except OSError:
        return False


def store(blob: ImageBlob, directory: str) -> str:
    """The path of ``blob``'s image under ``directory``: reused if already there (same
    content), else verified and written atomically. SnapError if the bytes are bad."""
    if blob.data is None:
        raise SnapError(f"the image {blob.name} was not shipped (ship=False) and is not on this machine")
    dest = os.path.join(directory, file_name(blob))
    if matches(dest, blob.digest):
        return dest
    if digest_bytes(blob.data) != blob.digest:
        raise SnapError(f"the shipped image {blob.name} is damaged: its SHA-256 is not "
                        f"{blob.digest} (the sender's)")
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".snap-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob.data)
            f.flush()
            os.fsync(f.fileno())
        check_image(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)       # atomic: readers see the old file, or the whole new one
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return dest


def local_path(blob: ImageBlob, path: str | None, directory: str) -> str:
    """Where this machine finds the image: ``path`` itself when it holds the same bytes
    (a shared file system, or the client's own machine), else the copy under ``directory``."""
    if path and matches(path, blob.digest):
        return path
    return store(blob, directory)
