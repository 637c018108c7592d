"""Stable fingerprints: of code, closures, values, Numba types, target options, source files.

Why not ``marshal.dumps(code)`` or ``hash()``: neither is stable across processes
(marshal interns refs by identity, ``hash`` of str is salted). Why not ``co_code``
alone: it misses edits to constants (``x + 1`` -> ``x + 100``). Everything here is
a pure function of its input that gives the same hex string in every process.
"""
from __future__ import annotations

import hashlib
import re
import struct
import sys
import types as pytypes
import weakref
from typing import Any, Callable, Iterator

from ..errors import Unfingerprintable

# Bump when the fingerprint algorithm changes: old images then read as stale.
ALGORITHM = "4"


def _h() -> "hashlib._Hash":
    return hashlib.blake2b(digest_size=16)


def code_fingerprint(code: pytypes.CodeType) -> str:
    """Recursive fingerprint of a code object: bytecode, constants, names, nested code.

    Line numbers and file names are left out on purpose: moving a function or
    renaming its file does not change what Numba compiles from it.
    """
    h = _h()
    _feed_code(h, code)
    return h.hexdigest()


def _feed_code(h, code: pytypes.CodeType) -> None:
    h.update(b"code(")
    h.update(code.co_code)
    for attr in ("co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_flags"):
        h.update(str(getattr(code, attr)).encode())
    for names in (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars):
        h.update(repr(names).encode())
    for const in code.co_consts:
        if isinstance(const, pytypes.CodeType):
            _feed_code(h, const)
        else:
            h.update(_const_repr(const))
    h.update(b")")


def _const_repr(const: Any) -> bytes:
    # Constants of code objects are immutable literals; repr is stable for all of
    # them except frozensets (iteration order follows the salted str hash).
    if isinstance(const, frozenset):
        return b"frozenset" + repr(sorted(map(repr, const))).encode()
    if isinstance(const, tuple):
        return b"(" + b",".join(_const_repr(c) for c in const) + b")"
    return (type(const).__name__ + ":" + repr(const)).encode()


def jitted_function(v: Any) -> tuple[pytypes.FunctionType | None, str]:
    """(Python function, compile options text) of a dispatcher, DUFunc or GUFunc, else (None, "").

    Two such objects of one function compile different code when their options differ
    (``forceobj``, ``fastmath``, a gufunc's layout): both are part of their identity.
    Read through public attributes only: ``py_func`` and ``targetoptions`` of a
    dispatcher, a GUFunc's ``gufunc_builder``, and the ``__wrapped__`` function a
    DUFunc gets from ``functools.update_wrapper``.
    """
    func = jitted_py_func(v)
    if func is None:
        return None, ""
    builder = getattr(v, "gufunc_builder", None)
    owner = builder if builder is not None else v
    opts = getattr(owner, "targetoptions", None)
    if opts is None:
        opts = getattr(v, "targetoptions", None)
    text = canonical_options(dict(opts or {}))
    local_types = getattr(owner, "locals", None)
    if isinstance(local_types, dict) and local_types:
        # locals= as the user gave it (Numba adds versioned names, never identifiers, to it)
        text += ";locals=" + canonical_options({k: str(t) for k, t in local_types.items()
                                                 if isinstance(k, str) and k.isidentifier()})
    layout = getattr(builder, "signature", None)
    return func, text + (";layout=" + layout if isinstance(layout, str) else "")


def jitted_py_func(v: Any) -> pytypes.FunctionType | None:
    """The Python function of a dispatcher, DUFunc or GUFunc (None for anything else)."""
    if isinstance(v, pytypes.FunctionType) or not (type(v).__module__ or "").startswith("numba."):
        return None
    builder = getattr(v, "gufunc_builder", None)
    func = getattr(builder if builder is not None else v, "py_func", None)
    if not isinstance(func, pytypes.FunctionType) and _is_dufunc(v):
        func = getattr(v, "__wrapped__", None)
    return func if isinstance(func, pytypes.FunctionType) else None


