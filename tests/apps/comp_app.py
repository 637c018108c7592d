"""App of tests/test_compose.py: uses two libraries, each served from its own image.

argv[1]: "served" (calls only what the images hold), "newjit" (new JIT code calling
code of both images), "miss" (one call no image holds), "top" (also calls the
incremental image's function built on comp_b's image), "activate:PATH" (activates
PATH itself, after the images the environment gave). Prints one JSON line."""
import json
import sys

import numpy as np

import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)
import snapshot

mode = sys.argv[1]
if mode.startswith("activate:"):
    first = snapshot.activate(mode.split(":", 1)[1])
    again = snapshot.activate(mode.split(":", 1)[1])
    assert first is again and first is not None, (first, again)

import comp_a  # noqa: E402
import comp_b  # noqa: E402
import comp_shared  # noqa: E402

x = np.linspace(0.0, 1.0, 7)
out = {"a_sum": comp_a.a_sum(x), "a_sq": comp_a.a_sq(x).tolist(), "scale": comp_shared.scale(x).tolist(),
       "b_max": comp_b.b_max(x), "b_fib": comp_b.b_fib(10)}
if mode == "newjit":
    from numba import njit

    @njit
    def both(v):
        return comp_a.a_sum(v) + comp_b.b_max(v) + comp_b.b_fib(7)

    out["both"] = both(x)
if mode == "miss":
    out["b_fib_float"] = comp_b.b_fib(6.0)
if mode == "top":              # built on comp_b's image (snap create --base)
    import comp_top
    out["top"] = comp_top.top(x)
out["images"] = [[rt.path.rsplit("/", 1)[-1], rt.installed] for rt in snapshot.active()]
print(json.dumps(out))
