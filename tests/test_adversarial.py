"""Adversarial harness for issue 24, "validity by observation": an image must never change a
result, so every case builds an image, changes ONE plausible thing as a user would, and
compares the program's output from the image with a fresh plain-JIT process.

Each group (tests/apps/adversarial/<group>/: library modules + app.py, which is also the
training workload) is built once per module (`snap create -w app.py`). A case then

1. copies the group's tree once per run (three copies: the runs never share files, and an
   app that rewrites its own modules at run time cannot disturb the others; the image is
   keyed by module name, so running from a copied directory with edited files is what a
   user editing their code looks like), and applies its change: text edits of the library
   modules, or of app.py at its ``#@`` markers (process state set in code before the first
   call: ``numba.config``, ``os.environ``, warning filters, a global mutated between two
   functions' first calls, a module rewritten and ``importlib.reload``-ed), and/or
   environment variables or Python options for the run;
2. runs the app (the items of the case, each printing its exact result or the exception it
   raised) (a) on the plain JIT, (b) from the image with a miss report, (c) from the image
   in strict mode -- the three processes concurrently;
3. checks: (b) prints exactly what (a) prints, with the same exit status. If the change
   alters something a compilation consulted: (c) fails (non-zero exit) and the last line of
   its stderr names the changed thing, whatever (c) printed before is (a)'s, the miss report
   of (b) lists the affected functions, and it does not list the case's sentinel (a function
   of the same group the change does not touch: over-strictness is a failure too). Controls
   (no change, or an unrelated one; every item of the group unless the case names some):
   (b) reports nothing, and (c) runs strict with Numba's compiler forbidden and prints
   exactly (a)'s output. "result" cases (a change the compiled code does not depend on)
   compare results only.

Group y is a second, independent adversary's: cases of the four classes the other groups do
not try (ids ``y1-`` .. ``y4-`` by class, ``y-over-strict-`` for unchanged programs refused).

The harness also checks itself: a change case whose plain-JIT output equals the unchanged
tree's output (the group's baseline) is reported as a broken case, not as a pass.

A failing case lists every problem found, each tagged: WRONG RESULT (the image changed the
output), EXIT STATUS, STRICT PASSED (strict mode served a change it must refuse), STRICT
MESSAGE (it refused without naming the changed thing), STRICT CRASH (a traceback instead of
the one-line error), REPORT (the miss report lacks an affected function), OVER-STRICT (an
untouched function or a control not served), HARNESS (the case itself is broken).
`ADVERSARIAL_SUMMARY=file.jsonl` appends one line per case (id, verdict, problems, strict
mode's exit status and last stderr line, the miss report's qualname/kind/reason).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import APPS, assert_ok, clean_env, snap_exe

ADV = APPS / "adversarial"
SUPPORT = (ADV / "adv_runner.py", APPS / "snaptest_forbid.py")
TIMEOUT = 300


# ------------------------------------------------------------------ cases
@dataclass
class Case:
    id: str                      # "<class>-<what>", the pytest id
    group: str                   # tests/apps/adversarial/<group>
    items: tuple = ()            # items the app runs (a control: every item of the group)
    edits: tuple = ()            # (file, old, new): `old` occurs exactly once in the file
    env: dict = field(default_factory=dict)     # environment of the three runs
    pyargs: tuple = ()           # Python options of the three runs ("-W", "error")
    affected: tuple = ()         # qualnames the miss report of (b) must list
    names: tuple = ()            # one of them must appear in strict mode's error line
    sentinel: bool = True        # also run the group's sentinel; it must stay served
    kind: str = "change"         # "change" | "control" | "result" (only results compared)
    jit_same: bool = False       # the change leaves the JIT's output as it was (skip that self-check)
    slow: bool = False
    cpu_flags: tuple = ()        # skipped unless /proc/cpuinfo has all of them
    # a limitation docs/reference.md documents (what cannot be observed): expected to fail,
    # and a failure of the test the day it passes (xfail strict)
    limitation: str = ""


LIMIT_CACHES = ("Numba's caches in one process: a value changed between two first calls that share typing or a callee (the JIT keeps what it compiled first)")

GROUP_SENTINEL = {"x": "x_plain", "v": "v_plain", "c": "c_plain", "p": "p_quiet", "y": "y_plain"}


def change(id, group, items, edits=(), *, affected, names, **kw) -> Case:
    if isinstance(items, str):
        items = (items,)
    if isinstance(affected, str):
        affected = (affected,)
    if isinstance(names, str):
        names = (names,)
    return Case(id, group, tuple(items), tuple(edits), affected=tuple(affected),
                names=tuple(names), **kw)


def control(id, group, edits=(), items=(), **kw) -> Case:
    """No change, or one nothing compiled consults: everything served (strict, compilation
    forbidden), nothing reported. ``items``: those items only (default: every item)."""
    if isinstance(items, str):
        items = (items,)
    return Case(id, group, tuple(items), tuple(edits), sentinel=False, kind="control", **kw)


def result(id, group, items, edits=(), **kw) -> Case:
    """A change the compiled code does not depend on (it is read at run time, or an equivalent
    entry exists): only the results are compared; strict mode may serve or refuse."""
    if isinstance(items, str):
        items = (items,)
    return Case(id, group, tuple(items), tuple(edits), sentinel=False, kind="result", **kw)


def app_code(marker: str, code: str) -> tuple:
    """An edit of app.py: ``code`` placed at ``#@marker`` (the marker line stays)."""
    return ("app.py", f"#@{marker}\n", f"#@{marker}\n{code.strip()}\n")


X_EXT, X_LIB = "advx_ext.py", "advx_lib.py"

