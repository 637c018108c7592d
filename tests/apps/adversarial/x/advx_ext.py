"""Numba extensions (adversarial harness, class 1): code the compiler runs that is not a
jitted function's own code. The callers are in advx_lib.py; every case of
tests/test_adversarial.py edits one thing here (or there) and expects it to be noticed."""
import os

import numpy as np  # noqa: F401
from numba import njit, types
from numba.core import cgutils
from numba.core.extending import lower_builtin, type_callable
from numba.extending import (NativeValue, intrinsic, make_attribute_wrapper, models, overload,
                             overload_attribute, overload_method, register_jitable,
                             register_model, typeof_impl, unbox)

# -- the condition of a typing function picks the implementation ----------------------


def tgt_cond(x):
    raise NotImplementedError


@overload(tgt_cond)
def _ov_tgt_cond(x):
    if isinstance(x, types.Float):
        return lambda x: x * 2.0
    return lambda x: x + 1.0


# -- the body of an overload's implementation -----------------------------------------
def tgt_body(x):
    raise NotImplementedError


@overload(tgt_body)
def _ov_tgt_body(x):
    def impl(x):
        return x * 3.0 + 0.25
    return impl


# -- an inline='always' overload's implementation --------------------------------------
def tgt_inl(x):
    raise NotImplementedError


@overload(tgt_inl, inline="always")
def _ov_tgt_inl(x):
    def impl(x):
        return x - 0.75
    return impl


# -- overload_method / overload_attribute ---------------------------------------------
@overload_method(types.Array, "advx_wsum")
def _ovm_wsum(arr, w):
    def impl(arr, w):
        s = 0.0
        for i in range(arr.shape[0]):
            s += arr[i] * w
        return s
    return impl


@overload_attribute(types.Array, "advx_span")
def _ova_span(arr):
    def get(arr):
        return arr.max() - arr.min()
    return get


# -- literal dispatch: an IntegerLiteral threshold, numba.literally -------------------
def tgt_lit(x, n):
    raise NotImplementedError


@overload(tgt_lit, prefer_literal=True)
def _ov_tgt_lit(x, n):
    if isinstance(n, types.IntegerLiteral):
        if n.literal_value > 3:
            return lambda x, n: x * n
        return lambda x, n: x + n
    return lambda x, n: x - n


def tgt_lit2(x, n):
    raise NotImplementedError


@overload(tgt_lit2, prefer_literal=True)
def _ov_tgt_lit2(x, n):
    if isinstance(n, types.IntegerLiteral) and n.literal_value % 2 == 0:
        return lambda x, n: x * n
    return lambda x, n: x + n


