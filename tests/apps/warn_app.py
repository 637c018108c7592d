"""App of tests/test_compile_warnings.py: calls warn_lib's functions twice each and prints
what each call gave (its result, or the exception's type and message).

``python warn_app.py MODE [CALL...]``: MODE sets warning filters in code before the calls
(``error``, ``ignore``, ``always``; ``none`` leaves them as the command line made them;
``block``: ``error`` only around the first call of each function); the CALLs (default: all,
in ORDER) name the functions."""
import sys
import warnings

import numpy as np

import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)
import warn_lib as W

NONCONTIG = np.ones((4, 4))[:, 0]
CALLS = {
    "par": lambda: W.par_nothing(1.0),
    "par_int": lambda: W.par_nothing(1),
    "reflected": lambda: W.reflected([1, 2]),
    "dot": lambda: W.dot_noncontig(NONCONTIG, np.ones(4)),
    "dot_again": lambda: W.dot_again(NONCONTIG, np.ones(4)),
    "cast": lambda: W.unsafe_cast((np.int8(1), np.int8(2)), np.intp(123), (np.int32(1), np.int32(2))),
    "par_first": lambda: W.par_nothing(2.5),
    "caller": lambda: W.caller_of_par(1.0),
    "quiet": lambda: W.quiet(2),
}
# the workload's order; the callee par_nothing(float64) compiled directly first
ORDER = ["quiet", "par", "par_int", "reflected", "dot", "dot_again", "cast", "caller"]


def outcome(call) -> str:
    try:
        return f"ok {call()!r}"
    except Exception as e:  # noqa: BLE001 - the exception is the outcome compared
        return f"raised {type(e).__module__}.{type(e).__qualname__}: {e}"


def main(names, mode: str = "none") -> None:
    for name in names:
        for i in range(2):
            if mode == "block" and i == 0:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    said = outcome(CALLS[name])
            else:
                said = outcome(CALLS[name])
            print(name, i, said, flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode in ("error", "ignore", "always"):
        warnings.simplefilter(mode)
    main(sys.argv[2:] or ORDER, mode)
