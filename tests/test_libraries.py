"""Real libraries served from an image (issue 4).

For each library: `snap create` traces its workload (tests/workloads/*_workload.py)
on plain JIT and saves the returned arrays as the reference; the image must serve
at least 98% of the entry points the workload compiled (the rest are listed with
a reason in the manifest), and must serve every function of MUST_SERVE (the kinds
of code the library has: its functions with ``locals=``, ``parallel=True``,
gufuncs, closures made by factories, structrefs, user kernels...); then the
workload runs again from the image with every Numba compiler entry point raising
(tests/workloads/_forbidden.py) and in strict mode, and must return exactly the
reference arrays.

Every library has a check in the default run (issue 24): each workload JIT-compiles
in well under a minute. pynndescent's full workload (`NNDescent` + `query`) takes
minutes to trace cold, stumpy's (its parallel matrix profiles) about one: they are
marked slow (run the whole set with `bash scripts/test.sh -m "slow or not slow"`);
pynndescent_small_workload.py and stumpy_small_workload.py call their jitted building
blocks in the default run.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT, assert_ok, clean_env, snap

WORKLOADS = ROOT / "tests" / "workloads"
COVERAGE = 0.98

LIBRARIES = [
    pytest.param("numba_stats", "numba_stats", id="numba-stats"),
    pytest.param("numbagg", "numbagg", id="numbagg"),
    pytest.param("sparse", "sparse", id="sparse"),
    pytest.param("librosa", "librosa", id="librosa"),
    pytest.param("pynndescent_small", "pynndescent", id="pynndescent-small"),
    pytest.param("pynndescent", "pynndescent", id="pynndescent", marks=pytest.mark.slow),
    pytest.param("quantecon", "quantecon", id="quantecon"),
    pytest.param("stumpy_small", "stumpy", id="stumpy-small"),
    pytest.param("stumpy", "stumpy", id="stumpy", marks=pytest.mark.slow),
    pytest.param("datashader", "datashader", id="datashader"),
]
# the slow per-CPU-level check: numba-stats, numbagg, sparse, librosa
CPU_VARIANT_LIBRARIES = LIBRARIES[:4]

# Per workload: functions (module.qualname -> kind of entry) the image must serve. Each
# stands for a kind of code the library compiles; a served-coverage regression on one of
# them fails here by name (and, at run time, in the strict run with compilation forbidden).
MUST_SERVE: dict[str, dict[str, str]] = {
    "numba_stats": {
        "numba_stats.norm._pdf": "dispatcher",
        "numba_stats.norm._cdf": "dispatcher",
        "numba_stats.norm._ppf": "dispatcher",
        "numba_stats.expon._ppf": "dispatcher",
        "numba_stats.t._cdf": "dispatcher",            # scipy.special through function pointers
        "numba_stats.t._ppf": "dispatcher",
        "numba_stats.truncnorm._ppf": "dispatcher",
        "numba_stats.crystalball._pdf": "dispatcher",
        "numba_stats.poisson._cdf": "dispatcher",
        "numba_stats._util._seed": "objmode",          # a `with objmode` block
        "__main__.gaussian_nll": "dispatcher",          # user kernels calling the library's overloads
        "__main__.mixture_pdf": "dispatcher",
    },
    "numbagg": {                                        # gufuncs, most target='parallel'
        "numbagg.moving.move_mean": "gufunc",
        "numbagg.moving.move_std": "gufunc",
        "numbagg.moving.move_corr": "gufunc",
        "numbagg.moving_exp.move_exp_nanmean": "gufunc",
        "numbagg.funcs.nanmean": "gufunc",
        "numbagg.funcs.nanquantile": "gufunc",
        "numbagg.funcs.nancount": "gufunc",
        "numbagg.grouped.group_nanmean": "gufunc",
        "numbagg.funcs.ffill": "gufunc",
        "numbagg.funcs.bfill": "gufunc",
    },
    "sparse": {                                         # kernels made per dtype pair by factories
        "sparse.numba_backend._common._dot_coo_coo_type.<locals>._dot_coo_coo": "dispatcher",
        "sparse.numba_backend._common._dot_csr_csr_type.<locals>._dot_csr_csr": "dispatcher",
        # locals= whose variable Numba's SSA pass renames (data_curr -> data_curr.1, ...)
        "sparse.numba_backend._common._dot_coo_ndarray_type_sparse.<locals>._dot_coo_ndarray": "dispatcher",
        "sparse.numba_backend._common._dot_ndarray_coo_type_sparse.<locals>._dot_ndarray_coo": "dispatcher",
        "sparse.numba_backend._common._dot_coo_ndarray_type.<locals>._dot_coo_ndarray": "dispatcher",
        "sparse.numba_backend._coo.core._calc_counts_invidx": "dispatcher",
        "sparse.numba_backend._coo.indexing._compute_mask": "dispatcher",
        "sparse.numba_backend._umath._match_arrays": "dispatcher",
        "sparse.numba_backend._compressed.convert.convert_to_flat": "dispatcher",
        "sparse.numba_backend._compressed.indexing.get_basic_selection": "dispatcher",
    },
    "librosa": {
        "librosa.core.spectrum.__overlap_add": "dispatcher",
        "librosa.filters.__window_ss_fill": "dispatcher",
        "librosa.feature.utils.__stack": "dispatcher",
        "librosa.sequence.__dtw_calc_accu_cost": "dispatcher",
        "librosa.sequence.__dtw_backtracking": "dispatcher",
        "librosa.beat.__beat_track_dp": "gufunc",
        "librosa.beat.__beat_local_score": "gufunc",
        "librosa.util.utils._localmax": "gufunc",
        "librosa.util.utils.__peak_pick": "gufunc",
        "librosa.core.audio._zc_wrapper": "gufunc",
        "librosa.util.utils._cabs2": "dufunc",          # @vectorize
        "librosa.util.utils._phasor_angles": "dufunc",
    },
    "pynndescent_small": {
        # eager signatures (compiled at import) with locals= that the SSA pass renames
        "pynndescent.utils.simple_heap_push": "dispatcher",
        "pynndescent.utils.checked_heap_push": "dispatcher",
        "pynndescent.utils.checked_flagged_heap_push": "dispatcher",
        "pynndescent.utils.norm": "dispatcher",
        "pynndescent.rp_trees.select_side": "dispatcher",
        "pynndescent.rp_trees.search_flat_tree": "dispatcher",
        "pynndescent.rp_trees.euclidean_random_projection_split": "dispatcher",
        "pynndescent.rp_trees.make_euclidean_tree": "dispatcher",    # typed lists
        # compiled at the first call, with renamed locals=
        "pynndescent.distances.squared_euclidean": "dispatcher",
        "pynndescent.distances.alternative_cosine": "dispatcher",
        "pynndescent.distances.dot": "dispatcher",
        "pynndescent.pynndescent_.init_random": "dispatcher",      # + a dispatcher argument
        # without locals=
        "pynndescent.distances.euclidean": "dispatcher",
        "pynndescent.distances.correct_alternative_cosine": "dufunc",
        "pynndescent.utils.rejection_sample": "dispatcher",
        "pynndescent.utils.make_heap": "dispatcher",
        "pynndescent.utils.siftdown": "dispatcher",
        "pynndescent.pynndescent_.init_from_neighbor_graph": "dispatcher",
        "pynndescent.rp_trees.make_dense_tree": "dispatcher",
        "pynndescent.rp_trees.get_leaves_from_tree": "dispatcher",
        # parallel=True
        "pynndescent.utils.deheap_sort": "dispatcher",
        "pynndescent.pynndescent_.init_rp_tree": "dispatcher",
        # search: the index as a structref, a search function compiled for an explicit signature
        "pynndescent.search._new_search_index": "dispatcher",
        "pynndescent.search.search_dense_sqeuclidean": "dispatcher",
        "pynndescent.search.deheap_sort_serial": "dispatcher",
        "__main__.weighted_l1": "dispatcher",           # a user metric passed to the library
    },
    "quantecon": {
        # a user's jitted function passed in (types.Dispatcher), defaults left out (Omitted),
        # one of them an empty array (matched by the key of the default, not its pickled copy)
        "quantecon.optimize.nelder_mead.nelder_mead": "dispatcher",
        "quantecon.optimize.nelder_mead._nelder_mead_algorithm": "dispatcher",
        "quantecon.optimize.root_finding.brentq": "dispatcher",
        "quantecon.optimize.root_finding.newton": "dispatcher",
        "quantecon.optimize.root_finding._results": "dispatcher",     # a namedtuple returned
        "quantecon.markov.core._generate_sample_paths": "dispatcher",
        "quantecon.markov.gth_solve._gth_solve_jit": "dispatcher",
        "quantecon.game_theory.lemke_howson._lemke_howson_tbl": "dispatcher",
        "quantecon.optimize.pivoting._min_ratio_test_no_tie_breaking": "dispatcher",  # a literal
        "quantecon.random.utilities._sample_without_replacement": "gufunc",
        "__main__.user_kernel": "dispatcher",           # a user kernel calling the library's @overload
    },
    "stumpy_small": {
        "stumpy.core._mass": "dispatcher",
        "stumpy.core._rolling_nanstd_1d": "dispatcher",
        "stumpy.core.calculate_distance_profile": "dispatcher",
        "stumpy.core._rolling_isconstant": "dispatcher",
    },
    "datashader": {
        # kernels generated as source per reduction and glyph, evaluated in scopes of their own
        # (expand_varargs); the line glyphs pass a jitted `append` held in such a scope as a
        # value, through callees (extend_cpu -> perform_extend_line -> draw_segment)
        "datashader.glyphs.line.draw_segment": "dispatcher",
        "datashader.glyphs.line.perform_extend_line": "dispatcher",
        "datashader.glyphs.line.extend_cpu": "dispatcher",
        "datashader.glyphs.points.extend_cpu": "dispatcher",
        "datashader.transfer_functions._build_spread_kernel.<locals>.kernel": "dispatcher",
        "datashader.reductions.where._append": "dispatcher",
        "<dynamic>.append": "dispatcher",                # the generated append itself
    },
    "stumpy": {                                          # parallel=True matrix profiles
        "stumpy.stump._stump": "dispatcher",
        "stumpy.stump._compute_diagonal": "dispatcher",
        "stumpy.aamp._aamp": "dispatcher",
        "stumpy.mstump._compute_multi_D": "dispatcher",
        "stumpy.scrump._prescrump": "dispatcher",
        "stumpy.core._shift_insert_at_index": "dispatcher",    # literal strings, omitted ones
        "stumpy.core._update_incremental_PI": "dispatcher",
    },
}


# Made by a code generator under a module-level name no module attribute holds (datashader
# evaluates its kernels in scopes of their own): defined whenever the library is installed.
GENERATED = {f for f in MUST_SERVE["datashader"] if f.startswith("datashader.glyphs.")}


def _load(path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def defined_here(function: str) -> bool:
    """Does the installed release of the library define ``function`` (module.qualname)? The
    matrix (scripts/matrix.py) installs each CPython's newest releases: sparse 0.17, the
    last for CPython 3.10, has no ``_compressed.indexing.get_basic_selection`` yet.
    Functions local to a factory (``<locals>``), made by a code generator (GENERATED) and the
    workload's own count as defined."""
    import importlib
    if "<locals>" in function or function.startswith("__main__.") or function in GENERATED:
        return True
    parts = function.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return False
        return True
    return True      # nothing imports: required (the library's importorskip decides)


