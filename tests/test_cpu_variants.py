"""One image, one code variant per CPU level, the best chosen at load (image/variants.py).

The oracle is the plain JIT at each level (``NUMBA_CPU_NAME=<level>
NUMBA_CPU_FEATURES=``): the app's fast-math kernels round differently from one
level to the next (vector width, FMA contraction), so a variant generated from
another level's code -- or the right code for the wrong level -- shows in the
bits. Levels are forced with ``SNAP_CPU`` (which only ever lowers what snap takes
this machine to have); compilation is forbidden in every served run.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import APPS, assert_ok, clean_env, run, snap
from snapshot.image.host import LEVELS, host_cpu_features

LEVEL_NAMES = ("x86-64-v2", "x86-64-v3", "x86-64-v4")
HOST = host_cpu_features()


def has(level: str) -> bool:
    return set(LEVELS[level][1]) <= HOST


def needs(level: str):
    return pytest.mark.skipif(not has(level), reason=f"this CPU lacks {level}")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("variants")
    out = {}
    for name, cpu in (("portable", "portable"), ("v34", "x86-64-v3,x86-64-v4")):
        p = snap("create", "-q", "--cpu", cpu, "-w", "cpuvar_workload.py", "-o", str(d / f"{name}.so"))
        assert_ok(p)
        out[name] = d / f"{name}.so"
    return out


_jit: dict[str, str] = {}


def jit_at(level: str | None) -> str:
    """The plain JIT's output at ``level`` (None: Numba's default, this host's CPU)."""
    key = level or "host"
    if key not in _jit:
        env = clean_env() if level is None else clean_env(NUMBA_CPU_NAME=level, NUMBA_CPU_FEATURES="")
        p = run([sys.executable, "cpuvar_app.py"], env=env)
        assert_ok(p)
        _jit[key] = p.stdout
    return _jit[key]


def served(image, **env) -> "tuple[str, str]":
    p = run([sys.executable, "cpuvar_app.py"],
            env=clean_env(SNAP_SYSIMAGE=str(image), SNAPTEST_FORBID_COMPILE="1", **env))
    assert_ok(p)
    return p.stdout, p.stderr


@pytest.mark.parametrize("level", LEVEL_NAMES)
def test_each_variant_serves_exactly_what_the_jit_compiles_at_its_level(images, level):
    if not has(level):
        pytest.skip(f"this CPU lacks {level}")
    out, err = served(images["portable"], SNAP_CPU=level)
    assert f"variant {level} | {level}: the best of x86-64-v2, x86-64-v3, x86-64-v4" in err
    assert f"SNAP_CPU={level}" in err
    assert out == jit_at(level)


@needs("x86-64-v3")
def test_the_levels_really_round_differently():
    """What makes the comparisons above able to fail: v2 and v3 code give other bits."""
    assert jit_at("x86-64-v2") != jit_at("x86-64-v3")


def test_without_an_override_the_best_variant_this_cpu_has_runs(images):
    best = [lv for lv in LEVEL_NAMES if has(lv)][-1]
    out, err = served(images["portable"])
    assert f"variant {best} |" in err and "SNAP_CPU" not in err
    assert out == jit_at(best)


@needs("x86-64-v3")
def test_an_image_whose_lowest_variant_this_cpu_lacks_is_refused_cleanly(images, tmp_path):
    report = tmp_path / "misses.jsonl"
    env = clean_env(SNAP_SYSIMAGE=str(images["v34"]), SNAP_CPU="x86-64-v2", SNAP_REPORT=str(report))
    p = run([sys.executable, "cpuvar_app.py"], env=env)
    assert_ok(p)
    assert p.stdout == jit_at(None)                        # the JIT ran, for this host
    warnings = [line for line in p.stderr.splitlines() if "SnapWarning" in line]
    assert len(warnings) == 1, p.stderr
    assert "lacks features its lowest variant (x86-64-v3) needs: avx, avx2" in warnings[0]
    assert "SNAP_CPU=x86-64-v2" in warnings[0] and "running on the JIT" in warnings[0]
    reasons = {json.loads(line)["reason"] for line in report.read_text().splitlines()}
    assert reasons and all("lowest variant (x86-64-v3)" in r for r in reasons)
    strict = run([sys.executable, "cpuvar_app.py"], env={**env, "SNAP_STRICT": "1"})
    assert strict.returncode != 0
    assert "Traceback" not in strict.stderr
    assert "lowest variant (x86-64-v3)" in strict.stderr.strip().splitlines()[-1]


