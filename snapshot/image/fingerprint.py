"""Stable fingerprints: of code, closures, values, Numba types, target options, source files.

Why not ``marshal.dumps(code)`` or ``hash()``: neither is stable across processes
(marshal interns refs by identity, ``hash`` of str is salted). Why not ``co_code``
alone: it misses edits to constants (``x + 1`` -> ``x + 100``). Everything here is
a pure function of its input that gives the same hex string in every process.
"""
from __future__ import annotations

import hashlib
import re
import sys
import types as pytypes
import weakref
from typing import Any, Iterator

from ..errors import Unfingerprintable

# Bump when the fingerprint algorithm changes: old images then read as stale.
ALGORITHM = "2"


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


def value_fingerprint(value: Any) -> str:
    """Fingerprint of a closure cell or default value that Numba freezes into code."""
    h = _h()
    _feed_value(h, value, depth=0, active=set())
    return h.hexdigest()


def _feed_value(h, v: Any, depth: int, active: set[int]) -> None:
    if depth > 20:
        raise Unfingerprintable("nesting too deep")
    if v is None or isinstance(v, (bool, int, float, complex, str, bytes)):
        h.update((type(v).__name__ + ":" + repr(v)).encode())
        return
    if isinstance(v, (tuple, list)):
        h.update(type(v).__name__.encode() + b"[")
        for x in v:
            _feed_value(h, x, depth + 1, active)
        h.update(b"]")
        return
    mod = type(v).__module__
    if mod == "numpy" or mod.startswith("numpy."):
        import numpy as np
        if isinstance(v, np.ndarray):
            h.update(f"ndarray:{v.dtype.str}:{v.shape}".encode())
            h.update(np.ascontiguousarray(v).tobytes() if v.dtype.kind not in "OV" else repr(v.tolist()).encode())
            return
        if isinstance(v, (np.generic, np.dtype)):
            h.update(f"{type(v).__name__}:{v!r}".encode())
            return
    if isinstance(v, pytypes.FunctionType):
        h.update(f"fn:{v.__module__}.{v.__qualname__}:".encode())
        if id(v) in active:      # a recursive closure reaches itself: name it, do not recurse
            h.update(b"<cycle>")
            return
        active.add(id(v))
        _feed_code(h, v.__code__)
        for cell in v.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:
                raise Unfingerprintable("closure has an empty cell") from None
            _feed_value(h, contents, depth + 1, active)
        active.discard(id(v))
        return
    py_func, options = jitted_function(v)
    if py_func is not None:       # a Numba dispatcher, DUFunc or GUFunc: its function and options
        h.update(f"jit:{type(v).__name__}:{options}:".encode())
        _feed_value(h, py_func, depth + 1, active)
        return
    if isinstance(v, (pytypes.ModuleType, type)):
        h.update(f"{type(v).__name__}:{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', v.__name__)}".encode())
        return
    if mod.startswith("numba.core.types") or mod.startswith("numba.core.typing"):
        h.update(f"nbtype:{type_key(v)}".encode())
        return
    if mod.startswith("numba.core.withcontexts"):
        # `with objmode(...)` and the other with-contexts: stateless markers, pinned by the
        # image fingerprint's numba version
        h.update(f"numba-object:{mod}.{type(v).__qualname__}".encode())
        return
    raise Unfingerprintable(f"cannot fingerprint a {type(v).__module__}.{type(v).__qualname__}")


def jitted_function(v: Any) -> tuple[pytypes.FunctionType | None, str]:
    """(Python function, compile options text) of a dispatcher, DUFunc or GUFunc, else (None, "").

    Two such objects of one function compile different code when their options differ
    (``forceobj``, ``fastmath``, a gufunc's layout): both are part of their identity.
    Read through public attributes only: ``py_func`` and ``targetoptions`` of a
    dispatcher, a GUFunc's ``gufunc_builder``, and the ``__wrapped__`` function a
    DUFunc gets from ``functools.update_wrapper``.
    """
    if isinstance(v, pytypes.FunctionType) or not (type(v).__module__ or "").startswith("numba."):
        return None, ""
    builder = getattr(v, "gufunc_builder", None)
    owner = builder if builder is not None else v
    func = getattr(owner, "py_func", None)
    if not isinstance(func, pytypes.FunctionType) and _is_dufunc(v):
        func = getattr(v, "__wrapped__", None)
    if not isinstance(func, pytypes.FunctionType):
        return None, ""
    opts = getattr(owner, "targetoptions", None)
    if opts is None:
        opts = getattr(v, "targetoptions", None)
    text = canonical_options(dict(opts or {}))
    layout = getattr(builder, "signature", None)
    return func, text + (";layout=" + layout if isinstance(layout, str) else "")


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
    return value_fingerprint(tuple(_cell(c) for c in cells))


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
    return repr(options)


