"""The image manifest: what an image holds, readable without unpickling anything.

An image carries two sections:

* ``snap.manifest`` -- ``MAGIC``, the header's length (8 ASCII digits), one
  line of JSON (format version, fingerprint, CPU, prefix, sources, every
  specialization left to the JIT with its reason, and an index), then one line
  of JSON per entry (identity, code fingerprint, readable signature, symbols,
  dependencies). ``snap info`` and ``snap check`` read all of it. Activation
  reads the header only (``ManifestIndex``): entries are stored grouped by
  function, the index gives per module its first entry, its function names and
  their entry counts, and ``offsets`` locates each entry line (fixed-width hex,
  read in place), so activation decodes no JSON per entry and copies nothing
  per entry; an entry's line is decoded at the first use of its function.
* ``snap.payload`` -- per entry, a pickle of what installing it needs that JSON
  cannot hold (Numba types, environment constants), behind an offset table
  (payload.pack_payloads). Unpickled only when an entry is installed, i.e. when
  the user already decided to trust and run the image's code.
"""
from __future__ import annotations

import json
from functools import cached_property
from typing import Any, NamedTuple

from ..errors import ManifestError

MAGIC = b"SNAPIMG\x00"
# 7: every entry's inputs as its compilation consulted them (values by locator, the code it
# compiled or ran, its settings); CPU variants optional. (5: frozen globals predicted from the
# code; 6: 5 + CPU variants.) Older snaps refuse format 7 images; this one refuses older ones.
FORMAT_VERSION = 7
SUPPORTED_FORMATS = (FORMAT_VERSION,)
_LEN_DIGITS = 8                  # header length after MAGIC
_OFFSET_DIGITS = 8               # each entry line's start in the body, hex
MANIFEST_SECTION = "snap.manifest"
PAYLOAD_SECTION = "snap.payload"


# The records are NamedTuples, not dataclasses: this module is on the activation
# import path, where a dataclass costs ~1.2 ms to create and a NamedTuple ~0.3 ms.
class Dep(NamedTuple):
    """Code an entry's compilation consulted: a callee compiled into it (even inlined), an
    ``@overload`` typing function or implementation, an ``@intrinsic`` generator, a helper
    they ran (image/inputs.py)."""
    module: str
    qualname: str
    code: str


class Entry(NamedTuple):
    """One specialization served by the image."""
    kind: str                    # dispatcher, dufunc, cfunc, objmode, jitclass, gufunc, ufunc
    module: str
    qualname: str
    options: str                 # canonical target options
    closure: str | None          # fingerprint of closure cells
    code: str                    # fingerprint of the function's code object
    signature: str               # readable, e.g. "(float64, int64) -> float64"
    symbols: dict[str, str]      # role -> image symbol (wrapper, function, cfunc, env, loop)
    envs: list[str]              # image env symbols the code reads
    deps: list[Dep] = []         # (NamedTuple defaults are shared: never mutated in place)
    parfors: bool = False
    payload: int = -1            # index into the payload's entry list
    # late-bound address slots: image symbol -> what it names (numba_seam/addresses.Target)
    dynamic: dict[str, dict] = {}
    # identity and validity beyond the signature text (see image/identity.py and image/validity.py)
    argkeys: list[str] = []      # argument types, keyed the same in every process
    ret: str | None = None       # the return type's key
    explicit: bool = False       # compiled for an explicitly given return type (eager signature)
    values: dict[str, str] = {}      # what its compilation read: locator -> fingerprint (inputs.py)
    generated: bool = False      # code without a source file (exec): identity by code only
    settings: int = -1           # the numba.config settings it read: index into Manifest.settings
    cells: dict[str, str] = {}   # each closure cell's fingerprint (a miss names the cells that differ)
    # its code calls into Numba's threading layer (parfors, a parallel loop, get_thread_id()...):
    # installing it starts the layer, as compiling it starts it in the JIT
    threads: bool = False
    # the dispatchers' (jitclass methods' too) specializations its compilation compiled (linked into its code),
    # [module, qualname, argkeys]: the JIT adds them to their dispatchers as it compiles this one
    callees: list = []

    def key(self) -> tuple[str, str]:
        return (self.module, self.qualname)


