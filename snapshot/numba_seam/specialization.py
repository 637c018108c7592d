"""What the training run keeps of each compilation, and what the build reads from it.

``Recorded`` is a compile result as it was produced (with the frozen globals and
closure taken at that moment); ``Specialization`` is what the build needs to
know about it, extracted by its kind's strategy (``kinds.py``).
"""
from __future__ import annotations

import types as pytypes
from dataclasses import dataclass, field
from typing import Any

from . import owner_py_func, signature_text
from .addresses import references


@dataclass
class Recorded:
    """A compile result as it was produced, plus whose it is."""
    owner: Any            # the Dispatcher / DUFunc / LiftedCode that compiled it
    cres: Any
    kind: str             # the hook that saw it: image.kinds DISPATCHER, DUFUNC, CFUNC, GUFUNC, UFUNC
    # what its compilation consulted (observe.Inputs, from the compile result), and the
    # closure cells' fingerprint when it was compiled (a cell may be bound only afterwards)
    inputs: Any = None
    closure: Any = None
    cells: Any = None     # each closure cell's fingerprint (what a miss names when one differs)
    spec: Any = None      # extracted when compiled (then ``owner`` is dropped: see Recorder.keep)


def observed_now(owner, cres) -> "tuple[Any, str | None, dict[str, str]]":
    """What compiling ``cres`` consulted (``observe.Inputs``; None if no compilation was
    observed) and the closure of ``owner``'s function (its fingerprint, and each cell's),
    taken right after."""
    inputs = (getattr(cres, "metadata", None) or {}).get("snap_inputs")
    py_func = owner_py_func(owner)
    if not isinstance(py_func, pytypes.FunctionType):
        return inputs, None, {}
    from ..errors import Unfingerprintable
    from ..image.fingerprint import closure_cells, closure_fingerprint
    try:
        closure = closure_fingerprint(py_func)
    except Unfingerprintable as e:
        closure = f"?{e}"
    except Exception as e:  # noqa: BLE001 - the entry is then not servable, with this reason
        closure = f"?{type(e).__name__}: {e}"
    return inputs, closure, closure_cells(py_func)


@dataclass
class Specialization:
    """What the build needs to know about one compiled specialization."""
    kind: str
    owner: Any
    py_func: pytypes.FunctionType | None
    module: str
    qualname: str
    options: dict
    args: tuple
    return_type: Any
    library: Any
    environment: Any
    mangled: str
    wrapper: str | None        # CPython wrapper symbol (dispatchers)
    cfunc: str | None          # C wrapper symbol, for first-class function use
    env_name: str
    loop: str | None = None    # ufunc loop symbol (dufunc)
    parfors: bool = False
    internal: bool = False     # a Numba-internal helper only ever called from compiled code
    reason: str | None = None  # why it cannot be served (None = servable)
    extra: dict = field(default_factory=dict)

    @property
    def signature(self) -> str:
        # (the text made when it was recorded: a dispatcher in its types may be freed since)
        return self.extra.get("signature") or signature_text(self.args, self.return_type)


def key_passed_functions(spec: "Specialization") -> None:
    """Keys of a specialization's jitted functions passed as arguments, taken while they live.

    Numba's ``types.Dispatcher`` holds its dispatcher weakly, and a function made inside
    another one and passed in (``typed.List.sort(key=...)`` wraps its key in a new ``njit``
    every call) is usually gone when the image is built. What the build needs of it is taken
    at compile time: each argument's key (``fingerprint.type_key``: the wrapped function's
    name, code, defaults, closure and options, what every process computes alike), the key
    of each dispatcher type (the payload refers to it through the argument it types:
    ``pickling``), and the classes its code raises (``class_trackers``). Nothing is kept of
    the dispatcher itself."""
    from . import dispatcher_types
    try:
        found = dispatcher_types((*spec.args, spec.return_type))
    except Exception:  # noqa: BLE001 - then nothing is taken (the build says why)
        return
    if not found:
        return
    from ..image.fingerprint import type_key
    try:
        spec.extra["argkeys"] = tuple(type_key(t) for t in spec.args)
        spec.extra["dispatcher_keys"] = [(t, type_key(t)) for t in found]
        spec.extra["class_ids"] = class_trackers(spec.py_func, spec.args)
    except Exception:  # noqa: BLE001 - e.g. an unfingerprintable closure: the build gives the reason
        for k in ("argkeys", "dispatcher_keys", "class_ids"):
            spec.extra.pop(k, None)


def arg_keys(spec: "Specialization") -> tuple:
    """``type_key`` of each argument type: as taken when it compiled (``key_passed_functions``),
    else now."""
    keys = spec.extra.get("argkeys")
    if keys is not None:
        return tuple(keys)
    from ..image.fingerprint import type_key
    return tuple(type_key(t) for t in spec.args)


def class_trackers(py_func, args: tuple = ()) -> dict[str, tuple[tuple[str, str | int], ...]]:
    """Classes that Numba pickled by value (cloudpickle: a class made inside a function,
    raised as an exception) and that the entry's code may raise: their tracker id -> the
    path that reaches the class from the entry's function (``install.track_classes``).
    Unpickling the same bytes in another process makes a new class unless the live one is
    registered under that id: ``except LocalError`` would then miss what image code raises.

    The code of an entry is its own and that of every function compiled into it: jitted
    callees reached through its globals or closure cells, called directly or used as
    first-class function values (``types.FunctionType``), or passed as arguments
    (``args``: dispatcher-typed argument types), whose own entries a process may never
    install (the caller's image code calls theirs). So the path goes through them:
    ``("arg", i)`` starts at the jitted function of the entry's argument type ``i``;
    steps ``("cell" | "global", name)`` read the current function's closure cell or global,
    ``("item", i)`` an element of a tuple or list, and a jitted function reached midway
    continues with its Python function.
    """
    from numba.cloudpickle import cloudpickle as cp
    from numba.core.dispatcher import _DispatcherBase
    tracked = cp._DYNAMIC_CLASS_TRACKER_BY_CLASS
    out: dict[str, tuple[tuple[str, str | int], ...]] = {}
    if not len(tracked):
        return out
    seen: set[int] = set()
    queue: list[tuple[Any, tuple]] = [(py_func, ())]
    for i, t in enumerate(args):
        disp = getattr(t, "dispatcher", None)      # types.Dispatcher: a jitted function passed in
        if isinstance(disp, _DispatcherBase) and isinstance(disp.py_func, pytypes.FunctionType):
            queue.append((disp.py_func, (("arg", i),)))
    while queue:
        func, path = queue.pop(0)          # breadth first: the shortest path to each class
        if id(func) in seen or not isinstance(func, pytypes.FunctionType):
            continue
        seen.add(id(func))
        for step, value in references(func):
            _follow(value, path + (step,), tracked, out, queue, _DispatcherBase, depth=0)
    return out


def _follow(value, path: tuple, tracked, out: dict, queue: list, jitted: type, depth: int) -> None:
    if isinstance(value, type):
        try:
            tid = tracked.get(value)
        except TypeError:                   # an unhashable class: never pickled by value
            return
        if tid is not None and tid not in out:
            out[tid] = path
        return
    if isinstance(value, (tuple, list)) and depth < 2:    # e.g. a global tuple of functions
        for i, item in enumerate(value[:64]):
            _follow(item, path + (("item", i),), tracked, out, queue, jitted, depth + 1)
        return
    if isinstance(value, jitted) and isinstance(getattr(value, "py_func", None), pytypes.FunctionType):
        queue.append((value.py_func, path))  # a jitted function: its code is compiled in