@needs("x86-64-v3")
def test_a_generated_variant_is_the_recorded_one_byte_for_byte(tmp_path):
    """Training for v3 records its code; with SNAP_CPU=x86-64-v2 the training run cannot
    run v3 code, so it compiles for the host and v3 is generated from the recorded IR:
    the two images must be the same file."""
    for name, env in (("recorded", {}), ("generated", {"SNAP_CPU": "x86-64-v2"})):
        p = snap("create", "-q", "--cpu", "x86-64-v3", "-w", "cpuvar_workload.py",
                 "-o", str(tmp_path / f"{name}.so"), env=clean_env(**env))
        assert_ok(p)
    assert (tmp_path / "recorded.so").read_bytes() == (tmp_path / "generated.so").read_bytes()


def test_variant_images_are_reproducible_with_or_without_the_helper_process(images, tmp_path):
    for name, env in (("again", {}), ("nohelper", {"SNAP_VARIANT_HELPER": "0"})):
        p = snap("create", "-q", "--cpu", "portable", "-w", "cpuvar_workload.py",
                 "-o", str(tmp_path / f"{name}.so"), env=clean_env(**env))
        assert_ok(p)
        assert (tmp_path / f"{name}.so").read_bytes() == images["portable"].read_bytes(), name


def test_variants_share_everything_but_code(images, tmp_path):
    p = snap("create", "-q", "--cpu", "x86-64-v4", "-w", "cpuvar_workload.py", "-o", str(tmp_path / "v4.so"))
    assert_ok(p)
    ratio = images["portable"].stat().st_size / (tmp_path / "v4.so").stat().st_size
    assert ratio <= 2.5, ratio


def test_snap_info_lists_the_variants_and_snap_check_says_which_would_run(images):
    p = snap("info", "--json", str(images["portable"]))
    assert_ok(p)
    doc = json.loads(p.stdout)
    assert [v["target"] for v in doc["variants"]] == list(LEVEL_NAMES)
    assert all(v["size"] > 0 for v in doc["variants"])
    assert "avx2" in doc["variants"][1]["features"] and "avx2" not in doc["variants"][0]["features"]
    assert doc["format"] == 7
    table = snap("info", str(images["portable"]))
    assert_ok(table)
    assert "CPU variants (3, lowest first)" in table.stdout
    check = snap("check", str(images["portable"]), env=clean_env(SNAP_CPU="x86-64-v2"))
    assert_ok(check)
    assert "would use x86-64-v2" in check.stdout
    assert "CPU variant x86-64-v2: the best of" in check.stdout
    refused = snap("check", "--json", str(images["v34"]), env=clean_env(SNAP_CPU="x86-64-v2"))
    assert refused.returncode != 0
    rep = json.loads(refused.stdout)
    assert rep["cpu"]["variant"] is None and "lowest variant (x86-64-v3)" in rep["summary"]


def test_a_bad_snap_cpu_value_is_one_warning_and_ignored(images):
    out, err = served(images["portable"], SNAP_CPU="pentium")
    assert err.count("SNAP_CPU='pentium' is not an x86-64 level") == 1
    best = [lv for lv in LEVEL_NAMES if has(lv)][-1]
    assert out == jit_at(best)


def test_cpu_lists_and_presets_are_checked_before_the_workload_runs(tmp_path):
    p = snap("create", "--cpu", "x86-64-v2,pentium-9000", "-w", str(APPS / "cpuvar_workload.py"),
             "-o", str(tmp_path / "x.so"))
    assert p.returncode != 0 and "unknown --cpu 'pentium-9000'" in p.stderr
    assert "Traceback" not in p.stderr and not (tmp_path / "x.so").exists()