class Skipped(NamedTuple):
    """A specialization the workload compiled that the image does not serve, and why."""
    module: str
    qualname: str
    signature: str
    reason: str
    # for a compilation that failed (kinds.FAILED_PREFIX): the function's code and closure
    # (identity.failure_key), as the failure is of them only; "" for the others
    code: str = ""


class Source(NamedTuple):
    module: str
    path: str
    digest: str | None


class Manifest(NamedTuple):
    """The whole manifest, decoded (builds, ``snap info``/``check``); activation uses ManifestIndex."""
    fingerprint: dict[str, Any]
    cpu: dict[str, Any]          # {"name": ..., "features": [...required...], "target": "host"}
    prefix: str                  # image-unique symbol prefix
    entries: list[Entry]
    skipped: list[Skipped]
    sources: list[Source]
    build: dict[str, Any] = {}
    format: int = FORMAT_VERSION
    variants: list[dict[str, Any]] = []   # CPU variants, lowest first (image/variants.py); [] = one
    settings: list[dict[str, str]] = []   # distinct sets of numba.config settings entries read

    # -- encoding ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Encoded; entries are stored grouped by (module, qualname), in a stable order."""
        doc = {"fingerprint": self.fingerprint, "cpu": self.cpu, "prefix": self.prefix,
               "skipped": [s._asdict() for s in self.skipped],
               "sources": [s._asdict() for s in self.sources], "build": self.build,
               "format": self.format, "settings": self.settings}
        if self.variants:
            doc["variants"] = self.variants
        entries = sorted(({**e._asdict(), "deps": [d._asdict() for d in e.deps]} for e in self.entries),
                         key=lambda e: (e["module"], e["qualname"]))
        for e in entries:
            for optional in ("dynamic", "cells", "threads", "callees"):
                if not e[optional]:
                    del e[optional]     # only entries with late-bound addresses (a closure) carry it
        index: dict[str, list] = {}     # module -> [first entry, [qualnames], "count,count,..."]
        counts: dict[str, list[int]] = {}
        for i, e in enumerate(entries):
            mod = index.setdefault(e["module"], [i, [], ""])
            c = counts.setdefault(e["module"], [])
            if mod[1] and mod[1][-1] == e["qualname"]:
                c[-1] += 1
            else:
                mod[1].append(e["qualname"])
                c.append(1)
        for module, mod in index.items():
            mod[2] = ",".join(map(str, counts[module]))
        doc["index"] = index
        doc["parfors"] = any(e["parfors"] for e in entries)
        # present: each entry says whether it needs the threading layer (absent: older images)
        doc["threads"] = any(e.get("threads", False) for e in entries)
        doc["kinds"] = sorted({e["kind"] for e in entries})
        lines = [_dumps(e) for e in entries]
        offsets, at = [], 0             # where each entry's line starts in the body, and the end
        for line in lines:
            offsets.append(at)
            at += len(line) + 1
        offsets.append(at)
        if at >= 16 ** _OFFSET_DIGITS:
            raise ManifestError("manifest too large")
        doc["offsets"] = "".join(f"{o:0{_OFFSET_DIGITS}x}" for o in offsets)
        header = _dumps(doc)
        return MAGIC + b"%0*d" % (_LEN_DIGITS, len(header)) + header + b"\n" + b"\n".join(lines)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "Manifest":
        index = ManifestIndex.from_bytes(data)
        return cls(
            fingerprint=index.fingerprint, cpu=index.cpu, prefix=index.prefix,
            entries=[index.entry(i) for i in range(len(index))],
            skipped=index.skipped, sources=index.sources, build=index.build, format=index.format,
            variants=index.variants, settings=index.settings)


def _dumps(doc: Any) -> bytes:
    # Compact JSON never contains a raw newline: lines separate the documents.
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _corrupted(e: Exception) -> ManifestError:
    return ManifestError(f"corrupted manifest: {e!r}")


def _records(cls, docs: list) -> list:
    """Header objects as ``cls`` records (ManifestError if they do not fit)."""
    try:
        return [cls(**d) for d in docs]
    except (TypeError, ValueError) as e:
        raise _corrupted(e) from None