# -- intrinsics: the LLVM a code generator emits ---------------------------------------
@intrinsic
def ix_combine(typingctx, a, b):
    sig = types.int64(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        return builder.add(args[0], args[1])
    return sig, codegen


@intrinsic
def ix_const(typingctx, a):
    sig = types.float64(types.float64)

    def codegen(context, builder, signature, args):
        k = context.get_constant(types.float64, 1.5)
        return builder.fmul(args[0], k)
    return sig, codegen


# -- a register_jitable helper ------------------------------------------------------------
@register_jitable
def rj_helper(x):
    return x - 1.5


# -- a plain Python helper a typing function calls ----------------------------------------
def _pick_scale(ty):
    return 2.0 if isinstance(ty, types.Float) else 1.0


def tgt_helper(x):
    raise NotImplementedError


@overload(tgt_helper)
def _ov_tgt_helper(x):
    k = _pick_scale(x)
    return lambda x: x * k


# -- a module constant read by a typing function (not by jitted code) ------------------
ADVX_MODE = "fast"


def tgt_mode(x):
    raise NotImplementedError


@overload(tgt_mode)
def _ov_tgt_mode(x):
    if ADVX_MODE == "fast":
        return lambda x: x * 0.5
    return lambda x: x / 3.0


# -- a module constant read by an overload's implementation ----------------------------
OVK = 7.0


def tgt_implglobal(x):
    raise NotImplementedError


@overload(tgt_implglobal)
def _ov_tgt_implglobal(x):
    def impl(x):
        return x + OVK
    return impl


# -- an environment variable read by a typing function -----------------------------------
def tgt_flavor(x):
    raise NotImplementedError


@overload(tgt_flavor)
def _ov_tgt_flavor(x):
    if os.environ.get("ADVX_FLAVOR", "plain") == "plain":
        return lambda x: x + 100.0
    return lambda x: x - 100.0


# -- the low-level API: type_callable + lower_builtin ---------------------------------------
def tgt_low(x):
    raise NotImplementedError


@type_callable(tgt_low)
def _type_tgt_low(context):
    def typer(x):
        if isinstance(x, types.Float):
            return types.float64
    return typer


@lower_builtin(tgt_low, types.Float)
def _lower_tgt_low(context, builder, sig, args):
    k = context.get_constant(types.float64, 10.0)
    return builder.fadd(args[0], k)


# -- an overload's jit_options -----------------------------------------------------------
def tgt_fm(a):
    raise NotImplementedError


@overload(tgt_fm, jit_options={"fastmath": False})
def _ov_tgt_fm(a):
    def impl(a):
        s = 0.0
        for i in range(a.shape[0]):
            s += a[i]
        return s
    return impl


# -- an @njit function reached only through an overload's implementation -----------------
@njit
def ov_callee(x):
    return x * 11.0


def tgt_viacallee(x):
    raise NotImplementedError


@overload(tgt_viacallee)
def _ov_tgt_viacallee(x):
    def impl(x):
        return ov_callee(x) + 1.0
    return impl


# -- an intrinsic used inside an overload's implementation --------------------------------
@intrinsic
def ix_neg(typingctx, a):
    sig = types.float64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.fneg(args[0])
    return sig, codegen


def tgt_nested(x):
    raise NotImplementedError


@overload(tgt_nested)
def _ov_tgt_nested(x):
    def impl(x):
        return ix_neg(x) * 2.0
    return impl


# -- overloads used by a @vectorize kernel, a @cfunc and a jitclass method ------------------
def tgt_vec(x):
    raise NotImplementedError


@overload(tgt_vec)
def _ov_tgt_vec(x):
    def impl(x):
        return x * 0.5 + 3.0
    return impl


def tgt_cf(x):
    raise NotImplementedError


@overload(tgt_cf)
def _ov_tgt_cf(x):
    def impl(x):
        return x * x - 1.0
    return impl


def tgt_jc(x):
    raise NotImplementedError


@overload(tgt_jc)
def _ov_tgt_jc(x):
    def impl(x):
        return x + 0.125
    return impl


# -- a string literal dispatch ------------------------------------------------------------------
def tgt_str(x, mode):
    raise NotImplementedError


@overload(tgt_str, prefer_literal=True)
def _ov_tgt_str(x, mode):
    if isinstance(mode, types.StringLiteral) and mode.literal_value == "fast":
        return lambda x, mode: x * 8.0
    return lambda x, mode: x / 8.0


# -- a custom type (Numba's "interval" example): the unboxing code is compiled into callers ----
class Interval:
    def __init__(self, lo, hi):
        self.lo = lo
        self.hi = hi


class IntervalType(types.Type):
    def __init__(self):
        super().__init__(name="AdvInterval")


interval_type = IntervalType()


@typeof_impl.register(Interval)
def _typeof_interval(val, c):
    return interval_type


@register_model(IntervalType)
class IntervalModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        members = [("lo", types.float64), ("hi", types.float64)]
        models.StructModel.__init__(self, dmm, fe_type, members)


make_attribute_wrapper(IntervalType, "lo", "lo")
make_attribute_wrapper(IntervalType, "hi", "hi")


@unbox(IntervalType)
def _unbox_interval(typ, obj, c):
    lo_obj = c.pyapi.object_getattr_string(obj, "lo")
    hi_obj = c.pyapi.object_getattr_string(obj, "hi")
    interval = cgutils.create_struct_proxy(typ)(c.context, c.builder)
    interval.lo = c.pyapi.float_as_double(lo_obj)
    interval.hi = c.pyapi.float_as_double(hi_obj)
    c.pyapi.decref(lo_obj)
    c.pyapi.decref(hi_obj)
    is_error = cgutils.is_not_null(c.builder, c.pyapi.err_occurred())
    return NativeValue(interval._getvalue(), is_error=is_error)


# -- an overload nothing in the image uses (the "unrelated change" controls edit it) -----
def tgt_unused(x):
    raise NotImplementedError


@overload(tgt_unused)
def _ov_tgt_unused(x):
    def impl(x):
        return x + 12345.0
    return impl
