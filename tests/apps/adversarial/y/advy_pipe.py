"""A callee compiled with a custom compiler pipeline (an extra pass that rewrites constants)."""
from numba import njit
from numba.core import ir
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.compiler_machinery import FunctionPass, register_pass
from numba.core.untyped_passes import IRProcessing


@register_pass(mutates_CFG=False, analysis_only=False)
class ScaleConsts(FunctionPass):
    _name = "advy_scale_consts"

    def __init__(self):
        FunctionPass.__init__(self)

    def run_pass(self, state):
        for blk in state.func_ir.blocks.values():
            for stmt in blk.body:
                if isinstance(stmt, ir.Assign) and isinstance(stmt.value, ir.Const) \
                        and isinstance(stmt.value.value, float):
                    stmt.value = ir.Const(stmt.value.value * 2.0, stmt.value.loc)
        return True


class ScalePipeline(CompilerBase):
    def define_pipelines(self):
        pm = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pm.add_pass_after(ScaleConsts, IRProcessing)
        pm.finalize()
        return [pm]


@njit(pipeline_class=ScalePipeline)
def piped(x):
    return x * 1.5


@njit
def y_pipe_caller(x):
    return piped(x) + 1.0