CASES_X = [
    # class 1: code the compiler ran that is not a jitted function's own code
    change("c1-overload-typing-condition", "x", "x_cond",
           [(X_EXT, "if isinstance(x, types.Float):\n        return lambda x: x * 2.0",
             "if isinstance(x, types.Integer):\n        return lambda x: x * 2.0")],
           affected="x_cond", names=("tgt_cond", "_ov_tgt_cond")),
    change("c1-overload-impl-body", "x", "x_body",
           [(X_EXT, "return x * 3.0 + 0.25", "return x * 5.0 + 0.25")],
           affected="x_body", names=("tgt_body", "_ov_tgt_body")),
    change("c1-overload-inline-always-impl", "x", "x_inl_ovl",
           [(X_EXT, "return x - 0.75", "return x - 0.5")],
           affected="x_inl_ovl", names=("tgt_inl", "_ov_tgt_inl")),
    change("c1-overload-method-impl", "x", "x_method",
           [(X_EXT, "s += arr[i] * w", "s += arr[i] + w")],
           affected="x_method", names=("advx_wsum", "_ovm_wsum")),
    change("c1-overload-attribute-getter", "x", "x_attr",
           [(X_EXT, "return arr.max() - arr.min()", "return arr.max() + arr.min()")],
           affected="x_attr", names=("advx_span", "_ova_span")),
    change("c1-integer-literal-threshold", "x", "x_lit",
           [(X_EXT, "if n.literal_value > 3:", "if n.literal_value > 7:")],
           affected="x_lit", names=("tgt_lit", "_ov_tgt_lit")),
    change("c1-literally-dispatch-condition", "x", "x_literally",
           [(X_EXT, "n.literal_value % 2 == 0", "n.literal_value % 2 == 1")],
           affected="x_literally", names=("tgt_lit2", "_ov_tgt_lit2")),
    change("c1-intrinsic-codegen-add-to-sub", "x", "x_intrinsic",
           [(X_EXT, "return builder.add(args[0], args[1])", "return builder.sub(args[0], args[1])")],
           affected="x_intrinsic", names=("ix_combine",)),
    change("c1-intrinsic-codegen-constant", "x", "x_intr_const",
           [(X_EXT, "context.get_constant(types.float64, 1.5)", "context.get_constant(types.float64, 2.5)")],
           affected="x_intr_const", names=("ix_const",), slow=True),
    change("c1-stencil-kernel", "x", "x_stencil",
           [(X_LIB, "return a[-1] + a[0] + 2 * a[1]", "return a[-1] + a[0] + 3 * a[1]")],
           affected="x_stencil", names=("k_st",)),
    change("c1-stencil-cval-option", "x", "x_stencil_cval",
           [(X_LIB, "@stencil(cval=0.5)", "@stencil(cval=1.5)")],
           affected="x_stencil_cval", names=("k_cval",)),
    change("c1-njit-inline-always-callee", "x", "x_inline",
           [(X_LIB, "return x * 4.0", "return x * 6.0")],
           affected="x_inline", names=("inl_callee",)),
    change("c1-register-jitable-helper", "x", "x_rj",
           [(X_EXT, "return x - 1.5", "return x - 2.5")],
           affected="x_rj", names=("rj_helper",)),
    change("c1-plain-helper-of-typing-function", "x", "x_helper",
           [(X_EXT, "return 2.0 if isinstance(ty, types.Float) else 1.0",
             "return 4.0 if isinstance(ty, types.Float) else 1.0")],
           affected="x_helper", names=("_pick_scale", "tgt_helper", "_ov_tgt_helper")),
    change("c1-module-constant-read-by-typing-function", "x", "x_mode",
           [(X_EXT, 'ADVX_MODE = "fast"', 'ADVX_MODE = "exact"')],
           affected="x_mode", names=("ADVX_MODE", "tgt_mode", "_ov_tgt_mode")),
    change("c1-module-constant-read-by-overload-impl", "x", "x_implglobal",
           [(X_EXT, "OVK = 7.0", "OVK = 9.0")],
           affected="x_implglobal", names=("OVK",)),
    change("c1-environment-variable-read-by-typing-function", "x", "x_flavor",
           env={"ADVX_FLAVOR": "negated"},
           affected="x_flavor", names=("ADVX_FLAVOR", "tgt_flavor", "_ov_tgt_flavor")),
    change("c1-lower-builtin-implementation", "x", "x_lower",
           [(X_EXT, "context.get_constant(types.float64, 10.0)", "context.get_constant(types.float64, 20.0)")],
           affected="x_lower", names=("tgt_low", "_lower_tgt_low")),
    change("c1-overload-jit-options-fastmath", "x", "x_fm",
           [(X_EXT, 'jit_options={"fastmath": False}', 'jit_options={"fastmath": True}')],
           affected="x_fm", names=("tgt_fm", "_ov_tgt_fm", "fastmath")),
    change("c1-njit-callee-reached-only-through-overload-impl", "x", "x_viacallee",
           [(X_EXT, "return x * 11.0", "return x * 13.0")],
           affected="x_viacallee", names=("ov_callee",)),
    change("c1-intrinsic-inside-overload-impl", "x", "x_nested",
           [(X_EXT, "return builder.fneg(args[0])", "return args[0]")],
           affected="x_nested", names=("ix_neg", "tgt_nested", "_ov_tgt_nested")),
    change("c1-overload-used-by-vectorize-kernel", "x", "x_vec",
           [(X_EXT, "return x * 0.5 + 3.0", "return x * 0.5 + 4.0")],
           affected="x_vec", names=("tgt_vec", "_ov_tgt_vec")),
    change("c1-overload-used-by-cfunc", "x", "x_cfunc",
           [(X_EXT, "return x * x - 1.0", "return x * x - 2.0")],
           affected="x_cfunc", names=("tgt_cf", "_ov_tgt_cf")),
    change("c1-overload-used-by-jitclass-method", "x", "x_jcmethod",
           [(X_EXT, "return x + 0.125", "return x + 0.375")],
           affected="x_jcmethod", names=("tgt_jc", "_ov_tgt_jc"), slow=True),
    change("c1-custom-type-unbox-code", "x", "x_interval",
           [(X_EXT, "interval.lo = c.pyapi.float_as_double(lo_obj)\n    interval.hi = c.pyapi.float_as_double(hi_obj)",
             "interval.lo = c.pyapi.float_as_double(hi_obj)\n    interval.hi = c.pyapi.float_as_double(lo_obj)")],
           affected="x_interval", names=("_unbox_interval", "Interval")),
    change("c1-string-literal-dispatch-condition", "x", "x_strlit",
           [(X_EXT, 'mode.literal_value == "fast"', 'mode.literal_value == "exact"')],
           affected="x_strlit", names=("tgt_str", "_ov_tgt_str"), slow=True),
    change("c1-environment-read-by-typing-function-set-in-code", "x", "x_flavor",
           [app_code("AFTER_IMPORT", "os.environ['ADVX_FLAVOR'] = 'negated'")],
           affected="x_flavor", names=("ADVX_FLAVOR", "tgt_flavor", "_ov_tgt_flavor"), slow=True),
    # controls
    control("control-x-no-change", "x"),
    control("control-x-comment-and-unused-code", "x",
            [(X_EXT, "# -- a register_jitable helper --", "# -- a register_jitable helper (edited comment) --"),
             (X_EXT, "return x + 12345.0", "return x + 54321.0"),
             (X_LIB, "return x - 42.0", "return x - 43.0"),
             (X_LIB, "return x + 1\n", "return x + 2\n")]),
]

V_LIB, V_KINDS, V_PARAMS = "advv_lib.py", "advv_kinds.py", "advv_cfg/params.py"

