"""Pickling an entry's payload: Numba's pickler, and references to the live process.

Numba types are pickled (their typecodes are per process and are re-interned on
load). A jitted function referenced from a type (a dispatcher-typed argument) or
a constant is stored as a reference (module, qualname) and resolved against the
live dispatcher at install time: unpickling a dispatcher would build a new one
that never matches the user's. The blobs go into the payload section
(``image.payload``); only installing an entry unpickles one.
"""
from __future__ import annotations

import io
import pickle
import sys
from types import FunctionType
from typing import Any

from ..errors import UnresolvedReference
from ..image.payload import EntryPayload


def _lookup_environment(name: str):
    from numba.core.environment import lookup_environment
    return lookup_environment(name)


def _pickler(buf: io.BytesIO, passed: dict[int, tuple[Any, str]] | None = None):
    """Numba's pickler (cloudpickle for functions by value) + dispatchers by reference.

    ``passed``: the types of jitted functions passed as arguments that cannot be found by
    name (``id`` -> (type, key)): each is written as a reference to the argument type of that
    key (``("argtype", key)``), which the install takes from the call it serves.
    Made on demand: this module is imported on the start-up path, before numba.
    """
    from numba.core import serialize, types
    from numba.core.dispatcher import Dispatcher

    from . import jitclass
    passed = passed or {}

    class Pickler(serialize.NumbaPickler):
        def persistent_id(self, obj):
            if type(obj) is types.Dispatcher:
                got = passed.get(id(obj))
                if got is not None and got[0] is obj:
                    return ("argtype", got[1])
                return None
            if isinstance(obj, Dispatcher):
                f = obj.py_func
                if "<locals>" in f.__qualname__:
                    raise pickle.PicklingError(
                        f"refers to {f.__module__}.{f.__qualname__}, a jitted function made "
                        "inside another function (cannot be found by name; servable once it is "
                        "defined at module level)")
                return ("dispatcher", f.__module__, f.__qualname__)
            if isinstance(obj, FunctionType) and "<locals>" not in obj.__qualname__:
                # the Python function of a jitted function (e.g. a generator type's gen_func):
                # by reference, so types that hold it equal the ones of the live process
                disp = _lookup(obj.__module__, obj.__qualname__)
                if getattr(disp, "py_func", None) is obj:
                    return ("pyfunc", obj.__module__, obj.__qualname__)
            return jitclass.persistent_ref(obj)

    return Pickler(buf, protocol=4)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, arg_types: tuple | None = None, known: dict[str, Any] | None = None) -> None:
        super().__init__(file)
        self.arg_types = arg_types
        self._passed: dict[str, Any] | None = known     # (the build's probe: its own types)

    def passed(self, key: str):
        """The dispatcher type of this key among the argument types of the call served."""
        if self.arg_types is None and self._passed is None:
            from ..errors import Unservable
            raise Unservable("its argument types name a jitted function passed in: installed "
                             "only for a call that passes that function")
        if self._passed is None:
            from ..image.fingerprint import type_key

            from . import dispatcher_types
            self._passed = {}
            for t in dispatcher_types(self.arg_types):
                try:
                    self._passed.setdefault(type_key(t), t)
                except Exception:  # noqa: BLE001 - a freed or unfingerprintable one: no match
                    continue
        t = self._passed.get(key)
        if t is None:
            from ..errors import Unservable
            raise Unservable("the jitted function passed in is not the one its code was compiled with")
        return t

    def persistent_load(self, pid):
        if pid[0] == "argtype":
            return self.passed(pid[1])
        if pid[0] == "jitclass":
            from . import jitclass
            try:
                return jitclass.resolve_ref(pid)
            except LookupError as e:
                raise UnresolvedReference(str(e)) from None
        kind, module, qualname = pid
        obj = _lookup(module, qualname)
        if obj is None or not hasattr(obj, "py_func"):
            raise UnresolvedReference(f"{module}.{qualname}")
        return obj.py_func if kind == "pyfunc" else obj


def _name_generator(payload: EntryPayload) -> EntryPayload:
    """A generator function's type named as this process's Numba names it:
    the build stored it without its function's address (stable names, see
    ``record.generator_init``), and the name is what ``signatures`` and the type's repr
    show. (A type of this process interned before keeps its name: it is that already.)"""
    extra = getattr(payload, "extra", None)      # (a payload of another shape is no concern here)
    if not extra or "generator" not in extra:     # not a generator function
        return payload
    from numba.core import types
    t = payload.return_type
    if isinstance(t, types.Generator) and " at 0x" not in t.name:
        named = object.__new__(types.Generator)       # not interned: only its name is wanted
        named.__init__(t.gen_func, t.yield_type, t.arg_types, t.state_types, t.has_finalizer)
        t.name = named.name
    return payload


