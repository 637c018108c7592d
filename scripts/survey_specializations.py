#!/usr/bin/env python
"""Survey what Numba compiles while a workload runs.

Usage::

    python scripts/survey_specializations.py tests/workloads/numbagg_workload.py
    python scripts/survey_specializations.py W.py --json out.json --no-timing

For a workload file ``W.py`` (a module exposing ``main()``), this:

1. runs it in a child process with a fresh, empty ``NUMBA_CACHE_DIR`` and the
   survey hooks installed ("cold" survey), then again with the same cache dir
   ("warm" survey, shows what Numba's own cache serves);
2. (unless ``--no-timing``) times the workload without hooks in two more
   children: cold (new empty cache dir) and warm (same dir, second run), split
   into import time (importing the workload, i.e. the library) and ``main()``
   time, plus a second in-process ``main()`` call (steady state);
3. prints a table: specializations by kind, compiler entry-point counts,
   unusual constructs with file:line, and timings.

Hooks (installed before the workload is imported):

* ``_DispatcherBase.add_overload`` — every overload (jit, lifted loops/withs,
  objmode blocks, jitclass methods, cache loads);
* ``UFuncDispatcher._compile_core`` — @vectorize / @guvectorize kernels
  (never seen by add_overload); the kind (ufunc/gufunc, parallel or not,
  DUFunc/GUFunc) comes from the calling builder found on the stack;
* ``CFunc._compile_uncached`` — @cfunc; ``StencilFunc._stencil_wrapper`` — @stencil;
* ``CPUCodeLibrary._finalize_final_module`` — every code library;
* call counters on ``compiler.compile_extra``, ``compiler.compile_ir``,
  ``_FunctionCompiler._compile_core``, ``UFuncDispatcher._compile_core``,
  ``CPUCodeLibrary.finalize`` and Numba's cache load/save.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.abspath(__file__)

# --------------------------------------------------------------------------
# child side: hooks
# --------------------------------------------------------------------------

PHASE = ["setup"]
RECORDS: list[dict] = []
LIBRARIES: list[dict] = []
COUNTS: collections.Counter = collections.Counter()
DISPATCHERS: dict = {}  # id -> (weakref or None, key)


def _type_walk(ty, seen=None):
    """Yield ty and the Numba types nested in it (tuples, arrays, optionals...)."""
    if seen is None:
        seen = set()
    if id(ty) in seen:
        return
    seen.add(id(ty))
    yield ty
    subs = []
    for attr in ("types", "dtype", "type", "key_type", "value_type",
                 "item_type", "yield_type", "return_type", "container",
                 "instance_type", "field_types"):
        try:
            v = getattr(ty, attr, None)
        except Exception:
            continue
        if v is None:
            continue
        if isinstance(v, (tuple, list)):
            subs.extend(v)
        else:
            subs.append(v)
    try:
        fields = getattr(ty, "_fields", None)
        if isinstance(fields, (list, tuple)):
            subs.extend(t for _, t in fields if not isinstance(t, str))
    except Exception:
        pass
    from numba.core import types
    for s in subs:
        if isinstance(s, types.Type):
            yield from _type_walk(s, seen)


def _code_names(code, acc=None):
    if acc is None:
        acc = set()
    acc.update(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            _code_names(c, acc)
    return acc


def _where(py_func):
    code = getattr(py_func, "__code__", None)
    if code is None:
        return "?"
    return f"{code.co_filename}:{code.co_firstlineno}"


def _short(path_line: str) -> str:
    for marker in ("site-packages/", "/work/main/"):
        i = path_line.find(marker)
        if i >= 0:
            return path_line[i + len(marker):]
    return path_line


def _picklable_consts(env):
    if env is None:
        return True, None
    from numba.core import serialize
    for c in env.consts:
        try:
            serialize.dumps(c)
        except Exception as e:  # noqa: BLE001
            return False, f"{type(c).__name__}: {type(e).__name__}: {str(e)[:80]}"
    return True, None


def _stack_kind():
    """Find the ufunc builder / DUFunc / GUFunc that triggered a kernel compile."""
    from numba.np.ufunc import ufuncbuilder, dufunc, gufunc
    f = sys._getframe(2)
    while f is not None:
        s = f.f_locals.get("self")
        if s is not None:
            if isinstance(s, ufuncbuilder.GUFuncBuilder):
                return "gufunc", type(s).__name__
            if isinstance(s, ufuncbuilder.UFuncBuilder):
                return "ufunc", type(s).__name__
            if isinstance(s, gufunc.GUFunc):
                return "gufunc", "GUFunc(dynamic)"
            if isinstance(s, dufunc.DUFunc):
                return "ufunc", "DUFunc"
        f = f.f_back
    return "ufunc-kernel", "?"


def _has_cpython_wrapper(disp, cres):
    """True if the library defines fndesc.llvm_cpython_wrapper_name."""
    name = getattr(cres.fndesc, "llvm_cpython_wrapper_name", None)
    lib = cres.library
    for attr in ("_final_module", "_shared_module"):
        mod = getattr(lib, attr, None)
        if mod is None:
            continue
        try:
            fn = mod.get_function(name)
            if not fn.is_declaration:
                return True
        except (NameError, TypeError):
            pass
    opts = getattr(disp, "targetoptions", None) or {}
    if opts.get("no_cpython_wrapper"):
        return False
    # cache-loaded libraries keep only object code: fall back to "has one"
    mod = getattr(lib, "_final_module", None)
    if mod is not None and not any(True for f in mod.functions if not f.is_declaration):
        return True
    return False


def _record(disp_kind, disp, py_func, cres, extra=None):
    from numba.core import types
    import weakref
    rec = {
        "phase": PHASE[0],
        "dispatcher": disp_kind,
        "module": getattr(py_func, "__module__", None),
        "qualname": getattr(py_func, "__qualname__", None),
        "where": _where(py_func),
        "targetoptions": {k: repr(v) for k, v in
                          sorted((getattr(disp, "targetoptions", None) or {}).items())},
        "locals": repr(sorted((getattr(disp, "locals", None) or {}).items())),
        "signature": str(cres.signature),
        "objectmode": bool(cres.objectmode),
        "lifted": [type(x).__name__ for x in (cres.lifted or ())],
        "llvm_func_name": getattr(cres.fndesc, "llvm_func_name", None),
        "library": getattr(cres.library, "name", None),
        "no_cpython_wrapper": not _has_cpython_wrapper(disp, cres),
    }
    try:
        rec["has_dynamic_globals"] = bool(cres.library.has_dynamic_globals)
    except Exception as e:  # library not finalized
        rec["has_dynamic_globals"] = f"? {type(e).__name__}"
    env = cres.environment
    rec["env_can_cache"] = bool(env.can_cache()) if env is not None else True
    ok, why = _picklable_consts(env)
    rec["env_consts_picklable"] = ok
    rec["env_consts_problem"] = why
    rec["n_env_consts"] = len(env.consts) if env is not None else 0
    # cache
    cache = getattr(disp, "_cache", None) or getattr(disp, "cache", None)
    rec["cache"] = type(cache).__name__ if cache is not None else None
    rec["eager"] = (getattr(disp, "_can_compile", True) is False)
    # kinds
    sig_types = list(cres.signature.args) + [cres.signature.return_type]
    all_types = [t for a in sig_types for t in _type_walk(a)]
    kinds = set(extra or ())
    if disp_kind in ("LiftedLoop",):
        kinds.add("lifted_loop")
    if disp_kind in ("LiftedWith", "ObjModeLiftedWith"):
        kinds.add("lifted_with")
    if disp_kind == "ObjModeLiftedWith" or cres.objectmode:
        kinds.add("objmode")
    if cres.lifted:
        kinds.add("has_lifted")
    if any(isinstance(t, types.ClassInstanceType) for t in all_types):
        kinds.add("jitclass")
    if any(isinstance(t, types.StructRef) for t in all_types):
        kinds.add("structref")
    if any(isinstance(t, (types.Dispatcher,)) for t in all_types):
        kinds.add("dispatcher_arg")
    if any(isinstance(t, (types.FunctionType, types.UndefinedFunctionType))
           for t in all_types if hasattr(types, "UndefinedFunctionType")):
        kinds.add("first_class_function")
    if any(isinstance(t, (types.ListType, types.DictType)) for t in all_types):
        kinds.add("typed_container")
    if any(isinstance(t, types.Generator) for t in all_types):
        kinds.add("generator")
    if any(isinstance(t, (types.Literal,)) for t in cres.signature.args):
        kinds.add("literal_arg")
    code = getattr(py_func, "__code__", None)
    if code is not None:
        import inspect
        if inspect.isgeneratorfunction(py_func):
            kinds.add("generator")
        names = _code_names(code)
        if "literal_unroll" in names:
            kinds.add("literal_unroll")
        if "objmode" in names or "objmode_context" in names:
            kinds.add("objmode_outer")
        if "prange" in names or "_prange" in names:
            kinds.add("uses_prange")
        fn = code.co_filename
        if fn.startswith("<") or not os.path.exists(fn):
            kinds.add("exec_generated")
    if "<locals>" in (rec["qualname"] or ""):
        kinds.add("closure_local_def")
    cells = getattr(py_func, "__closure__", None) or ()
    if cells:
        kinds.add("closure_cells")
        import numpy as np
        for c in cells:
            try:
                v = c.cell_contents
            except ValueError:
                continue
            if isinstance(v, np.ndarray):
                kinds.add("closure_captures_array")
    to = getattr(disp, "targetoptions", None) or {}
    if to.get("parallel"):
        kinds.add("parallel")
    if rec["eager"]:
        kinds.add("eager")
    if rec["has_dynamic_globals"] is True:
        kinds.add("dynamic_globals")
    if not rec["env_can_cache"] or not ok:
        kinds.add("env_not_cacheable")
    if rec["no_cpython_wrapper"]:
        kinds.add("no_cpython_wrapper")
    if rec["cache"] in ("FunctionCache",):
        kinds.add("cache=True")
    if rec["phase"] == "import":
        kinds.add("compiled_at_import")
    rec["kinds"] = sorted(kinds)
    # DESIGN.md rule for an overload the image can install directly
    blockers = []
    if rec["objectmode"]:
        blockers.append("objectmode")
    if disp_kind in ("LiftedLoop", "LiftedWith", "ObjModeLiftedWith"):
        blockers.append("lifted")
    if rec["has_dynamic_globals"] is True:
        blockers.append("dynamic_globals")
    if not rec["env_can_cache"] or not ok:
        blockers.append("env_not_cacheable")
    if rec["no_cpython_wrapper"]:
        blockers.append("no_cpython_wrapper")
    rec["blockers"] = blockers
    rec["closure_hash"] = None
    if cells:
        try:
            from numba.core import serialize
            import hashlib
            rec["closure_hash"] = hashlib.sha1(
                serialize.dumps(tuple(c.cell_contents for c in cells))).hexdigest()[:12]
        except Exception as e:  # noqa: BLE001
            rec["closure_hash"] = f"unhashable:{type(e).__name__}"
    rec["disp_id"] = id(disp)
    if id(disp) not in DISPATCHERS:
        try:
            DISPATCHERS[id(disp)] = weakref.ref(disp)
        except TypeError:
            DISPATCHERS[id(disp)] = None
    RECORDS.append(rec)


_TSTACK: list = []
COMPILE_TIMES: dict = {}


class _timed:
    """Inclusive/exclusive wall time of nested compiles, per py_func."""

    def __init__(self, py_func):
        self.key = (getattr(py_func, "__module__", "?"), getattr(py_func, "__qualname__", "?"),
                    _where(py_func))

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.child = 0.0
        _TSTACK.append(self)

    def __exit__(self, *exc):
        _TSTACK.pop()
        dt = time.perf_counter() - self.t0
        if _TSTACK:
            _TSTACK[-1].child += dt
        e = COMPILE_TIMES.setdefault(self.key, [0, 0.0, 0.0])
        e[0] += 1
        e[1] += dt
        e[2] += dt - self.child
        return False


def install_hooks():
    import functools
    from numba.core import dispatcher, codegen, compiler, caching, ccallback
    from numba.np.ufunc import ufuncbuilder

    def count(owner, name, label):
        orig = getattr(owner, name)

        @functools.wraps(orig)
        def wrapper(*a, **k):
            COUNTS[label] += 1
            return orig(*a, **k)
        setattr(owner, name, wrapper)

    count(compiler, "compile_extra", "compiler.compile_extra")
    count(compiler, "compile_ir", "compiler.compile_ir")
    orig_fc_core = dispatcher._FunctionCompiler._compile_core

    def fc_compile_core(self, args, return_type):
        COUNTS["_FunctionCompiler._compile_core"] += 1
        with _timed(self.py_func):
            return orig_fc_core(self, args, return_type)
    dispatcher._FunctionCompiler._compile_core = fc_compile_core
    count(codegen.CPUCodeLibrary, "finalize", "CPUCodeLibrary.finalize")

    orig_load = caching.Cache.load_overload

    def load_overload(self, sig, target_context):
        r = orig_load(self, sig, target_context)
        COUNTS["cache.load_overload(hit)" if r is not None
               else "cache.load_overload(miss)"] += 1
        return r
    caching.Cache.load_overload = load_overload
    count(caching.Cache, "save_overload", "cache.save_overload")

    orig_add = dispatcher._DispatcherBase.add_overload

    def add_overload(self, cres):
        r = orig_add(self, cres)
        try:
            _record(type(self).__name__, self, self.py_func, cres)
        except Exception as e:  # noqa: BLE001
            COUNTS[f"survey-error:{type(e).__name__}:{e}"] += 1
        return r
    dispatcher._DispatcherBase.add_overload = add_overload

    orig_ucore = ufuncbuilder.UFuncDispatcher._compile_core

    def ufunc_compile_core(self, sig, flags, locals):
        COUNTS["UFuncDispatcher._compile_core"] += 1
        with _timed(self.py_func):
            cres = orig_ucore(self, sig, flags, locals)
        try:
            kind, builder = _stack_kind()
            extra = {kind}
            if "Parallel" in builder or self.targetoptions.get("target") == "parallel":
                extra.add("parallel_target")
            _record(f"UFuncDispatcher[{builder}]", self, self.py_func, cres, extra)
        except Exception as e:  # noqa: BLE001
            COUNTS[f"survey-error:{type(e).__name__}:{e}"] += 1
        return cres
    ufuncbuilder.UFuncDispatcher._compile_core = ufunc_compile_core

    orig_cfunc_uncached = ccallback.CFunc._compile_uncached

    def cfunc_compile_uncached(self):
        COUNTS["CFunc._compile_uncached"] += 1
        cres = orig_cfunc_uncached(self)
        try:
            _record("CFunc", self, self._pyfunc, cres, {"cfunc"})
        except Exception as e:  # noqa: BLE001
            COUNTS[f"survey-error:{type(e).__name__}:{e}"] += 1
        return cres
    ccallback.CFunc._compile_uncached = cfunc_compile_uncached

    # parfors: one gufunc per parfor, compiled with compile_ir, linked into the caller
    try:
        from numba.parfors import parfor_lowering
        count(parfor_lowering, "_create_gufunc_for_parfor_body", "parfor gufunc bodies compiled")
    except Exception:  # noqa: BLE001
        pass

    # @stencil kernels: compiled with compile_ir by StencilFunc, never a dispatcher
    try:
        from numba.stencils import stencil as _st
        orig_sw = _st.StencilFunc._stencil_wrapper

        def stencil_wrapper(self, *a, **k):
            COUNTS["StencilFunc._stencil_wrapper"] += 1
            cres = orig_sw(self, *a, **k)
            try:
                fn = self.kernel_ir.func_id.func
                _record("StencilFunc", self, fn, cres, {"stencil"})
            except Exception as e:  # noqa: BLE001
                COUNTS[f"survey-error:{type(e).__name__}:{e}"] += 1
            return cres
        _st.StencilFunc._stencil_wrapper = stencil_wrapper
    except Exception:  # noqa: BLE001
        pass

    orig_ffm = codegen.CPUCodeLibrary._finalize_final_module

    def finalize_final_module(self):
        COUNTS["CPUCodeLibrary._finalize_final_module"] += 1
        r = orig_ffm(self)
        try:
            LIBRARIES.append({"phase": PHASE[0], "name": self.name,
                              "dynamic_globals": len(self._dynamic_globals)})
        except Exception:
            pass
        return r
    codegen.CPUCodeLibrary._finalize_final_module = finalize_final_module


def gc_scan():
    """Cross-check: live objects of the interesting kinds at exit."""
    import gc
    from numba.core import dispatcher as d
    from numba.np.ufunc import dufunc, gufunc
    from numba.core import ccallback
    out = collections.Counter()
    try:
        from numba.experimental.jitclass.base import JitClassType
    except Exception:  # noqa: BLE001
        JitClassType = None
    for o in gc.get_objects():
        try:
            if isinstance(o, d._DispatcherBase):
                out[f"live {type(o).__name__}"] += 1
                out["live dispatcher overloads"] += len(o.overloads)
            elif isinstance(o, dufunc.DUFunc):
                out["live DUFunc"] += 1
            elif isinstance(o, gufunc.GUFunc):
                out["live GUFunc"] += 1
            elif isinstance(o, ccallback.CFunc):
                out["live CFunc"] += 1
            elif JitClassType is not None and isinstance(o, JitClassType):
                out["live jitclass"] += 1
        except ReferenceError:
            pass
    return dict(out)


def child_survey(workload, out_path):
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="survey-cache-"))
    import numba  # noqa: F401
    install_hooks()
    import importlib.util
    import warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, os.path.dirname(os.path.abspath(workload)))
    t0 = time.perf_counter()
    PHASE[0] = "import"
    spec = importlib.util.spec_from_file_location("_survey_workload", workload)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_survey_workload"] = mod
    spec.loader.exec_module(mod)
    t1 = time.perf_counter()
    PHASE[0] = "run"
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        mod.main()
    t2 = time.perf_counter()
    PHASE[0] = "second_run"
    with contextlib.redirect_stdout(io.StringIO()):
        mod.main()
    t3 = time.perf_counter()
    freed = sum(1 for w in DISPATCHERS.values() if w is not None and w() is None)
    # eager signatures: @njit("sig") disables compilation only after compiling
    for r in RECORDS:
        w = DISPATCHERS.get(r["disp_id"])
        disp = w() if w is not None else None
        if disp is not None and getattr(disp, "_can_compile", True) is False:
            r["eager"] = True
            if "eager" not in r["kinds"]:
                r["kinds"] = sorted(r["kinds"] + ["eager"])
    res = {
        "workload": workload,
        "records": RECORDS,
        "libraries": LIBRARIES,
        "counts": dict(COUNTS),
        "gc": gc_scan(),
        "freed_dispatchers": freed,
        "n_dispatchers": len(DISPATCHERS),
        "hooked_times": {"import": t1 - t0, "main": t2 - t1, "second_main": t3 - t2},
        "compile_times": [[m, q, w, n, inc, exc] for (m, q, w), (n, inc, exc)
                          in sorted(COMPILE_TIMES.items(), key=lambda kv: -kv[1][2])],
    }
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1, default=str)


def child_time(workload, out_path):
    t0 = time.perf_counter()
    import importlib.util
    import contextlib
    import io
    import warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, os.path.dirname(os.path.abspath(workload)))
    spec = importlib.util.spec_from_file_location("_survey_workload", workload)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_survey_workload"] = mod
    spec.loader.exec_module(mod)
    t1 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        mod.main()
    t2 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        mod.main()
    t3 = time.perf_counter()
    with open(out_path, "w") as f:
        json.dump({"import": t1 - t0, "main": t2 - t1, "second_main": t3 - t2}, f)


# --------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------

def _run_child(mode, workload, cache_dir, extra_env=None):
    fd, out = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = cache_dir
    env.update(extra_env or {})
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, HERE, f"--child-{mode}", workload, "--out", out],
                       env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-5000:])
        raise SystemExit(f"child {mode} failed for {workload}")
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    data["wall"] = wall
    return data


KIND_ORDER = [
    "compiled_at_import", "eager", "cache=True", "parallel", "uses_prange",
    "gufunc", "ufunc", "parallel_target", "stencil", "cfunc", "jitclass", "structref",
    "objmode", "objmode_outer", "lifted_with", "lifted_loop", "has_lifted",
    "generator", "literal_unroll", "literal_arg", "dispatcher_arg",
    "first_class_function", "typed_container", "closure_local_def",
    "closure_cells", "closure_captures_array", "exec_generated",
    "dynamic_globals", "env_not_cacheable", "no_cpython_wrapper",
]


def summarize(data):
    recs = data["records"]
    by_kind = collections.Counter()
    for r in recs:
        by_kind.update(r["kinds"])
    by_disp = collections.Counter(r["dispatcher"] for r in recs)
    by_module = collections.Counter((r["module"] or "?").split(".")[0] for r in recs)
    # identity questions
    ident = collections.defaultdict(set)
    opts = collections.defaultdict(set)
    for r in recs:
        key = (r["module"], r["qualname"])
        ident[key + (json.dumps(r["targetoptions"], sort_keys=True),)].add(r["disp_id"])
        opts[key].add(json.dumps(r["targetoptions"], sort_keys=True))
    multi_disp = {k: len(v) for k, v in ident.items() if len(v) > 1}
    locs = collections.defaultdict(set)
    for r in recs:
        locs[(r["module"], r["qualname"])].add(r.get("locals"))
    multi_locals = {k: len(v) for k, v in locs.items() if len(v) > 1}
    multi_opts = {k: v for k, v in opts.items() if len(v) > 1}
    return by_kind, by_disp, by_module, multi_disp, multi_opts, multi_locals


def print_report(name, cold, warm, tcold, twarm, out=sys.stdout):
    p = lambda *a: print(*a, file=out)  # noqa: E731
    by_kind, by_disp, by_module, multi_disp, multi_opts, multi_locals = summarize(cold)
    recs = cold["records"]
    p(f"\n## {name}\n")
    p(f"specializations (cold): {len(recs)}   dispatchers: {cold['n_dispatchers']}"
      f"   freed before exit: {cold['freed_dispatchers']}"
      f"   code libraries finalized: {len(cold['libraries'])}")
    p(f"specializations by phase: "
      f"{dict(collections.Counter(r['phase'] for r in recs))}")
    p(f"by dispatcher class: {dict(by_disp)}")
    p(f"by top-level module: {dict(by_module)}")
    p("\n| kind | count |\n|---|---|")
    for k in KIND_ORDER:
        if by_kind.get(k):
            p(f"| {k} | {by_kind[k]} |")
    blk = collections.Counter()
    for r in recs:
        blk.update(r["blockers"] or ["(none: installable)"])
    p("\nDESIGN.md install rule (not no_cpython_wrapper, not objmode, not lifted, "
      "no dynamic globals, env cacheable) — a specialization may have several reasons:\n")
    p("| reason | count |\n|---|---|")
    for k, v in blk.most_common():
        p(f"| {k} | {v} |")
    internal = sum(1 for r in recs if r["blockers"] == ["no_cpython_wrapper"]
                   and r["dispatcher"] == "CPUDispatcher")
    p(f"\n(of which only-no_cpython_wrapper CPUDispatcher overloads, i.e. @overload/"
      f"@register_jitable/inline internals linked into callers: {internal})")
    p("\ncompiler entry points (cold / warm):\n")
    p("| entry point | cold | warm |\n|---|---|---|")
    keys = sorted(set(cold["counts"]) | set(warm["counts"] if warm else {}))
    for k in keys:
        p(f"| {k} | {cold['counts'].get(k, 0)} | {(warm or {}).get('counts', {}).get(k, 0) if warm else '-'} |")
    if warm:
        wk = collections.Counter()
        for r in warm["records"]:
            wk.update(r["kinds"])
        p(f"\nwarm-cache run: {len(warm['records'])} overloads "
          f"({sum(1 for r in warm['records'] if r['phase']=='import')} at import); "
          f"libraries finalized: {len(warm['libraries'])}")
    if multi_disp:
        p("\nsame module+qualname+options, several dispatcher objects:")
        for k, v in sorted(multi_disp.items(), key=lambda kv: -kv[1])[:15]:
            p(f"  - {k[0]}.{k[1]} {k[2]}: {v} dispatchers")
    if multi_opts:
        p("\nsame function compiled with different target options:")
        for k, v in sorted(multi_opts.items())[:15]:
            sets = [json.loads(x) for x in v]
            common = set.intersection(*(set(d.items()) for d in sets))
            diffs = ["{" + ", ".join(f"{a}={b}" for a, b in sorted(set(d.items()) - common)) + "}"
                     for d in sets]
            p(f"  - {k[0]}.{k[1]}: {len(v)} option sets, differing: {' vs '.join(sorted(diffs))}")
    if multi_locals:
        p("\nsame module+qualname, different `locals=` typing (identity must include locals):")
        for k, v in sorted(multi_locals.items())[:15]:
            p(f"  - {k[0]}.{k[1]}: {v} locals sets")
    # unusual constructs with locations
    unusual = [k for k in KIND_ORDER if k not in (
        "compiled_at_import", "eager", "cache=True", "uses_prange", "no_cpython_wrapper")]
    p("\nunusual constructs (function -> where, count):")
    for k in unusual:
        locs = collections.Counter()
        for r in recs:
            if k in r["kinds"]:
                locs[(r["qualname"], _short(r["where"]))] += 1
        if locs:
            p(f"- {k}:")
            for (q, w), n in sorted(locs.items(), key=lambda kv: -kv[1])[:12]:
                p(f"    {q}  {w}  x{n}")
            if len(locs) > 12:
                p(f"    ... {len(locs) - 12} more")
    ct = cold.get("compile_times")
    if ct:
        tot = sum(x[5] for x in ct)
        p(f"\ncompile time (hooked run, exclusive of nested compiles): total {tot:.1f} s; top 10:")
        p("\n| function | where | compiles | exclusive s | inclusive s |\n|---|---|---|---|---|")
        for m, q, w, n, inc, exc in ct[:10]:
            p(f"| {m}.{q} | {_short(w)} | {n} | {exc:.2f} | {inc:.2f} |")
    probs = collections.Counter(r["env_consts_problem"] for r in recs if r["env_consts_problem"])
    if probs:
        p("\nnon-picklable environment constants:")
        for k, v in probs.most_common(10):
            p(f"  - {k}  x{v}")
    p("\nlive objects at exit: " + ", ".join(f"{k}={v}" for k, v in sorted(cold["gc"].items())))
    if tcold:
        p("\n| timing (no hooks) | import | main() | 2nd main() | process wall |\n|---|---|---|---|---|")
        p(f"| cold (empty NUMBA_CACHE_DIR) | {tcold['import']:.2f} s | {tcold['main']:.2f} s"
          f" | {tcold['second_main']:.3f} s | {tcold['wall']:.2f} s |")
        p(f"| warm (same NUMBA_CACHE_DIR) | {twarm['import']:.2f} s | {twarm['main']:.2f} s"
          f" | {twarm['second_main']:.3f} s | {twarm['wall']:.2f} s |")
    ht = cold["hooked_times"]
    p(f"\n(hooked cold run: import {ht['import']:.2f} s, main {ht['main']:.2f} s, "
      f"second main {ht['second_main']:.3f} s)")


def _own(r, lib_prefixes=("numba.", "numba")):
    m = r["module"] or "?"
    return not (m == "numba" or m.startswith("numba."))


def cross_table(all_data, out=sys.stdout):
    """One row per workload: totals and the kinds that matter for an image."""
    p = lambda *a: print(*a, file=out)  # noqa: E731
    cols = ["total", "library/user", "numba internals", "jit entry (has wrapper)",
            "ufunc kernels", "gufunc kernels", "stencil", "cfunc", "parallel=True",
            "objmode/lifted", "dynamic globals", "env not cacheable",
            "dispatcher arg", "closures (<locals>)", "at import", "cache=True",
            "2nd-run compiles"]
    p("| workload | " + " | ".join(cols) + " |")
    p("|---" * (len(cols) + 1) + "|")
    for d in all_data:
        recs = d["cold"]["records"]
        k = lambda name: sum(1 for r in recs if name in r["kinds"])  # noqa: E731
        row = [
            len(recs),
            sum(1 for r in recs if _own(r)),
            sum(1 for r in recs if not _own(r)),
            sum(1 for r in recs if not r["no_cpython_wrapper"]),
            k("ufunc"), k("gufunc"), k("stencil"), k("cfunc"), k("parallel"),
            sum(1 for r in recs if {"objmode", "lifted_with", "lifted_loop"} & set(r["kinds"])),
            k("dynamic_globals"), k("env_not_cacheable"), k("dispatcher_arg"),
            k("closure_local_def"), k("compiled_at_import"), k("cache=True"),
            sum(1 for r in recs if r["phase"] == "second_run"),
        ]
        p(f"| {os.path.basename(d['workload'])} | " + " | ".join(map(str, row)) + " |")
    p("")
    p("| workload | cold import | cold main() | cold process | warm import | warm main() "
      "| warm process | steady main() | cold compile_extra | warm compile_extra | warm cache hits |")
    p("|---" * 11 + "|")
    for d in all_data:
        tc, tw = d.get("time_cold"), d.get("time_warm")
        cc = d["cold"]["counts"].get("compiler.compile_extra", 0)
        wc = (d.get("warm") or {}).get("counts", {}).get("compiler.compile_extra", "-")
        wh = (d.get("warm") or {}).get("counts", {}).get("cache.load_overload(hit)", "-")
        if tc and tw:
            p(f"| {os.path.basename(d['workload'])} | {tc['import']:.1f} s | {tc['main']:.1f} s"
              f" | {tc['wall']:.1f} s | {tw['import']:.1f} s | {tw['main']:.1f} s | {tw['wall']:.1f} s"
              f" | {tw['second_main']:.3f} s | {cc} | {wc} | {wh} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="+")
    ap.add_argument("--json", help="write raw survey data (list per workload) here")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--no-warm", action="store_true")
    ap.add_argument("--from-json", action="store_true",
                    help="workloads are JSON files written by --json: reprint their reports")
    ap.add_argument("--child-survey", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-time", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child_survey:
        return child_survey(a.workloads[0], a.out)
    if a.child_time:
        return child_time(a.workloads[0], a.out)
    if a.from_json:
        all_data = []
        for f in a.workloads:
            with open(f) as fh:
                all_data.extend(json.load(fh))
        for d in all_data:
            print_report(os.path.basename(d["workload"]), d["cold"], d["warm"],
                         d["time_cold"], d["time_warm"])
        print("\n## Summary\n")
        cross_table(all_data)
        return None
    all_data = []
    for w in a.workloads:
        name = os.path.basename(w)
        d1 = tempfile.mkdtemp(prefix="survey-cache-")
        cold = _run_child("survey", w, d1)
        warm = None if a.no_warm else _run_child("survey", w, d1)
        tcold = twarm = None
        if not a.no_timing:
            d2 = tempfile.mkdtemp(prefix="survey-cache-")
            tcold = _run_child("time", w, d2)
            twarm = _run_child("time", w, d2)
        print_report(name, cold, warm, tcold, twarm)
        sys.stdout.flush()
        all_data.append({"workload": w, "cold": cold, "warm": warm,
                         "time_cold": tcold, "time_warm": twarm})
    if len(all_data) > 1:
        print("\n## Summary\n")
        cross_table(all_data)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(all_data, f, indent=1, default=str)


if __name__ == "__main__":
    main()
