"""What image code needs from this process before it runs: Numba's runtime pieces
(threading layer, a light ndarray typeof) and the addresses of its imports."""
from __future__ import annotations

import ctypes
from typing import Callable

import llvmlite.binding as ll


# What ``numba.np.ufunc.parallel._launch_threads`` registers with llvmlite (its own calls of
# ``ll.add_symbol``, numba 0.68): the threading layer's entry points. Image code importing one
# of these runs on the threading layer, which the JIT starts when it compiles such code.
THREADING_SYMBOLS = frozenset({
    "numba_parallel_for", "do_scheduling_signed", "do_scheduling_unsigned", "allocate_sched",
    "deallocate_sched", "get_num_threads", "set_num_threads", "get_thread_id",
    "set_parallel_chunksize", "get_parallel_chunksize", "get_sched_size"})


def prepare_runtime(threads: bool) -> None:
    """What the image's code needs from Numba's runtime, without compiling anything.

    ``rtsys.initialize`` would JIT-compile the NRT module: the image carries its
    own copy. The threading layer is started here only for an image that does not
    say which of its entries need it (``threads``: built before entries recorded
    it); otherwise it starts when such an entry is installed (``start_threads``),
    as the JIT starts it when it compiles such code, and not before: a process
    that started it cannot fork safely (GNU OpenMP), and its workers' threads exist.
    """
    if threads:
        start_threads()


def threads_started() -> bool:
    """Has this process started Numba's threading layer (compiled or installed code using it)?"""
    from numba.np.ufunc import parallel
    return bool(parallel._is_initialized)


def start_threads() -> None:
    """Start Numba's threading layer (once per process; Numba's own function, which chooses
    the layer from ``numba.config`` as it is now, like the JIT's first parallel compile)."""
    from numba.np.ufunc import parallel
    parallel._launch_threads()


def lighten_array_typeof() -> None:
    """Type ndarray arguments without importing ``numpy.ma`` (~10 ms at the first call; done
    at activation, before the program's first call types its arguments).

    Numba's ``typeof`` for ndarrays starts with ``isinstance(val, np.ma.MaskedArray)``
    and NumPy imports ``numpy.ma`` lazily on that attribute access. No MaskedArray
    can exist before ``numpy.ma`` is imported, so until then the check is skipped;
    the rest is Numba's ``_typeof_ndarray`` (numba/core/typing/typeof.py) verbatim.
    """
    import sys

    import numpy as np
    from numba.core import errors, types
    from numba.core.typing import typeof as nb_typeof
    from numba.np import numpy_support
    original = nb_typeof.typeof_impl.dispatch(np.ndarray)
    if getattr(original, "_snap_light", False):
        return                 # done (one per process, by the first image activated)

    def typeof_ndarray(val, c):
        if "numpy.ma" in sys.modules:
            return original(val, c)
        try:
            dtype = numpy_support.from_dtype(val.dtype)
        except errors.NumbaNotImplementedError:
            raise errors.NumbaValueError(f"Unsupported array dtype: {val.dtype}")
        layout = numpy_support.map_layout(val)
        readonly = not val.flags.writeable
        return types.Array(dtype, val.ndim, layout, readonly=readonly)

    typeof_ndarray._snap_light = True
    nb_typeof.typeof_impl.register(np.ndarray)(typeof_ndarray)


_dlsym = ctypes.CDLL(None).dlsym
_dlsym.restype, _dlsym.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]


def make_resolver() -> Callable[[str], int | None]:
    """Name -> address for the image's imports, straight from Numba's helper tables.

    Registering the ~400 helpers into llvmlite's symbol table one call at a time
    (what a JIT process does) costs ~10 ms; the image needs a few dozen and can
    read them from the same tables. What is not there (libc, libm, the C API,
    the threading layer, the hash secret) is looked up in llvmlite's table, then
    by the loader with dlsym.
    """
    import builtins

    from numba import _dynfunc, _helperlib
    from numba.core.runtime import _nrt_python
    helpers, dynfunc, nrt = _helperlib.c_helpers, _dynfunc.c_helpers, _nrt_python.c_helpers

    def helper(name: str) -> int | None:
        # the names Numba registers: libm replacements plain, "numba_" + helper,
        # "NRT_" + runtime function (those starting with "_" as they are)
        if name.startswith("NRT_"):
            return nrt.get(name[4:]) if not name[4:].startswith("_") else None
        if name.startswith("numba_"):
            k = name[6:]
            addr = dynfunc.get(k)
            return addr if addr is not None else helpers.get(k)
        if name.startswith("_"):
            return nrt.get(name) if name != "_Py_NoneStruct" else id(None)
        return helpers.get(name)

    def resolve(name: str) -> int | None:
        addr = helper(name)        # direct lookups: no merged table of ~450 names per activation
        if addr is not None:
            return addr
        if name.startswith("PyExc_"):
            # Numba means the exception object itself, not libpython's pointer variable.
            obj = getattr(builtins, name[6:], None)
            if isinstance(obj, type) and issubclass(obj, BaseException):
                return id(obj)
        if name.startswith(("Py", "_Py")):
            # the C API: libpython's own symbols, which Numba never overrides in LLVM's table;
            # dlsym directly (llvmlite's lookup costs ~40 us a name on a cold start)
            addr = _dlsym(None, name.encode())      # RTLD_DEFAULT
            if addr:
                return addr
        if name.startswith("_numba_hashsecret_"):
            from numba.cpython import hashing  # noqa: F401  (registers the hash secret symbols)
        return ll.address_of_symbol(name) or None

    return resolve
