"""Prints the results of dynglobal_lib's functions (compared across runs)."""
import sys

import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)

import numpy as np

import dynglobal_lib as d


def main() -> None:
    p = np.linspace(0.01, 0.99, 7)
    print("ppf_wap", d.ppf_wap(p).tolist())
    print("ppf_ctypes", d.ppf_ctypes(p).tolist())
    print("threads_ok", d.threads_ok())
    print("threads_sum", d.threads_sum(np.arange(100.0)))
    print("call_triple", d.call_triple(2.5))
    print("cos_twice", d.cos_twice(0.5))
    print("pair_sum", d.pair_sum(1.5, 2.25))
    print("seeded_draw", d.seeded_draw(3, None).tolist(), d.seeded_draw(2, 7).tolist())
    if "--all" in sys.argv:
        print("call_neg", d.call_neg(2.5))


if __name__ == "__main__":
    main()
