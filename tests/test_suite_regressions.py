"""Regression tests, outside the suite run, for the snap bugs Numba's own test suite found
(tests/test_numba_suite.py): each case served from the image with compilation forbidden,
output identical to the plain JIT's (tests/apps/suitefix_lib.py says which bug each is)."""
from __future__ import annotations

import sys

from conftest import assert_ok, build_image, clean_env, run


def test_suite_regressions_served_with_the_jits_results(tmp_path_factory):
    plain = run([sys.executable, "suitefix_app.py"])
    assert_ok(plain)
    assert "warned 123 ['unsafe cast from UniTuple(int32 x 2) to '" in plain.stdout
    image, _ = build_image(tmp_path_factory, "suitefix_workload.py", "suitefix.so")
    served = run([sys.executable, "suitefix_app.py"],
                 env=clean_env(SNAP_SYSIMAGE=str(image), SNAP_STRICT="1", SNAPTEST_FORBID_COMPILE="1"))
    assert_ok(served)
    assert served.stdout == plain.stdout
