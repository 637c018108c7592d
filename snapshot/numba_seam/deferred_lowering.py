"""A ``@vectorize`` DUFunc made without importing Numba's ufunc lowering (served processes).

The DUFunc constructor makes the object that lowers calls of the DUFunc from jitted code
(``DUFuncLowerer``, numba/np/ufunc/dufunc.py, numba 0.63-0.68) and that imports
``numba.np.npyimpl`` for its two parts: the kernel class (``make_dufunc_kernel``) and the
function that lowers a ufunc call (``npyimpl.numpy_ufunc_kernel``). With npyimpl come
arrayobj, cpython.unicode, charseq and about fifteen more modules: ~25-35 ms of the k-means
example's start (measured: 12% of its served process), for code a served process never
runs, its jitted callers being in the image.

Here the lowerer is made without them: its ``kernel`` and ``make_ufunc_kernel_fn`` are
computed at their first read (lowering a call of the DUFunc), as the constructor would have
computed them. The import itself -- the *flush* (``import numba.np.npyimpl``) -- happens at
the first of: a read of a lowerer's kernel, a typing or target context refreshing (every
compilation does, and ``CPUContext.load_additional_registries`` imports npyimpl there
anyway: a miss pays nothing more than it would) or installing a registry.

npyimpl's modules register typing templates and lowering implementations in Numba's shared
builtin registries (``@overload``, ``lower_builtin``...), and overload resolution takes the
first template that matches. What was registered after the first DUFunc and before the flush
(the program's ``@overload``s, Numba modules the program imported meanwhile, ``numba.typed``)
would come before npyimpl's entries where the full import puts them after: the flush moves
npyimpl's entries back to where the registries ended at the first DUFunc, and no context has
read those registries in between (the refresh flushes first). A module of npyimpl's own
chain imported meanwhile by another path (``numba.typed`` pulls in a few) keeps its entries
where it ran: the order of a process that imported it first, which Numba allows anyway (a
program without a DUFunc imports them in that order).

Registrations keyed by a type (data models, boxing, ``typeof_impl``) are dictionaries: a
program replacing Numba's own entry for one of Numba's types between its first DUFunc and
the flush would see Numba's entry win instead. No known program does; ``SNAP_NO_DEFER=1``
turns this off with the other deferrals.
"""
from __future__ import annotations

import sys
import threading
from typing import Any

from .post_import import when_imported

_lock = threading.RLock()
# None: nothing deferred; else {registry list attribute -> its length} at the first deferral
_marks: dict[tuple[int, str], tuple[Any, str, int]] | None = None
_flushing = False
generation = 0          # bumped when a flush moved registry entries (readers re-read)


def _registries() -> list[Any]:
    """Numba's shared builtin registries (typing templates, lowering implementations)."""
    from numba.core import imputils
    from numba.core.typing import templates
    return [templates.builtin_registry, imputils.builtin_registry]


def _lists(reg: Any) -> list[tuple[str, list]]:
    return [(name, v) for name, v in vars(reg).items() if isinstance(v, list)]


def pending() -> bool:
    """Is npyimpl's import deferred and not done yet?"""
    return _marks is not None


def flush() -> None:
    """Do the import the DUFunc constructor deferred, its registrations placed where the full
    import places them (see the module's docstring). Cheap when nothing is deferred."""
    global _marks, _flushing, generation
    if _marks is None:
        return
    with _lock:
        if _marks is None or _flushing:
            return           # done by another thread, or npyimpl's own imports (re-entered)
        _flushing = True
        try:
            before = {key: len(getattr(reg, name)) for key, (reg, name, _) in _marks.items()}
            import numba.np.npyimpl  # noqa: F401
            moved = False
            for key, (reg, name, at_defer) in _marks.items():
                lst = getattr(reg, name)
                at_flush = before[key]
                if at_flush > at_defer and len(lst) > at_flush:
                    # [..at_defer] earlier, [at_defer..at_flush] the program's, [at_flush..] Numba's
                    lst[at_defer:] = lst[at_flush:] + lst[at_defer:at_flush]
                    moved = True
            if moved:
                generation += 1
        finally:
            _marks = None
            _flushing = False


def _start() -> None:
    """The first deferral: note where the registries end (what the flush puts Numba's after)."""
    global _marks
    with _lock:
        if _marks is not None or "numba.np.npyimpl" in sys.modules:
            return
        _marks = {(id(reg), name): (reg, name, len(lst)) for reg in _registries()
                  for name, lst in _lists(reg)}


class _Computed:
    """A lowerer attribute computed at its first read (then an ordinary instance attribute)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        flush()
        from numba.np import npyimpl
        from numba.np.ufunc import dufunc
        d = obj.__dict__
        if "kernel" not in d:
            d["kernel"] = dufunc.make_dufunc_kernel(obj.ufunc)
        d.setdefault("make_ufunc_kernel_fn", npyimpl.numpy_ufunc_kernel)
        return d[self.name]


def _patch_dufunc(dufunc_mod) -> None:
    cls = getattr(dufunc_mod, "DUFuncLowerer", None)
    init = getattr(cls, "__init__", None)
    code = getattr(init, "__code__", None)
    # only the constructor this was written against (numba 0.63-0.68): import npyimpl, then
    # UfuncLowererBase.__init__(dufunc, make_dufunc_kernel, npyimpl.numpy_ufunc_kernel)
    if code is None or "npyimpl" not in code.co_varnames + code.co_names or \
            not hasattr(dufunc_mod, "make_dufunc_kernel") or cls.__dict__.get("_snap_deferred"):
        return
    base = cls.__mro__[1]

    def __init__(self, dufunc):
        if "numba.np.npyimpl" in sys.modules:
            init(self, dufunc)
            return
        _start()
        # the base constructor as Numba calls it, the two npyimpl parts left to _Computed
        base.__init__(self, dufunc, lambda ufunc: None, None)
        del self.__dict__["kernel"], self.__dict__["make_ufunc_kernel_fn"]

    __init__.__wrapped__ = init
    cls.__init__ = __init__
    cls.kernel = _Computed("kernel")
    cls.make_ufunc_kernel_fn = _Computed("make_ufunc_kernel_fn")
    cls._snap_deferred = True


def _patch_contexts(_numba) -> None:
    """A typing or target context refreshing, or installing a registry, flushes first (a
    target context's refresh imports npyimpl's modules before it installs anything)."""
    from numba.core import base
    from numba.core.typing import context
    for cls in (base.BaseContext, context.BaseContext):
        for name in ("refresh", "install_registry"):
            orig = cls.__dict__[name]
            if getattr(orig, "_snap_flushes", False):
                continue

            def flushing(self, *args, _orig=orig, **kwargs):
                if _marks is not None:
                    flush()
                return _orig(self, *args, **kwargs)

            flushing.__name__ = flushing.__qualname__ = name
            flushing.__doc__ = orig.__doc__
            flushing.__wrapped__ = orig
            flushing._snap_flushes = True
            setattr(cls, name, flushing)


def defer() -> None:
    """In a served process, before numba is imported: DUFuncs made without npyimpl."""
    when_imported("numba.np.ufunc.dufunc", _patch_dufunc)
    when_imported("numba", _patch_contexts)
