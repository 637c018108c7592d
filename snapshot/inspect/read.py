"""Reading an image without running anything from it (``snap info``, ``snap check``).

Everything here is safe on an untrusted file: the image is read as bytes,
checked by the linker's own reader (``linker.ImageFile``: structure, checksum)
and by an independent one (LIEF), and only the JSON manifest is decoded.
Nothing is ``dlopen``ed, the pickled payload is never unpickled (only its size
is reported) and the modules the image's functions came from are never
imported. The file must be a regular one, and is read only as far as its ELF
headers say it reaches (a FIFO, a device, a file of any size named like an image
is refused before it is read: image/untrusted.py); a manifest nesting deeper than
any snap writes is refused before anything recurses through it.
"""
from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import ImageReadError, ManifestError
from ..image.untrusted import UnsafeFile, open_regular, read_fd
from ..image.manifest import MANIFEST_SECTION, Manifest, type_problem


@dataclass
class OpenedFile:
    path: str
    data: bytes
    image: Any                 # linker.ImageFile (no descriptor kept: never loadable from here)
    manifest: Manifest
    checksum_error: str | None = None


# An image is read whole into memory (the checksum covers every byte). Its ELF headers say
# how long it is; this caps what they may say.
MAX_IMAGE_BYTES = 2 << 30
_NOT_ELF_READ = 1 << 16         # of a file that is no ELF file: enough for the reader to say so
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHT_NOBITS = 8


def _elf_extent(fd: int, size: int) -> int | None:
    """Where a 64-bit little-endian ELF file ends by its own headers (the furthest of its
    program and section header tables, its sections' and segments' file contents), read
    with a few small preads; None if it is no such file (the linker's reader says why)."""
    head = read_fd(fd, _EHDR.size)
    if len(head) < _EHDR.size or head[:6] != b"\x7fELF\x02\x01":
        return None
    (_, _, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, _) = _EHDR.unpack(head)
    end = max(_EHDR.size, phoff + phnum * phentsize, shoff + shnum * shentsize)
    if shentsize == _SHDR.size and 0 < shoff + shnum * shentsize <= size:
        table = read_fd(fd, shnum * shentsize, shoff)
        for sh in _SHDR.iter_unpack(table[:len(table) - len(table) % _SHDR.size]):
            if sh[1] != _SHT_NOBITS:
                end = max(end, sh[4] + sh[5])
    if phentsize == _PHDR.size and 0 < phoff + phnum * phentsize <= size:
        table = read_fd(fd, phnum * phentsize, phoff)
        for ph in _PHDR.iter_unpack(table[:len(table) - len(table) % _PHDR.size]):
            end = max(end, ph[2] + ph[5])
    return end


def _read_bytes(path: str) -> bytes:
    """The image file's bytes: a regular file (never a FIFO or a device: image/untrusted.py),
    read up to where its ELF headers say it ends, at most MAX_IMAGE_BYTES."""
    try:
        fd, size = open_regular(path)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except UnsafeFile as e:
        if e.errno == errno.EISDIR:
            raise ImageReadError(f"{path}: is a directory, not a snap image") from None
        raise ImageReadError(f"{path}: {e.strerror}") from None
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        extent = _elf_extent(fd, size)
        if extent is None:
            return read_fd(fd, min(size, _NOT_ELF_READ))
        if extent > MAX_IMAGE_BYTES:
            raise ImageReadError(f"{path}: its ELF headers describe {extent} bytes, more than the "
                                 f"{MAX_IMAGE_BYTES} read at most: not a snap image")
        if size > extent:
            raise ImageReadError(f"{path}: {size} bytes, but its ELF headers account for {extent}: "
                                 "not a snap image (data appended, or corrupt headers)")
        return read_fd(fd, size)        # (shorter than its headers say: the reader says truncated)
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)


def _parse(path: str, data: bytes, verify: bool):
    import linker
    try:
        # fd -1: the ImageFile holds the bytes read here and no descriptor, so it can never be loaded.
        return linker.ImageFile(path, -1, data, verify)
    except linker.LinkError as e:
        raise ImageReadError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - a hostile file must give a message, not a traceback
        raise ImageReadError(f"{path}: corrupt image ({type(e).__name__}: {e})") from None


def open_image(path: str, *, verify: bool = True) -> OpenedFile:
    """Read and check an image; with ``verify=False`` a bad checksum is recorded, not raised."""
    path = os.fspath(path)
    data = _read_bytes(path)
    image = _parse(path, data, verify=False)
    checksum_error = None
    try:
        _parse(path, data, verify=True)
    except ImageReadError as e:
        if verify:
            raise
        checksum_error = str(e)
    try:
        try:
            raw = image.section(MANIFEST_SECTION)
        except KeyError:
            raise ImageReadError(f"{path}: not a snap image (no {MANIFEST_SECTION} section)") from None
        try:
            manifest = Manifest.from_bytes(raw)
        except ManifestError as e:
            raise ImageReadError(f"{path}: {e}") from None
        except Exception as e:  # noqa: BLE001
            raise ImageReadError(f"{path}: corrupted manifest ({type(e).__name__}: {e})") from None
        problem = _too_deep(manifest) or type_problem(manifest)
        if problem:
            raise ImageReadError(f"{path}: corrupted manifest ({problem})")
    except ImageReadError:
        if checksum_error:      # the root cause: the file was damaged or edited
            raise ImageReadError(checksum_error) from None
        raise
    return OpenedFile(path, data, image, manifest, checksum_error)


# JSON nesting a manifest may have (snap writes 5 at most): everything shown or dumped
# further on recurses per level, and must not meet Python's recursion limit
MAX_NESTING = 32


def _too_deep(manifest: Manifest) -> str | None:
    """Why the decoded manifest nests too deeply to be shown, or None (walked without recursion)."""
    stack = [(manifest, 0)]
    while stack:
        obj, depth = stack.pop()
        if depth > MAX_NESTING:
            return f"nested more than {MAX_NESTING} levels deep"
        if isinstance(obj, dict):
            stack.extend((v, depth + 1) for v in obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend((v, depth + 1) for v in obj)
    return None


def lief_parse(data: bytes):
    """Parse with LIEF (the independent ELF reader); None if it cannot."""
    import lief
    try:
        lief.logging.disable()
    except Exception:  # noqa: BLE001 - logging control is cosmetic
        pass
    try:
        return lief.ELF.parse(data)
    except Exception:  # noqa: BLE001
        return None


def text_of(x: Any) -> str:
    return x if isinstance(x, str) else str(x)


def elf_name(x: Any) -> str:
    """A name read from the ELF file (LIEF returns bytes for names that are not UTF-8)."""
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode("utf-8", "backslashreplace")
    return text_of(x)


def enum_name(v: Any) -> str:
    s = str(v)
    return s.rsplit(".", 1)[-1]
