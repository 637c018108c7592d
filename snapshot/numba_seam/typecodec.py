"""Numba argument types as data: what a miss report says, parsed and never executed.

A miss report travels: worker processes append to it on shared paths, it is copied
between machines and folded into release builds (``snap create --add-misses``).
Whoever can write one must not be able to run code in the build, so its types are
a JSON tree read by this module, not a pickle (which runs whatever callable it
names) and not names to import.

The tree follows how Numba itself pickles a type (``numba.core.types.abstract``:
``Type.__reduce__`` -> ``_type_reconstructor``): a type is its class and its
instance state (``__dict__``). Reading does not take that state on trust, as
unpickling would: a type's identity (``key``) need not cover its whole state, and
Numba keeps one object per key, so a state no constructor makes (a record type
named for one layout, with the fields of another) could stand for the real type.
The class's own constructor is called with the arguments the state names and must
give that very state (``_rebuild``); a class whose constructor cannot be matched is
taken only as the equal type this process already has. The result is interned, so
a description of a type the process has yields that very object. Nodes:

* JSON null/bool/int/float/str: themselves;
* ``{"tuple": [...]}``, ``{"list": [...]}``, ``{"dict": [[k, v], ...]}``,
  ``{"complex": [re, im]}``, ``{"bytes": "hex"}``;
* ``{"type": [module, qualname], "state": {attr: node}}``: a Numba type. Read only
  if the class is a subclass of ``numba.core.types.Type`` in a module the process
  has ALREADY imported (``sys.modules``; nothing is ever imported);
* ``{"dtype": descr}``: a NumPy dtype by its ``.npy`` description (parsed by NumPy);
* references to live objects, found by name in ``sys.modules`` (module and class
  namespaces read, no attribute computed) and checked for their kind:
  ``{"dispatcher": [m, q]}`` (a jitted function), ``{"pyfunc": [m, q]}`` (its
  Python function), ``{"dispatcher_type": [m, q]}`` (the type of a jitted function
  passed as an argument), ``{"class": [m, q]}`` (an enum or namedtuple class),
  ``{"member": [m, q], "name": n}`` (an enum member), ``{"namedtuple": [m, q],
  "items": [...]}``, ``{"jitclass": [m, q, spec, "class"|"instance"]}`` (by the
  registry ``jitclass`` keeps), ``{"weakref": node}``, ``{"signature": [return,
  args, recvr]}`` (a typing signature, e.g. of a first-class function type).

Writing checks that the tree reads back as equal types in the writing process; a
type that cannot be described (a lambda's dispatcher, an object of no known kind)
is reported as such (``Undescribable``) and the caller leaves the types out.
Reading is bounded (depth, nodes) and raises ``BadTypes`` with one line of reason.
"""
from __future__ import annotations

import copyreg
import enum
import inspect
import types as pytypes
import weakref
from typing import Any, Callable, Iterable

CODEC = 1              # the "codec" of a report line's "types"
MAX_DEPTH = 64         # nesting of one description (a real signature is a few levels deep)
MAX_NODES = 50_000     # nodes of one line's description

# module and class namespaces read as data: a module's own ``__getattribute__`` (a lazy
# module's loader) or a metaclass's is never called
_MODULE_DICT = pytypes.ModuleType.__dict__["__dict__"]
_CLASS_DICT = type.__dict__["__dict__"]

class Undescribable(Exception):
    """A type this format cannot describe (the message says what): left out of a report."""


class BadTypes(ValueError):
    """A description refused on reading (the message says why, in one line)."""


# ------------------------------------------------------------------ finding live objects
def live_object(module: str, qualname: str, mains: Iterable[pytypes.ModuleType] = ()) -> Any:
    """``module.qualname`` in this process, or None. Only modules already imported are
    looked in (``__main__``: the workloads' namespaces ``mains``, else ``sys.modules``);
    namespaces are read as dicts: no import, no module ``__getattr__``, no descriptor."""
    import sys
    if not isinstance(module, str) or not isinstance(qualname, str) or "<locals>" in qualname:
        return None
    mods = list(mains) if module == "__main__" and mains else [sys.modules.get(module)]
    for mod in mods:
        if not isinstance(mod, pytypes.ModuleType):
            continue
        obj: Any = mod
        for part in qualname.split("."):
            ns = _MODULE_DICT.__get__(obj) if isinstance(obj, pytypes.ModuleType) else (
                _CLASS_DICT.__get__(obj) if isinstance(obj, type) else None)
            obj = ns.get(part) if ns is not None else None
            if obj is None:
                break
        if obj is not None:
            return obj
    return None