def test_library_images_with_variants_are_named_and_chosen_by_their_best_level(tmp_path):
    from snapshot.image.packaged import choose, image_name, parse
    name = image_name("mylib", "portable", "0.68.1")
    assert name.filename.endswith("-x86_64_v2+x86_64_v3+x86_64_v4.so")
    assert parse(name.filename) == name
    d = tmp_path / "_snap"
    d.mkdir()
    for cpu in ("portable", "x86-64-v3"):
        (d / image_name("mylib", cpu, "0.68.1").filename).write_bytes(b"")
    v3 = frozenset(LEVELS["x86-64-v3"][1])
    v4 = frozenset(LEVELS["x86-64-v4"][1])
    v2 = frozenset(LEVELS["x86-64-v2"][1])
    pick = lambda feats: (choose(str(d), "mylib", "0.68.1", feats)[0] or "").rsplit("-", 1)[-1]  # noqa: E731
    assert pick(v4) == "x86_64_v2+x86_64_v3+x86_64_v4.so"       # only it has a v4 variant
    assert pick(v2) == "x86_64_v2+x86_64_v3+x86_64_v4.so"       # only it runs on v2
    assert pick(v3).endswith(".so")                             # both fit at v3


def test_an_incremental_image_with_variants_on_a_base_with_variants(tmp_path):
    """``--base`` and ``--cpu`` together: the new image's code imports the base's symbols,
    each image resolving them in its own chosen variant."""
    base, top, lib_a = tmp_path / "comp_b.so", tmp_path / "top.so", tmp_path / "comp_a.so"
    assert_ok(snap("create", "-q", "--cpu", "portable", "-w", "comp_workload_b.py", "-o", str(base)))
    assert_ok(snap("create", "-q", "--cpu", "x86-64-v2", "-w", "comp_workload_a.py", "-o", str(lib_a)))
    assert_ok(snap("create", "-q", "--cpu", "portable", "-w", "comp_workload_top.py", "--base", str(base),
                   "-o", str(top)))
    plain = run([sys.executable, "comp_app.py", "top"], env=clean_env())
    assert_ok(plain)
    want = json.loads(plain.stdout.strip().splitlines()[-1])
    for level in ("x86-64-v2", [lv for lv in LEVEL_NAMES if has(lv)][-1]):
        p = run([sys.executable, "comp_app.py", "top"],
                env=clean_env(SNAP_SYSIMAGE=os.pathsep.join([str(lib_a), str(top)]), SNAP_CPU=level,
                              SNAPTEST_FORBID_COMPILE="1"))
        assert_ok(p)
        got = json.loads(p.stdout.strip().splitlines()[-1])
        assert got["top"] == want["top"] and got["b_max"] == want["b_max"]
        # top.so: top and what compiling top compiled that only it holds (installed with top)
        top_entries = len(json.loads(snap("info", "--json", str(top)).stdout)["entries"])
        assert dict(got["images"]) == {"comp_a.so": 3, "comp_b.so": 2, "top.so": top_entries}, \
            (level, got["images"])


def test_a_project_may_list_its_cpu_targets(tmp_path):
    from snapshot import project
    from snapshot.errors import SnapError
    (tmp_path / "pyproject.toml").write_text('[tool.snap]\nworkloads = ["w.py"]\ncpu = ["x86-64-v2", "x86-64-v3"]\n')
    assert project.load(tmp_path).cpu == "x86-64-v2,x86-64-v3"
    (tmp_path / "pyproject.toml").write_text('[tool.snap]\nworkloads = ["w.py"]\ncpu = 3\n')
    with pytest.raises(SnapError, match="cpu must be a string or a list of strings"):
        project.load(tmp_path)


def test_a_workload_that_forks_compiling_children_does_not_disturb_the_variants(tmp_path):
    """Processes the workload forks inherit the training run's hooks; what they compile is
    theirs, never sent to the variants' helper (whose images must equal the helper-free ones)."""
    (tmp_path / "forking.py").write_text(
        "import multiprocessing as mp\nimport numpy as np\nfrom numba import njit\nimport cpuvar_lib as L\n"
        "@njit(fastmath=True)\ndef other(a):\n    return (a * 3.0).sum()\n"
        "import time\n"
        "def child():\n    time.sleep(1.0)\n    other(np.arange(5.0))\n    L.tally(3)\n"
        "if __name__ == '__main__':\n    a = np.linspace(0.0, 1.0, 17)\n    L.dot(a, a)\n"
        "    p = mp.get_context('fork').Process(target=child)\n    p.start()\n"
        "    L.combine(a, a)\n    L.axpy(2.0, a, a)\n"     # compiled while the child waits, then compiles
        "    p.join()\n    assert p.exitcode == 0\n")
    for name, env in (("helper", {}), ("nohelper", {"SNAP_VARIANT_HELPER": "0"})):
        p = snap("create", "-q", "--cpu", "portable", "-w", str(tmp_path / "forking.py"),
                 "-o", str(tmp_path / f"{name}.so"), env=clean_env(PYTHONPATH=str(APPS), **env))
        assert_ok(p)
        assert "note:" not in p.stdout + p.stderr
    assert (tmp_path / "helper.so").read_bytes() == (tmp_path / "nohelper.so").read_bytes()