@pytest.mark.parametrize("workload, module", LIBRARIES)
def test_library_served_from_image(workload: str, module: str, tmp_path):
    pytest.importorskip(module)
    image, ref, got = tmp_path / f"{workload}.so", tmp_path / "ref.npz", tmp_path / "image.npz"
    p = snap("create", "-w", f"{workload}_workload.py", "-o", str(image), "-q",
             cwd=WORKLOADS, env=clean_env(SNAPTEST_RESULTS=str(ref)), timeout=3600)
    assert_ok(p)

    info = snap("info", "--json", str(image))
    assert_ok(info)
    doc = json.loads(info.stdout)
    served, left = len(doc["entries"]), doc["skipped"]
    for s in left:
        assert s["reason"], s
    coverage = served / (served + len(left))
    assert coverage >= COVERAGE, (
        f"{workload}: {served} served, {len(left)} left to the JIT:\n"
        + "\n".join(f"  {s['function']}{s['signature']}: {s['reason']}" for s in left))
    kinds = {}
    for e in doc["entries"]:
        kinds.setdefault(e["function"], set()).add(e["kind"])
    missing = {f: k for f, k in MUST_SERVE.get(workload, {}).items()
               if k not in kinds.get(f, ()) and defined_here(f)}
    assert not missing, (
        f"{workload}: not served by the image: "
        + ", ".join(f"{f} ({k})" for f, k in missing.items())
        + "".join(f"\n  left to the JIT: {s['function']}{s['signature']}: {s['reason']}"
                  for s in left if s["function"] in missing))

    r = snap("run", "--sysimage", str(image), "--strict", "_forbidden.py", f"{workload}_workload.py",
             cwd=WORKLOADS, env=clean_env(SNAPTEST_FORBID_COMPILE="1", SNAPTEST_RESULTS=str(got)),
             timeout=600)
    assert_ok(r)
    expected, actual = _load(ref), _load(got)
    assert sorted(actual) == sorted(expected)
    for k in expected:
        np.testing.assert_array_equal(actual[k], expected[k], err_msg=f"{workload}: {k}")