def sha256_file(path: str) -> str:
    """SHA-256 of a file (hex): what identifies an image's bytes (shipping to workers, the
    bases an incremental image records)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str) -> str | None:
    """Content hash of a source file, or None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return hashlib.blake2b(f.read(), digest_size=16).hexdigest()
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
    try:
        with open(path, "rb") as f:
            src = f.read()
        top = compile(src, path, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return None
    out: dict[str, set[str]] = {}
    for code in iter_code_objects(top):
        out.setdefault(getattr(code, "co_qualname", code.co_name), set()).add(code_fingerprint(code))
    return {k: frozenset(v) for k, v in out.items()}


# ------------------------------------------------------------------ keys of values and types
_SCALARS = frozenset({bool, int, float, complex, str, bytes, type(None)})


def _short(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.blake2b(data, digest_size=8).hexdigest()


# arrays: hashed once per process (id -> (weakref, key)); they are frozen when first compiled
_array_keys: dict[int, tuple[Any, str]] = {}


def value_key(v: Any) -> str:
    """A fingerprint of a value Numba may freeze into code (the same in every process)."""
    if type(v) in _SCALARS or isinstance(v, (bool, int, float, complex, str, bytes)):
        text = f"{type(v).__name__}:{v!r}"
        return text if len(text) <= 40 else _short(text)
    if isinstance(v, (tuple, list, set, frozenset)):
        parts = [value_key(x) for x in v]
        if isinstance(v, (set, frozenset)):
            parts.sort()
        return _short(type(v).__name__ + "(" + ",".join(parts) + ")")
    import enum
    if isinstance(v, enum.Enum):
        return _short(f"enum:{type(v).__module__}.{type(v).__qualname__}.{v.name}={value_key(v.value)}")
    if isinstance(v, type):
        return f"type:{v.__module__}.{v.__qualname__}"
    mod = type(v).__module__ or ""
    if mod == "numpy" or mod.startswith("numpy."):
        import numpy as np
        if isinstance(v, np.ndarray):
            return _array_key(v)
        if isinstance(v, np.ufunc):
            return "ufunc:" + v.__name__
        if isinstance(v, (np.generic, np.dtype)):
            return _short(f"{type(v).__name__}:{v!r}")
    if isinstance(v, (pytypes.BuiltinFunctionType, pytypes.BuiltinMethodType)):
        return f"builtin:{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', v.__name__)}"
    if mod.startswith(("numba.core.types", "numba.core.typing")):
        return _short(f"nbtype:{type_key(v)}")
    # anything else cannot be a frozen constant; its type is what typing sees
    return f"obj:{mod}.{type(v).__qualname__}"


def _array_key(a) -> str:
    got = _array_keys.get(id(a))
    if got is not None and got[0]() is a:
        return got[1]
    import numpy as np
    h = hashlib.blake2b(digest_size=8)
    h.update(f"ndarray:{a.dtype.str}:{a.shape}:{a.flags.c_contiguous}{a.flags.f_contiguous}"
             f"{a.flags.writeable}".encode())
    h.update(np.ascontiguousarray(a).view(np.uint8).data if a.dtype.kind not in "OV" and a.size
             else repr(a.tolist()).encode())
    key = "array:" + h.hexdigest()
    try:
        _array_keys[id(a)] = (weakref.ref(a), key)
    except TypeError:
        pass
    return key


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
        f = t.dispatcher.py_func           # ReferenceError if the dispatcher is gone
        return f"dispatcher({f.__module__}.{f.__qualname__}:{code_fingerprint(f.__code__)})"
    text = str(t)
    if "#" in text:
        text = _TYPE_ID.sub("", text)
    if "<function " in text:
        text = _FUNC_NAMED.sub(r"<function \1>", text)
    return text
