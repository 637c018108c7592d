"""``snap info``: what an image holds, read without running anything (see read.py).

The functions return plain dataclasses; ``*_dict`` turns them into JSON-ready
dicts. The CLI (``snapshot/cli.py``) only renders them.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ImageReadError
from ..image.inputs import describe
from ..image import kinds as K
from ..image.manifest import PAYLOAD_SECTION, describe_target
from ..image.variants import Variant, symbol, variants_of
from .read import elf_name, enum_name, lief_parse, open_image, text_of

# Entry symbol roles that are code (the others, "env", are 8-byte data slots).
_DATA_ROLES = frozenset({"env"})


def _code_size(entry, exports: dict[str, int], prefix: str, variant: Variant) -> int:
    """Bytes of native code of an entry in one CPU variant."""
    return sum(int(exports.get(symbol(sym, prefix, variant), 0))
               for role, sym in entry.symbols.items() if role not in _DATA_ROLES)


@dataclass
class EntryInfo:
    function: str
    signature: str
    kind: str
    size: int                   # bytes of native code: sum of the ELF sizes of its code symbols
                                # (in the lowest CPU variant)
    parfors: bool
    options: str
    closure: str | None         # fingerprint of the closure cells (tells closures of one factory apart)
    symbols: dict[str, str]
    deps: list[str]
    addresses: dict[str, str] = field(default_factory=dict)   # late-bound slot -> what it names
    code: str = ""              # fingerprint of the function's code (part of its identity)
    values: list[str] = field(default_factory=list)     # what its compilation read, checked at install
    explicit: bool = False      # compiled for an explicit return type (eager signature)
    generated: bool = False     # code without a source file (exec)


@dataclass
class SectionInfo:
    name: str
    type: str
    address: int
    offset: int
    size: int
    flags: str


@dataclass
class SegmentInfo:
    type: str
    flags: str
    address: int
    memsize: int
    offset: int
    filesize: int


def _skip_info(s) -> dict[str, str]:
    return {"function": f"{text_of(s.module)}.{text_of(s.qualname)}", "signature": text_of(s.signature),
            "reason": text_of(s.reason)}


@dataclass
class ImageInfo:
    path: str
    file_size: int
    format: int
    fingerprint: dict[str, Any]
    cpu: dict[str, Any]
    build: dict[str, Any]
    prefix: str
    entries: list[EntryInfo]
    skipped: list[dict[str, str]]      # left to the JIT, with the reason
    failed: list[dict[str, str]]       # compilations the training run saw fail (image.kinds.failed)
    sources: list[dict[str, Any]]
    imports: list[str]
    sections: list[SectionInfo]
    segments: list[SegmentInfo]
    payload_size: int
    code_size: int
    package: str | None = None      # a library image's package (snap create --package)
    # CPU variants, lowest first: target, name, features (required), prefix, size (bytes of
    # code and data of its own); one for a single-target image
    variants: list[dict[str, Any]] = field(default_factory=list)


def _sec_flags(flags: int) -> str:
    return "".join(c for bit, c in ((0x2, "A"), (0x1, "W"), (0x4, "X")) if flags & bit)


def _seg_flags(flags: int) -> str:
    return "".join(c if flags & bit else "-" for bit, c in ((4, "r"), (2, "w"), (1, "x")))


def read_info(path: str) -> ImageInfo:
    """Everything ``snap info`` shows. Raises ImageReadError on a bad file."""
    op = open_image(path)
    b = lief_parse(op.data)
    if b is None:
        raise ImageReadError(f"{op.path}: LIEF cannot parse this file as ELF")
    m = op.manifest
    variants = variants_of(m)
    try:
        exports = op.image.exports
    except Exception as e:  # noqa: BLE001
        raise ImageReadError(str(e) if str(e).startswith(op.path) else f"{op.path}: {e}") from None
    entries = [EntryInfo(function=f"{text_of(e.module)}.{text_of(e.qualname)}", signature=text_of(e.signature), kind=text_of(e.kind),
                         size=_code_size(e, exports, m.prefix, variants[0]), parfors=bool(e.parfors), options=text_of(e.options),
                         closure=None if e.closure is None else text_of(e.closure),
                         symbols={text_of(k): text_of(v) for k, v in dict(e.symbols).items()},
                         deps=[f"{text_of(d.module)}.{text_of(d.qualname)}" for d in e.deps],
                         addresses={text_of(k): describe_target(v) for k, v in dict(e.dynamic).items()},
                         code=text_of(e.code), values=sorted(text_of(describe(k)) for k in dict(e.values)),
                         explicit=bool(e.explicit), generated=bool(e.generated))
               for e in m.entries]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # LIEF warns on enum values it does not know
            sections = [SectionInfo(elf_name(s.name), enum_name(s.type), int(s.virtual_address), int(s.offset),
                                    int(s.size), _sec_flags(int(s.flags)))
                        for s in b.sections if s.name]
            segments = [SegmentInfo(enum_name(g.type), _seg_flags(int(g.flags)), int(g.virtual_address),
                                    int(g.virtual_size), int(g.file_offset), int(g.physical_size))
                        for g in b.segments]
    except Exception as e:  # noqa: BLE001
        raise ImageReadError(f"{op.path}: LIEF cannot read the ELF headers ({type(e).__name__}: {e})") from None
    return ImageInfo(
        path=op.path, file_size=len(op.data), format=m.format, fingerprint=m.fingerprint, cpu=m.cpu,
        build=m.build, prefix=m.prefix, entries=entries,
        skipped=[_skip_info(s) for s in m.skipped if not K.failed(text_of(s.reason))],
        failed=[_skip_info(s) for s in m.skipped if K.failed(text_of(s.reason))],
        sources=[s._asdict() for s in m.sources],
        imports=list(op.image.imports),
        sections=sections, segments=segments,
        payload_size=op.image.sections.get(PAYLOAD_SECTION, 0),
        code_size=sum(e.size for e in entries),
        package=m.build.get("package") if isinstance(m.build.get("package"), str) else None,
        variants=[v._asdict() for v in variants],
    )


def info_dict(info: ImageInfo) -> dict[str, Any]:
    return asdict(info)