CASES_V = [
    # class 2: values reached through objects
    change("c2-jitted-callee-default-argument", "v", "v_default",
           [(V_LIB, "def _defcallee(x, k=3.0):", "def _defcallee(x, k=4.0):")],
           affected="v_default", names=("_defcallee",)),
    change("c2-own-default-argument-omitted-by-caller", "v", "v_owndefault",
           [(V_LIB, "def v_owndefault(x, k=3.0):", "def v_owndefault(x, k=4.0):")],
           affected="v_owndefault", names=("v_owndefault",)),
    change("c2-jitted-callee-array-default-argument", "v", "v_default_array",
           [(V_LIB, "def _defarr(x, w=np.array([1.0, 2.0])):", "def _defarr(x, w=np.array([1.0, 3.0])):")],
           affected="v_default_array", names=("_defarr",)),
    change("c2-enum-member-value", "v", "v_enum",
           [(V_KINDS, "    GREEN = 2\n", "    GREEN = 5\n")],
           affected="v_enum", names=("Color", "GREEN")),
    change("c2-intenum-member-value", "v", "v_intenum",
           [(V_KINDS, "    HIGH = 7\n", "    HIGH = 9\n")],
           affected="v_intenum", names=("Level", "HIGH")),
    # the JIT's answer stays 1 (the argument and the frozen constant change together); an
    # image that froze RED = 1 compares the new RED (3) with 1
    change("c2-enum-member-compared-with-argument", "v", "v_enum_cmp",
           [(V_KINDS, "    RED = 1\n", "    RED = 3\n")], jit_same=True,
           affected="v_enum_cmp", names=("Color", "RED")),
    change("c2-namedtuple-field-order", "v", ("v_nt_order", "v_nt_arg"),
           [(V_KINDS, 'Pt = namedtuple("Pt", ["x", "y"])', 'Pt = namedtuple("Pt", ["y", "x"])')],
           affected=("v_nt_order", "v_nt_arg"), names=("Pt",)),
    change("c2-structured-dtype-field-order", "v", "v_dtype",
           [(V_KINDS, 'REC = np.dtype([("a", np.float64), ("b", np.int32)])',
             'REC = np.dtype([("b", np.int32), ("a", np.float64)])')],
           affected="v_dtype", names=("REC",)),
    change("c2-structured-dtype-field-type", "v", "v_dtype",
           [(V_KINDS, 'REC = np.dtype([("a", np.float64), ("b", np.int32)])',
             'REC = np.dtype([("a", np.float64), ("b", np.int64)])')],
           affected="v_dtype", names=("REC",), slow=True),
    change("c2-jitclass-spec-field-type", "v", "v_jitclass",
           [(V_KINDS, '@jitclass([("n", int32), ("v", float64)])', '@jitclass([("n", float64), ("v", float64)])')],
           affected="v_jitclass", names=("Acc",)),
    change("c2-global-read-by-jitclass-method", "v", "v_jc_global",
           [(V_KINDS, "JC_K = 1.5", "JC_K = 2.5")],
           affected="v_jc_global", names=("JC_K",)),
    change("c2-tuple-of-jitted-functions", "v", "v_ops",
           [(V_LIB, "OPS = (op_add, op_mul)", "OPS = (op_add, op_sub)")],
           affected="v_ops", names=("OPS",)),
    change("c2-global-alias-of-jitted-function", "v", "v_alias",
           [(V_LIB, "HELPER = op_add", "HELPER = op_mul")],
           affected="v_alias", names=("HELPER",), slow=True),
    change("c2-module-attribute-at-depth", "v", "v_deep",
           [(V_PARAMS, "SCALE = 2.0", "SCALE = 5.0")],
           affected="v_deep", names=("SCALE", "params")),
    change("c2-module-attribute-through-alias", "v", "v_modattr",
           [(V_KINDS, "KFACTOR = 0.5", "KFACTOR = 0.75")],
           affected="v_modattr", names=("KFACTOR",), slow=True),
    change("c2-constant-imported-by-name", "v", "v_imported",
           [(V_KINDS, "SCALE2 = 3.0", "SCALE2 = 5.0")],
           affected="v_imported", names=("SCALE2",), slow=True),
    change("c2-frozen-global-of-function-passed-as-argument", "v", "v_fnarg",
           [(V_LIB, "FN_K = 4.0", "FN_K = 6.0")],
           affected=("v_fnarg", "fn_target"), names=("FN_K",)),
    change("c2-global-slice", "v", "v_slice",
           [(V_LIB, "SL = slice(1, 4)", "SL = slice(2, 5)")],
           affected="v_slice", names=("SL",)),
    change("c2-ndarray-subclass-global", "v", "v_subclass",
           [(V_LIB, "TAGGED = np.arange(5.0).view(TaggedArray)", "TAGGED = (np.arange(5.0) * 3).view(TaggedArray)")],
           affected="v_subclass", names=("TAGGED",)),
    change("c2-global-tuple", "v", "v_tuple",
           [(V_LIB, "TUP = (1.5, 2.5, 4.0)", "TUP = (1.5, 2.5, 8.0)")],
           affected="v_tuple", names=("TUP",)),
    change("c2-global-string", "v", "v_str",
           [(V_LIB, 'GREETING = "hello"', 'GREETING = "howdy"')],
           affected="v_str", names=("GREETING",)),
    change("c2-global-numpy-scalar", "v", "v_npscalar",
           [(V_LIB, "NPS = np.float32(1.1)", "NPS = np.float32(1.3)")],
           affected="v_npscalar", names=("NPS",), slow=True),
    change("c2-global-bool-flag", "v", "v_flag",
           [(V_LIB, "FLAG = False", "FLAG = True")],
           affected="v_flag", names=("FLAG",), slow=True),
    change("c2-global-array-edited", "v", ("v_arr_a", "v_arr_b"),
           [(V_LIB, "GARR = np.array([1.0, 2.0, 3.0])", "GARR = np.array([1.0, 2.0, 4.0])")],
           affected="v_arr_a", names=("GARR",), slow=True),
    change("c2-global-array-mutated-between-first-calls", "v", ("v_arr_a", "v_arr_b"),
           [app_code("HOOKS", """
def before(name):
    if name == "v_arr_b":
        L.GARR[0] = 100.0
""")], affected="v_arr_b", names=("GARR",)),
    change("c2-global-array-rebound-between-first-calls", "v", ("v_arr_a", "v_arr_b"),
           [app_code("HOOKS", """
def before(name):
    if name == "v_arr_b":
        L.GARR = np.array([7.0, 2.0, 3.0])
""")], affected="v_arr_b", names=("GARR",), slow=True),
    change("c2-closure-cell-of-factory-made-callee", "v", "v_closure",
           [(V_LIB, "SCALER = make_scaler(2.5)", "SCALER = make_scaler(3.5)")],
           affected="v_closure", names=("SCALER", "scaler")),
    change("c2-closure-array-of-factory-made-callee", "v", "v_closure_array",
           [(V_LIB, "WEIGHT_ARR = np.array([2.0, 1.0])", "WEIGHT_ARR = np.array([4.0, 1.0])")],
           affected="v_closure_array", names=("WEIGHTED", "weighted", "WEIGHT_ARR"), slow=True),
    change("c2-closure-array-mutated-before-first-call", "v", "v_closure_array",
           [app_code("AFTER_IMPORT", "L.WEIGHT_ARR[0] = 4.0")],
           affected="v_closure_array", names=("WEIGHTED", "weighted", "WEIGHT_ARR")),
    # controls
    control("control-v-no-change", "v"),
    control("control-v-unused-code-and-comments", "v",
            [(V_LIB, "return x + 99.0", "return x + 98.0"),
             (V_LIB, "# -- enums --", "# -- enums (edited comment) --"),
             (V_KINDS, "SCALE2 = 3.0          # imported by name", "SCALE2 = 3.0          # (edited) imported by name"),
             (V_PARAMS, '"""Parameters read', '"""(Edited) parameters read')]),
    # rebinding globals to equal values (new objects) before the first calls: the JIT
    # compiles the same code, so the image must serve it all
    control("control-v-globals-rebound-to-equal-values", "v",
            [app_code("AFTER_IMPORT", """
L.GARR = L.GARR.copy()
L.TUP = tuple(list(L.TUP))
L.GREETING = "".join(["hel", "lo"])
L.SL = slice(1, 4)
""")]),
]

