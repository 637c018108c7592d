"""Compile-time warnings under the program's warning filters (runtime/warning_filters.py,
numba_seam/compile_warnings.py).

The oracle is the plain JIT under the same filters: tests/apps/warn_app.py calls
functions whose compilation warns in each of Numba's ways (a compiler pass, every
compilation; typing, only the first compilation in the process that needs it; a callee
compiled while its caller is typed) twice each, and prints what every call gave -- its
result, or the exception's type and message. Under filters that turn those warnings
into exceptions (``python -W error``, ``warnings.simplefilter("error")`` in code) the
image process must raise exactly what the JIT raises, from the same calls, and succeed
where it succeeds; under filters that print or ignore them, it serves everything
(compilation forbidden, strict) and prints exactly the JIT's warnings.
"""
from __future__ import annotations

import json
import re
import sys

import pytest

from conftest import APPS, assert_ok, build_image, clean_env, run, snap

ORDER = ["quiet", "par", "par_int", "reflected", "dot", "dot_again", "cast", "caller"]   # warn_app.ORDER
OTHER_ORDERS = [["caller", "par"], ["dot_again", "dot", "cast"], ["reflected", "caller", "quiet", "dot", "par_int"]]
# (python options, warn_app mode): filters from the command line or set in code
RAISING = [(["-W", "error"], "none"), ([], "error"), (["-W", "error::Warning"], "none")]
SHOWING = [([], "none"), ([], "ignore"), ([], "always"), (["-W", "always"], "none"), (["-W", "ignore"], "none"),
           (["-W", "error::ResourceWarning"], "none")]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return build_image(tmp_path_factory, "warn_workload.py", "warn.so")[0]


def app(flags: list[str], mode: str, calls: list[str] = (), **env: str):
    p = run([sys.executable, *flags, "warn_app.py", mode, *calls], env=clean_env(**env))
    assert_ok(p)
    return p


def outcomes(stdout: str) -> dict[tuple[str, str], str]:
    """(function, call) -> what warn_app printed for it (an exception's message spans lines)."""
    out: dict[tuple[str, str], str] = {}
    key = None
    for line in stdout.splitlines():
        m = re.match(r"(\w+) ([01]) (ok|raised) ", line)
        if m:
            key = (m.group(1), m.group(2))
            out[key] = line
        elif key is not None:
            out[key] += "\n" + line
    return out


def test_what_the_plain_jit_does_under_error_filters():
    """The oracle itself: a pass warning is raised at every call (nothing is compiled); a
    typing warning only at the first compilation that types the call, in whichever function
    (the second call compiles quietly, and so does another function needing the same
    typing); a callee's warning at its caller's first call, the callee compiled meanwhile."""
    said = outcomes(app(["-W", "error"], "none").stdout)
    perf = "raised numba.core.errors.NumbaPerformanceWarning: "
    assert said["quiet", "0"].endswith("ok 6")
    assert perf in said["par", "0"] and perf in said["par", "1"] and perf in said["par_int", "1"]
    assert "raised numba.core.errors.NumbaPendingDeprecationWarning: " in said["reflected", "1"]
    assert perf + "np.dot() is faster on contiguous arrays" in said["dot", "0"] and said["dot", "1"].endswith("ok 4.0")
    assert said["dot_again", "0"].endswith("ok 5.0")
    assert "raised numba.core.errors.NumbaTypeSafetyWarning: unsafe cast" in said["cast", "0"]
    assert said["cast", "1"].endswith("ok 123")
    assert perf in said["caller", "0"] and said["caller", "1"].endswith("ok 4.0")


@pytest.mark.parametrize("flags,mode", RAISING + SHOWING)
def test_the_image_process_does_exactly_what_the_jit_does(image, flags, mode):
    """In the workload's order, results, exceptions and printed warnings alike."""
    plain = app(flags, mode)
    served = app(flags, mode, SNAP_SYSIMAGE=str(image))
    assert (served.stdout, served.stderr) == (plain.stdout, plain.stderr)


