"""The ONE place that touches Numba internals (supported: numba 0.63 to 0.68).

Everything else in snapshot/ works on plain records and Numba's public types, so
a Numba upgrade is a change to this package (and its tests), not a hunt through
the code:

* ``kinds``: one strategy per kind of entry (identity, extraction, placing);
* ``record``, ``gufunc_record``, ``jitclass``, ``addresses`` (training run):
  hooks that see every specialization, code library and process address;
* ``observe`` (training run): what each compilation consulted, an entry's inputs;
* ``children`` (training run): what the workload's child processes compile, noted;
* ``install``, ``standins``, ``resolver``, ``cache_guard`` (run time): hooks on
  Numba's compile requests, the objects that hold image code, the imports'
  addresses, and keeping Numba's on-disk cache loadable;
* ``settings``, ``cpu``, ``compile_warnings`` (both sides): ``numba.config`` read while
  compiling and compared at run time; the CPU the JIT compiles for; the warnings
  compiling gives;
* ``values``: what identifies Numba's objects when a compilation reads one;
* ``pickling``: the payload's Numba types and constants;
* ``typecodec``: argument types as data (miss reports: parsed, never unpickled);
* ``post_import``: a leaf (run a callback right after a module is imported);
* ``deferred`` (run time): what ``import numba`` imports and serving never uses, executed
  at its first use;
* ``releases``: which Numba this is, and every difference between the supported
  releases as a flag named by the release that made it (no version checks elsewhere).

This module itself stays cheap to import: the runtime path imports it.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from . import post_import, values  # noqa: F401 - values: what identifies Numba objects (fingerprint)

# the supported minors: releases.SUPPORTED (imported lazily there: it imports numba)

ENV_PREFIX = "_ZN08NumbaEnv"
UNRESOLVED_PREFIX = ".numba.unresolved$"


class Patches:
    """Method replacements on Numba classes, undone together (tests and the trace use undo)."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, hook: Callable) -> None:
        """Replace ``owner.name`` by ``hook(orig, *args, **kw)``."""
        def make(orig):
            def wrapper(*args, **kw):
                return hook(orig, *args, **kw)
            return wrapper

        self.replace(owner, name, make)

    def replace(self, owner: Any, name: str, make: Callable[[Callable], Callable]) -> None:
        """Replace ``owner.name`` by ``make(orig)`` (for hot paths: one call layer, not two)."""
        orig = owner.__dict__[name]
        new = make(orig)
        # what functools.wraps copies that matters here, at a fifth of its cost (activation
        # installs a dozen of these)
        new.__name__ = getattr(orig, "__name__", name)
        new.__qualname__ = getattr(orig, "__qualname__", name)
        new.__doc__ = getattr(orig, "__doc__", None)
        new.__module__ = getattr(orig, "__module__", None)
        new.__wrapped__ = orig
        setattr(owner, name, new)
        self._undo.append(lambda: setattr(owner, name, orig))

    def add(self, owner: Any, name: str, value: Any) -> None:
        """Give ``owner`` an attribute it does not have (undo deletes it)."""
        if name in owner.__dict__:
            raise RuntimeError(f"{owner.__name__}.{name} exists already")
        setattr(owner, name, value)
        self._undo.append(lambda: delattr(owner, name))

    def when_imported(self, module: str, install: Callable[[Any], None]) -> None:
        """Run ``install(mod)`` now if ``module`` is imported, else right after its import.

        Hooks on parts of Numba a program may never use (``@cfunc``, jitclass)
        must not import them at activation: each costs about a millisecond.
        """
        post_import.when_imported(module, install)
        self._undo.append(lambda: post_import.discard(module, install))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


def compiler_entry_points() -> list[tuple[Any, str]]:
    """(owner, attribute) of every way Numba can start compiling native code."""
    from numba.core import codegen, compiler, dispatcher
    from numba.np.ufunc import ufuncbuilder
    return [
        (compiler, "compile_extra"),
        (compiler, "compile_ir"),
        (dispatcher._FunctionCompiler, "_compile_core"),
        (ufuncbuilder.UFuncDispatcher, "_compile_core"),
        (codegen.CPUCodeLibrary, "finalize"),
    ]


def owner_py_func(owner):
    """The Python function a dispatcher, DUFunc, @cfunc or gufunc builder compiles (or None)."""
    return (getattr(owner, "py_func", None) or getattr(getattr(owner, "_dispatcher", None), "py_func", None)
            or getattr(owner, "_pyfunc", None))


def split_signature(sig) -> tuple[tuple, Any]:
    """(argument types, return type or None) of anything ``Dispatcher.compile`` accepts."""
    from numba.core import sigutils
    args, return_type = sigutils.normalize_signature(sig)
    return tuple(args), return_type


def signature_text(args, return_type=None) -> str:
    """Readable signature: ``(float64, int64)``, with `` -> float64`` when the return type is given."""
    text = "(" + ", ".join(map(type_str, args)) + ")"
    return text if return_type is None else f"{text} -> {type_str(return_type)}"


def type_str(t) -> str:
    """Readable and stable text of a Numba type (no object addresses)."""
    from numba.core import types
    if isinstance(t, types.Dispatcher):
        f = t.dispatcher.py_func
        return f"dispatcher({f.__module__}.{f.__qualname__})"
    text = str(t)
    # generator types name their Python function with its address
    text = _FUNC_ADDR.sub(">", text) if " at 0x" in text else text
    # jitclass types are named after their class's address (a counter in the training run):
    # the text a miss is matched with must read the same in every process
    return _JITCLASS_ADDR.sub(r"\1#", text) if "jitclass." in text else text


_FUNC_ADDR = re.compile(r" at 0x[0-9a-f]+>")
_JITCLASS_ADDR = re.compile(r"(jitclass\.[^#<>\s]*)#[0-9a-f]+(?=<)")


def dispatcher_types(types_, depth: int = 0) -> list:
    """The ``types.Dispatcher`` types among ``types_`` and inside their tuple types: jitted
    functions passed as arguments (``f(g)``, a sort key). Such a type holds its dispatcher
    object weakly and equals only itself: across processes it is matched by the key of the
    function it wraps (``fingerprint.type_key``), never by the object."""
    from numba.core import types
    out = []
    for t in types_:
        if type(t) is types.Dispatcher:
            out.append(t)
        elif isinstance(t, types.BaseTuple) and depth < 8:
            out.extend(dispatcher_types(t.types, depth + 1))
    return out


def set_cpu_target(name: str, features: str) -> None:
    """Make Numba's JIT optimize and generate code for this CPU (training run only):
    set before anything compiles, the optimizer's cost models and the backend both see
    the target CPU, not the build machine's."""
    from numba.core import config
    config.CPU_NAME = name
    config.CPU_FEATURES = features


def is_compilable(owner) -> bool:
    """Is ``owner`` what ``compile_signature`` compiles: a jitted function, a @vectorize or
    @guvectorize ufunc (not any object with a ``compile`` method)?"""
    from numba.core.dispatcher import Dispatcher
    from numba.np.ufunc.dufunc import DUFunc
    from numba.np.ufunc.gufunc import GUFunc
    return isinstance(owner, (Dispatcher, DUFunc, GUFunc))


def compile_signature(owner, args: tuple) -> None:
    """Compile ``owner`` for these argument types, as a call with them would."""
    if hasattr(owner, "_compile_for_argtys"):       # @vectorize (DUFunc)
        owner._compile_for_argtys(tuple(args))
    else:
        owner.compile(tuple(args))