C_LIB = "advc_lib.py"
USE_MODE = "make_mode.<locals>.use_mode"

CASES_C = [
    # class 3: classes keyed by name. Two closures of one factory, each holding its own class
    # of the same name, both used in one process: nothing changed, each must be served its own
    # entry (an entry chosen by the class's name gives the other closure's result)
    control("c3-two-enum-classes-of-one-name-both-served", "c", items="c_modes"),
    control("c3-second-enum-class-of-one-name-alone", "c", items="c_mode3"),
    control("c3-two-exception-classes-of-one-name-raised-and-caught", "c", items="c_errors"),
    control("c3-second-exception-class-of-one-name-alone", "c", items="c_error_b"),
    control("c3-two-namedtuple-classes-of-one-name", "c", items="c_pairs"),
    control("c3-two-jitclasses-of-one-name-other-closure-constant", "c", items="c_boxes"),
    control("c3-second-jitclass-of-one-name-alone", "c", items="c_box5", slow=True),
    control("c3-two-jitclasses-of-one-name-other-field-type", "c", items="c_cells", slow=True),
    control("c3-global-rebound-to-another-class-of-one-name", "c", items="c_units"),
    # ... and across a build and a run: the class body (or the value it is made with) changes
    change("c3-factory-class-body-changed", "c", "c_modes",
           [(C_LIB, "        B = k + 1\n", "        B = k + 10\n")],
           affected=USE_MODE, names=("Mode",)),
    change("c3-factory-class-made-with-a-new-value", "c", "c_modes",
           [(C_LIB, "mode3 = make_mode(3)", "mode3 = make_mode(4)")],
           affected=USE_MODE, names=("Mode",)),
    # a class made inside a function is pickled by value into the code, but the image's code
    # raises this process's live class (its tracker id is registered at install): nothing of
    # the body is compiled in, the live body is what raises either way
    result("c3-factory-exception-class-body-changed", "c", "c_errors",
           [(C_LIB, "    class DomainError(Exception):\n        pass\n",
             "    class DomainError(Exception):\n        def __str__(self):\n"
             "            return \"domain: \" + super().__str__()\n")]),
    change("c3-jitclass-factory-made-with-a-new-value", "c", "c_boxes",
           [(C_LIB, "box5 = make_box(5.0)", "box5 = make_box(7.0)")],
           affected="make_box.<locals>.use_box", names=("Box",)),
    change("c3-global-class-rebound-with-a-new-value", "c", "c_units",
           [("app.py", "f5 = L.configured_unit(5)", "f5 = L.configured_unit(7)")],
           affected="_use_unit", names=("Unit",)),
    # each closure's new class equals the other closure's class of the build: serving the
    # other entry would be right, serving its own old entry is not
    result("c3-factory-namedtuple-fields-swapped", "c", "c_pairs",
           [(C_LIB, "Pair = namedtuple(\"Pair\", order)", "Pair = namedtuple(\"Pair\", order[::-1])")]),
    # a module-level exception class is pickled by reference into the code: the live class is
    # raised either way
    result("c3-module-exception-class-base-changed", "c", "c_limit",
           [(C_LIB, "class LimitError(Exception):", "class LimitError(ValueError):")]),
    result("c3-module-exception-class-str-changed", "c", "c_limit",
           [(C_LIB, "class LimitError(Exception):\n    pass\n",
             "class LimitError(Exception):\n    def __str__(self):\n        return \"limit: \" + super().__str__()\n")],
           slow=True),
    control("control-c-no-change", "c"),
    control("control-c-unrelated-comment", "c",
            [(C_LIB, "# -- the sentinel --", "# -- the sentinel (edited comment) --")]),
]

P_LIB = "advp_lib.py"
CPU_V3 = ("avx2", "fma")

