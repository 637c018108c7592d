"""Reading an image without running anything from it (``snap info``, ``snap check``).

Everything here is safe on an untrusted file: the image is read as bytes,
checked by the linker's own reader (``linker.ImageFile``: structure, checksum)
and by an independent one (LIEF), and only the JSON manifest is decoded.
Nothing is ``dlopen``ed, the pickled payload is never unpickled (only its size
is reported) and the modules the image's functions came from are never
imported.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..errors import ImageReadError, ManifestError
from ..image.manifest import MANIFEST_SECTION, Manifest, type_problem


@dataclass
class OpenedFile:
    path: str
    data: bytes
    image: Any                 # linker.ImageFile (no descriptor kept: never loadable from here)
    manifest: Manifest
    checksum_error: str | None = None


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a directory, not a snap image") from None
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read: {e.strerror or e}") from None


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
        problem = type_problem(manifest)
        if problem:
            raise ImageReadError(f"{path}: corrupted manifest ({problem})")
    except ImageReadError:
        if checksum_error:      # the root cause: the file was damaged or edited
            raise ImageReadError(checksum_error) from None
        raise
    return OpenedFile(path, data, image, manifest, checksum_error)


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
