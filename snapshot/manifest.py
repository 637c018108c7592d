"""The image manifest: what an image holds, readable without unpickling anything.

An image carries two sections:

* ``snap.manifest`` -- ``MAGIC`` + one line of JSON (format version,
  fingerprint, CPU, prefix, sources, every specialization left to the JIT with
  its reason, and an index: module -> qualname -> entry numbers), then one line
  of JSON per entry (identity, code fingerprint, readable signature, symbols,
  dependencies). ``snap info`` and ``snap check`` read only this. Activation
  reads the header line only (``ManifestIndex``); an entry's line is decoded
  when a dispatcher of its function is created, so activation does not grow
  with the JSON of entries the program never touches.
* ``snap.payload`` -- a pickle of what activation needs that JSON cannot hold
  (Numba types, environment constants). Unpickled only when the image is
  activated, i.e. when the user already decided to trust and run its code.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

MAGIC = b"SNAPIMG\x00"
FORMAT_VERSION = 2
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
        entries = doc.pop("entries")
        for e in entries:
            if not e["dynamic"]:
                del e["dynamic"]        # only entries with late-bound addresses carry the field
        index: dict[str, dict[str, list[int]]] = {}
        for i, e in enumerate(entries):
            index.setdefault(e["module"], {}).setdefault(e["qualname"], []).append(i)
        doc["index"] = index
        doc["parfors"] = any(e["parfors"] for e in entries)
        doc["kinds"] = sorted({e["kind"] for e in entries})
        lines = [_dumps(e) for e in entries]
        offsets = [0]                   # where each entry's line starts in the body (and the end)
        for line in lines:
            offsets.append(offsets[-1] + len(line) + 1)
        doc["offsets"] = offsets
        return MAGIC + _dumps(doc) + b"\n" + b"\n".join(lines)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "Manifest":
        index = ManifestIndex.from_bytes(data)
        return cls(
            fingerprint=index.fingerprint, cpu=index.cpu, prefix=index.prefix,
            entries=[index.entry(i) for i in range(len(index))],
            skipped=index.skipped, sources=index.sources, build=index.build, format=index.format)


def _dumps(doc: Any) -> bytes:
    # Compact JSON never contains a raw newline: lines separate the documents.
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


_decoder = json.JSONDecoder()


def _corrupted(e: Exception) -> ManifestError:
    return ManifestError(f"corrupted manifest: {e!r}")


class ManifestIndex:
    """The manifest as activation needs it: the header decoded, entries decoded on demand.

    Nothing proportional to the number of entries happens here beyond decoding the
    header's index: an entry's line is sliced out of the body and decoded (once)
    when a dispatcher of its function is created. Index and offsets are checked
    as they are used (a corrupted entry is a ManifestError for that entry only).
    """

    def __init__(self, header: dict, body: bytes) -> None:
        try:
            self.format: int = header["format"]
            self.fingerprint: dict[str, Any] = dict(header["fingerprint"])
            self.cpu: dict[str, Any] = dict(header["cpu"])
            self.prefix: str = str(header["prefix"])
            self.build: dict[str, Any] = dict(header.get("build", {}))
            self.parfors: bool = bool(header.get("parfors", False))
            self.kinds: list[str] = [str(k) for k in header.get("kinds", [])]
            self.skipped = [Skipped(**s) for s in header["skipped"]]
            self.sources = [Source(**s) for s in header["sources"]]
            self._index: dict[str, dict[str, list[int]]] = dict(header["index"])
            self._offsets: list[int] = list(header["offsets"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise _corrupted(e) from None
        try:
            # compact JSON is ASCII (non-ASCII is escaped), so byte offsets are character
            # offsets; str slices decode faster than bytes (no encoding detection)
            self._body = body.decode("ascii")
        except UnicodeDecodeError:
            raise ManifestError("corrupted manifest: entries are not ASCII JSON") from None
        self._entries: dict[int, Entry] = {}

    def __len__(self) -> int:
        return max(len(self._offsets) - 1, 0)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "ManifestIndex":
        data = bytes(data)
        if not data.startswith(MAGIC):
            raise ManifestError("not a snap image manifest (bad magic)")
        end = data.find(b"\n", len(MAGIC))
        if end < 0:
            end = len(data)
        try:
            header = json.loads(data[len(MAGIC):end].rstrip(b"\x00"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ManifestError(f"corrupted manifest: {e}") from None
        if not isinstance(header, dict):
            raise ManifestError("corrupted manifest: not an object")
        fmt = header.get("format")
        if fmt != FORMAT_VERSION:
            raise ManifestError(f"image format {fmt!r} is not supported (this snap reads format {FORMAT_VERSION})")
        return cls(header, data[end + 1:])

    def has(self, module: str, qualname: str) -> bool:
        funcs = self._index.get(module)
        return isinstance(funcs, dict) and qualname in funcs

    def entry(self, i: int) -> Entry:
        """Entry number ``i`` (decoded once); ManifestError if it is corrupted."""
        e = self._entries.get(i)
        if e is None:
            try:
                start, end = self._offsets[i], self._offsets[i + 1]
                if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(self._body) + 1):
                    raise ValueError(f"entry {i} has no valid extent")
                doc = _decoder.decode(self._body[start:end - 1])
                e = Entry(**{**doc, "deps": [Dep(**d) for d in doc.get("deps", [])]})
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                raise _corrupted(exc) from None
            self._entries[i] = e
        return e

    def entries_of(self, module: str, qualname: str) -> list[Entry]:
        """The entries of one function (an empty list, cheaply, for a function the image lacks)."""
        funcs = self._index.get(module)
        idx = funcs.get(qualname) if isinstance(funcs, dict) else None
        if not idx:
            return []
        if not isinstance(idx, list) or not all(isinstance(i, int) and 0 <= i < len(self) for i in idx):
            raise ManifestError("corrupted manifest: index refers to a missing entry")
        return [self.entry(i) for i in idx]