CASES_P = [
    # class 4: state of the process after activation (set in code before the first call, or
    # in the run's environment / Python options)
    change("c4-config-boundscheck-set-in-code", "p", "p_oob",
           [app_code("AFTER_NUMBA", "numba.config.BOUNDSCHECK = True")],
           affected="p_oob", names=("BOUNDSCHECK", "boundscheck"), sentinel=False),
    change("c4-environ-boundscheck-set-in-code-after-numba-import", "p", "p_oob",
           [app_code("AFTER_NUMBA", "os.environ['NUMBA_BOUNDSCHECK'] = '1'")],
           affected="p_oob", names=("BOUNDSCHECK", "boundscheck"), sentinel=False),
    change("c4-environ-boundscheck-set-in-code-before-numba-import", "p", "p_oob",
           [app_code("PRELUDE", "os.environ['NUMBA_BOUNDSCHECK'] = '1'")],
           affected="p_oob", names=("BOUNDSCHECK", "boundscheck"), sentinel=False, slow=True),
    change("c4-config-boundscheck-set-after-a-first-call", "p", ("p_quiet", "p_oob"),
           [app_code("HOOKS", """
def before(name):
    if name == "p_oob":
        numba.config.BOUNDSCHECK = True
""")], affected="p_oob", names=("BOUNDSCHECK", "boundscheck"), sentinel=False),
    change("c4-env-boundscheck-on-for-the-run", "p", "p_oob", env={"NUMBA_BOUNDSCHECK": "1"},
           affected="p_oob", names=("BOUNDSCHECK", "boundscheck"), sentinel=False),
    change("c4-env-boundscheck-off-for-the-run", "p", "p_oob_checked", env={"NUMBA_BOUNDSCHECK": "0"},
           affected="p_oob_checked", names=("BOUNDSCHECK", "boundscheck"), sentinel=False, slow=True),
    change("c4-environ-opt-0-set-in-code", "p", "p_fsum",
           [app_code("AFTER_NUMBA", "os.environ['NUMBA_OPT'] = '0'")],
           affected="p_fsum", names=("OPT",), sentinel=False),
    change("c4-config-opt-0-set-in-code", "p", "p_fsum",
           [app_code("AFTER_NUMBA", "numba.config.OPT = numba.config._OptLevel(0)")],
           affected="p_fsum", names=("OPT",), sentinel=False, slow=True),
    change("c4-config-loop-vectorize-off-in-code", "p", "p_fsum",
           [app_code("AFTER_NUMBA", "numba.config.LOOP_VECTORIZE = 0")],
           affected="p_fsum", names=("LOOP_VECTORIZE",), sentinel=False),
    change("c4-environ-loop-vectorize-off-in-code", "p", "p_fsum",
           [app_code("AFTER_IMPORT", "os.environ['NUMBA_LOOP_VECTORIZE'] = '0'")],
           affected="p_fsum", names=("LOOP_VECTORIZE",), sentinel=False, slow=True),
    change("c4-env-opt-0-for-the-run", "p", "p_fsum", env={"NUMBA_OPT": "0"},
           affected="p_fsum", names=("OPT",), sentinel=False, slow=True),
    change("c4-env-cpu-x86-64-v2-for-the-run", "p", ("p_fsum", "p_fma"),
           env={"NUMBA_CPU_NAME": "x86-64-v2", "NUMBA_CPU_FEATURES": ""},
           affected=("p_fsum", "p_fma"), names=("CPU", "cpu", "x86-64-v2"), sentinel=False,
           cpu_flags=CPU_V3),
    change("c4-env-cpu-features-without-fma-for-the-run", "p", ("p_fsum", "p_fma"),
           env={"NUMBA_CPU_FEATURES": "-fma"},
           affected="p_fma", names=("CPU", "cpu", "fma", "FEATURES"), sentinel=False,
           cpu_flags=CPU_V3, slow=True),
    change("c4-python-W-error", "p", "p_par", pyargs=("-W", "error"),
           affected="p_par", names=("Warning", "warning", "filter")),
    change("c4-warnings-simplefilter-error-in-code", "p", "p_par",
           [app_code("AFTER_IMPORT", "warnings.simplefilter('error')")],
           affected="p_par", names=("Warning", "warning", "filter")),
    change("c4-warnings-filter-error-for-numba-performance-warning", "p", "p_par",
           [app_code("AFTER_IMPORT", "warnings.filterwarnings('error', category=numba.NumbaPerformanceWarning)")],
           affected="p_par", names=("Warning", "warning", "filter"), slow=True),
    change("c4-global-array-mutated-between-first-calls", "p", ("p_garr_a", "p_garr_b"),
           [app_code("HOOKS", """
def before(name):
    if name == "p_garr_b":
        L.GARR[0] = 50.0
""")], affected="p_garr_b", names=("GARR",)),
    change("c4-global-array-mutated-before-first-calls", "p", ("p_garr_a", "p_garr_b"),
           [app_code("AFTER_IMPORT", "L.GARR[2] = 30.0")],
           affected="p_garr_a", names=("GARR",), slow=True),
    change("c4-global-array-mutated-between-two-signatures-of-one-function", "p",
           ("p_gsig_int", "p_gsig_float"),
           [app_code("HOOKS", """
def before(name):
    if name == "p_gsig_float":
        L.GSIG[1] = 20.0
""")], affected="p_gsig", names=("GSIG",)),
    change("c4-module-edited-and-reloaded", "p", "p_reload",
           [app_code("HOOKS", """
def edit_before_reload():
    rewrite_module("return x * 2.0", "return x * 3.0")
""")], affected="p_rl", names=("p_rl",)),
    change("c4-module-global-edited-and-reloaded", "p", "p_reload_global",
           [app_code("HOOKS", """
def edit_before_reload():
    rewrite_module("RK = 1.0", "RK = 4.0")
""")], affected="p_rl_global", names=("RK",)),
    control("control-p-no-change", "p"),
    control("control-p-unrelated-comment-and-environment", "p",
            [(P_LIB, "# -- the sentinel --", "# -- the sentinel (edited comment) --"),
             app_code("AFTER_NUMBA", "os.environ['ADVP_UNRELATED'] = '1'")],
            env={"ADVP_UNRELATED_TOO": "1"}),
    control("control-p-module-comment-edited-and-reloaded", "p",
            [app_code("HOOKS", """
def edit_before_reload():
    rewrite_module("A module the app reloads", "A module (edited) the app reloads")
""")]),
    # the number of threads is read when code runs, not when it is compiled
    control("control-p-num-threads-for-the-run", "p", env={"NUMBA_NUM_THREADS": "1"}, slow=True),
    # warnings silenced: the JIT compiles the same code (it only stops printing the warning)
    control("control-p-warnings-ignored", "p", [app_code("AFTER_IMPORT", "warnings.simplefilter('ignore')")]),
    # the JIT reads the CPU when numba is imported: setting NUMBA_CPU_NAME later changes nothing
    # it compiles (checked: same bits), so the image must still serve everything
    control("control-p-cpu-environ-set-after-numba-import", "p",
            [app_code("AFTER_NUMBA", "os.environ['NUMBA_CPU_NAME'] = 'x86-64-v2'\n"
                                     "os.environ['NUMBA_CPU_FEATURES'] = ''")],
            cpu_flags=CPU_V3),
]

Y_EXT, Y_LIB = "advy_ext.py", "advy_lib.py"

