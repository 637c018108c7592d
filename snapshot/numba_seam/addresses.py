"""Process addresses in compiled code ("dynamic globals"), named so another process can find them.

Numba lowers some constants as raw addresses of the compiling process, in a
global ``numba.dynamic.globals.<hex>`` initialised with the address
(``BaseContext.add_dynamic_addr``): C function pointers reached through
``WrapperAddressProtocol`` / ``get_cython_function_address`` (scipy's
``cython_special``), ctypes pointers such as the one behind
``numba.get_num_threads()``, and ``id()`` of Python objects (the ``py_addr`` of a
first-class function constant, a jitted function used as a value). Such code
cannot be copied into another process as it is, but each of these addresses is
usually something that can be *named* in any process:

* ``capsule``: a function exported by a Cython module through ``__pyx_capi__``;
* ``symbol``: a name in llvmlite's symbol table (Numba registers its threading
  layer there) or a dynamic symbol of a loaded library (``dladdr``);
* ``object``: a module attribute (the Python object whose ``id()`` was taken);
* ``pointer``: a module-level ctypes function pointer holding the address (a
  ctypes callback, or a library function ``dladdr`` cannot name, e.g. an IFUNC
  such as libm's ``cos``);
* ``cell``: a jitted function held by a closure cell of the entry's own function
  (one made inside a function, used as a value: a sort key in ``lst.sort(key=keyfn)``),
  found at install in the closure of the function the entry is installed for, whose
  fingerprint (part of the entry's identity) holds that function's code and options;
* ``made``: a jitted function Numba made while compiling the entry, from a function
  defined inside its code (``lst.sort(key=lambda a: a.sum())`` in jitted code:
  ``MakeFunctionToJitFunction``), made again at install from that code constant.

At build time each such global becomes a **late-bound slot**: an 8-byte image
global, initially null, exported under a name derived from the target (so the
image bytes do not depend on the training process). The manifest lists, per
entry, slot -> target; the runtime resolves the target and writes the slot when
the entry is installed (when its dispatcher is created), not at activation:
activation runs inside ``import numba`` and must not import scipy. A target
that cannot be resolved makes that entry fall back to the JIT with a warning.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import sys
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import UnresolvedAddress, UnresolvedReference
from ..image.manifest import describe_target

DYNAMIC_PREFIX = "numba.dynamic.globals."
SLOT_PREFIX = "snap.addr."

# Names Numba's threading layer registers with llvmlite (numba/np/ufunc/parallel.py);
# watched names from ll.add_symbol are added to these while tracing.
_THREADING_NAMES = ("get_num_threads", "set_num_threads", "get_thread_id", "set_parallel_chunksize",
                    "get_parallel_chunksize", "get_sched_size", "allocate_sched", "deallocate_sched",
                    "do_scheduling_signed", "do_scheduling_unsigned", "add_task", "synchronize", "ready",
                    "parallel_for")
_registered: dict[str, int] = {}        # name -> address, from ll.add_symbol while tracing


@dataclass(frozen=True)
class Target:
    """Something an address can be found from in any process (JSON in the manifest)."""
    kind: str             # "capsule" | "symbol" | "object" | "pointer" | "cell" | "global" | "made"
    module: str           # Python module (capsule, object, pointer, cell, global); library file (symbol, may be "")
    name: str             # capsule name; symbol name; attribute path; holder|variable|code (cell, global)
    type: str = ""        # object: qualified name of its type (checked when resolving)
    threads: bool = False  # symbol of Numba's threading layer (start it before resolving)
    # cell, global: how the entry's function reaches the function holding it (a jitted callee
    # compiled into it), "" for its own; not part of the slot's name: every entry whose code
    # holds this address shares the one slot (the linker keeps one copy of the callee's code)
    via: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Target":
        return cls(**doc)

    def describe(self) -> str:
        return describe_target(self.to_json())

    def slot_name(self) -> str:
        """Image symbol of the slot: readable, and a pure function of the target (reproducible)."""
        doc = {k: v for k, v in self.to_json().items() if k != "via"}
        digest = hashlib.blake2b(json.dumps(doc, sort_keys=True).encode(), digest_size=4).hexdigest()
        readable = re.sub(r"[^A-Za-z0-9_.]", "_", f"{self.kind}.{self.name}")[:80]
        return f"{SLOT_PREFIX}{readable}.{digest}"


# ---------------------------------------------------------------- trace side
def watch_symbols(patches) -> None:
    """Remember every name registered with ``llvmlite.binding.add_symbol`` while tracing."""
    import llvmlite.binding as ll

    def add_symbol(orig, name, address):
        _registered[name] = int(address)
        return orig(name, address)

    patches.wrap(ll, "add_symbol", add_symbol)


class _Dl_info(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Dl_info)]
_libc.dladdr.restype = ctypes.c_int
_libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.dlopen.restype = ctypes.c_void_p
_libc.dlsym.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_libc.dlsym.restype = ctypes.c_void_p
_capsule_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_name.argtypes, _capsule_name.restype = [ctypes.py_object], ctypes.c_char_p
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.argtypes, _capsule_pointer.restype = [ctypes.py_object, ctypes.c_char_p], ctypes.c_void_p
RTLD_LAZY, RTLD_NOLOAD = 1, 4


def _dladdr(addr: int) -> tuple[str | None, str | None, int | None]:
    info = _Dl_info()
    if not _libc.dladdr(ctypes.c_void_p(addr), ctypes.byref(info)):
        return None, None, None
    fname = info.dli_fname.decode(errors="replace") if info.dli_fname else None
    sname = info.dli_sname.decode(errors="replace") if info.dli_sname else None
    return fname, sname, info.dli_saddr


class AddressNamer:
    """Maps addresses of the tracing process back to targets (indexes built on first need)."""

    def __init__(self) -> None:
        self._capsules: dict[int, tuple[str, str]] | None = None
        self._objects: dict[int, list[tuple[str, str]]] | None = None
        self._memo: dict[int, Target | str] = {}

    def name(self, addr: int) -> Target | str:
        """The target behind ``addr``, or a sentence saying why there is none."""
        if addr not in self._memo:
            self._memo[addr] = self._name(addr)
        return self._memo[addr]

    def _name(self, addr: int) -> Target | str:
        capsule = self._capsule_index().get(addr)
        if capsule is not None:
            return Target("capsule", *capsule)
        fname, sname, saddr = _dladdr(addr)
        symbol = self._llvm_symbol(addr)
        if symbol is not None:
            return Target("symbol", "", symbol, threads=_in_numba_threading(fname))
        if sname and saddr == addr and fname:
            return Target("symbol", fname, sname)
        obj = self._object_index().get(addr)
        if obj:
            kind, module, attr, tname = obj[0]
            return Target(kind, module, attr, type=tname)
        array = self._array_data(addr)
        if array is not None:
            return (f"the data of the global array {array} (Numba embeds the address of a "
                    f"non-contiguous or larger than 1 MB global array's data, which cannot be "
                    f"relocated into another process; servable if the image named the array and "
                    f"filled the slot at install with its data address)")
        # (no address in the text: it is part of the manifest, which must be reproducible)
        where = f" inside {os.path.basename(fname)} with no exported symbol there" if fname else ""
        return (f"an address{where} that is not a Cython __pyx_capi__ function, a known symbol "
                f"or a module-level object (e.g. a ctypes callback, data of a large or "
                f"non-contiguous global array, or an object made at run time); servable only if "
                f"what it points to is reachable by a name in every process (a module attribute, an "
                f"exported symbol, a Cython capsule)")

    def _array_data(self, addr: int) -> str | None:
        """``module.attr`` of a module-level NumPy array whose data holds ``addr`` (None if none)."""
        np = sys.modules.get("numpy")
        if np is None:
            return None
        for modname in sorted(sys.modules):
            try:
                items = sorted(vars(sys.modules[modname]).items()) if sys.modules[modname] else []
            except TypeError:
                continue
            for attr, obj in items:
                if not isinstance(obj, np.ndarray) or attr.startswith("__"):
                    continue
                start = obj.__array_interface__["data"][0]
                low = high = start
                for n, stride in zip(obj.shape, obj.strides):
                    low += min(0, (n - 1) * stride)
                    high += max(0, (n - 1) * stride)
                if low <= addr < high + max(obj.itemsize, 1):
                    return f"{modname}.{attr}"
        return None

    def _llvm_symbol(self, addr: int) -> str | None:
        import llvmlite.binding as ll
        for name in sorted(set(_THREADING_NAMES) | set(_registered)):
            if _registered.get(name, addr) == addr and ll.address_of_symbol(name) == addr:
                return name
        return None

    def _capsule_index(self) -> dict[int, tuple[str, str]]:
        if self._capsules is None:
            index: dict[int, tuple[str, str]] = {}
            for modname in sorted(sys.modules):
                capi = getattr(sys.modules[modname], "__pyx_capi__", None) if sys.modules[modname] else None
                if not isinstance(capi, dict):
                    continue
                for key in sorted(capi, key=lambda k: (len(k), k)):
                    try:
                        ptr = _capsule_pointer(capi[key], _capsule_name(capi[key]))
                    except Exception:  # noqa: BLE001 - not a capsule: skip
                        continue
                    if ptr:
                        index.setdefault(ptr, (modname, key))
            self._capsules = index
        return self._capsules

    def _object_index(self) -> dict[int, list[tuple[str, str, str, str]]]:
        """id() of module attributes, and the addresses module-level ctypes pointers hold."""
        if self._objects is None:
            index: dict[int, list[tuple[str, str, str, str]]] = {}
            homes: dict[int, str] = {}
            for modname in sorted(sys.modules):
                mod = sys.modules[modname]
                try:
                    items = sorted(vars(mod).items()) if mod is not None else []
                except TypeError:
                    continue
                for attr, obj in items:
                    if attr.startswith("__") or isinstance(obj, (int, float, str, bytes, bool, type(None))):
                        continue
                    t = type(obj)
                    tname = f"{t.__module__}.{t.__qualname__}"
                    home = getattr(obj, "__module__", None) or t.__module__
                    keys = [("object", id(obj))]
                    if isinstance(obj, ctypes._CFuncPtr):
                        keys.append(("pointer", ctypes.cast(obj, ctypes.c_void_p).value or 0))
                    for kind, key in keys:
                        homes.setdefault(key, home if isinstance(home, str) else "")
                        index.setdefault(key, []).append((kind, modname, attr, tname))
            for key, found in index.items():
                # the module that defines the object first, then the others, by name
                home = homes[key]
                found.sort(key=lambda c: (c[1] != home, c[1], c[2], c[0]))
            self._objects = index
        return self._objects


def _in_numba_threading(fname: str | None) -> bool:
    if not fname:
        return False
    import numba
    ufunc_dir = os.path.join(os.path.dirname(numba.__file__), "np", "ufunc") + os.sep
    return os.path.realpath(fname).startswith(os.path.realpath(ufunc_dir))


# Numba names the global after the address (``BaseContext.add_dynamic_addr``) through
# ``cgutils.add_global_variable`` -> ``ir.Module.get_unique_name``: llvmlite's
# ``NameScope.deduplicate`` makes a second global of one name in a module
# ``<name>.<n>`` (n = 1, 2, ...), e.g. a function boxing two instances of one jitclass
# or reading one global array twice. Every such global holds the same address.
_DYNAMIC_NAME = re.compile(r"numba\.dynamic\.globals\.([0-9a-f]+)((?:\.[0-9]+)*)")


def dynamic_address(name: str) -> int | None:
    """The address a ``numba.dynamic.globals.<hex>[.<n>...]`` global holds, from its name
    (None if the name is not one)."""
    m = _DYNAMIC_NAME.fullmatch(name)
    return int(m.group(1), 16) if m else None


def canonical_dynamic(name: str) -> str:
    """The name without llvmlite's unique-naming suffixes: one name per address."""
    m = _DYNAMIC_NAME.fullmatch(name)
    return DYNAMIC_PREFIX + m.group(1) if m else name