@pytest.mark.parametrize("calls", OTHER_ORDERS, ids=lambda c: ",".join(c))
@pytest.mark.parametrize("flags,mode", RAISING + [([], "block")])
def test_in_any_order_the_same_calls_raise_and_the_same_succeed(image, flags, mode, calls):
    """Another order than the workload's: which function gives a typing warning first is
    the program's, and so is which call raises it (``block``: ``error`` around each first call)."""
    plain = app(flags, mode, calls)
    served = app(flags, mode, calls, SNAP_SYSIMAGE=str(image))
    assert served.stdout == plain.stdout
    assert "SnapWarning" not in served.stderr


@pytest.mark.parametrize("flags,mode", SHOWING)
def test_filters_that_print_or_ignore_still_serve_everything(image, flags, mode):
    plain = app(flags, mode)
    served = app(flags, mode, SNAP_SYSIMAGE=str(image), SNAP_STRICT="1", SNAPTEST_FORBID_COMPILE="1")
    assert (served.stdout, served.stderr) == (plain.stdout, plain.stderr)


def test_under_error_filters_what_cannot_warn_is_served_the_rest_is_a_quiet_miss(image, tmp_path):
    """``quiet`` was compiled before anything warned: served with compilation forbidden. A
    function whose compilation may warn goes to the JIT: reported, not warned about (a
    SnapWarning would be an exception too), an error in strict mode."""
    served = app(["-W", "error"], "none", ["quiet"], SNAP_SYSIMAGE=str(image), SNAP_STRICT="1",
                 SNAPTEST_FORBID_COMPILE="1")
    assert served.stdout == "quiet 0 ok 6\nquiet 1 ok 6\n"
    report = tmp_path / "misses.jsonl"
    p = app(["-W", "error"], "none", ["par", "cast"], SNAP_SYSIMAGE=str(image), SNAP_REPORT=str(report))
    assert p.stderr == ""
    misses = [json.loads(line) for line in report.read_text().splitlines()]
    assert {m["function"] for m in misses} == {"warn_lib.par_nothing", "warn_lib.unsafe_cast"}
    assert all(m["kind"] == "not servable" and "the warning filters here make an exception ('error')" in m["reason"]
               for m in misses)
    assert any("NumbaPerformanceWarning: The keyword argument 'parallel=True'" in m["reason"] for m in misses)
    strict = app(["-W", "error"], "none", ["par"], SNAP_SYSIMAGE=str(image), SNAP_STRICT="1")
    assert "raised snapshot.errors.SnapStrictError: snap: warn_lib.par_nothing(float64) is not served" in strict.stdout
    assert "NumbaPerformanceWarning" in strict.stdout


def test_warnings_the_training_runs_filters_hide_are_recorded(image):
    """Python's default filters hide NumbaPendingDeprecationWarning: the training run records
    it anyway (the served process's filters decide), image-wide with the order first given."""
    p = snap("info", "--json", str(image))
    assert_ok(p)
    recorded = json.loads(p.stdout)["build"]["compile_warnings"]
    categories = [g[0][0] for g in recorded["given"]]
    assert "numba.core.errors:NumbaPendingDeprecationWarning" in categories
    assert categories[0] == "numba.core.errors:NumbaPerformanceWarning"       # par, the first to warn
    assert recorded["performance"] is True
    assert [] in recorded["of"]                     # quiet: compiling it gives no warning
    assert any(of for of in recorded["of"])         # par: its own
    assert "NumbaPendingDeprecationWarning (1)" in snap("info", str(image)).stdout


@pytest.mark.parametrize("flags", [[], ["-W", "error"]])
def test_performance_warnings_disabled_here_are_not_given_nor_held_against_the_filters(image, flags):
    plain = app(flags, "none", NUMBA_DISABLE_PERFORMANCE_WARNINGS="1")
    served = app(flags, "none", SNAP_SYSIMAGE=str(image), NUMBA_DISABLE_PERFORMANCE_WARNINGS="1")
    assert (served.stdout, served.stderr) == (plain.stdout, plain.stderr)
    assert "NumbaPerformanceWarning" not in plain.stdout + plain.stderr