CASES_Y = [
    # group y: a second adversary, all four classes.
    # class 1: what code run at Numba's extension boundaries decides on, reached other ways
    change("y1-typing-helper-called-through-a-global-alias", "y", "y_alias",
           [(Y_EXT, "STRATEGY = _strat_a", "STRATEGY = _strat_b")],
           affected="y_alias", names=("STRATEGY",)),
    change("y1-typing-registry-entry-replaced", "y", "y_registry",
           [(Y_EXT, '_REGISTRY = {"float64": _reg_double}', '_REGISTRY = {"float64": _reg_negate}')],
           affected="y_registry", names=("_REGISTRY",)),
    change("y1-typing-registry-entry-registered-by-the-app", "y", "y_registry",
           [app_code("AFTER_IMPORT", 'E.register("float64", E._reg_negate)')],
           affected="y_registry", names=("_REGISTRY",), slow=True),
    change("y1-default-argument-of-a-typing-helper", "y", "y_hdefault",
           [(Y_EXT, "def _factor(ty, k=2.0):", "def _factor(ty, k=5.0):")],
           affected="y_hdefault", names=("_factor",)),
    change("y1-functools-partial-called-by-typing", "y", "y_partial",
           [(Y_EXT, "PARTIAL = functools.partial(_scale_by, k=2.0)", "PARTIAL = functools.partial(_scale_by, k=5.0)")],
           affected="y_partial", names=("PARTIAL",), slow=True),
    change("y1-constant-of-a-lazy-import-in-typing", "y", "y_lazy",
           [("advy_conf.py", "LAZY_K = 10.0", "LAZY_K = 20.0")],
           affected="y_lazy", names=("LAZY_K",)),
    change("y1-submodule-constant-two-levels-down-read-by-typing", "y", "y_depth",
           [("advy_pkg/sub.py", "DEPTH_K = 2.0", "DEPTH_K = 5.0")],
           affected="y_depth", names=("DEPTH_K",)),
    change("y1-module-constant-read-by-typing-through-getattr", "y", "y_getattr",
           [("advy_conf.py", "K_float64 = 3.0", "K_float64 = 6.0")],
           affected="y_getattr", names=("K_float64",),
           limitation="an attribute read with a computed name (getattr(module, name)) is not observed"),
    change("y1-numpy-table-read-by-typing", "y", "y_table",
           [(Y_EXT, "COEF = np.array([1.0, 2.5, 4.0])", "COEF = np.array([1.0, 3.5, 4.0])")],
           affected="y_table", names=("COEF",)),
    change("y1-large-dict-read-by-typing", "y", "y_bigdict",
           [(Y_EXT, 'BIG_TABLE["float64"] = 1.5', 'BIG_TABLE["float64"] = 2.5')],
           affected="y_bigdict", names=("BIG_TABLE",), slow=True),
    change("y1-overload-implementation-closure-made-at-import", "y", "y_madeimpl",
           [(Y_EXT, "_IMPL = _make_impl(2.0)", "_IMPL = _make_impl(3.0)")],
           affected="y_madeimpl", names=("_IMPL", "_make_impl")),
    change("y1-overload-factory-called-from-another-module", "y", "y_factory_op",
           [(Y_LIB, "OP_A = E.make_op(2.0)", "OP_A = E.make_op(3.0)")],
           affected="y_factory_op", names=("OP_A", "make_op")),
    # the second type's typing hits the lru_cache filled by the first: the helper does not run
    change("y1-lru-cached-typing-helper", "y", "y_lru_b",
           [(Y_EXT, 'return 2.0 if kind == "f" else 7.0', 'return 4.0 if kind == "f" else 7.0')],
           affected="y_lru_b", names=("_cached_k",)),
    change("y1-intrinsic-codegen-emitter-through-a-global-alias", "y", "y_emit",
           [(Y_EXT, "EMIT = _emit_add", "EMIT = _emit_sub")],
           affected="y_emit", names=("EMIT",), slow=True),
    change("y1-numba-type-global-compared-by-typing", "y", "y_numbatype",
           [(Y_EXT, "PREFERRED = types.float64", "PREFERRED = types.float32")],
           affected="y_numbatype", names=("PREFERRED",), slow=True),
    change("y1-argparse-namespace-read-by-typing", "y", "y_namespace",
           [(Y_EXT, "OPTIONS = argparse.Namespace(scale=2.0)", "OPTIONS = argparse.Namespace(scale=5.0)")],
           affected="y_namespace", names=("OPTIONS",), slow=True),
    change("y1-data-file-read-by-a-typing-helper", "y", "y_datafile_cwd",
           [("advy_data.json", '{"k": 2.0}', '{"k": 5.0}')],
           affected="y_datafile_cwd", names=("advy_data", "_load_k_cwd"), slow=True),
    change("y1-exec-generated-typing-helper", "y", "y_exec_helper",
           [(Y_EXT, 'return 2.0\\n", globals())', 'return 5.0\\n", globals())')],
           affected="y_exec_helper", names=("_gen_k",)),
    change("y1-bound-method-typing-function-its-object", "y", "y_bound",
           [(Y_EXT, "BACKEND = Backend(2.0)", "BACKEND = Backend(5.0)")],
           affected="y_bound", names=("BACKEND", "typer", "tgt_bound"), slow=True),
    change("y1-backend-module-alias-chosen-by-environment-at-import", "y", "y_backend2",
           env={"ADVY_BACKEND2": "d"},
           affected="y_backend2", names=("B2", "BACK_K", "ADVY_BACKEND2"), slow=True),
    # two overloads of one function for the same types: the first registered wins
    change("y1-import-order-picks-another-overload", "y", "y_order",
           [("app.py", "import advy_ord_a  # noqa: F401 - registers an overload of advy_targets.tgt_order\n"
                       "import advy_ord_b  # noqa: F401 - registers another one (tried second)\n",
             "import advy_ord_b  # noqa: F401\nimport advy_ord_a  # noqa: F401\n")],
           affected="y_order", names=("_ov_order", "tgt_order", "advy_ord")),
    change("y1-custom-pipeline-pass-of-a-callee", "y", "y_pipe",
           [("advy_pipe.py", "stmt.value.value * 2.0", "stmt.value.value * 4.0")],
           affected="y_pipe_caller", names=("ScaleConsts", "piped", "ScalePipeline")),
    # class 2: values reached through objects
    change("y2-record-subarray-field-type", "y", "y_subarray",
           [(Y_LIB, 'RECS = np.dtype([("a", np.float64), ("c", np.float64, (3,))])',
             'RECS = np.dtype([("a", np.float64), ("c", np.int64, (3,))])')],
           affected="y_subarray", names=("RECS",)),
    change("y2-global-array-strides", "y", "y_strides",
           [(Y_LIB, "STRIDED = np.arange(12.0)[::2]", "STRIDED = np.repeat(np.arange(0.0, 12.0, 2.0), 3)[::3]")],
           affected="y_strides", names=("STRIDED",)),
    change("y2-sign-of-a-nan-constant", "y", "y_nan_sign",
           [(Y_LIB, 'NANK = float("nan")', 'NANK = -float("nan")')],
           affected="y_nan_sign", names=("NANK",), slow=True),
    change("y2-default-of-a-function-passed-as-argument", "y", "y_fnarg_default",
           [(Y_LIB, "def fn_dflt(x, k=4.0):", "def fn_dflt(x, k=6.0):")],
           affected="y_fnarg_default", names=("fn_dflt",)),
    change("y2-attribute-of-a-module-loaded-by-spec", "y", "y_settings_jit",
           [("advy_settings.py", "JIT_K = 3.0", "JIT_K = 5.0")],
           affected="y_settings_jit", names=("JIT_K", "SETTINGS")),
    change("y2-global-of-a-plugin-loaded-by-spec", "y", "y_plugin",
           [("plugins/advy_plugin.py", "PK = 2.0", "PK = 3.0")],
           affected="y_plugin", names=("PK",), slow=True),
    # class 3: functions keyed by name. Nothing changed: a copy of a function's code with
    # globals of its own, and two plugins loaded as one module name, are served the entry of
    # the function whose globals are a module's namespace / the module of that name now
    control("y3-code-copy-with-other-globals-served-the-module-function-entry", "y", items="y_gscaled5"),
    control("y3-two-plugins-of-one-module-name", "y", items=("y_plug_a", "y_plug_b")),
    change("y3-code-copy-with-other-globals-first-called-here", "y", "y_gscaled5",
           [app_code("AFTER_IMPORT", "L.y_gscaled5 = L.y_gscaled7")],
           affected="_gscaled", names=("GK",), slow=True),
    change("y3-global-rebound-to-another-factory-overload-target", "y", "y_factory_op",
           [app_code("AFTER_IMPORT", "L.OP_A = E.make_op(7.0)")],
           affected="y_factory_op", names=("OP_A", "make_op"), slow=True),
    # class 4: state of the process
    change("y4-python-O-strips-an-assert-of-an-overload-implementation", "y", "y_assert", pyargs=("-O",),
           affected="y_assert", names=("impl", "_ov_tgt_assert", "optimiz", "-O")),
    # a constant a typing function read changes between two functions' first calls: the JIT
    # reuses what it typed for the first (Numba's template cache), a miss of the second
    # types afresh
    result("y4-typing-constant-changed-between-first-calls", "y", ("y_tcache_a", "y_tcache_b"),
           [app_code("HOOKS", """
def before(name):
    if name == "y_tcache_b":
        E.TYPED_MODE = "exact"
""")], limitation=LIMIT_CACHES),
    # ... and a callee both share: the JIT reuses the callee compiled at the first call
    result("y4-global-of-a-shared-callee-mutated-between-first-calls", "y", ("y_shared_a", "y_shared_b"),
           [app_code("HOOKS", """
def before(name):
    if name == "y_shared_b":
        L.SHARED[0] = 50.0
""")], slow=True, limitation=LIMIT_CACHES),
    result("y4-boundscheck-set-between-first-calls-of-a-shared-callee", "y", ("y_bc_a", "y_bc_b"),
           [app_code("HOOKS", """
def before(name):
    if name == "y_bc_b":
        numba.config.BOUNDSCHECK = True
""")], slow=True, limitation=LIMIT_CACHES),
    change("y4-read-only-table-made-writeable-and-mutated-between-first-calls", "y", ("y_ro_a", "y_ro_b"),
           [app_code("HOOKS", """
def before(name):
    if name == "y_ro_b":
        L.RO.flags.writeable = True
        L.RO[0] = 100.0
        L.RO.flags.writeable = False
""")], affected="y_ro_b", names=("RO",)),
    change("y4-set-num-threads-read-by-typing", "y", "y_nthreads",
           [app_code("AFTER_IMPORT", "numba.set_num_threads(1)")],
           affected="y_nthreads", names=("thread",), slow=True,
           limitation="Numba's run-time state (numba.get_num_threads()) read by code run while compiling"),
    change("y4-environment-scanned-by-name-prefix", "y", "y_envscan", env={"ADVY_OPT_FAST": "1"},
           affected="y_envscan", names=("ADVY_OPT", "environ"),
           limitation="the environment iterated (not read by name) by code run while compiling"),
    change("y4-optional-module-imported-before-first-call", "y", "y_modpresent",
           [app_code("AFTER_IMPORT", "import advy_optional  # noqa: F401")],
           affected="y_modpresent", names=("advy_optional", "sys.modules"), slow=True,
           limitation="which modules are imported (sys.modules), read by code run while compiling"),
    change("y4-closure-cell-set-between-two-signatures", "y", ("y_settable_f", "y_settable_i"),
           [app_code("HOOKS", """
def before(name):
    if name == "y_settable_i":
        L.set_settable_k(3.0)
""")], affected="make_settable.<locals>.settable", names=("settable",)),
    change("y4-closure-array-mutated-between-two-signatures", "y", ("y_weighted_f", "y_weighted_i"),
           [app_code("HOOKS", """
def before(name):
    if name == "y_weighted_i":
        L.WARR[0] = 3.0
""")], affected="make_weighted.<locals>.weighted", names=("weighted", "WARR"), slow=True),
    # over-strict: nothing (or nothing compiled) changed, the JIT compiles the very same code
    # a memo the typing code fills: the training run saw it filled by the first compilation
    # when the second one's typing ran; served, the first fills nothing
    control("y-over-strict-typing-memo-dict-filled-by-an-earlier-compilation", "y", items=("y_memo_a", "y_memo_c")),
    control("y-over-strict-typing-memo-dict-filled-twice-in-one-compilation", "y", items="y_memo2", slow=True),
    control("y-over-strict-class-level-cache-of-a-typing-helper", "y", items=("y_clscache_a", "y_clscache_b")),
    control("y-over-strict-comment-edited-in-the-module-of-a-factory-made-overload", "y",
            [(Y_EXT, "# -- a memo dict the typing function fills (data only) -",
              "# -- a memo dict the typing function fills (data only, edited comment) -")],
            items=("y_factory_here", "y_factory_op")),
    control("y-over-strict-typing-iterates-the-environment", "y", items="y_envitems"),
    # the typing function reads INT_K only for integers: the float compilation never read it
    control("y-over-strict-constant-of-a-typing-branch-not-taken", "y",
            [(Y_EXT, "INT_K = 3", "INT_K = 4")], items="y_branch"),
    control("y-over-strict-typing-reads-a-module-loaded-by-spec", "y", items="y_settings", slow=True),
    control("y-over-strict-typing-helper-names-its-module-path", "y", items="y_datafile", slow=True),
    control("y-over-strict-inline-cost-model-option", "y", items="y_inline_cost", slow=True),
    control("y-over-strict-plugin-loaded-by-spec-with-a-callee", "y", items="y_plugin", slow=True),
    # left to the JIT by design (y/app.py NOT_SERVABLE: process addresses, a function made inside
    # another one passed as an argument): the results only
    result("y-not-servable-cfunc-global", "y", "y_cfunc", slow=True),
    result("y-not-servable-cffi-function-global", "y", "y_cffi", slow=True),
    result("y-not-servable-closure-passed-as-argument", "y", "y_fnarg_closure", slow=True),
    control("control-y-no-change", "y", slow=True),
]