def dynamic_globals(module) -> dict[str, int | None]:
    """``numba.dynamic.globals.<hex>[.<n>]`` globals of an LLVM module -> the address they
    hold (None: a name of that prefix that does not say which address)."""
    return {gv.name: dynamic_address(gv.name)
            for gv in module.global_variables if gv.name.startswith(DYNAMIC_PREFIX)}


_namer: AddressNamer | None = None


def closure_targets(py_func, module: str, qualname: str, depth: int = 3) -> dict[int, Target]:
    """Address -> target of each jitted function the code compiled from ``py_func`` may embed
    (the ``id`` Numba embeds for a jitted function used as a value) and no module attribute
    reaches: one held by a closure cell of ``py_func`` (``cell``), by a global of its own
    globals dictionary (``global``: a function a code generator exec'd or eval'd in a scope
    it made -- datashader's ``expand_varargs`` evaluates its kernels in a copy of the
    factory's globals and locals, so a closure variable becomes such a global), or by those
    of a jitted callee reached that way, whose code is compiled into the entry's (the same
    target, with ``via``: the steps from ``py_func``, each function's code named on the way).
    A target names the code of every function on its path: only the function the entry was
    compiled from, with callees of the same code, resolves it."""
    from numba.core.dispatcher import _DispatcherBase

    from ..image.fingerprint import code_fingerprint, module_of
    out: dict[int, Target] = {}
    if getattr(py_func, "__code__", None) is None:
        return out
    top = f"{qualname}|{code_fingerprint(py_func.__code__)}"
    seen = {id(py_func)}
    queue: list[tuple[Any, tuple[str, ...]]] = [(py_func, ())]
    while queue:
        func, path = queue.pop(0)           # breadth first: the shortest path to each function
        private = module_of(func.__globals__) is None
        for (kind, var), value in references(func):
            if not isinstance(value, _DispatcherBase):
                continue
            step = f"{'c' if kind == 'cell' else 'g'}.{var}"
            if (kind == "cell" or private) and id(value) not in out:
                ty = f"{type(value).__module__}.{type(value).__qualname__}"
                # the held function's own identity too: one code may hold other functions in
                # other closures (datashader's draw_segment, one per glyph's append), each in
                # code of its own specialization, so each its own slot
                holder = f"{func.__qualname__}|{var}|{code_fingerprint(func.__code__)}|{_held_key(value)}"
                out[id(value)] = Target(kind, module if not path else func.__module__, holder,
                                        type=ty, via="|".join((top, *path)) if path else "")
            inner = getattr(value, "py_func", None)
            if (len(path) + 1 < depth and id(inner) not in seen
                    and isinstance(getattr(inner, "__code__", None), type(py_func.__code__))):
                seen.add(id(inner))
                queue.append((inner, path + (f"{step}@{code_fingerprint(inner.__code__)}",)))
    return out


