"""Tasks run in Dask/Ray workers by tests/test_fleet.py: results plus whether an image served."""
import os
import sys


def task(n):
    import numpy as np

    import flib
    values = (flib.work(n), flib.total(np.arange(float(n))), flib.poly(n), flib.poly(n / 2),
              float(flib.smooth(np.linspace(0.0, 1.0, n + 3), 2).sum()))
    return values, served()


def served():
    rt = sys.modules.get("snapshot.runtime")
    images = rt.active() if rt is not None else []
    return bool(images) and images[0].installed > 0


def miss(n):
    """A signature no image holds (int8 argument)."""
    import numpy as np

    import flib
    return int(flib.work(np.int8(n)))


def forbid():
    import snaptest_forbid
    snaptest_forbid.forbid()
    return True


def info():
    """Which image serves this process and what SNAP_SYSIMAGE was when it started."""
    rt = sys.modules.get("snapshot.runtime")
    images = rt.active() if rt is not None else []
    rt = images[0] if images else None
    with open("/proc/self/environ", "rb") as f:
        initial = dict(e.decode().split("=", 1) for e in f.read().split(b"\0") if b"=" in e)
    return {"path": rt.path if rt is not None else None, "pid": os.getpid(),
            "at_start": initial.get("SNAP_SYSIMAGE")}


def reference(ns):
    return [task(n)[0] for n in ns]