ALL_CASES = CASES_X + CASES_V + CASES_C + CASES_P + CASES_Y


# ------------------------------------------------------------------ the machinery
def _tree(group: str, dest: Path, edits=()) -> Path:
    shutil.copytree(ADV / group, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for f in SUPPORT:
        shutil.copy(f, dest)
    for name, old, new in edits:
        path = dest / name
        text = path.read_text()
        assert text.count(old) == 1, f"harness: {old!r} occurs {text.count(old)} times in {name}"
        path.write_text(text.replace(old, new))
    return dest


def _env(case_env: dict | None = None, **extra) -> dict:
    env = clean_env(PYTHONDONTWRITEBYTECODE="1", **(case_env or {}))
    env.update(extra)
    return env


def _start(cmd, cwd, env) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(p: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += "\n<harness: timed out>"
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _lines(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        name = line.split(" ", 1)[0]
        out[name] = line
    return out


@dataclass
class Group:
    image: Path
    baseline: dict          # item -> its line in the plain JIT's output of the unchanged tree
    baseline_stdout: str
    items: tuple


_GROUPS: dict[str, Group] = {}


@pytest.fixture(scope="module")
def groups(tmp_path_factory):
    """Built on first use, one image per group (the cases of a group share it)."""
    def get(name: str) -> Group:
        if name not in _GROUPS:
            base = tmp_path_factory.mktemp(f"adv-{name}")
            image = base / f"adv_{name}.so"
            build = _tree(name, base / "build")
            plain = _tree(name, base / "plain")
            env = _env()
            pb = _start([snap_exe(), "create", "-w", "app.py", "-o", str(image)], build, env)
            pp = _start([sys.executable, "app.py"], plain, env)
            b, p = _finish(pb), _finish(pp)
            assert_ok(b)
            assert_ok(p)
            lines = _lines(p.stdout)
            _GROUPS[name] = Group(image, lines, p.stdout, tuple(lines))
        return _GROUPS[name]
    yield get
    _GROUPS.clear()


def _report(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _diff(a: str, b: str) -> str:
    al, bl = a.splitlines(), b.splitlines()
    rows = []
    for i in range(max(len(al), len(bl))):
        x = al[i] if i < len(al) else "<missing>"
        y = bl[i] if i < len(bl) else "<missing>"
        if x != y:
            rows.append(f"      JIT:   {x}\n      image: {y}")
    return "\n".join(rows)


def _tail(text: str, n: int = 6) -> str:
    return "\n".join("      | " + ln for ln in text.strip().splitlines()[-n:])


def _check(case: Case, group: Group, a, b, c, report: list[dict]) -> list[str]:
    problems = []
    misses = sorted({r.get("qualname", "?") for r in report})

    def why(q):
        return "; ".join(sorted({f"{r.get('kind')}: {r.get('reason')}" for r in report
                                 if r.get("qualname") == q}))

    if a.returncode != 0 and case.kind != "change":
        problems.append(f"HARNESS: the plain JIT run failed (exit {a.returncode})\n{_tail(a.stderr)}")
        return problems
    # (b) == (a)
    if b.stdout != a.stdout:
        problems.append("WRONG RESULT: the image run's output differs from the plain JIT's\n"
                        + _diff(a.stdout, b.stdout) + ("\n    image stderr:\n" + _tail(b.stderr)
                                                       if b.returncode else ""))
    if b.returncode != a.returncode:
        problems.append(f"EXIT STATUS: plain JIT {a.returncode}, image {b.returncode}\n{_tail(b.stderr)}")

    if case.kind == "control":
        if report:
            problems.append("OVER-STRICT: the miss report of an unchanged/unrelated-change run lists "
                            + ", ".join(f"{q} ({why(q)})" for q in misses))
        if c.returncode != 0:
            problems.append(f"OVER-STRICT: strict mode with compilation forbidden failed "
                            f"(exit {c.returncode}): {_last_line(c.stderr)}")
        elif c.stdout != a.stdout:
            problems.append("WRONG RESULT (strict, compilation forbidden)\n" + _diff(a.stdout, c.stdout))
        return problems

    if case.kind == "change":
        # the harness checks itself: the change must be visible in the plain JIT's output
        if not case.jit_same and all(group.baseline.get(i) == _lines(a.stdout).get(i)
                                     for i in case.items):
            problems.append("HARNESS: the change is not observable in the plain JIT's output "
                            "(the case is broken)")
        if c.returncode == 0:
            problems.append("STRICT PASSED: strict mode exited 0 where the change must be refused"
                            + (" -- and served a WRONG RESULT:\n" + _diff(a.stdout, c.stdout)
                               if c.stdout != a.stdout else " (its output equals the JIT's)"))
        else:
            last = _last_line(c.stderr)
            if not any(n in last for n in case.names):
                problems.append(f"STRICT MESSAGE: strict mode failed but its error does not name "
                                f"any of {list(case.names)}: {last!r}")
            if "Traceback (most recent call last)" in c.stderr:
                problems.append("STRICT CRASH: strict mode ended with a traceback, not a one-line "
                                f"error\n{_tail(c.stderr)}")
            if not a.stdout.startswith(c.stdout):
                problems.append("WRONG RESULT (strict, before it stopped)\n" + _diff(a.stdout, c.stdout))
        missing = [q for q in case.affected if q not in misses]
        if missing:
            problems.append(f"REPORT: the miss report does not list {missing} (it lists {misses})")
        if case.sentinel:
            s = GROUP_SENTINEL[case.group]
            if s in misses:
                problems.append(f"OVER-STRICT: the sentinel {s}, untouched by the change, was "
                                f"not served ({why(s)})")
    elif case.kind == "result" and c.returncode == 0 and c.stdout != a.stdout:
        problems.append("WRONG RESULT (strict)\n" + _diff(a.stdout, c.stdout))
    return problems


def run_case(case: Case, group: Group, tmp: Path) -> list[str]:
    items = list(case.items)                        # a control without items: every item
    if case.kind == "change" and case.sentinel:
        items.append(GROUP_SENTINEL[case.group])
    cmd = [sys.executable, *case.pyargs, "app.py", *items]
    # a control without any change or items: the group's baseline is the fresh plain-JIT
    # run of this very tree (no need to run it again)
    reuse = case.kind == "control" and not (case.edits or case.env or case.pyargs or items)
    report = tmp / "misses.jsonl"
    image = str(group.image)
    strict = {"SNAP_SYSIMAGE": image, "SNAP_STRICT": "1"}
    if case.kind == "control":
        strict["SNAPTEST_FORBID_COMPILE"] = "1"
    procs = [
        None if reuse else _start(cmd, _tree(case.group, tmp / "a", case.edits), _env(case.env)),
        _start(cmd, _tree(case.group, tmp / "b", case.edits),
               _env(case.env, SNAP_SYSIMAGE=image, SNAP_REPORT=str(report))),
        _start(cmd, _tree(case.group, tmp / "c", case.edits), _env(case.env, **strict)),
    ]
    a, b, c = (_finish(p) if p is not None else
               subprocess.CompletedProcess(cmd, 0, group.baseline_stdout, "") for p in procs)
    problems = _check(case, group, a, b, c, _report(report))
    out = os.environ.get("ADVERSARIAL_SUMMARY")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({"id": case.id, "verdict": "FAIL" if problems else "PASS",
                                "problems": problems, "strict": [c.returncode, _last_line(c.stderr)],
                                "report": sorted({(r.get("qualname"), r.get("kind"), r.get("reason"))
                                                  for r in _report(report)})}) + "\n")
    return problems


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _params(cases):
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "harness: duplicate case ids"
    return [pytest.param(c, id=c.id, marks=([pytest.mark.slow] if c.slow else [])
                         + ([pytest.mark.xfail(reason=c.limitation, strict=True)] if c.limitation else []))
            for c in cases]


@pytest.mark.parametrize("case", _params(ALL_CASES))
def test_adversarial(case: Case, groups, tmp_path):
    missing = [f for f in case.cpu_flags if f not in _cpu_flags()]
    if missing:
        pytest.skip(f"this CPU lacks {missing}")
    group = groups(case.group)
    problems = run_case(case, group, tmp_path)
    assert not problems, f"{case.id}:\n  - " + "\n  - ".join(problems)
