"""``snap create --add-misses FILE``: compile what a miss report says the image lacked.

A miss report (``snap run --report-misses`` / ``SNAP_REPORT``) holds one JSON line
per JIT compilation that still happened, with the function and its argument
types. After the workloads ran, the trace process compiles each of them, so the
next image serves them too.

A report is data from elsewhere (appended by worker processes on shared paths,
copied between machines): reading one never runs or imports code. Its types are
parsed (``numba_seam.typecodec``), the functions and classes it names are looked up
in the modules the workloads imported, and a line naming anything else is skipped
with its reason. Reading is bounded: a regular file only (never a FIFO or a device,
which could block or never end), lines of at most ``MAX_LINE`` bytes, at most
``MAX_MISSES`` distinct misses. A damaged line (torn by a killed worker, not UTF-8,
not JSON) is skipped with its reason; a file none of whose lines is a miss report's
is an error.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import Iterator

from ..errors import SnapError
from ..printable import printable
from ..image.untrusted import UnsafeFile, open_regular
from ..numba_seam import compile_signature, is_compilable
from ..numba_seam.typecodec import BadTypes, decode_types, live_object, module_is_imported
from ..runtime.report import MAX_LINE

FOLDED_KINDS = ("not in image", "stale", "refused")
MAX_MISSES = 10_000     # distinct misses folded from one report (each is a compilation)
MAX_PROBLEMS = 50       # problems listed one by one (then counted)


class _Skip(Exception):
    """A report line that is not compiled (the message says why, in one line)."""


@dataclass
class FoldResult:
    compiled: int = 0
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(_text(text, 1000))
        else:
            self.more_problems += 1


def _open_regular(path: str):
    """The report, opened for reading without blocking (a FIFO with no writer would block
    ``open``), and only if it is a regular file (a device such as /dev/zero never ends)."""
    try:
        fd, _ = open_regular(path)
    except UnsafeFile as e:
        raise SnapError(f"miss report {path!r} {e.strerror}") from None
    except OSError as e:
        raise SnapError(f"cannot read miss report {path!r}: {e.strerror}") from None
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_report(path: str, result: FoldResult) -> Iterator[tuple[int, dict]]:
    """(line number, record) of each miss line; damaged lines go to ``result`` as problems.
    SnapError if the file cannot be read, or if no line of it is a miss report's."""
    good = bad = 0
    first_bad = ""
    with _open_regular(path) as f:
        n = 0
        while True:
            try:
                raw = f.readline(MAX_LINE + 1)
            except OSError as e:
                raise SnapError(f"cannot read miss report {path!r}: {e.strerror}") from None
            if not raw:
                break
            n += 1
            why = None
            if len(raw) > MAX_LINE:
                why = f"longer than {MAX_LINE} bytes"
                while raw and not raw.endswith(b"\n"):      # the rest of it, a bounded piece at a time
                    raw = f.readline(MAX_LINE)
            elif raw.strip():
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    why = "not UTF-8"
                except RecursionError:
                    why = "invalid JSON (nested too deeply)"
                except ValueError:
                    why = "invalid JSON"
                else:
                    if not isinstance(rec, dict):
                        why = "not a JSON object"
                    elif rec.get("event") == "jit":
                        good += 1
                        yield n, rec
                        continue
                    else:
                        continue        # another kind of event: not ours to fold
            else:
                continue
            bad += 1
            first_bad = first_bad or f"{path}:{n}: not a miss report line ({why})"
            result.problem(f"{path}:{n}: line skipped: not a miss report line ({why})")
    if bad and not good:
        raise SnapError(first_bad)


def _text(v: object, limit: int = 200) -> str:
    """A name from the report, fit for one line of a message (no control characters)."""
    return printable(v[:limit]) if isinstance(v, str) else ""


def fold(path: str, mains: list[ModuleType]) -> FoldResult:
    """Compile every folded miss of the report in this (the trace) process."""
    result = FoldResult()
    seen: set[tuple[str, str, str]] = set()
    for n, rec in read_report(path, result):
        if rec.get("kind") not in FOLDED_KINDS:
            continue
        module, qualname, types = rec.get("module"), rec.get("qualname"), rec.get("types")
        name = f"{_text(module)}.{_text(qualname)}{_text(rec.get('signature'))}"
        where = f"{name} ({os.path.basename(path)}:{n})"
        try:
            if not isinstance(module, str) or not isinstance(qualname, str):
                raise _Skip("the line names no function")
            key = (module, qualname, json.dumps(types, sort_keys=True))
            if key in seen:
                continue
            if len(seen) >= MAX_MISSES:
                result.problem(f"{path}: more than {MAX_MISSES} distinct misses: the rest are skipped")
                break
            seen.add(key)
            if module.startswith("<"):          # e.g. "<dynamic>": a jitclass constructor
                raise _Skip(f"{_text(module)} is no module: code Numba made at run time cannot be "
                            "found by name")
            if not module_is_imported(module, mains):
                raise _Skip(f"module {_text(module)} is not imported by the workloads; "
                            "a miss report never imports code")
            target = live_object(module, qualname, mains)
            if target is None:
                raise _Skip("no such function (made inside another function?)")
            if not is_compilable(target):
                raise _Skip(f"{_text(module)}.{_text(qualname)} is not a jitted function")
            if isinstance(types, str):
                raise _Skip("an old-format line (its argument types are a pickle): refused, a miss "
                            "report is data and is never unpickled; report the miss again with this snap")
            if types is None:
                omitted = _text(rec.get("types_omitted"), 300)
                raise _Skip("its argument types are not in the report"
                            + (f" (they could not be described: {omitted})" if omitted else ""))
            args = decode_types(types, mains)
            compile_signature(target, args)
            result.compiled += 1
        except (_Skip, BadTypes) as e:
            result.problem(f"{where}: {e}")
        except Exception as e:  # noqa: BLE001 - one bad line must not sink the build
            result.problem(f"{where}: {type(e).__name__}: " + (str(e).splitlines() or [""])[0][:300])
    if result.more_problems:
        result.problems.append(f"{path}: {result.more_problems} more line(s) not added")
    return result