def _held_key(disp) -> str:
    """Identity of a jitted function held by a closure or globals (``value_key``: its code,
    defaults, cells and options), "" when it has none."""
    from ..image.fingerprint import value_key
    try:
        return value_key(disp)
    except Exception:  # noqa: BLE001 - no stable identity: matched by type alone, as before
        return ""


def references(func) -> list[tuple[tuple[str, str], Any]]:
    """((``cell`` | ``global``, name), value) of ``func``'s closure cells and of the globals its
    code (and the code nested in it: inner functions Numba inlines) names."""
    code = func.__code__
    refs: list[tuple[tuple[str, str], Any]] = []
    for name, cell in zip(code.co_freevars, func.__closure__ or ()):
        try:
            refs.append((("cell", name), cell.cell_contents))
        except ValueError:
            continue
    from ..image.fingerprint import code_names
    g = func.__globals__
    refs.extend((("global", n), g[n]) for n in code_names(code) if n in g)
    return refs


def _nested_code(code) -> list:
    """The code objects defined inside ``code`` (at any depth)."""
    import types as pytypes
    out, stack = [], [code]
    while stack:
        c = stack.pop()
        for k in c.co_consts:
            if isinstance(k, pytypes.CodeType):
                out.append(k)
                stack.append(k)
    return out


