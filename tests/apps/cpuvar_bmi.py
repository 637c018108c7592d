"""An extension that lowers to an x86 intrinsic of x86-64-v3 (BMI1): tests/test_cpu_variants.py."""
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic


@intrinsic
def bextr(typingctx, x, control):
    """BMI1's bit-field extract, as an extension chooses it for a CPU that has it."""
    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        fn = builder.module.declare_intrinsic("llvm.x86.bmi.bextr.64", fnty=ir.FunctionType(i64, [i64, i64]))
        return builder.call(fn, args)
    return types.int64(types.int64, types.int64), codegen


@njit
def field(x):
    return bextr(x, 4 | (8 << 8))          # bits 4..11
