"""tests/apps/cpuvar_app.py with numba.config.CPU_NAME / CPU_FEATURES set in code, after the
image was activated (by ``import numba``): ``SNAPTEST_CPU_WHEN=before`` sets them before the
jitted functions are defined (Numba makes its codegen, and reads them, at the first one),
``after`` once they are defined, before their first call (too late for the JIT)."""
import os
import runpy

import numba


def set_cpu() -> None:
    numba.config.CPU_NAME = os.environ["SNAPTEST_CPU_NAME"]
    numba.config.CPU_FEATURES = os.environ.get("SNAPTEST_CPU_FEATURES", "")


if os.environ["SNAPTEST_CPU_WHEN"] == "before":
    set_cpu()
import cpuvar_lib  # noqa: E402,F401  (decorating the first function makes Numba's codegen)

if os.environ["SNAPTEST_CPU_WHEN"] == "after":
    set_cpu()
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpuvar_app.py"), run_name="__main__")
