"""Is code an image entry consulted still the code the user has now?

First the live code: the function the running program has under that module and
qualname (a nested one found in its enclosing function's code), compared by
fingerprint; a module edited and reloaded (``importlib.reload``, notebook
autoreload) gives new function objects, and they are compared again. Code that
cannot be found live (generated code, a module not imported) is compared through
its source file: if the file still has the digest recorded at build time, it is
unchanged and no code object is fingerprinted; if the file changed, the functions
involved are compared one by one (the edited file is compiled, never executed), so
editing one function does not throw away its neighbours, and the warning can name it.
"""
from __future__ import annotations

import sys
import types as pytypes
from functools import cached_property
from typing import Any, Callable

from ..errors import Unfingerprintable
from .fingerprint import (cached_code_fingerprint, closure_fingerprint, iter_code_objects,
                          jitted_py_func, source_digest, source_fingerprints)
from .manifest import Manifest

_LOCALS = ".<locals>."
# a closure's code (a typing function a factory registered) is recorded as its code fingerprint,
# CLOSURE, and its cells' fingerprint: what the cells hold was decided by code no compilation ran
CLOSURE = "+closure:"
# what finds the live functions of a module and qualname that no namespace holds (a factory's
# typing functions, in Numba's registry): set by the Numba seam
LIVE_FUNCTIONS: list[Callable[[str, str], list]] = []


def closure_code(func) -> str:
    """How a closure's code is recorded (see CLOSURE)."""
    return cached_code_fingerprint(func.__code__) + CLOSURE + (closure_fingerprint(func) or "")


def current_file(module: str) -> str | None:
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None)
    if isinstance(path, str):
        return path
    if module == "__main__":
        return None
    # found as the program would import it (its meta path finders too), but without importing
    # it or its parent packages (importlib.util.find_spec("a.b") runs a/__init__.py)
    from .locate import find_spec
    spec = find_spec(module)
    return spec.origin if spec is not None and spec.has_location else None


def live_code(module: str, qualname: str, own_globals: dict | None = None) -> pytypes.CodeType | None:
    """The code object the running program has for ``module.qualname`` (None: not found, or
    what is there is not that function: a wrapper, another object). Namespaces are read, no
    attribute is computed (a module ``__getattr__`` never runs). ``own_globals``: a namespace
    to use for ``module`` (the entry's own function's)."""
    if own_globals is not None and own_globals.get("__name__") == module:
        ns_: Any = own_globals
    else:
        mod = sys.modules.get(module)
        if mod is None:
            return None
        ns_ = mod.__dict__
    head, sep, _ = qualname.partition(_LOCALS)
    obj: Any = None
    for i, part in enumerate(head.split(".")):
        ns = ns_ if i == 0 else getattr(obj, "__dict__", None)
        if not isinstance(ns, (dict, pytypes.MappingProxyType)):
            return None
        obj = _unwrap(ns.get(part))
        if obj is None:
            return None
    code = getattr(obj, "__code__", None)
    if not isinstance(code, pytypes.CodeType):
        return None
    if sep:
        for c in iter_code_objects(code):
            if _qualname(c) == qualname:
                return c
        return None
    return code if _qualname(code) in (qualname, None) else None


def _qualname(code: pytypes.CodeType) -> str | None:
    return getattr(code, "co_qualname", None)      # Python 3.11: code objects know their qualname


def _unwrap(obj: Any) -> Any:
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if obj is None or isinstance(obj, (pytypes.FunctionType, type, pytypes.ModuleType)):
        return obj
    func = jitted_py_func(obj)                 # a dispatcher, DUFunc or gufunc: its function
    if func is not None:
        return func
    for _ in range(8):                         # decorators that keep what they wrap
        inner = getattr(obj, "__wrapped__", None) if not isinstance(obj, pytypes.FunctionType) else None
        if inner is None:
            break
        obj = inner
    return obj


class Freshness:
    """Compares an image's recorded sources with the files ``locate`` finds for each module.

    The runtime locates modules as the running program sees them; ``snap check``
    (which must not import anything) passes a locator of its own.
    """

    def __init__(self, manifest: Manifest, locate: Callable[[str], str | None] = current_file) -> None:
        self._manifest = manifest
        self._locate = locate
        self._unchanged: dict[str, bool] = {}
        self._fps: dict[str, dict[str, frozenset[str]] | None] = {}
        self._live: dict[tuple[str, str, str], tuple[pytypes.CodeType, bool]] = {}

    @cached_property
    def _recorded(self) -> dict[str, str | None]:
        return {s.module: s.digest for s in self._manifest.sources}

    @cached_property
    def _digests_say(self) -> bool:
        """Does a source file's digest say its code is unchanged here? Not under another
        ``python -O`` level than the build's: the same source compiles to other code."""
        return self._manifest.build.get("python_optimize", 0) == sys.flags.optimize

    def module_unchanged(self, module: str) -> bool:
        if not self._digests_say:
            return False
        ok = self._unchanged.get(module)
        if ok is None:
            path = self._locate(module)
            recorded = self._recorded.get(module)
            ok = bool(path and recorded and source_digest(path) == recorded)
            self._unchanged[module] = ok
        return ok

    def function_fps(self, module: str, qualname: str) -> frozenset[str]:
        """Fingerprints of the defs of a function in the module's current source (compiled,
        not executed); empty if the source or the function is gone."""
        path = self._locate(module)
        if path is None:
            return frozenset()
        if path not in self._fps:
            self._fps[path] = source_fingerprints(path)
        fps = self._fps[path]
        return fps.get(qualname, frozenset()) if fps else frozenset()

    def fresh(self, module: str, qualname: str, code: str, own_globals: dict | None = None) -> bool:
        """Is the code recorded as ``code`` still what this process has for ``module.qualname``?
        (``own_globals``: the namespace of the entry's own function, for its module's code: a
        module loaded from a file spec is not in ``sys.modules``.)"""
        if CLOSURE in code:
            return self._closure_fresh(module, qualname, code)
        live = live_code(module, qualname, own_globals)
        if live is None:
            return self._in_file(module, qualname, code)
        key = (module, qualname, code)
        seen = self._live.get(key)
        if seen is not None and seen[0] is live:     # the same code object as at the last check
            return seen[1]
        ok = cached_code_fingerprint(live) == code
        if not ok:
            # generated code (its function holds other code than its file) or an edit: the
            # file decides, read again (a reload may have come with a new file)
            self._forget(module)
            ok = self._in_file(module, qualname, code)
        self._live[key] = (live, ok)
        return ok

    def _closure_fresh(self, module: str, qualname: str, code: str) -> bool:
        """A closure: fresh if a live function of that name has that code and those cells;
        stale if live ones exist but none has; else decided by its file (any edit of it)."""
        candidates = [f for find in LIVE_FUNCTIONS for f in find(module, qualname)]
        for f in candidates:
            try:
                if closure_code(f) == code:
                    return True
            except Unfingerprintable:
                continue
        return not candidates and self.module_unchanged(module)

    def _in_file(self, module: str, qualname: str, code: str) -> bool:
        return self.module_unchanged(module) or code in self.function_fps(module, qualname)

    def _forget(self, module: str) -> None:
        self._unchanged.pop(module, None)
        path = self._locate(module)
        if path is not None:
            self._fps.pop(path, None)
