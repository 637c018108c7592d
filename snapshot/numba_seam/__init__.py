"""The ONE place that touches Numba internals (supported: numba 0.68.x).

Everything else in snapshot/ works on plain records, so a Numba upgrade is a
change to this package (and its tests), not a hunt through the code:

* ``record``  (trace side): hooks that see every specialization and code
  library, and extraction of what the build needs from a compile result;
* ``install`` (runtime side): hooks on first use and compilation of dispatchers, and
  the pieces that put an image function into a dispatcher without compiling.

This module itself stays cheap to import: the runtime path imports it.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from .. import post_import

SUPPORTED_NUMBA = ("0.68",)

ENV_PREFIX = "_ZN08NumbaEnv"
GUFUNC_KINDS = ("gufunc", "ufunc")      # entry kinds of gufunc builders' kernels (see gufunc.py)
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


def numba_config() -> dict[str, Any]:
    """The Numba settings that change generated code (part of the image fingerprint)."""
    from numba.core import config
    # CPU_NAME / CPU_FEATURES are not here: the image records its CPU target and
    # the features it requires, which is what decides whether it can run here.
    names = ("OPT", "LOOP_VECTORIZE", "SLP_VECTORIZE", "ENABLE_AVX",
             "BOUNDSCHECK", "FASTMATH", "DEBUGINFO_DEFAULT", "NRT_STATS", "DISABLE_JIT",
             "LLVM_REFPRUNE_PASS", "USE_LLVMLITE_MEMORY_MANAGER", "THREADING_LAYER")
    return {n: str(getattr(config, n, None)) for n in names}


def objmode_block(owner) -> dict[str, int]:
    """Target options standing in for a ``with objmode`` block's dispatcher.

    The block is told apart from other blocks of its function by its first line,
    relative to the function's (moving the function elsewhere does not matter).
    """
    return {"objmode_block": owner.func_ir.loc.line - owner.py_func.__code__.co_firstlineno}


def owner_py_func(owner):
    """The Python function a dispatcher, DUFunc, @cfunc or gufunc builder compiles (or None)."""
    return (getattr(owner, "py_func", None) or getattr(getattr(owner, "_dispatcher", None), "py_func", None)
            or getattr(owner, "_pyfunc", None))


def compile_options(owner, kind: str, targetoptions: dict | None = None) -> str:
    """Every compile input of ``owner`` besides the function and the signature, as text.

    Target options (``targetoptions``: the owner's own unless given), ``locals=``,
    a custom pipeline class and a DUFunc's identity: two owners of one function that
    differ in any of them compile different code (see snapshot/validity.py).
    """
    from ..fingerprint import canonical_options
    if kind == "objmode":
        return canonical_options(objmode_block(owner))
    disp = getattr(owner, "_dispatcher", owner)          # a DUFunc compiles through its dispatcher
    if targetoptions is None:
        targetoptions = getattr(owner, "targetoptions", None)
        if targetoptions is None and hasattr(owner, "_compiler"):     # @cfunc
            targetoptions = owner._compiler.targetoptions
    text = canonical_options(dict(targetoptions or {}))
    compiler = getattr(disp, "_compiler", None)
    local_types = getattr(compiler, "locals", None) or getattr(disp, "locals", None)
    if local_types:
        text += ";locals=" + canonical_options({k: str(v) for k, v in local_types.items()})
    pipeline = getattr(compiler, "pipeline_class", None)
    if pipeline is not None:
        name = f"{pipeline.__module__}.{pipeline.__qualname__}"
        if name != "numba.core.compiler.Compiler":
            text += ";pipeline=" + name
    if kind == "dufunc":
        text += ";identity=" + repr(owner.identity)
    return text


def split_signature(sig) -> tuple[tuple, Any]:
    """(argument types, return type or None) of anything ``Dispatcher.compile`` accepts."""
    from numba.core import sigutils
    args, return_type = sigutils.normalize_signature(sig)
    return tuple(args), return_type


_TYPE_ID = re.compile(r"#[0-9a-f]+\b")     # jitclass "Acc#7f..<", "DeferredType#1403..."
_FUNC_NAMED = re.compile(r"<function ([^ >]+)(?: at 0x[0-9a-f]+| #[0-9]+)>")
PROCESS_ADDRESS = re.compile(r"0x[0-9a-f]{6,}")


def type_key(t) -> str:
    """A key of a Numba type that is the same in every process for the same type.

    Numba keys some types by ``id()`` (``Omitted`` of an unhashable default,
    dispatchers, jitclasses): those are keyed by value or by name here. A key that
    still names an address (``PROCESS_ADDRESS``) cannot be matched in another process.
    Equal keys are a pre-filter: an install also compares the unpickled types.
    """
    from numba.core import types
    if isinstance(t, types.Omitted):
        from ..validity import value_key
        return f"omitted({value_key(t.value)})"
    if isinstance(t, types.Dispatcher):
        from ..fingerprint import code_fingerprint
        f = t.dispatcher.py_func           # ReferenceError if the dispatcher is gone
        return f"dispatcher({f.__module__}.{f.__qualname__}:{code_fingerprint(f.__code__)})"
    text = str(t)
    if "#" in text:
        text = _TYPE_ID.sub("", text)
    if "<function " in text:
        text = _FUNC_NAMED.sub(r"<function \1>", text)
    return text


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
    return _FUNC_ADDR.sub(">", text) if " at 0x" in text else text


_FUNC_ADDR = re.compile(r" at 0x[0-9a-f]+>")