def made_targets(py_func, module: str, qualname: str, cres) -> dict[int, Target]:
    """Address -> ``made`` target of each jitted function Numba made while compiling ``cres``
    from a function defined inside ``py_func``'s code (a lambda passed as a sort key in
    jitted code): found among the compilation's types (alive while it is recorded). Only a
    function without closure or defaults (what ``made_function`` makes again)."""
    from numba.core import types

    from ..image.fingerprint import code_fingerprint
    out: dict[int, Target] = {}
    code = getattr(py_func, "__code__", None)
    typemap = getattr(getattr(cres, "type_annotation", None), "typemap", None)
    if code is None or not isinstance(typemap, dict):
        return out
    nested = {id(c) for c in _nested_code(code)}
    if not nested:
        return out
    for t in typemap.values():
        if type(t) is not types.Dispatcher:
            continue
        d = t._wr()
        f = getattr(d, "py_func", None)
        if (f is None or id(f.__code__) not in nested or f.__closure__ or f.__defaults__
                or f.__kwdefaults__ or f.__globals__ is not py_func.__globals__
                or {k: v for k, v in d.targetoptions.items() if v is not None} != {"nopython": True}):
            continue
        ty = type(d)
        out[id(d)] = Target("made", module, f"{qualname}|{code_fingerprint(f.__code__)}|"
                            f"{code_fingerprint(code)}", type=f"{ty.__module__}.{ty.__qualname__}")
    return out


