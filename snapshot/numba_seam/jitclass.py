"""jitclass (numba.experimental.jitclass): identity, recording and serving.

A jitclass is rebuilt in every process: ``register_class_type`` makes a new
``ClassType`` (its name carries ``id()``), jits every method, property accessor
and static method as its own dispatcher, and ``JitClassType._set_init`` makes a
constructor dispatcher from a template (``ctor``, no module). Boxing an instance
for Python (``_specialize_box``) builds a ``Box`` subclass with generated
accessor/mutator/method dispatchers, and the boxing code embeds that subclass's
address (a dynamic global).

So a class is identified by its original module + qualname + field spec (text,
addresses stripped), and each dispatcher by its *part* of the class (ctor,
method:NAME, get:/set:PROP, static:NAME, box-get:/box-set:FIELD,
box-call:NAME). Each part is served per signature like any dispatcher, under
its part's name (``kinds.JitclassKind``). Boxing code gets a writable slot per
Box subclass, filled at install time with the address of this process's subclass.

Both sides name each part's dispatcher (``PART_IDENTITY``). Trace side:
``TraceHooks`` renames class types with first-seen counters (reproducible images).
Runtime side: ``ServeHooks`` keeps a registry of live classes (to resolve the
references stored in image payloads).
"""
from __future__ import annotations

import ctypes
import re
import threading
from typing import Any, Callable

from . import Patches

_ADDR = re.compile(r"#[0-9a-f]+")
PART_IDENTITY = "_snap_part"    # a part's dispatcher's __dict__: (module, qualname, options suffix)
DYNAMIC_PREFIX = "numba.dynamic.globals."

# (module, qualname, spec) -> live ClassType (resolves payload references at run time)
_REGISTRY: dict[tuple[str, str, str], Any] = {}
_boxing = threading.local()     # .stack: the ClassInstanceTypes being boxed (innermost last)


def _stack() -> list:
    if not hasattr(_boxing, "stack"):
        _boxing.stack = []
    return _boxing.stack


def stable_text(t) -> str:
    """Text of a Numba type without the process addresses jitclass/deferred types carry."""
    return _ADDR.sub("#", str(t))


def spec_text(class_type) -> str:
    """The field spec and a digest of the class's code: two classes of one name and spec
    (a class redefined, or made twice by a factory with other methods) are different classes."""
    text = class_type.__dict__.get("_snap_spec")
    if text is None:
        text = ",".join(f"{k}:{stable_text(v)}" for k, v in class_type.struct.items())
        text += ";code=" + _code_digest(class_type)
        class_type.__dict__["_snap_spec"] = text
    return text


def _code_digest(class_type) -> str:
    from ..image.fingerprint import code_fingerprint
    import hashlib
    funcs = dict(getattr(class_type, "methods", {}) or {})
    funcs.update({f"static:{k}": getattr(v, "py_func", v)
                  for k, v in (getattr(class_type, "static_methods", {}) or {}).items()})
    for prop, accessors in (getattr(class_type, "jit_props", {}) or {}).items():
        for acc, disp in accessors.items():
            funcs[f"{acc}:{prop}"] = getattr(disp, "py_func", disp)
    h = hashlib.blake2b(digest_size=8)
    for name in sorted(funcs):
        code = getattr(funcs[name], "__code__", None)
        h.update(f"{name}={code_fingerprint(code) if code is not None else '?'};".encode())
    return h.hexdigest()


def origin(class_type) -> tuple[str, str] | None:
    """(module, qualname) of the user's class a ClassType was made from."""
    return class_type.__dict__.get("_snap_origin")


def class_key(class_type) -> tuple[str, str, str] | None:
    o = origin(class_type)
    return (o[0], o[1], spec_text(class_type)) if o else None


def part_identity(owner, class_type, role: str) -> tuple[str, str, str]:
    """(module, qualname, options suffix) of a jitclass part, the same in every process.

    User code (methods, properties, static methods) keeps its own qualname, so
    staleness is judged on it; generated code is named after the class.
    """
    module, cls_qualname = origin(class_type)
    py_func = owner.py_func
    if role.startswith(("method:", "get:", "set:", "static:")):
        qualname = py_func.__qualname__
    else:
        qualname = f"{cls_qualname}.<{role}>"
    return module, qualname, f";jitclass={spec_text(class_type)};role={role}"


def _parts_of_class(cls_jitted) -> list[tuple[Any, str]]:
    ct = cls_jitted.class_type
    parts = [(cls_jitted._ctor, "ctor")]
    parts += [(d, f"method:{k}") for k, d in ct.jit_methods.items()]
    for k, dct in ct.jit_props.items():
        parts += [(d, f"{acc}:{k}") for acc, d in dct.items()]
    parts += [(d, f"static:{k}") for k, d in ct.jit_static_methods.items()]
    return parts


def _method_dispatcher(wrapper):
    """The dispatcher inside the Python wrapper that ``boxing._generate_method`` returns."""
    from numba.core.dispatcher import Dispatcher
    for cell in getattr(wrapper, "__closure__", None) or ():
        if isinstance(cell.cell_contents, Dispatcher):
            return cell.cell_contents
    return None


