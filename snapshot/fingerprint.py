"""Stable fingerprints: of code, closures, target options, source files, and the machine.

Why not ``marshal.dumps(code)`` or ``hash()``: neither is stable across processes
(marshal interns refs by identity, ``hash`` of str is salted). Why not ``co_code``
alone: it misses edits to constants (``x + 1`` -> ``x + 100``). Everything here is
a pure function of its input that gives the same hex string in every process.
"""
from __future__ import annotations

import hashlib
import platform
import sys
import types as pytypes
from functools import lru_cache
from typing import Any, Iterator

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


class Unfingerprintable(Exception):
    """A value whose identity cannot be captured stably (so the entry stays on the JIT)."""


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
        from .numba_seam import type_key         # no per-process ids (jitclass types)
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
    """
    if isinstance(v, pytypes.FunctionType) or not (type(v).__module__ or "").startswith("numba."):
        return None, ""
    for owner_attr in ("gufunc_builder", "_dispatcher", None):
        owner = v if owner_attr is None else getattr(v, owner_attr, None)
        func = getattr(owner, "py_func", None)
        if isinstance(func, pytypes.FunctionType):
            opts = getattr(owner, "targetoptions", None)
            if opts is None:
                opts = getattr(v, "targetoptions", None)
            text = canonical_options(dict(opts or {}))
            layout = getattr(owner, "signature", None)
            if owner_attr == "gufunc_builder" and isinstance(layout, str):
                text += ";layout=" + layout
            return func, text
    return None, ""


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


@lru_cache(maxsize=None)
def machine_fingerprint(triple: str | None = None) -> dict[str, str]:
    """What an image's native code and Numba ABI depend on in this process.

    ``triple``: LLVM's process triple when the caller already knows it (hostcache).
    """
    import llvmlite
    import numba
    import numpy
    return {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "python_abi": sys.implementation.cache_tag or "",
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numpy": numpy.__version__,
        "machine": platform.machine(),
        "system": sys.platform,
        "llvm_triple": triple or process_triple(),
    }


def process_triple() -> str:
    import llvmlite.binding as ll
    return ll.get_process_triple()


def host_cpu() -> tuple[str, frozenset[str]]:
    """Host CPU name and the set of enabled features, as LLVM sees them."""
    import llvmlite.binding as ll
    return ll.get_host_cpu_name(), host_cpu_features()


@lru_cache(maxsize=None)
def host_cpu_features() -> frozenset[str]:
    """The features LLVM finds enabled on this CPU (what activation checks an image against).

    LLVM's "+avx2,-avx512f,..." string read directly: llvmlite's FeatureMap
    parsing and the CPU-name query would double the cost at every activation.
    """
    from llvmlite.binding import ffi
    with ffi.OutputString() as out:
        if not ffi.lib.LLVMPY_GetHostCPUFeatures(out):
            return frozenset()
        text = str(out)
    return frozenset(f[1:] for f in text.split(",") if f.startswith("+"))
