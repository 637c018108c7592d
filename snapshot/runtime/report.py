"""The miss report: one JSON line per JIT compilation an image did not serve.

``snap run --report-misses FILE`` / ``SNAP_REPORT=FILE``. Each line names the
function, its signature, the miss kind (``image.kinds.MISS_*``) and the reason,
and describes the argument types as data (``numba_seam.typecodec``: a JSON tree,
parsed on reading, never unpickled or imported) so that ``snap create --add-misses``
can compile exactly that specialization in the next build; types it cannot
describe are left out (``types_omitted`` says why: the readable signature stays).
Appends are atomic across worker processes.
"""
from __future__ import annotations

import json
import os

from ..errors import warn
from ..numba_seam import install as seam
from ..numba_seam import signature_text

# the longest line a miss report may have (``snap create --add-misses`` refuses longer ones)
MAX_LINE = 1 << 20


def describe(owner, args: tuple) -> tuple[tuple[str, str], str, str]:
    """(module, qualname), "module:qualname" and the readable signature of a compilation."""
    key = seam.owner_function(owner)
    return key, "%s:%s" % key, signature_text(args)


def record_jit(report: str | None, kind: str, function: str, signature: str, reason: str,
               args: tuple | None = None, image: str | None = None) -> None:
    """Append one JSON line to the miss report (nothing without a report); ``image``: the
    image whose reason it is (several may be active)."""
    if not report:
        return
    module, _, qualname = function.partition(":")
    doc = {"event": "jit", "kind": kind, "function": function.replace(":", "."), "module": module,
           "qualname": qualname, "signature": signature, "reason": reason, "pid": os.getpid()}
    if image:
        doc["image"] = image
    if args is not None:
        try:
            from ..numba_seam.typecodec import encode_types
            doc["types"] = encode_types(args)
        except Exception as e:  # noqa: BLE001 - the readable part is still worth reporting
            doc["types_omitted"] = _one_line(e)
    line = json.dumps(doc)
    if len(line) >= MAX_LINE and "types" in doc:
        del doc["types"]
        doc["types_omitted"] = f"their description is longer than {MAX_LINE} bytes"
        line = json.dumps(doc)
    data = (line + "\n").encode()
    try:
        # non-blocking open: a FIFO nobody reads fails (ENXIO) instead of hanging the program
        fd = os.open(report, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
        try:
            os.set_blocking(fd, True)
            os.write(fd, data)            # one write of the whole line: appends do not interleave
        finally:
            os.close(fd)
    except OSError as e:
        if report not in _report_failed:     # once per report path: misses are still JIT-compiled
            _report_failed.add(report)
            warn(f"snap: cannot write the miss report {report} ({e.strerror or e}); "
                 "misses are not recorded: point SNAP_REPORT (--report-misses) at a writable file")


_report_failed: set[str] = set()


def _one_line(e: Exception) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:300]