def test_a_helper_process_that_dies_costs_time_never_the_image(tmp_path):
    """The helper killed in the middle of the workload (as the OOM killer would): the build
    says so and generates the variants itself, the same bytes as without a helper."""
    (tmp_path / "killer.py").write_text(
        "import os, signal\nimport numpy as np\nimport cpuvar_lib as L\n"
        "a = np.linspace(0.0, 1.0, 17)\nL.dot(a, a)\n"
        "for pid in open(f'/proc/{os.getpid()}/task/{os.getpid()}/children').read().split():\n"
        "    os.kill(int(pid), signal.SIGKILL)\n"
        "L.combine(a, a)\nL.axpy(2.0, a, a)\n")
    for name, env in (("killed", {}), ("nohelper", {"SNAP_VARIANT_HELPER": "0"})):
        p = snap("create", "--cpu", "portable", "-w", str(tmp_path / "killer.py"),
                 "-o", str(tmp_path / f"{name}.so"), env=clean_env(PYTHONPATH=str(APPS), **env))
        assert_ok(p)
        said = p.stdout + p.stderr
        assert ("note: CPU variants generated after the workload, in the build process" in said) == (name == "killed")
    assert (tmp_path / "killed.so").read_bytes() == (tmp_path / "nohelper.so").read_bytes()


@needs("x86-64-v3")
def test_code_lowered_to_intrinsics_a_variant_lacks_is_a_clear_error(tmp_path):
    """An extension's x86 intrinsic (BMI1) cannot be generated for x86-64-v2 (LLVM would abort):
    one line naming it, nothing written; the levels that have it build and serve."""
    (tmp_path / "w.py").write_text("import snaptest_forbid\nimport cpuvar_bmi\nprint(cpuvar_bmi.field(0x12345))\n")
    env = clean_env(PYTHONPATH=str(APPS))
    p = snap("create", "--cpu", "portable", "-w", str(tmp_path / "w.py"), "-o", str(tmp_path / "p.so"), env=env)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert ("cannot generate a CPU variant: the code of field calls llvm.x86.bmi.bextr.64: x86 intrinsics "
            "that need features x86-64-v2 lacks") in p.stderr
    assert not (tmp_path / "p.so").exists()
    ok = snap("create", "--cpu", "x86-64-v3,x86-64-v4", "-w", str(tmp_path / "w.py"),
              "-o", str(tmp_path / "p34.so"), env=env)
    assert_ok(ok)
    for level in [lv for lv in ("x86-64-v3", "x86-64-v4") if has(lv)]:
        served = run([sys.executable, str(tmp_path / "w.py")],
                     env=clean_env(PYTHONPATH=str(APPS), SNAP_SYSIMAGE=str(tmp_path / "p34.so"), SNAP_CPU=level,
                                   SNAPTEST_FORBID_COMPILE="1"))
        assert_ok(served)
        assert served.stdout == "52\n"


# ------------------------------------------------------------ NUMBA_CPU_NAME / NUMBA_CPU_FEATURES
# The JIT compiles for the CPU these name (numba/core/codegen.py, read once, when Numba makes
# its codegen at the first dispatcher): a variant is used only if it is exactly that code.

_plain: dict[tuple, str] = {}


def plain_jit(app: str = "cpuvar_app.py", **env: str) -> str:
    """The plain JIT's output of ``app`` under ``env``."""
    key = (app, tuple(sorted(env.items())))
    if key not in _plain:
        p = run([sys.executable, app], env=clean_env(**env))
        assert_ok(p)
        _plain[key] = p.stdout
    return _plain[key]


def snap_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "SnapWarning" in line]


