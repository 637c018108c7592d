"""When an image entry is served: the one validity model build, run and check share.

An entry is what Numba produced when one dispatcher compiled one Python function
for one signature. The JIT of this process would produce exactly that code when
everything that compilation consulted is unchanged, so the image serves the entry
then and only then.

**Identity** -- fixed when a dispatcher asks for a signature (``identity.EntryKey``):

* kind, module and qualname of the function;
* the code itself (``code_fingerprint``): two lambdas in one scope, a function
  redefined in the same scope and ``exec``-generated functions share module,
  qualname and signature, never their code;
* the closure cells' values, structurally (``fingerprint.value_key``: a class in a
  cell by its body, a function by its code, defaults and cells);
* every compile input of the dispatcher (its kind's ``identity`` in ``numba_seam.kinds``:
  target options, ``locals=``, the pipeline class; a DUFunc's identity);
* the argument types, by a key that is the same in every process
  (``fingerprint.type_key``: an ``Omitted`` default by its value, not by ``id``);
  a lazy request takes only what a lazy compile produced, a request with a return
  type takes an entry of that return type.

**Validity** -- the entry's *inputs*, observed while it compiled in the training run
(``numba_seam.observe``, named by ``inputs``), checked at every install (``check_entry``):

* the ``numba.config`` settings the compilation read, as they are now (``settings``);
* the code it compiled or ran (``Entry.deps``): callees (inlined too), ``@overload``
  typing functions and implementations, ``@intrinsic`` generators, stencil kernels,
  the helpers they called -- compared with the live code of this process, and
  through the source files when it cannot be found (``freshness``);
* the values it read (``Entry.values``): every global its bytecode named, every
  module attribute typing resolved (at any depth), the constants the code it ran
  names -- located again and fingerprinted now, never from a memo a mutation could
  outlive.

One function compiled under several configurations in the workload gives several
entries; the one whose inputs match is served. A function whose code differs from
every entry of its name is "stale" only when its source file changed since the
build; otherwise it is another function of the same name (not in the image).
"""
from __future__ import annotations

import sys
import types as pytypes
from typing import Any, Callable, NamedTuple

from . import inputs
from .fingerprint import PINNED  # noqa: F401 - the runtime's import
from .kinds import MISS_STALE, OBJMODE


class Verdict(NamedTuple):
    """Why an entry of the right identity is not served here (``ok`` when it is)."""
    ok: bool
    kind: str = ""             # miss kind: "stale"
    reason: str = ""
    function: str = ""         # what changed: a function, a value or a setting


OK = Verdict(True)
# an objmode block runs in object mode: it reads its function's globals when it runs
_UNFROZEN_KINDS = (OBJMODE,)


def current_fingerprint(locator: str, own_globals: dict | None) -> str:
    """The fingerprint of what ``locator`` names in this process now."""
    return inputs.fingerprint(inputs.locate(locator, own_globals), locator)


def values_difference(values: dict[str, str], own_globals: dict | None,
                      unimported_unchanged: Callable[[str], bool] = lambda module: False) -> list[str]:
    """The locators whose values differ here now from the recorded ones (empty: all equal).

    A value of a module this process has not imported (yet) is what its source gives when
    it is: Numba imports some modules itself while it compiles (``cffi``, by ``typeof`` of
    any value), which a served process never does. Such a value is equal when
    ``unimported_unchanged(module)``: the module's source file is the one recorded at build
    (what its import then ran, reading the environment say, was observed too)."""
    out = []
    for loc, fp in values.items():
        if current_fingerprint(loc, own_globals) == fp:
            continue
        kind, _, rest = loc.partition("|")
        module = rest.partition("|")[0]
        if kind in (inputs.GLOBAL, inputs.ATTR) and module not in sys.modules \
                and unimported_unchanged(module):
            continue
        out.append(loc)
    return out


def check_entry(e, func: pytypes.FunctionType, fresh: Callable[[Any], bool],
                settings: Callable[[int], str | None] = lambda i: None,
                unimported_unchanged: Callable[[str], bool] = lambda module: False) -> Verdict:
    """Validity of an entry whose identity matched: every input it consulted unchanged.

    ``fresh(dep, own_globals)``: is that code still what this process runs; ``settings(i)``:
    what differs in the entry's recorded settings (set ``i``) now, or None;
    ``unimported_unchanged(module)``: is the source of a module not imported here the one
    recorded at build (``values_difference``)."""
    name = f"{e.module}.{e.qualname}"
    own_globals = getattr(func, "__globals__", None)
    changed = settings(e.settings) if e.settings >= 0 else None
    if changed is not None:
        return Verdict(False, MISS_STALE, changed, changed.partition(" ")[0])
    for dep in e.deps:
        if not fresh(dep, own_globals):
            changed = f"{dep.module}.{dep.qualname}"
            return Verdict(False, MISS_STALE, f"{changed} changed", changed)
    if e.kind in _UNFROZEN_KINDS or not e.values:
        return OK
    diff = values_difference(e.values, own_globals, unimported_unchanged)
    if diff:
        shown = ", ".join(inputs.describe(loc) for loc in sorted(diff)[:3])
        verb = "differs" if len(diff) == 1 else "differ"
        return Verdict(False, MISS_STALE, f"{shown} (read compiling {name}) {verb} from the image's",
                       f"{name}: {inputs.describe(sorted(diff)[0])}")
    return OK
