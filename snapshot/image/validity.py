"""When an image entry is served: the one validity model build, run and check share.

An entry is what Numba produced when one dispatcher compiled one Python function
for one signature. The JIT of this process would produce exactly that code when
all of the following are equal, so the image serves the entry then and only then:

**Identity** -- fixed when a dispatcher asks for a signature (``identity.EntryKey``):

* kind, module and qualname of the function;
* the code itself (``code_fingerprint``): two lambdas in one scope, a function
  redefined in the same scope and ``exec``-generated functions share module,
  qualname and signature, never their code;
* the closure cells' values;
* every compile input of the dispatcher (its kind's ``identity`` in ``numba_seam.kinds``:
  target options, ``locals=``, the pipeline class; a DUFunc's identity);
* the argument types, by a key that is the same in every process
  (``fingerprint.type_key``: an ``Omitted`` default by its value, not by ``id``);
  a lazy request takes only what a lazy compile produced (an eager
  ``@njit("f8(f8)")`` fixes its return type, which inference may not give), a
  request with a return type takes an entry of that return type.

Entries are requested per signature, when Numba is about to compile it, so a
dispatcher holds only the overloads its own compilations would have produced
(never another dispatcher's overloads of the same function: overload resolution
would change).

**Validity** -- checked at every install (``Verdict``):

* the values of the globals the code reads (``frozen_globals``): Numba freezes
  numbers, strings, tuples, enums, arrays and the objects behind global names
  (dispatchers, ufuncs, jitclasses, functions) into the code; every jitted or
  plain function reached through them is followed, its globals included. One
  function compiled under several global configurations gives several entries;
  the one whose values match is served;
* the callees compiled into the entry (``Entry.deps``): unchanged code, judged
  from their source files (``freshness``).

A function whose code differs from every entry of its name is "stale" only when
its source file changed since the build; otherwise it is another function of the
same name (not in the image), never a warning.
"""
from __future__ import annotations

import hashlib
import sys
import types as pytypes
from typing import Any, Callable, NamedTuple

from ..errors import Unfingerprintable
from .kinds import MISS_STALE, OBJMODE
from .fingerprint import _SCALARS, closure_fingerprint, code_fingerprint, jitted_function, value_key

# Code of these top-level packages is pinned by the image fingerprint (Python,
# numpy, numba and llvmlite versions): their functions' globals are not followed.
PINNED = frozenset(sys.stdlib_module_names) | {"numpy", "numba", "llvmlite", "snapshot"}
_MAX_DEPTH = 8
_MISSING = object()


def _h(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.blake2b(data, digest_size=8).hexdigest()


# ------------------------------------------------------------------ frozen globals
def frozen_globals(func: pytypes.FunctionType) -> dict[str, str]:
    """Global path -> fingerprint of its value, for every global ``func``'s code reads.

    Paths name what the code reads: ``SCALE``, ``np.pi``, ``helper.TABLE`` (a
    global of the jitted ``helper`` that ``func`` calls). The same function of
    the same values gives the same dict in every process.
    """
    out: dict[str, str] = {}
    _walk_function(func, "", out, set(), 0)
    return out


def _code_names(code: pytypes.CodeType, memo: dict = {}) -> tuple[str, ...]:   # noqa: B006 - a cache
    names = memo.get(code)
    if names is None:
        found: set[str] = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, pytypes.CodeType):
                found.update(_code_names(const))
        names = memo[code] = tuple(sorted(found))
    return names


def _walk_function(func, prefix: str, out: dict[str, str], seen: set[int], depth: int) -> None:
    if id(func) in seen or depth > _MAX_DEPTH:
        return
    seen.add(id(func))
    code = func.__code__
    names = _code_names(code)
    g = func.__globals__
    for name in names:
        v = g.get(name, _MISSING)
        if v is not _MISSING:
            _walk_value(v, prefix + name, names, out, seen, depth)
    # jitted functions held in closure cells: the cells' identity is the closure
    # fingerprint; what they froze from their own globals is followed here
    for cellname, cell in zip(code.co_freevars, func.__closure__ or ()):
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        target = _python_function(v)
        if target is not None and _followed(target):
            _walk_function(target, f"{prefix}{cellname}.", out, seen, depth + 1)


