"""Run a workload as ``__main__`` with Numba's compiler entry points made to raise.

Usage (under an image): SNAPTEST_FORBID_COMPILE=1 snap run --sysimage IMG _forbidden.py WORKLOAD.py
Any JIT compilation fails the run, so a clean exit proves the image served every call.
"""
import os
import runpy
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "apps"))
import snaptest_forbid  # noqa: E402,F401  (installs the raising entry points)

script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
