"""What identifies Numba's own objects when a compilation reads one (``fingerprint.value_key``).

A global bound to an ``@intrinsic``, a ``@stencil``, a jitclass or a jitclass type is
read by the compiler through Numba objects whose ``__dict__`` also holds caches and
per-process ids; each is fingerprinted by what the compiler takes from it instead.
Registered by class name (``fingerprint.OBJECT_PARTS``): nothing is imported here.
"""
from __future__ import annotations

from typing import Any

from ..image.fingerprint import OBJECT_PARTS


def _intrinsic(v) -> Any:
    # the generator runs when a call is typed, and its codegen when it is lowered: both are
    # the user's code (the function and the ones nested in it)
    return (v._name, v._defn, v._prefer_literal, sorted(v._ctor_kwargs.items()))


def _stencil(v) -> Any:
    # the kernel was translated to IR when @stencil ran: its code, and the globals it read then
    from numba.core import ir
    func = getattr(v.kernel_ir.func_id, "func", None)
    read = sorted((str(inst.value.name), inst.value.value) for block in v.kernel_ir.blocks.values()
                  for inst in block.body
                  if isinstance(inst, ir.Assign) and isinstance(inst.value, (ir.Global, ir.FreeVar)))
    return (func, v.mode, sorted((k, v.options[k]) for k in v.options), read)


def _jitclass(cls) -> Any:
    from .jitclass import spec_text
    ct = cls.class_type
    return (spec_text(ct), ct.jit_methods, ct.jit_props, ct.jit_static_methods)


def _class_type(t) -> Any:
    from .jitclass import spec_text
    return (t.class_name, spec_text(t), t.jit_methods, t.jit_props, t.jit_static_methods)


def _class_instance_type(t) -> Any:
    return ("instance", _class_type(t.class_type))


def _cfunc(v) -> Any:
    # a @cfunc: its function, declared signature and options (its address is per process)
    return (v._pyfunc, str(v._sig), getattr(v._compiler, "targetoptions", None))


OBJECT_PARTS.update({
    "numba.core.ccallback.CFunc": _cfunc,
    "numba.core.extending._Intrinsic": _intrinsic,
    "numba.stencils.stencil.StencilFunc": _stencil,
    "numba.experimental.jitclass.base.JitClassType": _jitclass,
    "numba.core.types.misc.ClassType": _class_type,
    "numba.core.types.misc.ClassInstanceType": _class_instance_type,
})


# ------------------------------------------------------------------ typing templates' options
# What a typing template of an @overload / @overload_method / @intrinsic was declared with,
# besides its typing function: the implementation is compiled (inlined, fast-math...) by it.
_TEMPLATE_OPTIONS = ("_jit_options", "_inline", "prefer_literal", "_strict", "metadata")
_TYPING_FUNCTION = ("_overload_func", "_definition_func")


def typing_function(cls) -> Any:
    """The user's function a typing template runs (None: a template of another kind)."""
    for name in _TYPING_FUNCTION:
        for c in getattr(cls, "__mro__", ()):
            f = c.__dict__.get(name)
            if f is not None:
                return f.__func__ if isinstance(f, staticmethod) else f
    return None


def template_options(cls) -> Any:
    """The options a typing template was declared with, as plain values."""
    out = []
    for name in _TEMPLATE_OPTIONS:
        v = getattr(cls, name, None)
        if name == "_inline":
            v = getattr(v, "_inline", v)           # InlineOptions: 'always', 'never' or a cost model
        out.append((name, v))
    return tuple(out)


class _Templates:
    """The typing templates registered for each typing function, found in Numba's registry
    (what ``@overload`` and friends register at import)."""

    def __init__(self) -> None:
        self._seen = -1
        self._by_name: dict[tuple[str, str], Any] = {}

    def find(self, module: str, qualname: str) -> Any:
        from numba.core.typing.templates import builtin_registry as reg
        size = len(reg.functions) + len(reg.attributes) + len(reg.globals)
        if size != self._seen:
            self._seen = size
            self._by_name = {}
            for cls in [*reg.functions, *reg.attributes, *(t for _, t in reg.globals)]:
                for tmpl in getattr(cls, "templates", None) or (cls,):
                    f = typing_function(tmpl)
                    if f is not None:
                        self._by_name[(getattr(f, "__module__", ""), getattr(f, "__qualname__", ""))] = tmpl
        return self._by_name.get((module, qualname))


_templates = _Templates()


def _locate_template(rest: str) -> Any:
    from ..image.inputs import MISSING
    module, _, qualname = rest.partition("|")
    tmpl = _templates.find(module, qualname)
    return MISSING if tmpl is None else template_options(tmpl)


def _register_resolvers() -> None:
    from ..image import inputs
    inputs.RESOLVERS[inputs.TEMPLATE] = _locate_template


_register_resolvers()