@pytest.mark.parametrize("level", LEVEL_NAMES)
def test_numba_cpu_settings_serve_the_variant_the_jit_compiles_for_them(images, level):
    """``NUMBA_CPU_NAME=<level> NUMBA_CPU_FEATURES=``: that level's variant, not the best one
    this CPU has (which rounds differently), compilation forbidden."""
    if not has(level):
        pytest.skip(f"this CPU lacks {level}")
    out, err = served(images["portable"], NUMBA_CPU_NAME=level, NUMBA_CPU_FEATURES="", SNAP_STRICT="1")
    assert (f"variant {level} | {level}: exactly what the JIT here compiles for CPU '{level}' with "
            f"features '' (NUMBA_CPU_NAME='{level}', NUMBA_CPU_FEATURES='')") in err
    assert out == jit_at(level)


@needs("x86-64-v3")
def test_a_feature_string_llvm_reads_as_the_levels_own_is_that_variant(images):
    """Empty items, features the level has (+), features above it (-): LLVM makes the same
    target machine, and the JIT the same bits."""
    env = {"NUMBA_CPU_NAME": "x86-64-v3", "NUMBA_CPU_FEATURES": ",+avx2,+fma,,-avx512f"}
    out, err = served(images["portable"], SNAP_STRICT="1", **env)
    assert "variant x86-64-v3 | x86-64-v3: exactly what the JIT here compiles" in err
    assert out == plain_jit(**env) == jit_at("x86-64-v3")