def name_dynamic_globals(module, skip=(), local: dict[int, Target] | None = None
                         ) -> tuple[dict[str, Target], str | None]:
    """Global name -> target for every dynamic global of ``module`` not in ``skip``; or the first problem.

    ``skip``: globals handled elsewhere (jitclass box slots, see jitclass.box_slots).
    ``local``: targets of addresses found from the entry's own function (``closure_targets``).
    Globals are keyed by their canonical name (``canonical_dynamic``): ``rewrite_module``
    merges the copies llvmlite named ``<hex>.<n>`` into it.
    """
    global _namer
    if _namer is None:
        _namer = AddressNamer()
    named: dict[str, Target] = {}
    for gname, addr in sorted(dynamic_globals(module).items()):
        gname = canonical_dynamic(gname)
        if gname in skip or gname in named:
            continue
        if addr is None:
            return {}, f"a process-address global {gname} whose name does not give the address"
        t = (local or {}).get(addr) or _namer.name(addr)
        if isinstance(t, str):
            return {}, t
        named[gname] = t
    return named, None


_GLOBAL = r'@"?(numba\.dynamic\.globals\.[0-9a-f]+(?:\.[0-9]+)*)"?'
_DEF = re.compile(rf'^{_GLOBAL} = (.*)$', re.M)
_REF = re.compile(rf'{_GLOBAL}(?![-A-Za-z$._0-9])')


def rewrite_module(module, slots: dict[str, str]):
    """A copy of ``module`` whose named dynamic globals are null slots named ``slots[global]``
    (keyed by canonical names), and whose copies of one address (``<hex>.<n>``) are one global.

    Globals not in ``slots`` (jitclass box slots) keep their canonical name and are left
    for ``clear_dynamic_addresses``.

    Text round trip: llvmlite cannot replace an initializer; only modules that
    have dynamic globals pay for it. ``linkonce`` keeps LLVM from assuming the
    value (the runtime writes it) and merges the copies other modules carry.
    """
    import llvmlite.binding as ll
    text = str(module)
    defined = _DEF.findall(text)
    names = {g for g, _ in defined}
    if not {canonical_dynamic(g) for g in names} & set(slots) and all(g == canonical_dynamic(g) for g in names):
        return module            # only jitclass box slots (named by jitclass.box_slots)

    def new_name(g: str) -> str:
        c = canonical_dynamic(g)
        return slots.get(c, c)

    seen: set[str] = set()

    def definition(m: re.Match) -> str:
        name = new_name(m.group(1))
        if name in seen:
            return ""            # another copy of one address: its uses now load the first
        seen.add(name)
        if canonical_dynamic(m.group(1)) in slots:
            return f'@"{name}" = linkonce global ptr null, align 8'
        return f'@"{name}" = {m.group(2)}'

    text = _DEF.sub(definition, text)
    text = _REF.sub(lambda m: f'@"{new_name(m.group(1))}"', text)
    out = ll.parse_assembly(text)
    out.verify()
    return out


# ---------------------------------------------------------------- run-time side
_resolved: dict[Target, int] = {}
_keepalive: list[Any] = []