@pytest.mark.slow
@pytest.mark.parametrize("workload, module", CPU_VARIANT_LIBRARIES)
def test_library_cpu_variants_equal_the_jit_at_each_level(workload: str, module: str, tmp_path):
    """A `--cpu portable` image of the library's workload: each variant this CPU has (forced
    with SNAP_CPU), strict and with compilation forbidden, returns exactly what the plain JIT
    at that level (NUMBA_CPU_NAME) returns."""
    import sys

    from conftest import run
    from snapshot.image.host import LEVELS, host_cpu_features
    pytest.importorskip(module)
    image = tmp_path / f"{workload}.so"
    assert_ok(snap("create", "-w", f"{workload}_workload.py", "-o", str(image), "-q", "--cpu", "portable",
                   cwd=WORKLOADS, env=clean_env(), timeout=3600))
    for level in ("x86-64-v2", "x86-64-v3", "x86-64-v4"):
        if not set(LEVELS[level][1]) <= host_cpu_features():
            continue
        ref, got = tmp_path / f"jit-{level}.npz", tmp_path / f"image-{level}.npz"
        assert_ok(run([sys.executable, f"{workload}_workload.py"], cwd=WORKLOADS, timeout=1800,
                      env=clean_env(NUMBA_CPU_NAME=level, NUMBA_CPU_FEATURES="", SNAPTEST_RESULTS=str(ref))))
        assert_ok(snap("run", "--sysimage", str(image), "--strict", "_forbidden.py", f"{workload}_workload.py",
                       cwd=WORKLOADS, timeout=600,
                       env=clean_env(SNAP_CPU=level, SNAPTEST_FORBID_COMPILE="1", SNAPTEST_RESULTS=str(got))))
        expected, actual = _load(ref), _load(got)
        assert sorted(actual) == sorted(expected)
        for k in expected:
            np.testing.assert_array_equal(actual[k], expected[k], err_msg=f"{workload} at {level}: {k}")
