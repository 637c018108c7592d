"""numba.config as an input: what the compilations of the training run read, and its value now.

Numba's compiler reads its settings (``numba.core.config``) as module attributes
while it compiles (``config.BOUNDSCHECK``, ``config.OPT``...), and re-reads the
``NUMBA_*`` environment before each compilation (``CompilerBase.__init__`` calls
``config.reload_config()``). The training run records every setting a compilation
read (``ReadRecorder``: the module's class is swapped for one that sees attribute
reads), minus those that only print or time things; a process served from the
image compares them with the settings as they are when an entry is installed
(``changed``), so ``numba.config.BOUNDSCHECK = True`` set in code, or
``os.environ["NUMBA_OPT"] = "0"`` before a call, sends the compilation to the JIT
as it would compile under them.

The CPU settings (``CPU_NAME``, ``CPU_FEATURES``) are not compared here: they choose
the image's CPU variant (image/variants.py).
"""
from __future__ import annotations

import os
import threading
import types as pytypes
from typing import Any, Callable

# Settings that change what Numba prints, times or caches, never the code it generates.
# (Read in numba/core/config.py: each is a diagnostic switch.)
DIAGNOSTIC = frozenset({
    "DEBUG", "DEBUG_JIT", "DEBUG_FRONTEND", "DEBUG_TYPEINFER", "DEBUG_INLINE_CLOSURE",
    "DEBUG_ARRAY_OPT", "DEBUG_ARRAY_OPT_STATS", "DEBUG_PRINT_AFTER", "DEBUG_PRINT_BEFORE",
    "DEBUG_PRINT_WRAP", "DEBUG_CACHE", "DEBUG_MISSING_LOCALS", "DUMP_BYTECODE", "DUMP_CFG",
    "DUMP_IR", "DUMP_SSA", "DUMP_LLVM", "DUMP_FUNC_OPT", "DUMP_OPTIMIZED", "DUMP_ASSEMBLY",
    "DUMP_ANNOTATION", "DUMP_IR_OBJ", "DIFF_IR", "HTML", "ANNOTATE", "LLVM_PASS_TIMINGS",
    "PARALLEL_DIAGNOSTICS", "DISABLE_TYPEINFER_FAIL_CACHE", "SHOW_HELP", "FULL_TRACEBACKS",
    "DEVELOPER_MODE", "COLOR_SCHEME", "HIGHLIGHT_DUMPS", "DISABLE_PERFORMANCE_WARNINGS",
    "CACHE_DIR", "ENABLE_CUDASIM", "IS_32BITS", "IS_WIN32", "IS_OSX", "MACHINE_BITS",
    "CPU_NAME", "CPU_FEATURES", "THREADING_LAYER_PRIORITY", "NUMBA_NUM_THREADS",
    "NUMBA_DEFAULT_NUM_THREADS", "RUNNING_UNDER_PROFILER", "USE_LLVMLITE_MEMORY_MANAGER",
})


def text(value: Any) -> str:
    """A setting's value as recorded (settings are numbers, strings, None or small enums)."""
    return repr(value)


class ReadRecorder:
    """Training run: calls ``on_read(name, text)`` for every setting read while
    ``active()`` is true (the observer: a compilation is running in this thread)."""

    def __init__(self, active: Callable[[], bool], on_read: Callable[[str, str], None]) -> None:
        self._active = active
        self._on_read = on_read
        self._undo: Callable[[], None] | None = None

    def install(self) -> None:
        from numba.core import config
        active, on_read, orig_cls = self._active, self._on_read, type(config)
        getattribute = pytypes.ModuleType.__getattribute__

        class ObservedConfig(orig_cls):          # type: ignore[misc, valid-type]
            def __getattribute__(self, name: str) -> Any:
                value = getattribute(self, name)
                if name[:1].isupper() and name not in DIAGNOSTIC and active():
                    on_read(name, text(value))
                return value

        config.__class__ = ObservedConfig

        def undo() -> None:
            config.__class__ = orig_cls
        self._undo = undo

    def uninstall(self) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None


# ------------------------------------------------------------------ run time
_environ_version = [0]


def watch_environ() -> None:
    """Count changes of ``os.environ`` (what the JIT re-reads before each compilation): the
    settings are re-read only when it changed (``config.reload_config()`` costs about as
    much as installing an entry)."""
    cls = type(os.environ)
    if getattr(cls, "_snap_watched", False):
        return
    setitem, delitem = cls.__setitem__, cls.__delitem__

    def __setitem__(self, key, value):
        setitem(self, key, value)
        _environ_version[0] += 1

    def __delitem__(self, key):
        delitem(self, key)
        _environ_version[0] += 1

    cls.__setitem__, cls.__delitem__ = __setitem__, __delitem__
    cls._snap_watched = True


class Settings:
    """One recorded set of settings (``name -> text``), compared with this process's when asked."""

    __slots__ = ("recorded", "_seen_environ", "_same")

    def __init__(self, recorded: dict[str, str]) -> None:
        self.recorded = recorded
        self._seen_environ = -1
        self._same: dict[str, Any] = {}      # name -> a value object found equal to the recorded one

    def changed(self) -> str | None:
        """The first recorded setting whose value differs here now (``numba.config.NAME is now
        here, was in the image``), or None. The ``NUMBA_*`` environment is re-read first if it
        changed, as the JIT does before it compiles."""
        if not self.recorded:
            return None
        from numba.core import config
        if self._seen_environ != _environ_version[0]:      # the first check, or os.environ changed
            config.reload_config()
            self._seen_environ = _environ_version[0]
        same = self._same
        for name, was in self.recorded.items():
            value = getattr(config, name, None)
            if same.get(name, same) is value:       # the very object found equal before
                continue
            now = text(value)
            if now != was:
                return f"numba.config.{name} is {now} here, {was} in the image"
            same[name] = value
        return None