def test_a_module_filter_counts_whichever_module_numba_gives_the_warning_from(image, tmp_path):
    """``warnings.warn`` in Numba's pass attributes the warning to numba.core.typed_passes; a
    re-dated typing warning, to the file: a filter on either module is honoured."""
    script = tmp_path / "modfilter.py"
    script.write_text("import runpy, sys, warnings\nimport numba\n"
                      "warnings.filterwarnings('error', module=r'numba\\.core\\.typed_passes')\n"
                      "sys.argv = ['warn_app.py', 'none', 'quiet', 'par', 'dot', 'caller']\n"
                      "runpy.run_path('warn_app.py', run_name='__main__')\n")
    env = clean_env(PYTHONPATH=".")
    plain = run([sys.executable, str(script)], env=env)
    served = run([sys.executable, str(script)], env={**env, "SNAP_SYSIMAGE": str(image)})
    assert_ok(plain)
    assert (served.stdout, served.stderr) == (plain.stdout, plain.stderr)
    assert "par 0 raised numba.core.errors.NumbaPerformanceWarning" in plain.stdout


def test_could_raise_reads_the_filters_as_warn_explicit_does():
    import warnings

    from snapshot.runtime.warning_filters import could_raise
    perf = ("numba.core.errors:NumbaPerformanceWarning", "numba.core.errors:NumbaWarning", "builtins:Warning")
    with warnings.catch_warnings():
        warnings.resetwarnings()
        assert could_raise(perf, "x", "/a/b.py", 3) is None              # default action: printed
        warnings.simplefilter("error")
        assert could_raise(perf, "x", "/a/b.py", 3) == "error"
        warnings.filterwarnings("ignore", message="x")                   # first match wins
        assert could_raise(perf, "x", "/a/b.py", 3) is None
        assert could_raise(perf, "y", "/a/b.py", 3) == "error"
        assert could_raise(perf, None, "/a/b.py", 3) == "error"          # unknown text: may match either
        warnings.resetwarnings()
        warnings.filterwarnings("error", module=r"numba\.core")
        assert could_raise(perf, "x", "/a/b.py", 3) is None
        assert could_raise(perf, "x", "/a/b.py", 3, ("numba.core.typed_passes",)) == "error"
        warnings.resetwarnings()
        warnings.filterwarnings("error", lineno=4)
        assert could_raise(perf, "x", "/a/b.py", 3) is None
        warnings.resetwarnings()
        warnings.filterwarnings("error", category=DeprecationWarning)
        assert could_raise(perf, "x", "/a/b.py", 3) is None
        warnings.filters.insert(0, ("bogus", None, Warning, None, 0))   # warn_explicit: RuntimeError
        assert could_raise(perf, "x", "/a/b.py", 3) == "bogus"


NAMES_ITS_FUNCTION = '''
import warnings
import snaptest_forbid
from numba import njit
from numba.core.errors import NumbaDebugInfoWarning

scope = {}
exec("def foo():\\n    return 1\\n", {}, scope)        # no source file: debug info warns
foo = njit(debug=True)(scope["foo"])
with warnings.catch_warnings(record=True) as given:
    warnings.simplefilter("always", NumbaDebugInfoWarning)
    print(foo())
texts = [str(w.message) for w in given if w.category is NumbaDebugInfoWarning]
print(len(texts), all(repr(foo.py_func) in t for t in texts), texts and texts[0].split(":")[0])
'''


def test_a_warning_naming_the_compiled_function_names_this_processs_function(tmp_path):
    """Debug info's "Could not find source for function: <function foo at 0x...>" names the
    function by its repr, an address of the process that compiled it: from the image it is
    given with this process's function, as the JIT gives it (numba.tests.test_debuginfo
    test_missing_source)."""
    (tmp_path / "w.py").write_text(NAMES_ITS_FUNCTION)
    env = clean_env(PYTHONPATH=str(APPS))
    plain = run([sys.executable, "w.py"], cwd=tmp_path, env=env)
    assert_ok(plain)
    assert plain.stdout.splitlines()[1] == "1 True Could not find source for function"
    assert_ok(snap("create", "-q", "-w", "w.py", "-o", "w.so", cwd=tmp_path, env=env))
    served = run([sys.executable, "w.py"], cwd=tmp_path,
                 env={**env, "SNAP_SYSIMAGE": "w.so", "SNAP_STRICT": "1", "SNAPTEST_FORBID_COMPILE": "1"})
    assert_ok(served)
    assert served.stdout == plain.stdout
