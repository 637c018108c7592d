"""Several images in one process (issue 18): two libraries, each with its own image, serve
one app together; the program's images take precedence in the order given; each file is
activated once; a request no image serves is one miss; new JIT code calls code of both
images. Served = compilation forbidden; results equal to the plain JIT's, exactly."""
from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from conftest import assert_ok, clean_env, run, snap


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("compose")
    for lib in ("a", "b"):
        assert_ok(snap("create", "-w", f"comp_workload_{lib}.py", "-o", str(d / f"comp_{lib}.so"), "-q"))
    plain = run([sys.executable, "comp_app.py", "newjit"], env=clean_env())
    assert_ok(plain)
    return d, json.loads(plain.stdout)


def _app(mode: str, *, sysimage: str | None = None, forbid: bool = True, **env) -> dict:
    extra = {"SNAPTEST_FORBID_COMPILE": "1"} if forbid else {}
    if sysimage is not None:
        extra["SNAP_SYSIMAGE"] = sysimage
    p = run([sys.executable, "-W", "error::snapshot.errors.SnapWarning", "comp_app.py", mode],
            env=clean_env(**extra, **env))
    assert_ok(p)
    return json.loads(p.stdout.strip().splitlines()[-1])


def _same_results(out: dict, plain: dict) -> None:
    for k in ("a_sum", "a_sq", "scale", "b_max", "b_fib"):
        assert out[k] == plain[k], k          # JSON floats round-trip exactly: bit for bit


def test_two_images_serve_one_app_in_precedence_order(images):
    d, plain = images
    a, b = str(d / "comp_a.so"), str(d / "comp_b.so")
    out = _app("served", sysimage=os.pathsep.join([a, b]))
    _same_results(out, plain)
    # comp_shared.scale is in both images: the first one given serves it
    assert out["images"] == [["comp_a.so", 3], ["comp_b.so", 2]]
    out = _app("served", sysimage=os.pathsep.join([b, a]))
    _same_results(out, plain)
    assert out["images"] == [["comp_b.so", 3], ["comp_a.so", 2]]


def test_activate_adds_an_image_once(images):
    d, plain = images
    out = _app(f"activate:{d / 'comp_b.so'}", sysimage=str(d / "comp_a.so"))
    _same_results(out, plain)
    assert out["images"] == [["comp_a.so", 3], ["comp_b.so", 2]]
    # the same file named twice (environment and call) is one image
    out = _app(f"activate:{d / 'comp_a.so'}", sysimage=str(d / "comp_a.so"), forbid=False)
    assert [name for name, _ in out["images"]] == ["comp_a.so"]


def test_new_jit_code_calls_code_of_both_images(images):
    d, plain = images
    out = _app("newjit", sysimage=os.pathsep.join([str(d / "comp_a.so"), str(d / "comp_b.so")]),
               forbid=False)
    _same_results(out, plain)
    assert out["both"] == plain["both"]
    assert out["images"] == [["comp_a.so", 3], ["comp_b.so", 2]]    # callees from the images


def test_a_request_no_image_serves_is_one_miss(images, tmp_path):
    d, _ = images
    report = tmp_path / "misses.jsonl"
    out = _app("miss", sysimage=os.pathsep.join([str(d / "comp_a.so"), str(d / "comp_b.so")]),
               forbid=False, SNAP_REPORT=str(report))
    assert out["b_fib_float"] == 8.0
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    misses = [m for m in lines if m["function"] == "comp_b.b_fib" and m["signature"] == "(float64)"]
    assert len(misses) == 1, lines
    assert misses[0]["kind"] == "not in image" and misses[0]["reason"] == "signature not in the image"
    strict = run([sys.executable, "comp_app.py", "miss"],
                 env=clean_env(SNAP_SYSIMAGE=os.pathsep.join([str(d / "comp_a.so"), str(d / "comp_b.so")]),
                               SNAP_STRICT="1"))
    assert strict.returncode != 0
    assert "snap: comp_b.b_fib(float64) is not in the image " in strict.stderr
    assert str(d / "comp_b.so") in strict.stderr