def resolve(target: Target) -> int:
    """The address ``target`` names in this process (memoized; imports the module if needed)."""
    addr = _resolved.get(target)
    if addr is None:
        addr = _resolved[target] = _resolve(target)
    return addr


def _resolve(t: Target) -> int:
    import importlib
    if t.kind == "capsule":
        from numba.core.extending import get_cython_function_address
        try:
            return int(get_cython_function_address(t.module, t.name))
        except (ImportError, ValueError) as e:
            raise UnresolvedAddress(f"cannot find {t.describe()}: {e}") from None
    if t.kind == "symbol":
        import llvmlite.binding as ll
        if t.threads:
            from numba.np.ufunc import parallel
            parallel._launch_threads()      # what compiling get_num_threads() & co. does
        addr = None
        if t.module:            # the library it was found in first: the name may not be unique
            handle = _libc.dlopen(t.module.encode(), RTLD_LAZY | RTLD_NOLOAD)
            if handle:
                addr = _libc.dlsym(handle, t.name.encode())
        if not addr:
            addr = ll.address_of_symbol(t.name)
        if not addr:
            addr = _libc.dlsym(None, t.name.encode())
        if not addr:
            raise UnresolvedAddress(f"cannot find {t.describe()} in this process")
        return int(addr)
    if t.kind in ("object", "pointer"):
        try:
            obj: Any = sys.modules.get(t.module) or importlib.import_module(t.module)
        except ImportError as e:
            raise UnresolvedAddress(f"cannot import {t.module} for {t.describe()}: {e}") from None
        for part in t.name.split("."):
            obj = getattr(obj, part, _MISSING)
            if obj is _MISSING:
                spec = getattr(sys.modules.get(t.module), "__spec__", None)
                if getattr(spec, "_initializing", False):
                    # its module is still being imported: install at the first call instead
                    raise UnresolvedReference(t.describe())
                raise UnresolvedAddress(f"{t.describe()} does not exist")
        ty = type(obj)
        if t.type and f"{ty.__module__}.{ty.__qualname__}" != t.type:
            raise UnresolvedAddress(f"{t.describe()} is a {ty.__module__}.{ty.__qualname__}, "
                                    f"not a {t.type} as when the image was built")
        _keepalive.append(obj)          # the code holds its address for good
        if t.kind == "pointer":
            addr = ctypes.cast(obj, ctypes.c_void_p).value
            if not addr:
                raise UnresolvedAddress(f"{t.describe()} is a null pointer")
            return int(addr)
        return id(obj)
    raise UnresolvedAddress(f"unknown address kind {t.kind!r}")


_MISSING = object()


def fill_slots(slots: dict[str, dict], address_of, py_func=None) -> None:
    """Resolve every target and write the slots (all resolved before any is written).
    ``py_func``: the function the entry is installed for (``cell`` targets are in its closure)."""
    values = []
    for sym, doc in sorted(slots.items()):
        t = Target.from_json(doc)
        where = address_of(sym)
        values.append((where, _resolve_cell(t, py_func, where) if t.kind in ("cell", "global")
                       else _resolve_made(t, py_func, where) if t.kind == "made" else resolve(t)))
    for where, value in values:
        ctypes.c_void_p.from_address(where).value = value


# slot address -> the object whose address a ``cell`` slot holds (one code, one slot: another
# closure's object of the same identity is left to the JIT, which compiles its own code)
_cell_slots: dict[int, Any] = {}


