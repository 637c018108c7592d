"""``snap create --add-misses FILE``: compile what a miss report says the image lacked.

A miss report (``snap run --report-misses`` / ``SNAP_REPORT``) holds one JSON line
per JIT compilation that still happened, with the function and its argument
types. After the workloads ran, the trace process compiles each of them, so the
next image serves them too.
"""
from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass, field
from types import ModuleType

from ..errors import SnapError
from ..numba_seam import compile_signature
from ..numba_seam.pickling import loads_types

FOLDED_KINDS = ("not in image", "stale", "refused")


@dataclass
class FoldResult:
    compiled: int = 0
    problems: list[str] = field(default_factory=list)


def read_report(path: str) -> list[dict]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise SnapError(f"cannot read miss report {path!r}: {e.strerror}") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise SnapError(f"{path}:{n}: not a miss report line (invalid JSON)") from None
        if isinstance(rec, dict) and rec.get("event") == "jit":
            out.append(rec)
    return out


def _resolve(module: str, qualname: str, mains: list[ModuleType]):
    candidates = mains if module == "__main__" else [sys.modules.get(module) or importlib.import_module(module)]
    for mod in candidates:
        obj = mod
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            return obj
    return None


def fold(path: str, mains: list[ModuleType]) -> FoldResult:
    """Compile every folded miss of the report in this (the trace) process."""
    result = FoldResult()
    seen = set()
    for rec in read_report(path):
        if rec.get("kind") not in FOLDED_KINDS or "types" not in rec or "module" not in rec:
            continue
        key = (rec["module"], rec["qualname"], rec["types"])
        if key in seen:
            continue
        seen.add(key)
        name = f"{rec['module']}.{rec['qualname']}{rec.get('signature', '')}"
        try:
            target = _resolve(rec["module"], rec["qualname"], mains)
            if target is None:
                raise LookupError("no such function (made inside another function?)")
            args = loads_types(rec["types"])
            compile_signature(target, args)
            result.compiled += 1
        except Exception as e:  # noqa: BLE001 - one bad line must not sink the build
            result.problems.append(f"{name}: {type(e).__name__}: {e}")
    return result