@pytest.mark.parametrize("env", [
    {"NUMBA_CPU_NAME": "x86-64-v2"},                                  # with this CPU's features
    {"NUMBA_CPU_NAME": "x86-64-v2", "NUMBA_CPU_FEATURES": "+popcnt,-sse4.2"},
    {"NUMBA_CPU_NAME": "generic"},                                    # Numba: features "" for it
    {"NUMBA_CPU_FEATURES": ""},                                       # this CPU's name, no features
], ids=["name-only", "fewer-features", "generic", "features-only"])
def test_numba_cpu_settings_no_variant_is_run_on_the_jit(images, env, tmp_path):
    report = tmp_path / "misses.jsonl"
    p = run([sys.executable, "cpuvar_app.py"],
            env=clean_env(SNAP_SYSIMAGE=str(images["portable"]), SNAP_REPORT=str(report), **env))
    assert_ok(p)
    assert p.stdout == plain_jit(**env)
    said = snap_warnings(p.stderr)
    assert len(said) == 1, p.stderr
    named = ", ".join(f"{k}={env[k]!r}" for k in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES") if k in env)
    assert "the JIT here compiles for CPU" in said[0] and named in said[0] and "running on the JIT" in said[0]
    reasons = {json.loads(line)["reason"] for line in report.read_text().splitlines()}
    assert reasons and all("no variant of the image (x86-64-v2, x86-64-v3, x86-64-v4) is that code" in r
                           for r in reasons)
    strict = run([sys.executable, "cpuvar_app.py"],
                 env=clean_env(SNAP_SYSIMAGE=str(images["portable"]), SNAP_STRICT="1", **env))
    assert strict.returncode != 0 and "Traceback" not in strict.stderr
    assert named in strict.stderr.strip().splitlines()[-1]


@needs("x86-64-v4")
def test_the_variant_the_settings_name_must_still_run_here(images):
    """SNAP_CPU=x86-64-v3 takes this CPU to lack v4's features: the v4 code the settings ask
    for cannot run, so the JIT compiles it."""
    env = {"NUMBA_CPU_NAME": "x86-64-v4", "NUMBA_CPU_FEATURES": "", "SNAP_CPU": "x86-64-v3"}
    p = run([sys.executable, "cpuvar_app.py"], env=clean_env(SNAP_SYSIMAGE=str(images["portable"]), **env))
    assert_ok(p)
    assert p.stdout == jit_at("x86-64-v4")
    said = snap_warnings(p.stderr)
    assert len(said) == 1 and "the variant x86-64-v4 is that code, but this CPU lacks features" in said[0]


def code_app(image=None, **env: str):
    """tests/apps/cpuvar_code_app.py: the settings made in code after activation."""
    extra = {"SNAP_SYSIMAGE": str(image), "SNAPTEST_FORBID_COMPILE": "1"} if image is not None else {}
    return run([sys.executable, "cpuvar_code_app.py"], env=clean_env(**extra, **env))


def test_settings_made_in_code_before_the_first_jitted_function_choose_the_variant(images):
    """Activation (at ``import numba``) saw no setting; the codegen, made at the first
    ``@njit``, has them: the first install chooses again."""
    env = {"SNAPTEST_CPU_WHEN": "before", "SNAPTEST_CPU_NAME": "x86-64-v2"}
    plain = code_app(**env)
    assert_ok(plain)
    assert plain.stdout == jit_at("x86-64-v2")
    served_ = code_app(images["portable"], SNAP_STRICT="1", **env)
    assert_ok(served_)
    assert served_.stdout == plain.stdout
    assert "variant x86-64-v2 | x86-64-v2: exactly what the JIT here compiles" in served_.stderr


def test_settings_made_in_code_after_the_jitted_functions_exist_change_nothing(images):
    """Numba's codegen (and the CPU it compiles for) exists once a function is defined: the
    JIT ignores later settings, and so does the image (its own choice stands)."""
    env = {"SNAPTEST_CPU_WHEN": "after", "SNAPTEST_CPU_NAME": "x86-64-v2"}
    plain = code_app(**env)
    assert_ok(plain)
    assert plain.stdout == jit_at(None)
    best = [lv for lv in LEVEL_NAMES if has(lv)][-1]
    served_ = code_app(images["portable"], SNAP_STRICT="1", **env)
    assert_ok(served_)
    assert f"variant {best} | {best}: the best of" in served_.stderr
    assert served_.stdout == jit_at(best)


def test_settings_made_in_code_that_no_variant_is_leave_the_image_unused(images, tmp_path):
    env = {"SNAPTEST_CPU_WHEN": "before", "SNAPTEST_CPU_NAME": "x86-64-v2", "SNAPTEST_CPU_FEATURES": "+avx"}
    plain = code_app(**env)
    assert_ok(plain)
    report = tmp_path / "misses.jsonl"
    p = run([sys.executable, "cpuvar_code_app.py"],
            env=clean_env(SNAP_SYSIMAGE=str(images["portable"]), SNAP_REPORT=str(report), **env))
    assert_ok(p)
    assert p.stdout == plain.stdout
    said = snap_warnings(p.stderr)
    assert len(said) == 1, p.stderr
    assert ("cannot be used: the JIT here compiles for CPU 'x86-64-v2' with features '+avx' "
            "(NUMBA_CPU_NAME='x86-64-v2', NUMBA_CPU_FEATURES='+avx')") in said[0]
    kinds = {json.loads(line)["kind"] for line in report.read_text().splitlines()}
    assert kinds == {"refused"}
    strict = code_app(images["portable"], SNAP_STRICT="1", **env)
    assert strict.returncode != 0 and "Traceback" not in strict.stderr
    assert "NUMBA_CPU_FEATURES='+avx'" in strict.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def host_image(tmp_path_factory) -> "tuple[os.PathLike, str]":
    """A ``--cpu host`` image built with NUMBA_CPU_* in the build's environment (they must not
    change its code: it records this CPU)."""
    d = tmp_path_factory.mktemp("hostcpu")
    p = snap("create", "-q", "--cpu", "host", "-w", "cpuvar_workload.py", "-o", str(d / "host.so"),
             env=clean_env(NUMBA_CPU_NAME="x86-64-v2", NUMBA_CPU_FEATURES=""))
    assert_ok(p)
    from snapshot.image.host import host_cpu
    return d / "host.so", host_cpu()[0]


def test_a_host_image_is_this_cpus_code_whatever_settings_the_build_had(host_image):
    out, err = served(host_image[0], SNAP_STRICT="1")
    assert out == jit_at(None)
    if has("x86-64-v3"):
        assert out != jit_at("x86-64-v2")          # what the build's settings would have given


def test_a_host_image_serves_settings_that_name_this_cpu_and_its_features(host_image):
    image, name = host_image
    out, err = served(image, SNAP_STRICT="1", NUMBA_CPU_NAME=name)
    assert f"variant host | host: exactly what the JIT here compiles for CPU {name!r} with this CPU's features" in err
    assert out == plain_jit(NUMBA_CPU_NAME=name) == jit_at(None)
    p = run([sys.executable, "cpuvar_app.py"],
            env=clean_env(SNAP_SYSIMAGE=str(image), NUMBA_CPU_NAME=name, NUMBA_CPU_FEATURES=""))
    assert_ok(p)
    assert p.stdout == plain_jit(NUMBA_CPU_NAME=name, NUMBA_CPU_FEATURES="")
    assert len(snap_warnings(p.stderr)) == 1 and "no variant of the image (host)" in p.stderr


def test_snap_check_follows_the_numba_cpu_settings(images):
    ok = snap("check", str(images["portable"]), env=clean_env(NUMBA_CPU_NAME="x86-64-v2", NUMBA_CPU_FEATURES=""))
    assert_ok(ok)
    assert "CPU variant x86-64-v2: exactly what the JIT here compiles" in ok.stdout
    refused = snap("check", str(images["portable"]), env=clean_env(NUMBA_CPU_NAME="x86-64-v2"))
    assert refused.returncode != 0
    assert "no variant of the image (x86-64-v2, x86-64-v3, x86-64-v4) is that code" in refused.stdout


def test_compiles_as_reads_feature_strings_as_llvm_does():
    from snapshot.image.variants import JitTarget, Variant, compiles_as
    v2 = Variant("x86-64-v2", "x86-64-v2", sorted(LEVELS["x86-64-v2"][1]), "p")

    def jit(name, features):
        return JitTarget(name, features, name, features)
    assert compiles_as(v2, jit("x86-64-v2", ""))
    assert compiles_as(v2, jit("x86-64-v2", ",+sse4.2,,+popcnt,-avx2,-avx512f"))
    assert not compiles_as(v2, jit("x86-64-v2", "+avx"))            # more than the level
    assert not compiles_as(v2, jit("x86-64-v2", "-sse4.2"))         # less
    assert not compiles_as(v2, jit("x86-64-v2", "-sse4.1,+sse4.2")) # the same, but not provably: JIT
    assert not compiles_as(v2, jit("x86-64-v2", " +sse2"))          # not a feature LLVM knows
    assert not compiles_as(v2, jit("x86-64-v3", ""))
    keys = ["avx", "avx2", "sse2"]

    def numba_host(enabled):
        return ",".join(("+" if k in set(enabled) else "-") + k for k in keys)
    host = Variant("host", "znver4", ["avx", "sse2"], "p")
    assert compiles_as(host, JitTarget("znver4", "+avx,-avx2,+sse2", "znver4", None, numba_host))
    assert not compiles_as(host, JitTarget("znver4", "+avx,+avx2,+sse2", "znver4", None, numba_host))
    assert not compiles_as(host, JitTarget("znver4", "+sse2,+avx,-avx2", None, "+sse2,+avx,-avx2", numba_host))
    assert not compiles_as(host, JitTarget("znver3", "+avx,-avx2,+sse2", "znver3", None, numba_host))


@needs("x86-64-v3")
def test_a_library_ships_images_for_levels_the_one_the_settings_name_is_chosen(tmp_path):
    from snapshot.image.packaged import PACKAGE_DIR, image_name
    d = tmp_path / "fakelib" / PACKAGE_DIR
    d.mkdir(parents=True)
    (tmp_path / "fakelib" / "__init__.py").write_text("")
    import numba
    for cpu in ("x86-64-v2", "x86-64-v3"):
        (d / image_name("fakelib", cpu, numba.__version__).filename).write_bytes(b"")
    code = ("import fakelib\nfrom snapshot.image.packaged import find\n"
            "from snapshot.numba_seam.cpu import jit_target\nprint(find('fakelib', jit_target())[0])\n")
    for env, level in (({}, "x86_64_v3"), ({"NUMBA_CPU_NAME": "x86-64-v2", "NUMBA_CPU_FEATURES": ""}, "x86_64_v2")):
        p = run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(**env))
        assert_ok(p)
        assert p.stdout.strip().endswith(f"-{level}.so"), (env, p.stdout)


def test_jit_level_names_the_level_the_settings_compile_for():
    from snapshot.image.variants import JitTarget, jit_level
    assert jit_level(None) is None
    assert jit_level(JitTarget("x86-64-v3", ",+avx2", "x86-64-v3", ",+avx2")) == "x86-64-v3"
    assert jit_level(JitTarget("x86-64", "", "x86-64", "")) == "x86-64"
    assert jit_level(JitTarget("x86-64-v3", "+avx512f", "x86-64-v3", "+avx512f")) is None
    assert jit_level(JitTarget("generic", "", "generic", None)) is None
