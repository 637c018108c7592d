"""What identifies Numba's own objects when a compilation reads one (``fingerprint.value_key``).

A global bound to an ``@intrinsic``, a ``@stencil``, a jitclass or a jitclass type is
read by the compiler through Numba objects whose ``__dict__`` also holds caches and
per-process ids; each is fingerprinted by what the compiler takes from it instead.
Registered by class name (``fingerprint.OBJECT_PARTS``): nothing is imported here.
"""
from __future__ import annotations

from typing import Any

import sys
import types as pytypes

from ..image.fingerprint import OBJECT_PARTS, FunctionParts, pinned


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


class _Templates(FunctionParts):
    """The typing templates registered in Numba's registry (what ``@overload`` and friends
    register at import): by their typing function's name, and by the function they type."""

    def __init__(self) -> None:
        self._seen = -1
        self._by_name: dict[tuple[str, str], list] = {}
        self._by_key: dict[int, tuple[Any, list]] = {}

    def _refresh(self) -> None:
        reg = sys.modules.get("numba.core.typing.templates")
        if reg is None:
            return
        reg = reg.builtin_registry
        size = len(reg.functions) + len(reg.attributes) + len(reg.globals)
        if size == self._seen:
            return
        self._seen = size
        self._by_name, self._by_key = {}, {}
        for cls in [*reg.functions, *reg.attributes, *(t for _, t in reg.globals)]:
            for tmpl in getattr(cls, "templates", None) or (cls,):
                f = typing_function(tmpl)
                if f is None:
                    continue
                name = (getattr(f, "__module__", ""), getattr(f, "__qualname__", ""))
                found = self._by_name.setdefault(name, [])
                if tmpl not in found:
                    found.append(tmpl)
                key = getattr(tmpl, "key", None)
                # (a pinned package's typing function is identified by its version, unless
                # it is made at run time, inside a function: one factory's overloads differ by
                # their cells alone, as Numba's tests make them -- ``@overload(bar) def
                # ol_bar(z)`` over a callee --, or by the options one typing function was
                # registered with -- ``overload(f, strict=..., jit_options=...)(ol)`` in a
                # test method; see _typing_part. Numba's library makes no such typing
                # function but closures (register_jitable), so what its modules register at
                # import stays out: a served process that has not imported them yet (numba_seam/
                # deferred_lowering.py) keys the same functions as the build)
                if isinstance(key, pytypes.FunctionType) and (
                        not pinned(name[0]) or getattr(f, "__closure__", None)
                        or "<locals>" in name[1]):
                    got = self._by_key.setdefault(id(key), (key, []))[1]
                    if tmpl not in got:
                        got.append(tmpl)

    def find(self, module: str, qualname: str) -> list:
        """The registered templates whose typing function is ``module.qualname``."""
        self._refresh()
        return self._by_name.get((module, qualname), [])

    def parts(self, f: pytypes.FunctionType) -> Any:
        """An @overload target: its users' templates, in the order Numba tries them."""
        self._refresh()
        got = self._by_key.get(id(f))
        if got is None or got[0] is not f:
            return None
        return tuple((_typing_part(typing_function(t)), template_options(t)) for t in got[1])

    def version(self) -> int:
        return self._seen


def _typing_part(f: Any) -> Any:
    """What identifies a typing function: itself (code, cells...), but for a closure of a
    pinned package (Numba's tests make overloads inside test methods) only its name and the
    functions its cells hold (jitted or not: what its implementation calls, ``fn`` and
    ``baz`` in ``@overload(bar) def ol_bar(z): def impl(z): fn(z); baz(z)``). Its code comes
    with the package's version; other cells (the test's ``self``, whose state differs in
    every process) are not fingerprinted, as no cell of a pinned function was before."""
    from ..image.fingerprint import jitted_py_func
    if not isinstance(f, pytypes.FunctionType) or not pinned(f.__module__):
        return f
    cells = []
    for name, cell in zip(f.__code__.co_freevars, f.__closure__ or ()):
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, pytypes.FunctionType) or jitted_py_func(v) is not None:
            cells.append((name, v))
    return (f"{f.__module__}.{f.__qualname__}", tuple(cells))


_templates = _Templates()


def _locate_template(rest: str) -> Any:
    from ..image.inputs import MISSING
    module, _, qualname = rest.partition("|")
    found = _templates.find(module, qualname)
    return MISSING if not found else tuple(template_options(t) for t in found)


def _typing_functions(module: str, qualname: str) -> list:
    """The live typing functions of that name registered in Numba (a factory's closures)."""
    return [f for t in _templates.find(module, qualname) if (f := typing_function(t)) is not None]


def _register_resolvers() -> None:
    from ..image import fingerprint, freshness, inputs
    inputs.RESOLVERS[inputs.TEMPLATE] = _locate_template
    fingerprint.FUNCTION_PARTS = _templates
    if _typing_functions not in freshness.LIVE_FUNCTIONS:
        freshness.LIVE_FUNCTIONS.append(_typing_functions)


_register_resolvers()
