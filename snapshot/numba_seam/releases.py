"""Which Numba release this process runs, and what changed between the supported ones.

snap supports numba 0.63 to 0.68 (each minor's latest patch release; SUPPORTED). Every
difference between those releases that snap's code depends on is one named flag here,
true from the release that made the change, with what changed and why snap cares:

* ``DETERMINISTIC_CONTEXT_REPR`` (numba 0.67, issue numba#10610): ``CPUContext`` got a
  ``__repr__`` without the object's address. Before it, every cfunc wrapper Numba emits
  (``CPUContext.create_cfunc_wrapper``) embeds ``repr(context)``, ``<...CPUContext object
  at 0x7f...>``, as a string constant, so two builds of one workload differed in those
  bytes. The training run of older releases gives the context 0.67's address-free repr
  (backports.py, installed by record.py), so an image is reproducible on every
  supported release.
* ``CONTENT_NAMED_PICKLES`` (numba 0.67, same issue): the globals holding pickled
  constants (``.const.pickledata.*``, ``.const.picklebuf.*``) are named by the SHA-1 of
  their content rather than by ``id(obj)``. The names reach the image's symbol table, so
  the training run of older releases names them by content too (backports.py): the
  same names, and so the same bytes, as numba 0.67+ gives.

Nothing else in snap compares Numba versions: other modules import a flag from here.
An image still records the exact Numba it was built with and is refused by any other
(its fingerprint: snapshot/image/host.py, compat.py), whatever these flags say.
"""
from __future__ import annotations

import re

import numba


def _parse(text: str) -> tuple[int, int, int]:
    """``"0.63.1"`` -> (0, 63, 1); pre-release or local suffixes are ignored."""
    parts = [int(m) for m in re.findall(r"\d+", text.split("+")[0])[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


NUMBA: tuple[int, int, int] = _parse(numba.__version__)
"""This process's Numba as (major, minor, patch)."""

OLDEST: tuple[int, int] = (0, 63)
NEWEST: tuple[int, int] = (0, 68)
SUPPORTED: tuple[str, ...] = tuple(f"0.{m}" for m in range(OLDEST[1], NEWEST[1] + 1))
"""The supported minors (pyproject.toml pins the same range)."""

DETERMINISTIC_CONTEXT_REPR: bool = NUMBA >= (0, 67)
CONTENT_NAMED_PICKLES: bool = NUMBA >= (0, 67)


def supported() -> bool:
    """Whether this process's Numba minor is one snap supports."""
    return OLDEST <= NUMBA[:2] <= NEWEST