def module_is_imported(module: str, mains: Iterable[pytypes.ModuleType] = ()) -> bool:
    import sys
    mains = list(mains)
    return bool(mains) if module == "__main__" and mains else module in sys.modules


# ------------------------------------------------------------------ writing
def encode_types(args: Iterable) -> dict:
    """The description of a signature's argument types; Undescribable if some type has none.

    Checked by reading it back here: what is written is what ``decode_types`` rebuilds."""
    args = tuple(args)
    try:
        enc = _Encoder()
        tree = {"codec": CODEC, "args": [enc.node(a, 0) for a in args]}
    except Undescribable:
        raise
    except RecursionError:
        raise Undescribable("nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - e.g. a jitclass made before snap's hooks
        raise Undescribable((f"{type(e).__name__}: {e}".splitlines() or [""])[0][:300]) from None
    try:
        back = decode_types(tree)
    except BadTypes as e:
        raise Undescribable(f"does not read back ({e})") from None
    for a, b in zip(args, back):
        if type(a) is not type(b) or a != b:
            raise Undescribable(f"{a} does not read back as the same type (read as {b})")
    return tree


def _ref(obj) -> list[str]:
    return [obj.__module__, obj.__qualname__]


class _Encoder:
    def __init__(self) -> None:
        self.nodes = 0

    def node(self, v: Any, depth: int) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise Undescribable("too large or nested too deeply")
        from numba.core import types
        from numba.core.dispatcher import Dispatcher
        if v is None or type(v) in (bool, int, float, str):
            return v
        if type(v) is complex:
            return {"complex": [v.real, v.imag]}
        if type(v) is bytes:
            return {"bytes": v.hex()}
        if type(v) in (tuple, list):
            return {type(v).__name__: [self.node(x, depth + 1) for x in v]}
        if type(v) is dict:
            return {"dict": [[self.node(k, depth + 1), self.node(x, depth + 1)] for k, x in v.items()]}
        if isinstance(v, types.Type):
            return self.type_node(v, depth)
        if isinstance(v, weakref.ref):
            target = v()
            if target is None:
                raise Undescribable("refers to an object that no longer exists")
            return {"weakref": self.node(target, depth + 1)}
        if isinstance(v, Dispatcher):
            return {"dispatcher": self.named(v.py_func, v)}
        if isinstance(v, pytypes.FunctionType):
            disp = live_object(v.__module__, v.__qualname__)
            if getattr(disp, "py_func", None) is not v:
                raise Undescribable(f"refers to the Python function {v.__module__}.{v.__qualname__}, "
                                    "not a jitted function's")
            return {"pyfunc": _ref(v)}
        if isinstance(v, type):
            if not _accepted_class(v):
                raise Undescribable(f"refers to the class {v.__module__}.{v.__qualname__} "
                                    "(only enum and namedtuple classes are)")
            return {"class": self.named(v, v)}
        if isinstance(v, enum.Enum):
            return {"member": self.named(type(v), type(v)), "name": v.name}
        if isinstance(v, tuple) and _is_namedtuple(type(v)):
            return {"namedtuple": self.named(type(v), type(v)), "items": [self.node(x, depth + 1) for x in v]}
        import numpy as np
        if isinstance(v, np.dtype):
            from numpy.lib.format import dtype_to_descr
            return {"dtype": self.node(dtype_to_descr(v), depth + 1)}
        from numba.core.typing.templates import Signature
        if type(v) is Signature:
            if v.pysig is not None:
                raise Undescribable(f"a signature with a Python signature ({v})")
            return {"signature": [self.node(v.return_type, depth + 1),
                                  [self.node(a, depth + 1) for a in v.args], self.node(v.recvr, depth + 1)]}
        t = type(v)
        raise Undescribable(f"holds a {t.__module__}.{t.__qualname__}")

    @staticmethod
    def named(named, obj) -> list[str]:
        """[module, qualname] of ``named``, which must find ``obj`` again by name."""
        ref = _ref(named)
        if live_object(*ref) is not obj:
            raise Undescribable(f"refers to {ref[0]}.{ref[1]}, which cannot be found by name "
                                "(made inside a function, or renamed)")
        return ref

    def type_node(self, t, depth: int) -> dict:
        from numba.core import types
        from numba.core.types.abstract import _type_reconstructor

        from . import jitclass
        if isinstance(t, (types.ClassInstanceType, types.ClassType)):
            ref = jitclass.persistent_ref(t)      # the class by its key in jitclass's registry
            return {"jitclass": list(ref[1:])}
        if type(t) is types.Dispatcher:
            # by its jitted function (its name holds an address; its key, the object)
            return {"dispatcher_type": self.named(t.dispatcher.py_func, t.dispatcher)}
        cls = type(t)
        reduced = t.__reduce__()
        if (len(reduced) != 2 or reduced[0] is not _type_reconstructor
                or reduced[1][0] is not copyreg._reconstructor or reduced[1][1][:2] != (cls, object)
                or not isinstance(reduced[1][2], dict)):
            raise Undescribable(f"the type {t} is pickled in its own way")
        state = {}
        for k, v in reduced[1][2].items():
            if k == "_code":
                continue            # the process's number for the type (interning gives one)
            state[k] = self.node(v, depth + 1)
        return {"type": self.named(cls, cls), "state": state}


def _accepted_class(cls: type) -> bool:
    return issubclass(cls, enum.Enum) or _is_namedtuple(cls)


def _is_namedtuple(cls: type) -> bool:
    fields = inspect.getattr_static(cls, "_fields", None)
    return issubclass(cls, tuple) and isinstance(fields, tuple) and all(isinstance(f, str) for f in fields)


# ------------------------------------------------------------------ reading
def decode_types(tree: Any, mains: Iterable[pytypes.ModuleType] = ()) -> tuple:
    """The argument types a description names, from this process's live classes and objects.

    Raises BadTypes (one line) for anything malformed, unknown here or not allowed."""
    if not isinstance(tree, dict) or tree.get("codec") != CODEC or not isinstance(tree.get("args"), list):
        raise BadTypes(f"not a description of argument types (codec {CODEC})")
    dec = _Decoder(tuple(mains))
    try:
        return tuple(dec.node(a, 0) for a in tree["args"])
    except RecursionError:
        raise BadTypes("nested too deeply") from None
    except BadTypes:
        raise
    except Exception as e:  # noqa: BLE001 - a class's own code (its constructor, its ``key``,
        # NumPy's dtype parser) refused the data given: the description is refused
        raise BadTypes((f"{type(e).__name__}: {e}".splitlines() or [""])[0][:300]) from None


class _Decoder:
    def __init__(self, mains: tuple) -> None:
        self.mains = mains
        self.nodes = 0

    def find(self, ref: Any, what: str) -> Any:
        if (not isinstance(ref, list) or len(ref) != 2
                or not all(isinstance(x, str) and 0 < len(x) <= 1000 and x.isprintable() for x in ref)):
            raise BadTypes(f"malformed reference to {what}")
        module, qualname = ref
        if not module_is_imported(module, self.mains):
            raise BadTypes(f"module {module} is not imported by the workloads; "
                           "a miss report never imports code")
        obj = live_object(module, qualname, self.mains)
        if obj is None:
            raise BadTypes(f"{module}.{qualname} does not exist here")
        return obj

    def node(self, v: Any, depth: int) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise BadTypes("description too large or nested too deeply")
        if v is None or type(v) in (bool, int, float, str):
            return v
        if type(v) is not dict or len(v) not in (1, 2):
            raise BadTypes(f"malformed node ({type(v).__name__})")
        kind = next(iter(v))
        body = v[kind]

        def items(x) -> list:
            if type(x) is not list:
                raise BadTypes(f"malformed {kind} node")
            return [self.node(i, depth + 1) for i in x]

        if kind in ("tuple", "list") and len(v) == 1:
            out = items(body)
            return tuple(out) if kind == "tuple" else out
        if kind == "dict" and len(v) == 1:
            if type(body) is not list or not all(type(p) is list and len(p) == 2 for p in body):
                raise BadTypes("malformed dict node")
            return {self.node(k, depth + 1): self.node(x, depth + 1) for k, x in body}
        if kind == "complex" and len(v) == 1:
            re_im = items(body)
            if len(re_im) != 2 or not all(type(x) in (int, float) for x in re_im):
                raise BadTypes("malformed complex node")
            return complex(*re_im)
        if kind == "bytes" and len(v) == 1 and type(body) is str:
            return bytes.fromhex(body)
        if kind == "type" and set(v) == {"type", "state"}:
            return self.type_(body, v["state"], depth)
        if kind == "jitclass" and len(v) == 1:
            return self.jitclass(body)
        if kind == "dispatcher_type" and len(v) == 1:
            from numba.core import types
            return types.Dispatcher(self.dispatcher(body))
        if kind == "dispatcher" and len(v) == 1:
            return self.dispatcher(body)
        if kind == "pyfunc" and len(v) == 1:
            return self.dispatcher(body).py_func
        if kind == "weakref" and len(v) == 1:
            from numba.core.types.functions import _PickleableWeakRef
            target = self.node(body, depth + 1)
            if target is None or type(target) in (bool, int, float, str, tuple, list, dict):
                raise BadTypes("malformed weakref node")
            return _PickleableWeakRef(target)
        if kind == "class" and len(v) == 1:
            cls = self.find(body, "a class")
            if not isinstance(cls, type) or not _accepted_class(cls):
                raise BadTypes(f"{body[0]}.{body[1]} is not an enum or namedtuple class")
            return cls
        if kind == "member" and set(v) == {"member", "name"}:
            cls = self.find(body, "an enum")
            if not isinstance(cls, type) or not issubclass(cls, enum.Enum) or type(v["name"]) is not str:
                raise BadTypes(f"{body[0]}.{body[1]} is not an enum class")
            member = _CLASS_DICT.__get__(cls).get("_member_map_", {}).get(v["name"])
            if member is None:
                raise BadTypes(f"{body[0]}.{body[1]} has no member {v['name'][:100]}")
            return member
        if kind == "namedtuple" and set(v) == {"namedtuple", "items"}:
            cls = self.find(body, "a namedtuple class")
            if not isinstance(cls, type) or not _is_namedtuple(cls):
                raise BadTypes(f"{body[0]}.{body[1]} is not a namedtuple class")
            values = items(v["items"])
            if len(values) != len(inspect.getattr_static(cls, "_fields")):
                raise BadTypes(f"{body[0]}.{body[1]}: wrong number of items")
            return tuple.__new__(cls, values)         # no __new__ of the class runs
        if kind == "dtype" and len(v) == 1:
            from numpy.lib.format import descr_to_dtype
            return descr_to_dtype(self.node(body, depth + 1))
        if kind == "signature" and len(v) == 1:
            from numba.core import types
            from numba.core.typing.templates import Signature
            if type(body) is not list or len(body) != 3 or type(body[1]) is not list:
                raise BadTypes("malformed signature node")
            ret, recvr = self.node(body[0], depth + 1), self.node(body[2], depth + 1)
            args = items(body[1])
            if not all(isinstance(t, types.Type) for t in [ret, *args]) or not (
                    recvr is None or isinstance(recvr, types.Type)):
                raise BadTypes("a signature of something other than types")
            return Signature(ret, tuple(args), recvr)
        raise BadTypes(f"unknown node {kind[:40]!r}")

    def dispatcher(self, ref: Any):
        from numba.core.dispatcher import Dispatcher
        obj = self.find(ref, "a jitted function")
        if not isinstance(obj, Dispatcher):
            raise BadTypes(f"{ref[0]}.{ref[1]} is not a jitted function")
        return obj

    def jitclass(self, body: Any):
        from . import jitclass
        if (type(body) is not list or len(body) != 4 or not all(type(x) is str for x in body)
                or body[3] not in ("class", "instance")):
            raise BadTypes("malformed jitclass node")
        if not module_is_imported(body[0], self.mains):
            raise BadTypes(f"module {body[0]} is not imported by the workloads; "
                           "a miss report never imports code")
        try:
            return jitclass.resolve_ref(("jitclass", *body))
        except LookupError:
            raise BadTypes(f"jitclass {body[0]}.{body[1]} (of these fields and code) "
                           "does not exist here") from None

    def type_(self, ref: Any, state: Any, depth: int):
        from numba.core import types
        cls = self.find(ref, "a Numba type")
        if not isinstance(cls, type) or not issubclass(cls, types.Type):
            raise BadTypes(f"{ref[0]}.{ref[1]} is not a Numba type")
        if issubclass(cls, (types.ClassInstanceType, types.ClassType, types.Dispatcher)):
            raise BadTypes(f"{ref[0]}.{ref[1]} is described by reference only")
        if type(state) is not dict or not all(
                type(k) is str and k.isidentifier() and not k.startswith("__") and k != "_code"
                for k in state):
            raise BadTypes(f"malformed state of a {ref[1]}")
        return _rebuild(cls, {k: self.node(x, depth + 1) for k, x in state.items()})


# Constructor parameters of Numba's types that are not stored under their own name (or
# "_" + name): how to find them in a type's state.
_PARAMETER_ALIASES: dict[str, Callable[[dict], Any]] = {
    "readonly": lambda s: not s.get("mutable", True), "cls": lambda s: s["instance_class"],
    "itemty": lambda s: s["item_type"], "keyty": lambda s: s["key_type"],
    "valty": lambda s: s["value_type"], "typ": lambda s: s["type"],
    "value": lambda s: s["_literal_value"],
}


def _record_fields(s: dict) -> Any:
    # Record keeps {name: _RecordField}; its constructor takes [(name, {type, offset, ...})]
    return [(k, f._asdict()) for k, f in s["fields"].items()]


def _rebuild(cls: type, state: dict):
    """The type of class ``cls`` that ``state`` describes, made by the class's constructor.

    A Numba type's identity (``key``) need not cover all its state (a record type is
    equal by its name, its field offsets are state too), and Numba keeps one object per
    key (``_intern``): a type described with a state its class would never make (a name
    saying one layout, fields another) could stand, for the rest of the build, for the
    real type of that key, and code compiled for it be served for the real one. So a
    description is believed only as far as the class's own constructor confirms it: the
    constructor is called with the arguments the state names and must produce that
    state. A class whose constructor's parameters cannot be found in its state is taken
    only as a type this process has already (an equal one is live: that one is used).
    """
    from numba.core import types
    from numba.core.types.abstract import _typecache
    made = None
    params = _constructor_parameters(cls)
    if params is not None:
        kwargs = {}
        for p in params:
            if issubclass(cls, types.Record) and p.name == "fields":
                kwargs[p.name] = _record_fields(state)
            elif p.name in state:
                kwargs[p.name] = state[p.name]
            elif "_" + p.name in state:
                kwargs[p.name] = state["_" + p.name]
            elif p.name in _PARAMETER_ALIASES:
                kwargs[p.name] = _PARAMETER_ALIASES[p.name](state)
            elif p.default is inspect.Parameter.empty:
                params = None
                break
    if params is not None:
        made = type.__call__(cls, **kwargs)           # the class's own __new__/__init__, not interned
        own = _comparable_state(made)
        if type(made) is not cls or any(k not in state or state[k] != v for k, v in own.items()):
            diff = sorted(k for k, v in own.items() if k not in state or state[k] != v)
            raise BadTypes(f"a {cls.__qualname__} described with a state its constructor does not "
                           f"make ({', '.join(diff) or 'class'})")
        # state beyond what the constructor sets (caches Numba fills lazily) is dropped
        return cls._intern(made)
    bare = copyreg._reconstructor(cls, object, None)   # as unpickling does (Type.__reduce__)
    bare.__dict__.update(state)
    live = _typecache.get(weakref.ref(bare))
    live = live and live()
    if live is None:
        raise BadTypes(f"a {cls.__qualname__} that this process does not have, and whose "
                       "constructor cannot confirm its description")
    return live


def _comparable_state(t) -> dict:
    return {k: v for k, v in vars(t).items() if k != "_code"}


def _constructor_parameters(cls: type) -> list[inspect.Parameter] | None:
    """The named parameters of the constructor that makes ``cls``'s instances (the first
    ``__new__`` or ``__init__`` up its MRO that is not a mere ``*args, **kwargs`` relay)."""
    for klass in cls.__mro__:
        for name in ("__new__", "__init__"):
            f = vars(klass).get(name)
            if f is None:
                continue
            f = getattr(f, "__func__", f)
            try:
                params = list(inspect.signature(f).parameters.values())[1:]
            except (TypeError, ValueError):
                return None
            named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            if any(p.kind == p.POSITIONAL_ONLY for p in params):
                return None
            if named or not params:
                return named
    return None
