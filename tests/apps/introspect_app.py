"""Introspection of jitted functions after calls (tests/test_introspection.py): run under the
plain JIT, as the workload of an image, and from that image with compilation forbidden;
prints the results, then every inspection output as JSON (object addresses removed: they
differ between any two processes, the JIT's own included)."""
import contextlib
import io
import json
import re
import sys

import numpy as np
import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: any compilation raises)
from numba import float64, njit, prange
from numba.core import config
from numba.experimental import jitclass


@njit
def callee(x):
    return x * 2.0 + 1.0


@njit
def with_callee(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += callee(a[i])
    return s


@njit(fastmath=True)
def fast(a):
    s = 0.0
    for x in a:
        s += x * x
    return s


@njit(parallel=True)
def par(a):
    s = 0.0
    for i in prange(a.shape[0]):
        s += a[i] + 1.0
    return s


@njit
def gen(n):
    for i in range(n):
        yield i * 2


@jitclass([("total", float64)])
class Acc:
    def __init__(self):
        self.total = 0.0

    def add(self, x):
        self.total += x
        return self.total


# A generator's type is named after its Python function, with the function's address in a
# plain JIT process; the training run records it without (record.py): in mangled names the
# address is inside a length-prefixed segment (<length><yield type>_20generator_28func...).
_GENERATOR = re.compile(r"(?<![0-9a-z])\d+([a-z0-9_]*?_20generator_28func_3d_3cfunction_20\w+?)"
                        r"(?:_20at_200x[0-9a-f]+)?_3e")


def normalized(text: str) -> str:
    text = text.replace("\\l...", "")          # line continuations in dot labels (cfg)
    text = _GENERATOR.sub(r"<\1>", text)
    text = re.sub(r" at 0x[0-9a-f]+", "", text)
    return re.sub(r"0x[0-9a-f]{8,}", "0xADDR", text)


def inspections(f) -> dict:
    assert f.signatures, f
    sig = f.signatures[0]
    buf = io.StringIO()
    f.inspect_types(file=buf, signature=sig)
    info = f.get_annotation_info(sig)
    return {k: normalized(v) for k, v in {
        "llvm": f.inspect_llvm(sig),
        "asm": f.inspect_asm(sig),
        "llvm_all": "".join(f.inspect_llvm().values()),
        "library": f.overloads[sig].library.get_llvm_str(),
        "types": buf.getvalue(),
        "annotation": repr([(k[0], str(k[1]), sorted(v)) for k, v in info.items()]),
        "cfg": str(f.inspect_cfg(sig).dot),
        "cfg_wrapper": str(f.inspect_cfg(sig, show_wrapper="python").dot),
    }.items()}


def state(f) -> tuple:
    """What a dispatcher holds: signatures, its compile results and their entry points, stats."""
    return (list(f.signatures), {k: (id(v), id(v.entry_point)) for k, v in f.overloads.items()},
            dict(f.stats.cache_hits), dict(f.stats.cache_misses))


def main() -> None:
    a = np.arange(10.0)
    acc = Acc()
    acc.add(2.5)
    # callee called itself too: its signature is then listed however its caller was served
    results = [with_callee(a), callee(1.5), fast(a), par(a), list(gen(4)), acc.add(1.0)]
    print("results", repr(results))
    sys.stdout.flush()
    if len(sys.argv) > 1:
        # (a jitclass method's dispatcher lists no signature when its entry was served: not
        # inspected here)
        funcs = {"with_callee": with_callee, "callee": callee, "fast": fast, "par": par, "gen": gen}
        before = {name: state(f) for name, f in funcs.items()}
        # inspected first under other settings: the JIT answers with the code it compiled
        # (as numba.tests' override_config("OPT", 0) around inspect_llvm)
        opt, config.OPT = config.OPT, 0
        try:
            fast_opt0 = normalized(fast.inspect_llvm(fast.signatures[0]))
        finally:
            config.OPT = opt
        outputs = {name: inspections(f) for name, f in funcs.items()}
        outputs["fast"]["llvm_inspected_under_opt0"] = fast_opt0
        # the compilation's metadata: parfor diagnostics (printed), what passes left
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            par.parallel_diagnostics(level=4)
        outputs["par"]["parallel_diagnostics"] = normalized(buf.getvalue())
        outputs["par"]["metadata_keys"] = repr(sorted(k for k in par.get_metadata(par.signatures[0])
                                                      if not k.startswith("snap")))
        print(json.dumps(outputs))
        # inspecting compiles nothing the program runs: its dispatchers are as they were
        print("dispatchers unchanged", before == {name: state(f) for name, f in funcs.items()})
        print("results again", repr([with_callee(a), callee(1.5), fast(a), par(a), list(gen(4))]))


if __name__ == "__main__":
    main()