class _Hooks(Patches):
    """Hooks common to both sides: class registration and Box subclass creation."""

    def on_part(self, owner, class_type, role: str) -> None:
        # the part's name, the same in the training run and at run time (kinds.JitclassKind)
        owner.__dict__[PART_IDENTITY] = part_identity(owner, class_type, role)

    def on_class(self, cls_jitted) -> None:
        base = cls_jitted.__bases__[0]
        ct = cls_jitted.class_type
        ct.__dict__["_snap_origin"] = (base.__module__, base.__qualname__)
        _REGISTRY[class_key(ct)] = ct
        for owner, role in _parts_of_class(cls_jitted):
            self.on_part(owner, ct, role)

    def install(self) -> None:
        # base is imported by the first @jitclass: hooking it earlier would import it
        self.when_imported("numba.experimental.jitclass.base", self._install)

    def _install(self, base) -> None:
        from numba.experimental.jitclass import boxing
        hooks = self

        def register_class_type(orig, *a, **kw):
            cls_jitted = orig(*a, **kw)
            _never_fail(hooks.on_class, cls_jitted)
            return cls_jitted

        def specialize_box(orig, typ):
            cached = boxing._cache_specialized_box.get(typ)
            if cached is not None:
                return cached
            _stack().append(typ)
            try:
                cls = orig(typ)
            finally:
                _stack().pop()
            for address, want, keepalive in [d for d in _DEFERRED if d[1] is typ]:
                _DEFERRED.remove((address, want, keepalive))
                _write_slot(address, cls, keepalive)
            return cls

        def box_part(kind: str):
            def hook(orig, name, *a, **kw):
                made = orig(name, *a, **kw)
                owner = _method_dispatcher(made) if kind == "box-call" else made
                if owner is not None and _stack() and origin(_stack()[-1].class_type):
                    _never_fail(hooks.on_part, owner, _stack()[-1].class_type, f"{kind}:{name}")
                return made
            return hook

        self.wrap_function(base, "register_class_type", register_class_type)
        self.wrap_function(boxing, "_specialize_box", specialize_box)
        self.wrap_function(boxing, "_generate_getter", box_part("box-get"))
        self.wrap_function(boxing, "_generate_setter", box_part("box-set"))
        self.wrap_function(boxing, "_generate_method", box_part("box-call"))

    def wrap_function(self, module, name: str, hook: Callable) -> None:
        """Replace a module-level function (callers look it up by name at call time)."""
        orig = getattr(module, name)

        def wrapper(*args, **kw):
            return hook(orig, *args, **kw)

        setattr(module, name, wrapper)
        self._undo.append(lambda: setattr(module, name, orig))


def _never_fail(hook: Callable, *args) -> None:
    """Snap's bookkeeping must not break making a jitclass: on a bug, warn and let the JIT work."""
    from ..errors import Guard
    global _GUARD
    if _GUARD is None:
        _GUARD = Guard(strict=False)
    _GUARD("in a jitclass hook (this class is left to the JIT)", hook, *args)


_GUARD = None


class TraceHooks(_Hooks):
    """Training run: stable class type names (and, as at run time, the parts named)."""

    def install(self) -> None:
        from numba.core import types
        super().install()
        counter: dict[int, int] = {}
        keep: list = []

        def class_type_init(orig, self, *a, **kw):
            orig(self, *a, **kw)
            keep.append(self)
            n = counter.setdefault(id(self), len(counter))
            self.name = self.name.replace("#%x<" % id(self), "#%d<" % n, 1)

        self.wrap(types.ClassType, "__init__", class_type_init)


class ServeHooks(_Hooks):
    """Run time: name each part's dispatcher as the image does; its signatures are then
    served like any dispatcher's, when Numba asks for them (runtime.serving)."""


# ------------------------------------------------------------------ payload references
def persistent_ref(obj) -> tuple | None:
    """A by-name reference for jitclass types (their objects are per process), else None."""
    from numba.core import types
    if isinstance(obj, types.ClassInstanceType):
        which, ct = "instance", obj.class_type
    elif isinstance(obj, types.ClassType):
        which, ct = "class", obj
    else:
        return None
    key = class_key(ct)
    if key is None:
        import pickle
        raise pickle.PicklingError(f"jitclass {ct.class_name} was made before snap's hooks")
    return ("jitclass", *key, which)


def resolve_ref(pid: tuple):
    """The live type a ``persistent_ref`` names; LookupError if that class does not exist (yet)."""
    _, module, qualname, spec, which = pid
    ct = _REGISTRY.get((module, qualname, spec))
    if ct is None:
        raise LookupError(f"jitclass {module}.{qualname}")
    return ct.instance_type if which == "instance" else ct


# ------------------------------------------------------------------ box slots
def box_slots(module) -> dict[str, Any] | None:
    """Dynamic globals of ``module`` that hold a jitclass Box subclass -> its instance type.

    None when some dynamic global is anything else (then the code cannot be served).
    Keyed by canonical name: copies of one address (``<hex>.<n>``, a function boxing two
    instances of one class) are merged into it at build (``addresses.rewrite_module``).
    """
    from numba.experimental.jitclass import boxing

    from .addresses import canonical_dynamic, dynamic_globals
    by_id = {id(cls): typ for typ, cls in boxing._cache_specialized_box.items()}
    out: dict[str, Any] = {}
    for name, addr in dynamic_globals(module).items():
        typ = by_id.get(addr) if addr is not None else None
        if typ is None:
            return None
        out[canonical_dynamic(name)] = typ
    return out


def slot_role(typ) -> str:
    return "box:" + class_key(typ.class_type)[1] + "<" + spec_text(typ.class_type) + ">"


_DEFERRED: list[tuple[int, Any, list]] = []


def fill_box_slot(address: int, typ, keepalive: list) -> None:
    """Point an image's box slot at this process's Box subclass for ``typ``.

    While that subclass is being made (its own accessors box ``typ``, e.g. a
    linked-list node), the slot is filled as soon as it exists.
    """
    from numba.experimental.jitclass import boxing
    if typ in _stack():
        _DEFERRED.append((address, typ, keepalive))
        return
    _write_slot(address, boxing._specialize_box(typ), keepalive)


def _write_slot(address: int, cls, keepalive: list) -> None:
    keepalive.append(cls)
    ctypes.c_void_p.from_address(address).value = id(cls)