def test_a_refused_image_does_not_stop_the_others(images, tmp_path):
    d, plain = images
    bad = tmp_path / "junk.so"
    bad.write_bytes(b"\x7fELF not an image")
    p = run([sys.executable, "comp_app.py", "served"],
            env=clean_env(SNAP_SYSIMAGE=os.pathsep.join([str(bad), str(d / "comp_b.so")]),
                          SNAPTEST_FORBID_COMPILE="0"))
    assert_ok(p)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    _same_results(out, plain)
    assert out["images"] == [["comp_b.so", 3]]
    assert p.stderr.count("SnapWarning: snap: cannot use image") == 1, p.stderr


# ------------------------------------------------------------------ snap create --base
@pytest.fixture(scope="module")
def incremental(images):
    d, _ = images
    out = d / "inc"
    out.mkdir()
    shutil.copy(d / "comp_b.so", out / "comp_b.so")
    p = snap("create", "-w", "comp_workload_top.py", "--base", str(out / "comp_b.so"),
             "-o", str(out / "top.so"), "-q")
    assert_ok(p)
    plain = run([sys.executable, "comp_app.py", "top"], env=clean_env())
    assert_ok(plain)
    return out, json.loads(plain.stdout)


def test_incremental_image_holds_only_what_its_base_lacks(incremental):
    out, _ = incremental
    info = snap("info", "--json", str(out / "top.so"))
    assert_ok(info)
    doc = json.loads(info.stdout)
    assert {e["function"] for e in doc["entries"]} <= {"comp_top.top", "comp_b.b_fib"}   # b_fib: a literal
    assert "comp_top.top" in {e["function"] for e in doc["entries"]}
    (base,) = doc["build"]["bases"]
    assert base["file"] == "comp_b.so" and len(base["sha256"]) == 64
    assert any(i.startswith(base["prefix"]) for i in doc["imports"])        # the base's code, imported


def test_incremental_image_serves_with_its_base(images, incremental):
    d, _ = images
    out, plain = incremental
    # top.so's base is next to it: activated from there, before it (comp_a.so serves library A)
    got = _app("top", sysimage=os.pathsep.join([str(d / "comp_a.so"), str(out / "top.so")]))
    _same_results(got, plain)
    assert got["top"] == plain["top"]
    assert [name for name, _ in got["images"]] == ["comp_a.so", "comp_b.so", "top.so"]
    # top, its code calling comp_b.so's, and what compiling top compiled that only top.so holds
    # (b_fib of a literal), installed with it as the JIT adds it when it compiles top
    info = snap("info", "--json", str(out / "top.so"))
    assert_ok(info)
    assert dict(got["images"])["top.so"] == len(json.loads(info.stdout)["entries"])


def test_incremental_image_is_refused_without_its_base_or_with_another(incremental, tmp_path):
    out, plain = incremental
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(out / "top.so", alone / "top.so")
    p = run([sys.executable, "comp_app.py", "top"], env=clean_env(SNAP_SYSIMAGE=str(alone / "top.so")))
    assert_ok(p)
    assert json.loads(p.stdout.strip().splitlines()[-1])["top"] == plain["top"]     # on the JIT
    assert p.stderr.count("SnapWarning") == 1, p.stderr
    assert "is built on the image comp_b.so, which is not active here" in p.stderr
    # another build of the base (other content) next to it: refused too
    other = tmp_path / "other"
    other.mkdir()
    assert_ok(snap("create", "-w", "comp_workload_a.py", "-w", "comp_workload_b.py",
                   "-o", str(other / "comp_b.so"), "-q"))
    shutil.copy(out / "top.so", other / "top.so")
    p = run([sys.executable, "comp_app.py", "top"], env=clean_env(SNAP_SYSIMAGE=str(other / "top.so")))
    assert_ok(p)
    assert json.loads(p.stdout.strip().splitlines()[-1])["top"] == plain["top"]
    assert "is built on another build of comp_b.so" in p.stderr, p.stderr
