"""Run a callback right after a module is imported (or now, if it already is).

Used to activate an image right after ``import numba`` and to hook parts of
Numba a program may never import (``@cfunc``, jitclass) without importing them.
A ``sys.meta_path`` finder that finds nothing itself: for a watched name it
asks the other finders for the spec and wraps that loader's ``exec_module``.
Kept free of imports: the start-up hook loads it in every SNAP_SYSIMAGE process.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

Callback = Callable[[Any], None]


def spec_from_others(me: Any, name: str, path: Any = None, target: Any = None) -> Any:
    """The spec the finders on ``sys.meta_path`` other than ``me`` give for ``name`` (for a
    finder that only wraps what the others find), or None."""
    for finder in sys.meta_path:
        if finder is me or not hasattr(finder, "find_spec"):
            continue
        spec = finder.find_spec(name, path, target)
        if spec is not None:
            return spec
    return None


class _Finder:
    def __init__(self) -> None:
        self.pending: dict[str, list[Callback]] = {}
        # (enter, leave) around a module's import and its callbacks (leave: also if it raises)
        self.around: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {}

    def find_spec(self, name, path=None, target=None):
        if name not in self.pending and name not in self.around:
            return None
        spec = spec_from_others(self, name, path, target)
        if spec is None:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_call(module):
            enter, leave = self.around.pop(name, (None, None))
            if enter is not None:
                enter()
            try:
                exec_module(module)
                for callback in self.pending.pop(name, []):
                    callback(module)
            finally:
                if leave is not None:
                    leave()

        loader.exec_module = exec_then_call
        return spec

    def invalidate_caches(self) -> None:
        pass


_finder: _Finder | None = None


def when_imported(module: str, callback: Callback) -> None:
    """``callback(mod)`` now if ``module`` is imported, else right after its import."""
    global _finder
    mod = sys.modules.get(module)
    if mod is not None:
        callback(mod)
        return
    if _finder is None or _finder not in sys.meta_path:
        _finder = _finder or _Finder()
        sys.meta_path.insert(0, _finder)
    _finder.pending.setdefault(module, []).append(callback)


def around_import(module: str, enter: Callable[[], None], leave: Callable[[], None]) -> None:
    """``enter()`` right before ``module`` is executed (if it is not imported yet), ``leave()``
    after it and the callbacks ``when_imported`` gave it ran, or raised."""
    global _finder
    if module in sys.modules:
        return
    if _finder is None or _finder not in sys.meta_path:
        _finder = _finder or _Finder()
        sys.meta_path.insert(0, _finder)
    _finder.around[module] = (enter, leave)


def discard(module: str, callback: Callback) -> None:
    """Forget a callback that has not run yet."""
    todo = _finder.pending.get(module, []) if _finder is not None else []
    if callback in todo:
        todo.remove(callback)
    if not todo and _finder is not None:
        _finder.pending.pop(module, None)
