"""Cluster 20,000 synthetic points with k-means; print a result summary and the time to first result.

    python app.py                                 # plain Numba: JIT-compiles on every start
    snap run --sysimage kmeans-image.so app.py    # from an image built with workload.py
    SNAP_SYSIMAGE=kmeans-image.so python app.py   # the same, through the start-up hook

Options (for scripts/bench_ttfx.py): --warmup runs everything once untimed first
(the "already compiled" floor); --timing-json prints one extra machine-readable line.
"""
import os
import sys
import time

T_APP = time.perf_counter()
E_APP = time.time()

import numba  # noqa: E402  (timed: when started from an image, this also activates it)

T_NUMBA = time.perf_counter()

import numpy as np  # noqa: E402

import kmeans  # noqa: E402

T_IMPORTS = time.perf_counter()

N, K, DIM, SPREAD, SEED = 20_000, 8, 6, 2.5, 2
GAMMA = 0.1


def process_start_epoch():
    """Wall-clock time this process started (Linux /proc, 10 ms resolution), or None."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run():
    X, truth = kmeans.make_blobs(N, K, DIM, SPREAD, SEED)
    C, labels, history = kmeans.fit(X, K, seed=SEED)
    conf = kmeans.soft_confidence(X, C, GAMMA)
    purity = kmeans.purity(labels, truth, K)
    return {
        "iterations": len(history),
        "inertia": history[-1],
        "sizes": sorted(np.bincount(labels, minlength=K).tolist(), reverse=True),
        "purity": purity,
        "confidence": float(conf.mean()),
        "centre_checksum": float(np.sort(C.sum(axis=1)).round(6).sum()),
    }


def main():
    if "--warmup" in sys.argv:
        run()
    t0 = time.perf_counter()
    result = run()
    t1 = time.perf_counter()
    e1 = time.time()

    print(f"k-means: {N} points, {DIM} dims, k={K}")
    print(f"  iterations        {result['iterations']}")
    print(f"  inertia           {result['inertia']:.4f}")
    print(f"  cluster sizes     {result['sizes']}")
    print(f"  purity            {result['purity']:.4f}")
    print(f"  mean confidence   {result['confidence']:.4f}")
    print(f"  centre checksum   {result['centre_checksum']:.4f}")

    start = process_start_epoch()
    since_start = (e1 - start) if start is not None else None
    first_call = t1 - t0
    rt = sys.modules.get("snapshot.runtime")
    images = rt.active() if rt is not None else []
    image = images[0] if images else None
    if since_start is not None:
        print(f"time to first result: {since_start:.3f} s since process start "
              f"(import numba {T_NUMBA - T_APP:.3f} s, first call {first_call:.3f} s)")
    else:
        print(f"time to first result: {t1 - T_APP:.3f} s since the app started "
              f"(import numba {T_NUMBA - T_APP:.3f} s, first call {first_call:.3f} s)")
    if image is not None:
        print(f"  served by image {os.path.basename(image.path)}: {image.installed} entries installed, "
              f"activated in {image.activation_seconds * 1000:.1f} ms")
    if "--timing-json" in sys.argv:
        import json
        print("TIMING " + json.dumps({
            "process_start_epoch": start, "app_start_epoch": E_APP, "first_result_epoch": e1,
            "import_numba_s": T_NUMBA - T_APP, "imports_s": T_IMPORTS - T_APP,
            "first_call_s": first_call, "warmup": "--warmup" in sys.argv,
            "activation_s": image.activation_seconds if image is not None else None,
            "installed": image.installed if image is not None else None,
        }))


if __name__ == "__main__":
    main()