def _followed(func) -> bool:
    """A function whose globals are frozen into callers: not code pinned by the fingerprint."""
    return (getattr(func, "__module__", None) or "").partition(".")[0] not in PINNED


def _walk_value(v: Any, path: str, names: tuple[str, ...], out: dict[str, str],
                seen: set[int], depth: int) -> None:
    t = type(v)
    if t in _SCALARS:                  # most globals: the fast path (measured in bench_release 5)
        text = f"{t.__name__}:{v!r}"
        out[path] = text if len(text) <= 40 else _h(text)
        return
    if t is pytypes.ModuleType:
        if "." not in path:       # a global name bound to a module; a submodule is named by its path
            out[path] = "module:" + v.__name__
        if depth < 3 and v.__name__.partition(".")[0] not in PINNED:
            # attributes the code may read through the module (``cfg.SCALE``); the module's
            # __dict__, never getattr: a module __getattr__ may import or compute
            d = v.__dict__
            for n in names:
                a = d.get(n, _MISSING)
                if a is not _MISSING:
                    _walk_value(a, f"{path}.{n}", names, out, seen, depth + 1)
        return
    func = _python_function(v)
    if func is not None:
        out[path] = _h(callable_identity(v, func))
        if _followed(func):
            _walk_function(func, path + ".", out, seen, depth + 1)
        return
    out[path] = value_key(v)


def _python_function(v: Any) -> pytypes.FunctionType | None:
    """The Python function behind a jitted object (dispatcher, DUFunc, gufunc) or a plain one."""
    if type(v) is pytypes.FunctionType:
        return v
    return jitted_function(v)[0]


_code_fps: dict[int, tuple[pytypes.CodeType, str]] = {}


def callable_identity(v: Any, func: pytypes.FunctionType) -> str:
    """What identifies a function object that Numba resolves at compile time."""
    try:
        closure = closure_fingerprint(func)
    except Unfingerprintable as e:
        closure = f"?{e}"
    options = jitted_function(v)[1]
    code = func.__code__
    got = _code_fps.get(id(code))
    if got is None or got[0] is not code:
        got = _code_fps[id(code)] = (code, code_fingerprint(code))    # code objects are immutable
    return (f"{type(v).__module__}.{type(v).__qualname__}:{func.__module__}.{func.__qualname__}:"
            f"{got[1]}:{closure}:{options}")


def globals_difference(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """The global paths whose values differ (empty: the entry's frozen globals hold here)."""
    if recorded == current:
        return []
    return sorted(p for p in set(recorded) | set(current) if recorded.get(p) != current.get(p))


# ------------------------------------------------------------------ verdicts
class Verdict(NamedTuple):
    """Why an entry of the right identity is not served here (``ok`` when it is)."""
    ok: bool
    kind: str = ""             # miss kind: "stale"
    reason: str = ""
    function: str = ""         # what changed: a function or a global


OK = Verdict(True)
# an objmode block runs in object mode: it reads its function's globals when it runs
_UNFROZEN_KINDS = (OBJMODE,)


def check_entry(e, func: pytypes.FunctionType, deps_fresh: Callable[[Any], str | None]) -> Verdict:
    """Validity of an entry whose identity matched: callees unchanged, frozen globals equal."""
    changed = deps_fresh(e)
    if changed is not None:
        return Verdict(False, MISS_STALE, f"{changed} changed", changed)
    if e.kind in _UNFROZEN_KINDS:
        return OK
    diff = globals_difference(e.globals, frozen_globals(func))
    if diff:
        name = f"{e.module}.{e.qualname}"
        return Verdict(False, MISS_STALE, f"global {', '.join(diff[:3])} of {name} differs from the "
                                       f"image's", f"{name}: global {diff[0]}")
    return OK