def _is_dufunc(v: Any) -> bool:
    dufunc = sys.modules.get("numba.np.ufunc.dufunc")     # not imported: v cannot be one
    return dufunc is not None and isinstance(v, dufunc.DUFunc)


def closure_fingerprint(func: pytypes.FunctionType) -> str | None:
    """Fingerprint of the closure contents, ``None`` for a plain function.

    Two closures made by one factory share a qualname but Numba compiles each
    with its own frozen cell values, so the cells are part of the identity.
    """
    cells = func.__closure__
    if not cells:
        return None
    return value_key(tuple(_cell(c) for c in cells))


def closure_cells(func: pytypes.FunctionType) -> dict[str, str]:
    """Each closure cell's fingerprint by its name (to say which differ; ``?`` for a cell that
    cannot be fingerprinted)."""
    out = {}
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or ()):
        try:
            out[name] = value_key(_cell(cell))
        except Exception:  # noqa: BLE001 - only names what differs: never fails
            out[name] = "?"
    return out


class _Empty:
    """An empty closure cell: a function decorated eagerly inside its own scope refers to
    itself through a cell that is bound only after its compilation."""
    __module__ = "snapshot"
    __qualname__ = "EmptyCell"


def _cell(c) -> Any:
    try:
        return c.cell_contents
    except ValueError:
        return _Empty


def canonical_options(options: Any) -> str:
    """A stable text for target options (dicts and sets sorted, objects by repr)."""
    if isinstance(options, dict):
        return "{" + ",".join(f"{k}={canonical_options(options[k])}" for k in sorted(options)) + "}"
    if isinstance(options, (set, frozenset)):
        return "{" + ",".join(sorted(canonical_options(x) for x in options)) + "}"
    if isinstance(options, (list, tuple)):
        return "[" + ",".join(canonical_options(x) for x in options) + "]"
    if isinstance(options, pytypes.FunctionType):       # e.g. inline= a cost model: no address
        return f"<function {options.__module__}.{options.__qualname__} {code_fingerprint(options.__code__)}>"
    return repr(options)


