"""Deferred imports: what ``import numba`` loads and a served process never uses.

``import numba`` imports a few modules whose only users are compilations, a
configuration file that is not there, or a version check: PyYAML (numba.core.config,
read only when a ``.numba_config.yaml`` exists), ``importlib.metadata`` and the email
package under it (numba.core.entrypoints, read at the first compilation), ``html``
(numba.core.codegen's CFG rendering) and SciPy (numba/__init__.py reads
``scipy.__version__`` and nothing else). In a process started from an image, where
no compilation may ever happen, each is bound as a *deferred* module: the same
module object, in ``sys.modules`` and on its parent, executed at the first access
to anything in it (by Numba at a miss, by the program, by another library), so every
user sees the module exactly as an ordinary import leaves it.

Measured on the k-means example (2 cores, CPython 3.11, numba 0.68): about 30 ms of
a ~0.3 s start (yaml ~10, importlib.metadata + email ~9, scipy ~11).

What the import system itself reads (``__spec__`` to see whether the module is
initialized, ``__name__``...) is answered without executing it; ``__path__`` is not
(a submodule's import must run its package first, as always). SciPy's
``__version__`` is answered from ``scipy/version.py``, the file its ``__init__``
takes it from, run apart (it only assigns literals); where that file is not such a
file, SciPy is imported as usual.

CPython 3.11's ``importlib.util.LazyLoader`` is not used: its modules load on
``__spec__`` (so on any second ``import``), and it is not thread-safe before 3.12
(two threads touching the module at once could see it half-executed). Here a
per-module re-entrant lock makes the first toucher execute it and the others wait.
"""
from __future__ import annotations

import os
import sys
import threading
import types
from typing import Any

from .post_import import spec_from_others

# Modules numba 0.63-0.68 imports at start-up that serving never touches (checked on the
# k-means example and the libraries' workloads: none of them executed in a served run).
DEFERRED = ("yaml", "importlib.metadata", "html", "scipy")

# read by the import system while importing or re-importing a module: never a reason to run it
_IMPORT_SYSTEM = frozenset({"__spec__", "__name__", "__loader__", "__package__", "__class__"})
_STATE = "__snap_deferred__"


class DeferredModule(types.ModuleType):
    """A module not executed yet: the first access to anything else executes it (once)."""

    def __getattribute__(self, name: str) -> Any:
        d = object.__getattribute__(self, "__dict__")
        state = d.get(_STATE)
        if state is not None and name not in _IMPORT_SYSTEM and name not in state.answered:
            state.run(self)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # the import system sets a submodule on its package (``scipy.linalg``): only after
        # the package ran, as in an ordinary import
        if name not in _IMPORT_SYSTEM:
            self.__getattribute__("__dict__")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self.__getattribute__("__dict__")
        object.__delattr__(self, name)


class _State:
    """How to run one deferred module, and the lock its first users take."""

    def __init__(self, loader: Any, answered: dict[str, Any]) -> None:
        self.loader = loader
        self.answered = answered
        self.lock = threading.RLock()
        self.running = False

    def run(self, module: types.ModuleType) -> None:
        with self.lock:
            d = object.__getattribute__(module, "__dict__")
            if d.get(_STATE) is not self or self.running:
                return                       # done by another thread, or a circular import
            self.running = True
            # the module runs, and stays, with its own loader, as after an ordinary import
            d["__loader__"] = self.loader
            spec = d.get("__spec__")
            if spec is not None:
                spec.loader = self.loader
            try:
                self.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(module.__name__, None)     # as a failed ordinary import leaves it
                raise
            finally:
                self.running = False
                d.pop(_STATE, None)
                object.__setattr__(module, "__class__", types.ModuleType)


class _Loader:
    """Wraps a module's own loader: creates the module as usual, executes it later."""

    def __init__(self, loader: Any, answered: dict[str, Any]) -> None:
        self.loader = loader
        self.answered = answered

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        d = module.__dict__
        d.update(self.answered)
        d[_STATE] = _State(self.loader, self.answered)
        object.__setattr__(module, "__class__", DeferredModule)

    def __getattr__(self, name: str) -> Any:      # get_source, is_package, ...: the real loader's
        return getattr(self.loader, name)


def _scipy_version(spec) -> dict[str, Any] | None:
    """``scipy.__version__`` as scipy's ``__init__`` would set it (``from scipy.version import
    version as __version__``), from running scipy/version.py alone; None when it is not a
    file of plain assignments."""
    path = os.path.join(os.path.dirname(spec.origin or ""), "version.py")
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        code = compile(source, path, "exec")
    except (OSError, SyntaxError, ValueError):
        return None
    if "import" in source:
        return None
    ns: dict[str, Any] = {"__builtins__": {}}
    try:
        exec(code, ns)     # noqa: S102 - scipy's own file, run by its import anyway; no builtins
    except Exception:
        return None
    version = ns.get("version")
    return {"__version__": version} if isinstance(version, str) else None


_ANSWERS = {"scipy": _scipy_version}


class _Finder:
    """Finds nothing itself: for a deferred name, wraps the loader the other finders give."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        if name not in self.names:
            return None
        self.names.discard(name)          # one module object per name: deferred once
        spec = spec_from_others(self, name, path, target)
        if spec is None:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module") or \
                type(spec.loader).__name__ == "ExtensionFileLoader":
            return spec
        answered: dict[str, Any] | None = {}
        if name in _ANSWERS:
            answered = _ANSWERS[name](spec)
            if answered is None:
                return spec
        spec.loader = _Loader(spec.loader, answered)
        return spec

    def invalidate_caches(self) -> None:
        pass


def defer(names: tuple[str, ...] = DEFERRED) -> None:
    """Defer ``names`` not imported yet in this process (a served process, before numba)."""
    todo = tuple(n for n in names if n not in sys.modules)
    if todo and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder(todo))


def pending() -> list[str]:
    """The deferred modules not executed yet (what ``snap doctor`` and the benchmark show)."""
    return sorted(n for n, m in list(sys.modules.items())
                  if type(m) is DeferredModule and _STATE in object.__getattribute__(m, "__dict__"))