def _lookup(module: str, qualname: str) -> Any:
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def dumps_entry(spec, env_names: list[str], rename=lambda name: name) -> bytes:
    from numba.core.dispatcher import _DispatcherBase
    live = _live_cells(spec) if spec.extra.get("objectmode") else {}
    envs = {}
    for name in env_names:
        env = _lookup_environment(name)
        if env is None:
            # its code reads constants (dtypes for boxing, exception classes...) from it:
            # an empty one would crash or misbehave at run time
            raise LookupError(f"the environment {name} of code linked into it no longer exists")
        consts = list(env.consts)
        if name == spec.env_name:
            # a jitted function in a closure cell (made inside a function: found by no name) is
            # put there at install, from the closure (``_bind_live_cells``); the closure's
            # fingerprint, part of the entry's identity, holds its code and options
            consts = [None if i in live and isinstance(c, _DispatcherBase) else c
                      for i, c in enumerate(consts)]
        envs[rename(name)] = (env.globals.get("__name__", spec.module), consts)
    from . import jitclass
    fd = spec.extra["fndesc"]
    slots = spec.extra.get("box_slots", {})
    extra: dict[str, Any] = {jitclass.slot_role(t): t for t in slots.values()}
    if spec.extra.get("objectmode"):
        extra["objectmode"] = True        # dispatched as object-mode code (Dispatcher._insert)
        extra["live_cells"] = live
    if "generator" in spec.extra:
        extra["generator"] = spec.extra["generator"]
    if spec.extra.get("class_ids"):
        extra["class_ids"] = spec.extra["class_ids"]
    if spec.extra.get("warnings"):
        extra["warnings"] = spec.extra["warnings"]     # (category, message, file, line)
    payload = EntryPayload(args=spec.args, return_type=spec.return_type, envs=envs, fndesc=fd,
                           extra=extra)
    buf = io.BytesIO()
    passed = _passed_unnamed(spec)
    _pickler(buf, passed).dump(payload)
    data = buf.getvalue()
    # fail at build time, not at run time
    loads_entry(data, probe=True, known={k: t for t, k in passed.values()})
    return data


def _passed_unnamed(spec) -> dict[int, tuple[Any, str]]:
    """The dispatcher types among the argument types whose jitted function cannot be found by
    name in another process (made inside a function, a fresh ``njit`` of a plain function, or
    freed since): ``id`` -> (type, key), keys as taken when it compiled (``key_passed_functions``).
    Those found by name are pickled by name, as before; a type of a freed function that was
    not keyed when it compiled is left to fail (not servable)."""
    from ..image.fingerprint import type_key

    from . import dispatcher_types
    taken = {id(t): (t, k) for t, k in spec.extra.get("dispatcher_keys") or ()}
    out = {}
    for t in dispatcher_types(spec.args):
        d = t._wr()
        if d is not None:
            f = d.py_func
            if "<locals>" not in f.__qualname__ and _lookup(f.__module__, f.__qualname__) is d:
                continue                  # found by name everywhere: by name
        got = taken.get(id(t))
        if got is not None and got[0] is t:
            out[id(t)] = got
        elif d is not None:
            out[id(t)] = (t, type_key(t))
    return out


def _live_cells(spec) -> dict[int, str]:
    """Object-mode code holds its closure's values in its environment (each ``FreeVar`` a
    constant) and uses those very objects: a list it appends to is the caller's list. The
    payload keeps copies; the index of each constant that is a cell's value, by the cell's
    name, lets the install put the live object back (``Kind.place``)."""
    env = _lookup_environment(spec.env_name)
    f = spec.py_func
    if env is None or f is None or not f.__closure__:
        return {}
    cells = {}
    for name, cell in zip(f.__code__.co_freevars, f.__closure__):
        try:
            cells[id(cell.cell_contents)] = name
        except ValueError:          # an empty cell
            continue
    return {i: cells[id(c)] for i, c in enumerate(env.consts) if id(c) in cells}


def loads_entry(data: bytes | memoryview, probe: bool = False, arg_types: tuple | None = None,
                known: dict[str, Any] | None = None) -> EntryPayload:
    """An entry's payload; ``arg_types``: the argument types of the call it is installed for
    (a jitted function passed in is taken from them; without them such a payload raises
    ``Unservable``)."""
    try:
        payload = _Unpickler(io.BytesIO(data), arg_types, known).load()
        return payload if probe else _name_generator(payload)
    except UnresolvedReference:
        if probe:
            return None  # type: ignore[return-value]  (refs resolve in the user's process)
        raise
