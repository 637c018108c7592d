"""Introspection of served entries: answered as the JIT would, from a side compilation.

A served entry's code is the JIT's code, but the image keeps no LLVM IR, typed IR or
annotation. When something inspects an entry (``Dispatcher.inspect_llvm``,
``inspect_asm``, ``inspect_cfg``, ``inspect_disasm_cfg``, ``inspect_types``,
``get_annotation_info``, ``cres.library.get_llvm_str()``...), the specialization is
compiled once more with Numba's own compiler, exactly as the dispatcher would compile
it (its ``_FunctionCompiler``: same flags, target options, ``locals``, pipeline class,
argument and explicit return types), and the answer comes from that result. The side
compilation

* goes through ``_FunctionCompiler._compile_core``, below ``Dispatcher.compile``: the
  dispatcher's overloads, its C dispatch table and its stats are untouched, snap's
  serving hooks (on ``Dispatcher.compile``) are not asked, no miss is reported;
* runs under the ``numba.config`` settings the entry's compilation read (recorded in the
  image: settings.py), not those in force when something inspects (Numba's tests wrap
  ``inspect_llvm`` in ``override_config("OPT", 0)``; the JIT answers with the code it
  compiled before);
* gets the entry's own function identity number (``FunctionIdentity.unique_id``, part of
  every mangled name), so its symbols are those of the code the image holds;
* gets its own ``Environment`` (the served entry's stays in Numba's registry);
* is never executed: nothing refers to its entry point;
* links the *side* libraries of served callees (``inspecting()``: an ``ImageLibrary``
  then links its side library, not its forwarders), so the IR is the JIT's, callees'
  code included.

Nothing is paid unless something inspects: at install the stand-in keeps the owner, the
return type and the recorded settings (references), and the compile result a
``LazyAnnotation`` (about 0.4 us an entry in all); this module is imported at the first
inspection (what the serving path needs, ``inspecting()`` and ``LazyAnnotation``, is in
standins.py); results are cached per entry. ``inspecting()`` is true while a side
compilation runs: test harnesses that make Numba's compiler raise (SNAPTEST_FORBID_COMPILE)
let it through, and scripts/numba_suite.py counts it apart, since inspection is no served call.

The served compile result's ``metadata`` (``get_metadata``, ``parallel_diagnostics``) takes
the side compilation's on first read of a key not snap's (standins.LazyMetadata).
Not answered from a side compilation: entries of objmode blocks, DUFunc loops,
@cfunc and gufunc kernels (``Kind.inspectable``: their owners do not compile the entry's
function alone; they raise NotImplementedError saying so). A recursive function's
inspection links its own image code (forwarders) where the JIT had a placeholder.
"""
from __future__ import annotations

import ast
import contextlib
import itertools
from typing import Any

from _thread import get_ident

from .standins import _inspect_depth
from .standins import inspecting  # noqa: F401 - the public name


def can_inspect(owner) -> bool:
    """Can entries of ``owner`` be compiled again on demand (a dispatcher's own compiler)?"""
    compiler = getattr(owner, "_compiler", None)
    return compiler is not None and hasattr(compiler, "_compile_core")


def side_compile(owner, fndesc, return_type, settings: dict[str, str] | None = None) -> Any:
    """A compile result for ``fndesc``'s specialization of ``owner``, compiled as the JIT
    would compile it (see module doc). ``return_type``: the explicit return type the entry
    was compiled for, or None (inferred); ``settings``: the ``numba.config`` settings its
    compilation read (the JIT compiled it under them; an inspection may run under others,
    e.g. ``override_config('OPT', 0)`` around ``inspect_llvm``, which reads the JIT's
    existing code)."""
    from numba.core import event as ev
    timers: dict[str, float] = {}
    # the lock timings Dispatcher.compile adds to a compile result's metadata ("timers")
    with ev.install_timer("numba:compiler_lock", lambda d: timers.setdefault("compiler_lock", d)), \
            ev.install_timer("numba:llvm_lock", lambda d: timers.setdefault("llvm_lock", d)), \
            _settings(settings or {}):
        cres = _side_compile(owner, fndesc, return_type)
    cres.metadata.setdefault("timers", timers)
    return cres


@contextlib.contextmanager
def _settings(recorded: dict[str, str]):
    """``numba.config`` set to the recorded settings (values as their text, settings.text),
    restored after."""
    from numba.core import config
    saved: dict[str, Any] = {}
    try:
        for name, text in recorded.items():
            try:
                value = _value(text, config)
            except (ValueError, SyntaxError):      # not a literal (an enum): left as it is
                continue
            saved[name] = getattr(config, name, None)
            setattr(config, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(config, name, value)


def _value(text: str, config) -> Any:
    """A setting's value from its recorded text: a literal, or ``config.OPT``'s ``_OptLevel(3)``."""
    if text.startswith("_OptLevel(") and text.endswith(")"):
        return config._OptLevel(ast.literal_eval(text[len("_OptLevel("):-1]))
    return ast.literal_eval(text)


def _side_compile(owner, fndesc, return_type) -> Any:
    from numba.core.bytecode import FunctionIdentity
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.environment import Environment
    with global_compiler_lock:
        memo = Environment._memo
        served_env = memo.pop(fndesc.env_name, None)      # the side compile gets its own
        counter = FunctionIdentity._unique_ids
        # The entry's function is the first identity made, and gets its recorded number;
        # functions first compiled inside it (overload implementations) the next ones, as in
        # the training run that compiled them with it. Numbering then continues past every
        # number given (no two functions share one).
        side = FunctionIdentity._unique_ids = itertools.count(fndesc.uid) \
            if isinstance(fndesc.uid, int) else counter
        me = get_ident()
        _inspect_depth[me] = _inspect_depth.get(me, 0) + 1
        try:
            # as inside Dispatcher.compile: the dispatcher is compiling, so its calls of itself
            # type as recursive calls, as when the JIT compiled it. Only for a function that
            # names itself: in a mutual recursion the other function's side compile (linked
            # in) would find this one "compiling" with no recursive frame to type against.
            counting = getattr(owner, "_compiling_counter", None)
            py_func = getattr(owner, "py_func", None)
            if counting is None or py_func is None or py_func.__name__ not in py_func.__code__.co_names:
                return owner._compiler._compile_core(tuple(fndesc.argtypes), return_type)
            with counting:
                return owner._compiler._compile_core(tuple(fndesc.argtypes), return_type)
        finally:
            _inspect_depth[me] -= 1
            if not _inspect_depth[me]:
                del _inspect_depth[me]
            if side is not counter:
                FunctionIdentity._unique_ids = itertools.count(max(next(counter), next(side)))
            if served_env is not None:
                memo[fndesc.env_name] = served_env