def _resolve_cell(t: Target, py_func, where: int) -> int:
    """A ``cell`` or ``global`` target (``closure_targets``): the jitted function its holder
    -- the installed function, or a jitted callee reached from it through ``via`` -- holds
    now, the holder and every function on the way of the recorded code."""
    from ..errors import Unservable
    from ..image.fingerprint import code_fingerprint, module_of
    qualname, var, fp, *held_key = t.name.split("|")
    holder, entry = py_func, t.via.split("|") if t.via else None
    if entry is not None:
        if (getattr(py_func, "__code__", None) is None or py_func.__qualname__ != entry[0]
                or code_fingerprint(py_func.__code__) != entry[1]):
            raise Unservable(f"its code holds the address of a jitted function reached from "
                             f"{entry[0]}, installed only with that function")
        for step in entry[2:]:        # a jitted callee of the recorded code: continue in it
            kind, _, rest = step.partition(".")
            name, _, next_fp = rest.partition("@")
            holder = getattr(_read(holder, "cell" if kind == "c" else "global", name), "py_func", None)
            if getattr(holder, "__code__", None) is None or code_fingerprint(holder.__code__) != next_fp:
                raise Unservable(f"{name!r} of the code compiled in is not the jitted function it was "
                                 "compiled with")
    if (getattr(holder, "__code__", None) is None or holder.__module__ != t.module
            or holder.__qualname__ != qualname or code_fingerprint(holder.__code__) != fp):
        raise Unservable(f"its code holds the address of a jitted function held by "
                         f"{t.module}.{qualname}, installed only with that function")
    what = f"{'closure cell' if t.kind == 'cell' else 'global'} {var!r} of {qualname}"
    if t.kind == "global" and module_of(holder.__globals__) is not None:
        raise Unservable(f"{what} is a module's, not of globals of its own")
    obj = _read(holder, t.kind, var)
    ty = type(obj)
    if f"{ty.__module__}.{ty.__qualname__}" != t.type:
        raise Unservable(f"{what} holds a {ty.__qualname__}, not a {t.type}")
    if held_key and held_key[0] and _held_key(obj) != held_key[0]:
        raise Unservable(f"{what} holds another jitted function than the one compiled in")
    held = _cell_slots.get(where)
    if held is not None and held is not obj:
        raise Unservable(f"its code holds the address of the jitted function of {what} "
                         f"of another function of this code (one code, one address)")
    _cell_slots[where] = obj         # kept alive: the code holds its address for good
    return id(obj)


def _read(func, kind: str, var: str) -> Any:
    """The value of closure cell (``cell``) or global (``global``) ``var`` of ``func``."""
    from ..errors import Unservable
    code = getattr(func, "__code__", None)
    if kind == "cell":
        names = code.co_freevars if code is not None else ()
        if var not in names:
            raise Unservable(f"{getattr(func, '__qualname__', func)!r} has no closure cell {var!r}")
        try:
            return (func.__closure__ or ())[names.index(var)].cell_contents
        except ValueError:
            raise Unservable(f"closure cell {var!r} of {func.__qualname__} is empty") from None
    value = getattr(func, "__globals__", {}).get(var, _MISSING)
    if value is _MISSING:
        raise Unservable(f"global {var!r} of {getattr(func, '__qualname__', func)} is not defined")
    return value


def _resolve_made(t: Target, py_func, where: int) -> int:
    """A ``made`` target: the jitted function Numba made from a function defined inside the
    entry's code, made again from that code constant as Numba makes it (``njit()`` of the
    function ``ir_utils`` creates from the code, with the caller's globals); one per slot."""
    from ..errors import Unservable
    from ..image.fingerprint import code_fingerprint
    held = _cell_slots.get(where)
    if held is not None:
        return id(held)
    qualname, _, rest = t.name.partition("|")
    inner_fp, _, fp = rest.partition("|")
    code = getattr(py_func, "__code__", None)
    if (code is None or py_func.__module__ != t.module or py_func.__qualname__ != qualname
            or code_fingerprint(code) != fp):
        raise Unservable(f"its code holds the address of a jitted function made from code inside "
                         f"{t.module}.{qualname}, installed only with that function")
    inner = [c for c in _nested_code(code) if code_fingerprint(c) == inner_fp]
    if not inner or inner[0].co_freevars:
        raise Unservable(f"the code of the jitted function {t.module}.{qualname} makes is not in it")
    from numba import njit
    from numba.core.ir_utils import _create_function_from_code_obj
    func = _create_function_from_code_obj(inner[0], "", "", "", py_func.__globals__)
    disp = njit()(func)
    ty = type(disp)
    if f"{ty.__module__}.{ty.__qualname__}" != t.type:
        raise Unservable(f"a jitted function made here is a {ty.__qualname__}, not a {t.type}")
    _cell_slots[where] = disp        # kept alive: the code holds its address for good
    return id(disp)
