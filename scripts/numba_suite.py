"""Run parts of Numba's own test suite in-process and record each test's outcome.

Numba ships its unit tests with the package (``numba.tests``): thousands of small
programs written by people who know where Numba's corners are. This runner is
both a training workload (``snap create -w scripts/numba_suite.py -- ...``) and
the program run again from the image, so that every test passing under the plain
JIT can be required to pass from the image (tests/test_numba_suite.py).

    python scripts/numba_suite.py --out OUT.json NAME [NAME ...]

NAME is a module (``numba.tests.test_closure``) or a TestCase class or test
(``numba.tests.test_dictobject.TestDictObject``). The runner never exits
non-zero because a test failed (``snap create`` would then discard the image);
it writes, per test id, "pass", "fail", "error", "skip", "xfail" or "xpass",
and the number of real compilations (Numba's compiler pipeline runs).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unittest

OUTCOMES = ("pass", "fail", "error", "skip", "xfail", "xpass")


class Recorder(unittest.TextTestResult):
    """A unittest result that keeps one outcome (and the first line of any error) per test."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.outcomes: dict[str, str] = {}
        self.details: dict[str, str] = {}

    def _set(self, test, outcome: str, err=None) -> None:
        tid = test.id()
        if self.outcomes.get(tid) in ("fail", "error"):
            return                       # a failing subtest keeps the test failed
        self.outcomes[tid] = outcome
        if err is not None:
            text = self._exc_info_to_string(err, test).strip().splitlines()
            self.details[tid] = text[-1][:500] if text else ""

    def addSuccess(self, test) -> None:
        super().addSuccess(test)
        self.outcomes.setdefault(test.id(), "pass")

    def addFailure(self, test, err) -> None:
        super().addFailure(test, err)
        self._set(test, "fail", err)

    def addError(self, test, err) -> None:
        super().addError(test, err)
        self._set(test, "error", err)

    def addSkip(self, test, reason) -> None:
        super().addSkip(test, reason)
        self._set(test, "skip")

    def addExpectedFailure(self, test, err) -> None:
        super().addExpectedFailure(test, err)
        self._set(test, "xfail")

    def addUnexpectedSuccess(self, test) -> None:
        super().addUnexpectedSuccess(test)
        self._set(test, "xpass")

    def addSubTest(self, test, subtest, err) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._set(test, "fail" if failed else "error", err)


def count_compilations() -> dict[str, int]:
    """Count runs of Numba's compiler pipelines (what an image avoids); returns the live counts."""
    from numba.core import compiler
    from numba.np.ufunc import ufuncbuilder
    counts = {"compile_extra": 0, "compile_ir": 0, "ufunc_compile": 0}
    try:        # an image's entry compiled again for an inspection: no call compiled (counted apart)
        from snapshot.numba_seam.standins import inspecting
    except ImportError:
        def inspecting() -> bool:
            return False

    def counting(owner, name: str, key: str) -> None:
        orig = getattr(owner, name)

        def wrapper(*a, **kw):
            if inspecting():
                counts["inspection"] = counts.get("inspection", 0) + 1
                return orig(*a, **kw)
            counts[key] += 1
            return orig(*a, **kw)

        setattr(owner, name, wrapper)

    counting(compiler, "compile_extra", "compile_extra")
    counting(compiler, "compile_ir", "compile_ir")
    counting(ufuncbuilder.UFuncDispatcher, "_compile_core", "ufunc_compile")
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="+", help="test modules, TestCase classes or tests")
    ap.add_argument("--out", required=True, help="JSON file of outcomes to write")
    ap.add_argument("--exclude", action="append", default=[],
                    help="test ids (or id prefixes) not to run, e.g. tests Numba runs in subprocesses")
    ns = ap.parse_args(argv)
    counts = count_compilations()
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()

    def add(tests) -> None:
        for t in tests:
            if isinstance(t, unittest.TestSuite):
                add(t)
            elif not any(t.id() == x or t.id().startswith(x + ".") for x in ns.exclude):
                suite.addTest(t)

    for name in ns.names:
        add(loader.loadTestsFromName(name))
    t0 = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        runner = unittest.TextTestRunner(stream=devnull, resultclass=Recorder, verbosity=0)
        result = runner.run(suite)
    elapsed = time.perf_counter() - t0
    outcomes = result.outcomes
    summary = {k: sum(1 for v in outcomes.values() if v == k) for k in OUTCOMES}
    doc = {"names": ns.names, "tests": outcomes, "details": result.details, "summary": summary,
           "compilations": counts, "seconds": elapsed}
    tmp = ns.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    os.replace(tmp, ns.out)
    print(f"numba_suite: {len(outcomes)} tests: " + ", ".join(f"{v} {k}" for k, v in summary.items() if v)
          + f"; {sum(n for k, n in counts.items() if k != 'inspection')} compilations"
          + (f" (+{counts['inspection']} for inspection)" if counts.get("inspection") else "")
          + f"; {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
