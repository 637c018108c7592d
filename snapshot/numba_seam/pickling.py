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


def _pickler(buf: io.BytesIO):
    """Numba's pickler (cloudpickle for functions by value) + dispatchers by reference.

    Made on demand: this module is imported on the start-up path, before numba.
    """
    from numba.core import serialize
    from numba.core.dispatcher import Dispatcher

    from . import jitclass

    class Pickler(serialize.NumbaPickler):
        def persistent_id(self, obj):
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
    def persistent_load(self, pid):
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
    envs = {}
    for name in env_names:
        env = _lookup_environment(name)
        if env is None:
            # its code reads constants (dtypes for boxing, exception classes...) from it:
            # an empty one would crash or misbehave at run time
            raise LookupError(f"the environment {name} of code linked into it no longer exists")
        envs[rename(name)] = (env.globals.get("__name__", spec.module), list(env.consts))
    from . import jitclass
    fd = spec.extra["fndesc"]
    slots = spec.extra.get("box_slots", {})
    extra: dict[str, Any] = {jitclass.slot_role(t): t for t in slots.values()}
    if spec.extra.get("objectmode"):
        extra["objectmode"] = True        # dispatched as object-mode code (Dispatcher._insert)
        extra["live_cells"] = _live_cells(spec)
    if "generator" in spec.extra:
        extra["generator"] = spec.extra["generator"]
    if spec.extra.get("class_ids"):
        extra["class_ids"] = spec.extra["class_ids"]
    if spec.extra.get("warnings"):
        extra["warnings"] = spec.extra["warnings"]     # (category, message, file, line)
    payload = EntryPayload(args=spec.args, return_type=spec.return_type, envs=envs, fndesc=fd,
                           extra=extra)
    buf = io.BytesIO()
    _pickler(buf).dump(payload)
    data = buf.getvalue()
    loads_entry(data, probe=True)  # fail at build time, not at run time
    return data


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


def loads_entry(data: bytes | memoryview, probe: bool = False) -> EntryPayload:
    try:
        payload = _Unpickler(io.BytesIO(data)).load()
        return payload if probe else _name_generator(payload)
    except UnresolvedReference:
        if probe:
            return None  # type: ignore[return-value]  (refs resolve in the user's process)
        raise