def sha256_file(path: str) -> str:
    """SHA-256 of a file (hex): what identifies an image's bytes (shipping to workers, the
    bases an incremental image records)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str, opener: Callable = open) -> str | None:
    """Content hash of a source file, or None when it cannot be read."""
    try:
        with opener(path, "rb") as f:
            return hashlib.blake2b(f.read(), digest_size=16).hexdigest()
    except OSError:
        return None


def source_digest(path: str) -> str | None:
    """``file_digest`` of a Python source file named by an image (snap check, staleness): a
    regular file of bounded size, read without blocking (image/untrusted.py), or None."""
    from .untrusted import MAX_SOURCE_BYTES, read_regular
    try:
        return hashlib.blake2b(read_regular(path, MAX_SOURCE_BYTES), digest_size=16).hexdigest()
    except OSError:
        return None


def iter_code_objects(code: pytypes.CodeType) -> Iterator[pytypes.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, pytypes.CodeType):
            yield from iter_code_objects(const)


def source_fingerprints(path: str) -> dict[str, frozenset[str]] | None:
    """Fingerprints of every function in a source file, by qualname, WITHOUT importing it.

    Compiling a file does not execute it; this is how ``snap check`` and the
    runtime tell which functions of an edited file actually changed. One qualname
    can have several defs (a property's getter and setter, if/else branches): a
    function is unchanged if its code is still one of them.
    """
    from .untrusted import MAX_SOURCE_BYTES, read_regular
    try:
        src = read_regular(path, MAX_SOURCE_BYTES)      # the path may come from an untrusted image
        top = compile(src, path, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        # (a hostile file: nesting too deep for the compiler)
        return None
    out: dict[str, set[str]] = {}
    for code in iter_code_objects(top):
        out.setdefault(getattr(code, "co_qualname", code.co_name), set()).add(code_fingerprint(code))
    return {k: frozenset(v) for k, v in out.items()}


# ------------------------------------------------------------------ structural keys of values
# Code of these top-level packages is pinned by the image fingerprint (Python, numpy, numba,
# llvmlite versions): their functions, classes and objects are identified by name.
PINNED = frozenset(sys.stdlib_module_names) | {"numpy", "numba", "llvmlite", "snapshot"}
_SCALARS = frozenset({bool, int, float, complex, str, bytes, type(None)})
_MAX_DEPTH = 24


def pinned(module: str | None) -> bool:
    """Is code of ``module`` pinned by the image fingerprint (identified by name, not content)?"""
    return (module if isinstance(module, str) else "").partition(".")[0] in PINNED


def _scalar(v: Any, t: type) -> str:
    """A scalar's exact text: repr, but the bits of a NaN (repr says ``nan`` whatever its sign
    and payload, which compiled code keeps)."""
    if t is float and v != v:
        return "float:nan" + struct.pack("<d", v).hex()
    if t is complex and (v != v):
        return "complex:" + struct.pack("<dd", v.real, v.imag).hex()
    return f"{t.__name__}:{v!r}"


def _module_key(m: pytypes.ModuleType) -> str:
    """A module by its name, where the name finds it again; a module that is not the one
    ``sys.modules`` has under its name (loaded from a file spec) by what it holds."""
    if sys.modules.get(m.__name__) is m:
        return "module:" + m.__name__
    h = hashlib.blake2b(digest_size=8)
    for k in sorted(k for k in vars(m) if isinstance(k, str) and not (k[:2] == "__" == k[-2:])):
        h.update(k.encode() + b"=")
        x = vars(m)[k]
        try:
            if isinstance(x, pytypes.ModuleType):
                h.update(f"module:{x.__name__};".encode())
            else:
                _feed(h, x, 1, set())
        except Unfingerprintable:
            h.update(f"?{type(x).__qualname__};".encode())
    return f"module?{m.__name__}:{h.hexdigest()}"


def _short(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.blake2b(data, digest_size=8).hexdigest()


# Numba's own objects (intrinsics, stencils, jitclass types...) say what identifies them
# through handlers the Numba seam registers (image/ knows no Numba internals), by their
# class's qualified name (nothing is imported to look them up): ``parts(obj)`` returns
# plain values to fingerprint.
OBJECT_PARTS: dict[str, Callable[[Any], Any]] = {}


class FunctionParts:
    """What else identifies a plain function for Numba, if anything (set by the Numba seam):
    the typing it was given (``@overload(f)``: each template's typing function and options,
    in the order Numba tries them). ``version()`` changes whenever that may have changed."""

    def parts(self, f: pytypes.FunctionType) -> Any:
        return None

    def version(self) -> int:
        return 0


FUNCTION_PARTS = FunctionParts()


def _parts_of(t: type) -> Callable[[Any], Any] | None:
    mod = getattr(t, "__module__", None)
    if not OBJECT_PARTS or not isinstance(mod, str) or not mod.startswith("numba"):
        return None
    for c in t.__mro__:
        parts = OBJECT_PARTS.get(f"{getattr(c, '__module__', '')}.{c.__qualname__}")
        if parts is not None:
            return parts
    return None


def value_key(v: Any) -> str:
    """A structural fingerprint of a value a compilation read: the same in every process for
    equal values, different whenever something Numba can read of it differs.

    Structural, never by name alone: a class by its members (enum values, namedtuple
    fields, methods' code, class attributes), a function by its code, defaults and closure
    cells, an array by dtype (fields and offsets), shape, layout, flags and bytes, an
    object by its type and state (``vars`` or ``__reduce_ex__``). Code, classes and objects
    of pinned packages (Python, NumPy, Numba, llvmlite) are named instead: their versions
    are part of the image fingerprint. Raises ``Unfingerprintable`` for what has no stable
    structure (an object with neither state nor a reduction).
    """
    t = type(v)
    if t in _SCALARS:                  # most values: the fast path (measured in bench_release 5)
        text = _scalar(v, t)
        return text if len(text) <= 40 else _short(text)
    if t is pytypes.ModuleType:
        return _module_key(v)
    if t.__name__ == "ndarray" and t.__module__ == "numpy":       # global tables
        return array_key(v)
    if t is tuple and all(type(x) in _SCALARS for x in v):
        return _short("tuple[" + "".join(f"{type(x).__name__}:{x!r};" for x in v) + "]")
    stamp = _stamp(v, t)
    if stamp is not None:
        got = _memo.get(id(v))
        if got is not None and got[0]() is v and got[1] == stamp:
            return got[2]
    h = hashlib.blake2b(digest_size=8)
    _feed(h, v, 0, set())
    key = h.hexdigest()
    if stamp is not None:
        try:
            _memo[id(v)] = (weakref.ref(v), stamp, key)
        except TypeError:                  # no weak references (a tuple): not remembered
            pass
    return key


# Fingerprints remembered per object, with a stamp of everything they depend on that could
# change: only what nothing can mutate unseen is remembered (a function whose code,
# defaults and cells are the same objects, all immutable; a dispatcher of such a function
# with the same options object). Everything else is walked at every check.
_memo: dict[int, tuple[Any, tuple, str]] = {}


def _immutable(x: Any, depth: int = 0) -> bool:
    t = type(x)
    if t in _SCALARS or t is pytypes.CodeType:
        return True
    return t is tuple and depth < 3 and all(_immutable(y, depth + 1) for y in x)


def _stamp(v: Any, t: type) -> tuple | None:
    """What ``v``'s fingerprint depends on that could change (compared by identity), or None
    when it cannot be remembered."""
    if t is pytypes.FunctionType:
        f = v
        extra: tuple = ()
    else:
        d = getattr(v, "__dict__", None)
        f = d.get("py_func") if isinstance(d, dict) else None
        if type(f) is not pytypes.FunctionType or not (t.__module__ or "").startswith("numba."):
            return None
        extra = (id(d.get("targetoptions")), id(getattr(v, "_compiler", None)))
    cells = f.__closure__
    if f.__kwdefaults__ or (f.__defaults__ and not _immutable(f.__defaults__)) or (
            cells and not all(_immutable(_cell(c)) for c in cells)):
        return None
    g = f.__globals__
    if module_of(g) is None:
        return None            # globals of its own: what its code names is part of its key
    return (id(f), id(f.__code__), id(f.__defaults__), id(f.__globals__),
            tuple(id(_cell(c)) for c in cells or ()), FUNCTION_PARTS.version()) + extra


def _feed(h, v: Any, depth: int, active: set[int]) -> None:
    if depth > _MAX_DEPTH:
        raise Unfingerprintable("a value nested too deep")
    t = type(v)
    if t in _SCALARS:
        h.update(_scalar(v, t).encode() + b";")
        return
    if t is tuple or t is list:
        h.update(t.__name__.encode() + b"[")
        for x in v:
            _feed(h, x, depth + 1, active)
        h.update(b"]")
        return
    if t in (set, frozenset):
        h.update(t.__name__.encode() + b"{" + ",".join(sorted(_sub(x, depth, active) for x in v)).encode() + b"}")
        return
    if t is dict or t is pytypes.MappingProxyType:
        h.update(b"dict{" + ",".join(sorted(f"{_sub(k, depth, active)}={_sub(x, depth, active)}"
                                          for k, x in v.items())).encode() + b"}")
        return
    if t is pytypes.ModuleType:
        h.update(_module_key(v).encode() + b";")
        return
    if id(v) in active:          # a value that reaches itself (a recursive closure, a class's member)
        h.update(b"<cycle>")
        return
    active.add(id(v))
    try:
        _feed_object(h, v, t, depth, active)
    finally:
        active.discard(id(v))


def _sub(v: Any, depth: int, active: set[int]) -> str:
    h = hashlib.blake2b(digest_size=8)
    _feed(h, v, depth + 1, active)
    return h.hexdigest()


def _feed_object(h, v: Any, t: type, depth: int, active: set[int]) -> None:
    import enum
    if isinstance(v, enum.Enum):
        h.update(b"enum:")
        _feed(h, t, depth + 1, active)
        h.update(f".{v.name};".encode())
        return
    if isinstance(v, (bool, int, float, complex, str, bytes)):      # a subclass of a scalar
        _feed(h, t, depth + 1, active)
        h.update(f":{v!r};".encode())
        return
    if isinstance(v, type):
        _feed_class(h, v, depth, active)
        return
    if t is pytypes.FunctionType:
        _feed_function(h, v, depth, active)
        return
    py_func, options = jitted_function(v)
    if py_func is not None:       # a Numba dispatcher, DUFunc or GUFunc: its function and options
        h.update(f"jit:{t.__name__}:{options}:".encode())
        _feed(h, py_func, depth + 1, active)
        return
    parts = _parts_of(t)
    if parts is not None:
        h.update(f"{t.__module__}.{t.__qualname__}(".encode())
        _feed(h, parts(v), depth + 1, active)
        h.update(b")")
        return
    mod = t.__module__ if isinstance(t.__module__, str) else ""
    if mod.startswith(("numba.core.types", "numba.core.typing")):
        h.update(f"nbtype:{type_key(v)};".encode())
        return
    np = sys.modules.get("numpy")
    if np is not None and isinstance(v, np.ndarray):
        if t is not np.ndarray:        # a subclass: its class and its state are part of it too
            _feed(h, t, depth + 1, active)
            state = getattr(v, "__dict__", None)
            if state:
                _feed(h, dict(state), depth + 1, active)
        h.update(array_key(v).encode())
        return
    if mod == "numpy" or mod.startswith("numpy."):
        if isinstance(v, np.dtype):
            h.update(dtype_key(v).encode())
            return
        if isinstance(v, np.generic):
            h.update(f"{t.__name__}:{dtype_key(v.dtype)}:".encode() + v.tobytes())
            return
        if isinstance(v, np.ufunc):
            h.update(f"ufunc:{v.__name__};".encode())
            return
    if isinstance(v, (pytypes.BuiltinFunctionType, pytypes.BuiltinMethodType)) or t.__name__ in _COMPILED_FUNCTIONS:
        _feed_builtin(h, v, depth, active)
        return
    if t is pytypes.MethodType and _module_global(v):
        # a method of a module-level object its module names (``np.random.random``, bound to
        # NumPy's global RandomState): named like a function; the state of the object it is
        # bound to (a random generator's) is not what Numba compiles a call of it from
        h.update(f"global-method:{v.__module__}.{v.__name__};".encode())
        return
    if isinstance(v, (slice, range)):
        h.update(t.__name__.encode())
        _feed(h, (v.start, v.stop, v.step), depth + 1, active)
        return
    if isinstance(v, pytypes.CodeType):
        h.update(b"code:" + code_fingerprint(v).encode())
        return
    if mod.startswith("ctypes") or mod == "_ctypes":
        # a C function pointer: named by its symbol and prototype (its address is per process)
        h.update(f"ctypes:{t.__name__}:{getattr(v, '__name__', '')}:{getattr(v, 'argtypes', None)}:"
                 f"{getattr(v, 'restype', None)};".encode())
        return
    wrapped = getattr(v, "__wrapped__", None) if not isinstance(v, type) else None
    if isinstance(wrapped, pytypes.FunctionType):
        # functools.wraps, lru_cache: what it wraps is what it does
        h.update(f"wraps:{t.__module__}.{t.__qualname__}(".encode())
        _feed(h, wrapped, depth + 1, active)
        h.update(b")")
        return
    if pinned(mod):
        name = getattr(v, "__qualname__", None) or getattr(v, "__name__", None)
        vmod = getattr(v, "__module__", None)
        if isinstance(name, str) and isinstance(vmod, str) and not hasattr(v, "__dict__"):
            h.update(f"obj:{vmod}.{name};".encode())    # e.g. a builtin singleton named at module level
            return
    _feed_state(h, v, t, depth, active)


def _feed_builtin(h, v: Any, depth: int, active: set[int]) -> None:
    """Compiled code (C, Cython) by its qualified name: what it does comes with its package's
    version. A builtin method is also what it is bound to (``[1].append`` is not ``[2].append``,
    ``dict.fromkeys`` not ``MyDict.fromkeys``): its ``__self__`` structurally (raising
    ``Unfingerprintable`` if that has no structure), unless that is a module or a module-level
    object its module names (``time.time``; ``np.random.seed`` of NumPy's global generator)."""
    self_ = getattr(v, "__self__", None)
    name = getattr(v, "__qualname__", None) or getattr(v, "__name__", "")
    if self_ is None or isinstance(self_, pytypes.ModuleType):
        owner = self_.__name__ if self_ is not None else getattr(v, "__module__", "")
        h.update(f"builtin:{owner}.{name};".encode())
        return
    if _module_global(v):
        h.update(f"builtin:{v.__module__}.{v.__name__};".encode())
        return
    h.update(f"builtin-method:{name}(".encode())
    _feed(h, self_, depth + 1, active)
    h.update(b")")


def _module_global(v: Any) -> bool:
    """Is ``v`` the object its pinned module holds under its name (a bound method its module
    exports, e.g. ``numpy.random.random``)?"""
    mod, name = getattr(v, "__module__", None), getattr(v, "__name__", None)
    if not isinstance(mod, str) or not isinstance(name, str) or not pinned(mod):
        return False
    return getattr(sys.modules.get(mod), name, None) is v


def _feed_state(h, v: Any, t: type, depth: int, active: set[int]) -> None:
    """An object of no known kind: its type and its state (what pickling would keep: an object
    of Python's library by its reduction, ``functools.partial(f, 2)`` by ``f`` and ``2``; the
    user's by its attributes)."""
    h.update(b"object:")
    _feed(h, t, depth + 1, active)
    if pinned(t.__module__) and _feed_reduced(h, v, depth, active):
        return
    state = getattr(v, "__dict__", None)
    slots = [s for c in t.__mro__ for s in c.__dict__.get("__slots__", ()) if isinstance(s, str)]
    if isinstance(state, dict) or slots:
        if isinstance(state, dict):
            _feed(h, {k: x for k, x in state.items() if isinstance(k, str)}, depth + 1, active)
        for s in slots:
            if s not in ("__dict__", "__weakref__") and hasattr(v, s):
                h.update(s.encode() + b"=")
                _feed(h, getattr(v, s), depth + 1, active)
        return
    if not _feed_reduced(h, v, depth, active):
        raise Unfingerprintable(f"cannot fingerprint a {t.__module__}.{t.__qualname__} (no state, no reduction)")


def _feed_reduced(h, v: Any, depth: int, active: set[int]) -> bool:
    """``v`` by its reduction (``__reduce_ex__``); False if it has none."""
    try:
        reduced = v.__reduce_ex__(4)
    except Exception:  # noqa: BLE001 - e.g. "cannot pickle '_thread.lock' object"
        return False
    if isinstance(reduced, str) or not isinstance(reduced, tuple):
        h.update(f"global:{reduced!r};".encode())
        return True
    _feed(h, tuple(x for x in reduced[:3]), depth + 1, active)
    return True


_COMPILED_FUNCTIONS = frozenset({"cython_function_or_method", "fused_cython_function"})

# class attributes that say nothing about the class's behaviour, or change on their own
_CLASS_VOLATILE = frozenset({"__dict__", "__weakref__", "__doc__", "__module__", "__qualname__",
                             "_abc_impl", "__parameters__", "__orig_bases__", "__firstlineno__",
                             "__static_attributes__", "__annotations__", "__annotate__"})


def _feed_class(h, cls: type, depth: int, active: set[int]) -> None:
    """A class by its members: two classes of one name differ when anything they hold differs."""
    import enum
    h.update(f"class:{getattr(cls, '__module__', '')}.{cls.__qualname__}".encode())
    parts = _parts_of(type(cls))                    # e.g. a jitclass: its spec and methods
    if parts is not None:
        h.update(b"(")
        _feed(h, parts(cls), depth + 1, active)
        h.update(b")")
        return
    module = getattr(cls, "__module__", None)
    if not isinstance(module, str) or pinned(module):     # (a C type's __module__ may be a descriptor)
        h.update(b";")
        return
    if issubclass(cls, BaseException):
        # compiled code raises the live class (by reference, or by a tracker id mapped to the
        # live class at install): nothing of its body is compiled in
        h.update(b":exception;")
        return
    h.update(b"(")
    for base in cls.__bases__:
        _feed(h, base, depth + 1, active)
    if issubclass(cls, enum.Enum):
        # members and their values; Enum's own machinery (sunder names) is pinned
        for name, member in cls.__members__.items():
            h.update(name.encode() + b"=")
            _feed(h, member._value_, depth + 1, active)
        names = [n for n in vars(cls) if not (n.startswith("_") and n.endswith("_")) and n not in cls.__members__]
    else:
        names = list(vars(cls))
    for name in sorted(names):
        member = vars(cls)[name]
        if name in _CLASS_VOLATILE or (name[:2] == "__" == name[-2:] and not callable(member)
                                       and not isinstance(member, (staticmethod, classmethod, property))):
            continue      # Python's own bookkeeping (__slotnames__ is cached by pickling, ...)
        h.update(name.encode() + b"=")
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        elif isinstance(member, property):
            member = (member.fget, member.fset, member.fdel)
        try:
            _feed(h, member, depth + 1, active)
        except Unfingerprintable:
            # a class attribute nothing compiled can read (a lock, a cache): its type only
            h.update(f"?{type(member).__module__}.{type(member).__qualname__};".encode())
    h.update(b")")


def _feed_function(h, f: pytypes.FunctionType, depth: int, active: set[int]) -> None:
    """A function by its code, defaults and closure cells (what compiling or calling it reads
    besides its globals; those a compilation reads are inputs of their own)."""
    h.update(f"fn:{f.__module__}.{f.__qualname__}:".encode())
    typing = FUNCTION_PARTS.parts(f)
    if typing:                  # an @overload target: what Numba compiles a call of it from
        h.update(b"typed-by")
        _feed(h, typing, depth + 1, active)
    code = f.__code__
    if pinned(f.__module__) and "<locals>" not in f.__qualname__:
        # its code comes with its package's version, but not what a closure made by that
        # code holds: one factory's closures (numba.tests' ``raise_instance(MyError, ...)``
        # and ``raise_instance(OtherError, ...)``) differ by their cells and defaults alone.
        # (A function made inside another one is not named apart by its qualname: the four
        # ``<lambda>`` of one numba.tests method, passed as sort keys, are told by their code.)
        h.update(b";")
        if not (f.__closure__ or f.__defaults__ or f.__kwdefaults__):
            return
    else:
        h.update(cached_code_fingerprint(code).encode())
    if f.__defaults__:
        h.update(b"defaults")
        _feed(h, f.__defaults__, depth + 1, active)
    if f.__kwdefaults__:
        h.update(b"kwdefaults")
        _feed(h, f.__kwdefaults__, depth + 1, active)
    for cell in f.__closure__ or ():
        _feed(h, _cell(cell), depth + 1, active)
    if pinned(f.__module__):
        return
    g = f.__globals__
    if module_of(g) is None:
        # generated code with globals of its own (not a module's): no input names them, so the
        # values its code names are part of it
        for n in code_names(code):
            if n in g:
                h.update(n.encode() + b"=")
                try:
                    _feed(h, g[n], depth + 1, active)
                except Unfingerprintable:
                    h.update(f"?{type(g[n]).__qualname__};".encode())


def code_names(code: pytypes.CodeType) -> tuple[str, ...]:
    """The global and attribute names ``code`` and the code nested in it use, sorted."""
    names: set[str] = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, pytypes.CodeType):
            names.update(code_names(const))
    return tuple(sorted(names))


def module_of(namespace: dict) -> str | None:
    """The module whose namespace ``namespace`` is (None: a dict of its own, as generated code
    exec'd in a scope it made has)."""
    name = namespace.get("__name__") if isinstance(namespace, dict) else None
    mod = sys.modules.get(name) if isinstance(name, str) else None
    return name if mod is not None and getattr(mod, "__dict__", None) is namespace else None


_code_fps: dict[int, tuple[pytypes.CodeType, str]] = {}


def cached_code_fingerprint(code: pytypes.CodeType) -> str:
    """``code_fingerprint``, once per code object (code objects are immutable; the entry keeps
    the object, so its id cannot be reused while the entry lives)."""
    got = _code_fps.get(id(code))
    if got is None or got[0] is not code:
        got = _code_fps[id(code)] = (code, code_fingerprint(code))
    return got[1]


def dtype_key(dt) -> str:
    """A NumPy dtype: kind, size, byte order, and for structured dtypes every field's name,
    type, offset, the item size and alignment (what Numba's Record type is made of)."""
    if dt.subdtype is not None:                     # a subarray field: its element type and shape
        base, shape = dt.subdtype
        return f"subarray:{dtype_key(base)}:{shape};"
    if dt.fields is None:
        return f"dtype:{dt.str}:{dt.descr!r}:{dt.metadata!r};"
    fields = ",".join(f"{n}@{off}:{dtype_key(sub)}" for n, (sub, off, *_) in dt.fields.items())
    return f"record:{dt.itemsize}:{dt.isalignedstruct}:{fields}:{dt.metadata!r};"


# arrays that cannot change (read-only views of a bytes object): hashed once per process
_frozen_arrays: dict[int, tuple[Any, str]] = {}


def array_key(a) -> str:
    """An array by dtype, shape, layout, flags and bytes. Hashed when asked: a writeable array
    may have changed since (only arrays nothing can write to are remembered)."""
    got = _frozen_arrays.get(id(a))
    if got is not None and got[0]() is a:
        return got[1]
    import numpy as np
    h = hashlib.blake2b(digest_size=8)
    h.update(f"ndarray:{dtype_key(a.dtype)}:{a.shape}:{a.strides}:{a.flags.c_contiguous}"
             f"{a.flags.f_contiguous}{a.flags.writeable}{a.flags.aligned}".encode())
    if a.dtype.kind in "OV" and a.dtype.fields is None or a.dtype.hasobject:
        h.update(repr(a.tolist()).encode())
    elif a.size:
        h.update(np.ascontiguousarray(a).view(np.uint8).data)
    key = "array:" + h.hexdigest()
    if _immutable_array(a):
        try:
            _frozen_arrays[id(a)] = (weakref.ref(a), key)
        except TypeError:
            pass
    return key


def _immutable_array(a) -> bool:
    """Nothing can change these bytes: read-only views all the way down to a ``bytes`` object
    (an array that owns its data can be made writeable again)."""
    base = a
    while base is not None:
        if isinstance(base, bytes):
            return True
        flags = getattr(base, "flags", None)
        if flags is None or flags.writeable:
            return False
        base = getattr(base, "base", None)
    return False



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
        return f"omitted({value_key(t.value)})"
    if isinstance(t, types.Dispatcher):
        d = t.dispatcher                   # ReferenceError if the dispatcher is gone
        f = d.py_func
        # its code, defaults, cells and options: what compiling a call of it reads
        return f"dispatcher({f.__module__}.{f.__qualname__}:{value_key(d)})"
    text = str(t)
    if "#" in text:
        text = _TYPE_ID.sub("", text)
    if "<function " in text:
        text = _FUNC_NAMED.sub(r"<function \1>", text)
    cls = getattr(t, "instance_class", None)
    if isinstance(cls, type) and not pinned(getattr(cls, "__module__", None)):
        # a namedtuple or enum of the user's: named in the text, compiled from its body
        # (field order, member values)
        text += "{" + value_key(cls) + "}"
    return text
