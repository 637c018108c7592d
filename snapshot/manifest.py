"""The image manifest: what an image holds, readable without unpickling anything.

An image carries two sections:

* ``snap.manifest`` -- ``MAGIC`` + JSON: format version, fingerprint, every entry
  (identity, code fingerprint, readable signature, symbols, dependencies) and
  every specialization left to the JIT with its reason. ``snap info`` and
  ``snap check`` read only this.
* ``snap.payload`` -- a pickle of what activation needs that JSON cannot hold
  (Numba types, environment constants). Unpickled only when the image is
  activated, i.e. when the user already decided to trust and run its code.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

MAGIC = b"SNAPIMG\x00"
FORMAT_VERSION = 1
MANIFEST_SECTION = "snap.manifest"
PAYLOAD_SECTION = "snap.payload"


class ManifestError(Exception):
    """The manifest is missing, corrupted or of an unknown format."""


@dataclass
class Dep:
    """A jitted function whose code is compiled into an entry (a callee)."""
    module: str
    qualname: str
    code: str


@dataclass
class Entry:
    """One specialization served by the image."""
    kind: str                    # "dispatcher" | "dufunc"
    module: str
    qualname: str
    options: str                 # canonical target options
    closure: str | None          # fingerprint of closure cells
    code: str                    # fingerprint of the function's code object
    signature: str               # readable, e.g. "(float64, int64) -> float64"
    symbols: dict[str, str]      # role -> image symbol (wrapper, function, cfunc, env, loop)
    envs: list[str]              # image env symbols the code reads
    deps: list[Dep] = field(default_factory=list)
    parfors: bool = False
    payload: int = -1            # index into the payload's entry list
    # late-bound address slots: image symbol -> what it names (numba_seam/addresses.Target)
    dynamic: dict[str, dict] = field(default_factory=dict)

    def key(self) -> tuple[str, str]:
        return (self.module, self.qualname)


@dataclass
class Skipped:
    """A specialization the workload compiled that the image does not serve, and why."""
    module: str
    qualname: str
    signature: str
    reason: str


@dataclass
class Source:
    module: str
    path: str
    digest: str | None


@dataclass
class Manifest:
    fingerprint: dict[str, Any]
    cpu: dict[str, Any]          # {"name": ..., "features": [...required...], "target": "host"}
    prefix: str                  # image-unique symbol prefix
    entries: list[Entry]
    skipped: list[Skipped]
    sources: list[Source]
    build: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    # -- encoding ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        doc = asdict(self)
        for e in doc["entries"]:
            if not e["dynamic"]:
                del e["dynamic"]        # only images with late-bound addresses carry the field
        return MAGIC + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "Manifest":
        data = bytes(data)
        if not data.startswith(MAGIC):
            raise ManifestError("not a snap image manifest (bad magic)")
        try:
            doc = json.loads(data[len(MAGIC):].rstrip(b"\x00").decode())
        except (UnicodeDecodeError, ValueError) as e:
            raise ManifestError(f"corrupted manifest: {e}") from None
        if not isinstance(doc, dict):
            raise ManifestError("corrupted manifest: not an object")
        fmt = doc.get("format")
        if fmt != FORMAT_VERSION:
            raise ManifestError(f"image format {fmt!r} is not supported (this snap reads format {FORMAT_VERSION})")
        try:
            return cls(
                fingerprint=dict(doc["fingerprint"]),
                cpu=dict(doc["cpu"]),
                prefix=str(doc["prefix"]),
                entries=[Entry(**{**e, "deps": [Dep(**d) for d in e.get("deps", [])]}) for e in doc["entries"]],
                skipped=[Skipped(**s) for s in doc["skipped"]],
                sources=[Source(**s) for s in doc["sources"]],
                build=dict(doc.get("build", {})),
                format=fmt,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ManifestError(f"corrupted manifest: {e!r}") from None
