"""The kinds of image entries (the ``kind`` field of the manifest), and the kinds of misses.

An entry's kind says what compiled it and therefore how it is served: each has
one strategy in ``numba_seam.kinds`` (extract at build, compile options, place at
run). The values are part of the manifest format: never rename one.
"""
from __future__ import annotations

DISPATCHER = "dispatcher"   # @jit / @njit: served per signature
DUFUNC = "dufunc"           # @vectorize (dynamic): one ufunc loop per signature
CFUNC = "cfunc"             # @cfunc: compiled once, its C callback address
OBJMODE = "objmode"         # a `with objmode` block of a jitted function
JITCLASS = "jitclass"       # a jitclass method or property accessor (named after its class)
GUFUNC = "gufunc"           # a @guvectorize builder's kernel and loop
UFUNC = "ufunc"             # a @vectorize(target='parallel') builder's kernel and loop

ALL = (DISPATCHER, DUFUNC, CFUNC, OBJMODE, JITCLASS, GUFUNC, UFUNC)
BUILDER_KINDS = (GUFUNC, UFUNC)        # compiled and wrapped by a ufunc builder

# Kinds of misses (the miss report's "kind", snap run's summary).
MISS_NOT_IN_IMAGE = "not in image"
MISS_STALE = "stale"
MISS_NOT_SERVABLE = "not servable"
MISS_REFUSED = "refused"            # the image as a whole cannot be used here
MISS_LATE = "late"                  # compiled before the image was activated

# The reason given for a compilation the training run saw fail (a typing error a test expects):
# written by the build (create/build.py), recognised by the runtime (runtime/serving.py).
FAILED_PREFIX = "the training run never compiled this successfully"


def failed(reason: str) -> bool:
    """Is this skipped specialization a compilation the training run saw fail? (Kept in the
    manifest for the runtime's miss reason; not a specialization the workload compiled, so
    summaries count it apart from what is left to the JIT: Numba's own overload resolution
    tries and drops implementations, `ol_hasattr` and the like, in most real workloads.)"""
    return reason.startswith(FAILED_PREFIX)


CHILD_PREFIX = "compiled only in a child process of the training workload"


def child_reason() -> str:
    """Why a specialization only the training workload's child processes compiled is not served."""
    return (f"{CHILD_PREFIX} (a multiprocessing worker or a subprocess, whose compilations end with "
            "it): snap create stores what the workload's own process compiles; call this function "
            "with these types there too (e.g. once before starting the workers) to have it served")


def failed_reason(error: str) -> str:
    """Why a signature whose compilation raised ``error`` in the training run is not served."""
    return (f"{FAILED_PREFIX} ({error} there): a failed compilation leaves no code to store (Numba's "
            "cache stores none either), and the JIT raises the same error here unless the code or "
            "types it depends on changed; nothing to act on unless the call is expected to compile")
