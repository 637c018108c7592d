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


@dataclass
class Recorded:
    """A compile result as it was produced, plus whose it is."""
    owner: Any            # the Dispatcher / DUFunc / LiftedCode that compiled it
    cres: Any
    kind: str             # the hook that saw it: image.kinds DISPATCHER, DUFUNC, CFUNC, GUFUNC, UFUNC
    # the frozen globals and closure cells when it was compiled (validity.frozen_globals,
    # closure_fingerprint), or why not: a workload may rebind them between compilations
    globals: Any = None
    closure: Any = None
    spec: Any = None      # extracted when compiled (then ``owner`` is dropped: see Recorder.keep)


def frozen_now(owner) -> "tuple[dict[str, str] | str, str | None]":
    """The frozen globals and the closure fingerprint of what ``owner`` compiles, taken at
    compile time (an error text instead of globals if they cannot be fingerprinted)."""
    from numba.core import dispatcher as nbdisp
    py_func = owner_py_func(owner)
    if not isinstance(py_func, pytypes.FunctionType):
        return {}, None
    from ..errors import Unfingerprintable
    from ..image.fingerprint import closure_fingerprint
    from ..image.validity import frozen_globals
    try:
        closure = closure_fingerprint(py_func)
    except Unfingerprintable as e:
        closure = f"?{e}"
    if isinstance(owner, nbdisp.ObjModeLiftedWith):
        return {}, closure   # the block runs in object mode: it reads its globals at run time
    try:
        return frozen_globals(py_func), closure
    except Exception as e:  # noqa: BLE001 - the entry is then not servable, with this reason
        return f"{type(e).__name__}: {e}", closure


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
        return signature_text(self.args, self.return_type)


def class_trackers(py_func) -> dict[str, tuple[str, str]]:
    """Classes the function reaches through closure cells or globals that Numba pickled by
    value (cloudpickle: a class made inside a function, raised as an exception): their
    tracker id -> ("cell" | "global", name). Unpickling the same bytes in another process
    makes a new class unless the live one is registered under that id (install.track_classes):
    ``except LocalError`` would then miss what image code raises."""
    from numba.cloudpickle import cloudpickle as cp
    tracked = cp._DYNAMIC_CLASS_TRACKER_BY_CLASS
    out: dict[str, tuple[str, str]] = {}
    code = py_func.__code__
    for name, cell in zip(code.co_freevars, py_func.__closure__ or ()):
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, type) and v in tracked:
            out[tracked[v]] = ("cell", name)
    for name in code.co_names:
        v = py_func.__globals__.get(name)
        if isinstance(v, type) and v in tracked:
            out[tracked[v]] = ("global", name)
    return out