class ManifestIndex:
    """The manifest as activation needs it: the header decoded, entries decoded on demand.

    Nothing proportional to the number of entries happens here: a module's
    function table is built at the first lookup in that module, an entry's line
    is sliced out of the body (a view of the image file, not a copy) and decoded
    once, at the first use of its function. Index and offsets are checked as
    they are used (a corrupted entry is a ManifestError for that entry only).
    """

    def __init__(self, header: dict, body: memoryview) -> None:
        try:
            self.format: int = header["format"]
            self.fingerprint: dict[str, Any] = dict(header["fingerprint"])
            self.cpu: dict[str, Any] = dict(header["cpu"])
            self.variants: list[dict[str, Any]] = [dict(v) for v in header.get("variants", [])]
            self.prefix: str = str(header["prefix"])
            self.build: dict[str, Any] = dict(header.get("build", {}))
            self.parfors: bool = bool(header.get("parfors", False))
            # any entry needs the threading layer; None: the image does not say which (built
            # before entries recorded it), so it is started when its code is mapped
            threads = header.get("threads")
            self.threads: bool | None = None if threads is None else bool(threads)
            self.kinds: list[str] = [str(k) for k in header.get("kinds", [])]
            self.settings: list[dict[str, str]] = [dict(x) for x in header.get("settings", [])]
            self._skipped: list = list(header["skipped"])
            self._sources: list = list(header["sources"])
            self._index: dict[str, list] = dict(header["index"])
            self._offsets: str = str(header["offsets"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise _corrupted(e) from None
        self._body = body
        # module -> qualname -> entry numbers, for the modules looked up so far ({} for a
        # module the image lacks)
        self._functions: dict[str, dict[str, range]] = {}
        self._entries: dict[int, Entry] = {}

    def __len__(self) -> int:
        return max(len(self._offsets) // _OFFSET_DIGITS - 1, 0)

    # decoded at first use: activation needs neither (misses and staleness checks do)
    @cached_property
    def skipped(self) -> list[Skipped]:
        return _records(Skipped, self._skipped)

    @cached_property
    def sources(self) -> list[Source]:
        return _records(Source, self._sources)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "ManifestIndex":
        data = memoryview(data)
        start = len(MAGIC) + _LEN_DIGITS
        if bytes(data[:len(MAGIC)]) != MAGIC:
            raise ManifestError("not a snap image manifest (bad magic)")
        digits = bytes(data[len(MAGIC):start])
        if not digits.isdigit():
            raise ManifestError("corrupted manifest: bad header length")
        end = start + int(digits)
        if end > len(data):
            raise ManifestError("corrupted manifest: truncated header")
        try:
            header = json.loads(bytes(data[start:end]))
        except (UnicodeDecodeError, ValueError) as e:
            raise ManifestError(f"corrupted manifest: {e}") from None
        except RecursionError:          # (an untrusted file: snap info/check read it)
            raise ManifestError("corrupted manifest: JSON nested too deeply") from None
        if not isinstance(header, dict):
            raise ManifestError("corrupted manifest: not an object")
        fmt = header.get("format")
        if fmt not in SUPPORTED_FORMATS:
            raise ManifestError(f"image format {fmt!r} is not supported (this snap reads formats "
                                f"{', '.join(map(str, SUPPORTED_FORMATS))})")
        return cls(header, data[end + 1:])

    def _functions_of(self, module: str) -> dict[str, range]:
        """qualname -> entry numbers, for one module (built at its first lookup)."""
        funcs = self._functions.get(module)
        if funcs is None:
            raw = self._index.get(module)
            funcs = {}
            if raw is not None:
                try:
                    first, names, counts = raw
                    at = int(first)
                    for name, n in zip(names, counts.split(","), strict=True):
                        funcs[str(name)] = range(at, at + int(n))
                        at += int(n)
                except (TypeError, ValueError) as e:
                    raise _corrupted(e) from None
            self._functions[module] = funcs
        return funcs

    def has(self, module: str, qualname: str) -> bool:
        return module in self._index and qualname in self._functions_of(module)

    def entry(self, i: int) -> Entry:
        """Entry number ``i`` (decoded once); ManifestError if it is corrupted."""
        e = self._entries.get(i)
        if e is None:
            try:
                if not 0 <= i < len(self):
                    raise IndexError(f"no entry {i}")
                o = self._offsets
                start = int(o[i * _OFFSET_DIGITS:(i + 1) * _OFFSET_DIGITS], 16)
                end = int(o[(i + 1) * _OFFSET_DIGITS:(i + 2) * _OFFSET_DIGITS], 16)
                if not 0 <= start < end <= len(self._body) + 1:
                    raise ValueError(f"entry {i} has no valid extent")
                doc = json.loads(bytes(self._body[start:end - 1]))
                e = Entry(**{**doc, "deps": [Dep(**d) for d in doc.get("deps", [])]})
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                raise _corrupted(exc) from None
            except RecursionError:
                raise ManifestError(f"corrupted manifest: entry {i}: JSON nested too deeply") from None
            self._entries[i] = e
        return e

    def entries_of(self, module: str, qualname: str) -> list[Entry]:
        """The entries of one function (an empty list, cheaply, for a function the image lacks)."""
        if module not in self._index:
            return []
        idx = self._functions_of(module).get(qualname)
        if not idx:
            return []
        if idx.stop > len(self):
            raise ManifestError("corrupted manifest: index refers to a missing entry")
        return [self.entry(i) for i in idx]


def describe_target(doc: dict) -> str:
    """Readable text of an entry's late-bound address target (``Entry.dynamic`` values:
    plain JSON, so ``snap info`` can show it without importing anything)."""
    kind, module, name = (str(doc.get(k, "")) for k in ("kind", "module", "name"))
    if kind == "capsule":
        return f"{module}.__pyx_capi__[{name!r}]"
    if kind == "symbol":
        return f"symbol {name}" + (f" ({module})" if module else "")
    return f"{kind} {module}.{name}"


def type_problem(m: Manifest) -> str | None:
    """What in a decoded manifest has the wrong type (the JSON is untrusted), or None.

    ``snap info`` and ``snap check`` read untrusted files: a field of the wrong type must be
    a one-line refusal, never a traceback further on."""
    def strs(obj, names, what):
        for n in names:
            if not isinstance(getattr(obj, n), str):
                return f"{what}.{n} is not a string"
        return None
    if not isinstance(m.prefix, str):
        return "prefix is not a string"
    for e in m.entries:
        p = strs(e, ("kind", "module", "qualname", "options", "code", "signature"), "entry")
        if p:
            return p
        if not isinstance(e.symbols, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in e.symbols.items()):
            return "entry.symbols is not a map of strings"
        if not isinstance(e.envs, list) or not all(isinstance(v, str) for v in e.envs):
            return "entry.envs is not a list of strings"
        if not isinstance(e.argkeys, list) or not all(isinstance(v, str) for v in e.argkeys):
            return "entry.argkeys is not a list of strings"
        for what in ("values", "cells"):
            m_ = getattr(e, what)
            if not isinstance(m_, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in m_.items()):
                return f"entry.{what} is not a map of strings"
        if not isinstance(e.settings, int) or isinstance(e.settings, bool) \
                or not -1 <= e.settings < len(m.settings):
            return "entry.settings is not an index of the manifest's settings"
        if not isinstance(e.dynamic, dict) or not all(
                isinstance(k, str) and isinstance(v, dict) and all(isinstance(x, (str, bool)) for x in v.values())
                for k, v in e.dynamic.items()):
            return "entry.dynamic is not a map of address targets"
        for d in e.deps:
            p = strs(d, ("module", "qualname", "code"), "dep")
            if p:
                return p
    for sk in m.skipped:
        p = strs(sk, ("module", "qualname", "signature", "reason", "code"), "skipped")
        if p:
            return p
    for so in m.sources:
        p = strs(so, ("module", "path"), "source")
        if p or not (so.digest is None or isinstance(so.digest, str)):
            return p or "source.digest is not a string"
    feats = m.cpu.get("features", [])
    if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
        return "cpu.features is not a list of strings"
    for v in m.variants:
        if not (isinstance(v.get("target"), str) and isinstance(v.get("name"), str)
                and isinstance(v.get("prefix"), str) and isinstance(v.get("size", 0), int)
                and isinstance(v.get("features"), list) and all(isinstance(f, str) for f in v["features"])):
            return "variants: an entry is not {target, name, features, prefix, size}"
    for st in m.settings:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in st.items()):
            return "settings: a set is not a map of strings"
    for k, v in m.fingerprint.items():
        if isinstance(v, dict):
            if not all(isinstance(x, str) for x in v.values()):
                return f"fingerprint.{k} is not a map of strings"
        elif not isinstance(v, str):
            return f"fingerprint.{k} is not a string"
    return None
