"""Worker fleets (issue 17): Dask and Ray workers served from an image, with real engines
on 127.0.0.1, compilation forbidden inside the workers and results compared exactly
with the driver's plain JIT. Every process a test starts is stopped by the test."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import APPS, BIN, assert_ok, clean_env, run, snap

FLEET = APPS / "fleet"
NS = [7, 11, 19]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    d = tmp_path_factory.mktemp("fleet")
    for f in FLEET.glob("*.py"):
        shutil.copy(f, d)
    shutil.copy(APPS / "snaptest_forbid.py", d)
    assert_ok(snap("create", "-q", "-w", "fleet_wl.py", "-o", "f.so", cwd=d, env=fleet_env(d)))
    return d


def fleet_env(d: Path, **extra: str) -> dict[str, str]:
    return clean_env(PYTHONPATH=str(d), RAY_USAGE_STATS_ENABLED="0", DASK_DISTRIBUTED__WORKER__DAEMON="True",
                     **extra)


def driver(d: Path, code: str, timeout: float = 240) -> tuple[dict, str]:
    """Run a driver program in ``d``; (the JSON it prints last, its stderr)."""
    # under a main guard: Dask's nannies and Ray spawn processes that import __main__
    body = "".join("    " + line if line.strip() else line for line in code.splitlines(True))
    (d / "driver.py").write_text("if __name__ == '__main__':\n" + body)
    p = run([sys.executable, "driver.py"], cwd=d, env=fleet_env(d), timeout=timeout)
    assert_ok(p)
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


LOCAL_CLUSTER = r'''
import json, os, shutil, sys
from distributed import Client, LocalCluster
import fleet_tasks
from snapshot.dask import SnapWorkerPlugin, register

NS = %(ns)r
out = {}
ref = fleet_tasks.reference(NS)             # the driver's plain JIT
out["miss_ref"] = [fleet_tasks.miss(5), fleet_tasks.miss(6)]
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                  dashboard_address=None, local_directory="scratch") as cluster, Client(cluster) as c:
    def results():
        return c.gather(c.map(fleet_tasks.task, NS, pure=False))

    # A: no image yet: the workers JIT-compile
    r = results()
    out["jit_equal"] = [v for v, _ in r] == ref
    out["jit_served"] = [s for _, s in r]
    # A': Dask's Environ plugin sets the variable after the workers' interpreters started:
    # not served, one warning per worker (even with SNAP_STRICT=1)
    from distributed.diagnostics.plugin import Environ
    c.register_plugin(Environ({"SNAP_SYSIMAGE": os.path.abspath("f.so"), "SNAP_STRICT": "1"}))
    r = results()
    out["environ_equal"] = [v for v, _ in r] == ref
    out["environ_served"] = [s for _, s in r]
    # B: worker plugin into running workers that already compiled: "late", warned; misses reported
    c.register_plugin(SnapWorkerPlugin("f.so", report="miss-{worker}.jsonl"))
    out["late_values"] = [v for v, _ in results()] == ref
    out["miss"] = c.gather(c.map(fleet_tasks.miss, [5, 6], pure=False))
    # C: nanny plugin (register() picks it: every worker has a nanny) with shipped bytes (the
    # client's copy is gone once the plugin is made), strict: the workers restart
    shutil.copy("f.so", "copy.so")
    real_register = c.register_plugin
    def register_then_delete(plugin, *a, **k):
        os.unlink("copy.so")
        out["registered"] = type(plugin).__name__
        return real_register(plugin, *a, **k)
    c.register_plugin = register_then_delete
    register(c, "copy.so", strict=True)
    c.register_plugin = real_register
    try:
        c.submit(fleet_tasks.miss, 5, pure=False).result()
        out["strict"] = "no error"
    except Exception as e:
        out["strict"] = type(e).__name__
    out["info_c"] = list(c.run(fleet_tasks.info).values())
    c.run(fleet_tasks.forbid)
    r = results()
    out["image_equal"] = [v for v, _ in r] == ref
    out["image_served"] = [s for _, s in r]
    stored = out["info_c"][0]["at_start"]
    out["mtime"] = os.stat(stored).st_mtime_ns
    # D: restarted workers reuse the stored image
    c.restart()
    out["info_d"] = list(c.run(fleet_tasks.info).values())
    c.run(fleet_tasks.forbid)
    r = results()
    out["restart_equal"] = [v for v, _ in r] == ref
    out["restart_served"] = [s for _, s in r]
    out["mtime_after"] = os.stat(stored).st_mtime_ns
print(json.dumps(out))
'''


def test_local_cluster_plugins(fleet):
    out, err = driver(fleet, LOCAL_CLUSTER % {"ns": NS})
    assert out["jit_equal"] and out["jit_served"] == [False] * len(NS)
    assert out["environ_equal"] and out["environ_served"] == [False] * len(NS)
    assert err.count("was set after this Python process started") == 2, err[-3000:]
    # B: late activation in workers that compiled: same results, one warning per worker
    assert out["late_values"]
    assert err.count("was compiled before the image") == 2, err[-3000:]
    assert out["miss"] == out["miss_ref"]
    reports = sorted(fleet.glob("miss-*.jsonl"))
    assert len(reports) == 2, reports                      # one file per worker
    kinds = [json.loads(line)["kind"] for f in reports for line in f.read_text().splitlines()]
    assert "not in image" in kinds and "late" in kinds
    # C: served from the shipped copy stored under Dask's scratch space, strict in workers
    assert out["registered"] == "SnapNannyPlugin" and out["strict"] == "SnapStrictError"
    for i in out["info_c"]:
        assert "/scratch/snap-images/" in i["at_start"] and i["path"] == i["at_start"], i
    assert out["image_equal"] and out["image_served"] == [True] * len(NS)
    # D: reused across restarts (same file, not rewritten)
    assert out["restart_equal"] and out["restart_served"] == [True] * len(NS)
    assert {i["pid"] for i in out["info_d"]}.isdisjoint({i["pid"] for i in out["info_c"]})
    assert [i["path"] for i in out["info_d"]] == [i["path"] for i in out["info_c"]]
    assert out["mtime"] == out["mtime_after"]


CLI_DRIVER = r'''
import json, os, shutil, sys, time
from distributed import Client
import fleet_tasks
from snapshot.dask import SnapNannyPlugin

NS = %(ns)r
out = {}
ref = fleet_tasks.reference(NS)
with Client(scheduler_file="sched.json", timeout=60) as c:
    c.wait_for_workers(2, timeout=60)
    workers = sorted(c.scheduler_info(n_workers=-1)["workers"])
    out["addresses"] = workers
    def results(w):
        return c.gather(c.map(fleet_tasks.task, NS, pure=False, workers=[w], allow_other_workers=False))
    # through --preload (one worker also with --preload-nanny)
    out["preload_info"] = c.run(fleet_tasks.info)
    c.run(fleet_tasks.forbid)
    r = {w: results(w) for w in workers}
    out["preload_equal"] = all([v for v, _ in r[w]] == ref for w in workers)
    out["preload_served"] = all(s for w in workers for _, s in r[w])
    # through the nanny plugin: the workers restart (and the preload still agrees)
    shutil.copy("f.so", "copy2.so")
    plugin = SnapNannyPlugin("copy2.so")
    os.unlink("copy2.so")
    c.register_plugin(plugin)
    c.wait_for_workers(2, timeout=60)
    workers = sorted(c.scheduler_info(n_workers=-1)["workers"])
    out["plugin_info"] = c.run(fleet_tasks.info)
    c.run(fleet_tasks.forbid)
    r = {w: results(w) for w in workers}
    out["plugin_equal"] = all([v for v, _ in r[w]] == ref for w in workers)
    out["plugin_served"] = all(s for w in workers for _, s in r[w])
print(json.dumps(out))
'''


class _Procs:
    """Processes a test starts: each in its own session, stopped (group) at the end."""

    def __init__(self, d: Path) -> None:
        self.d, self.procs = d, []

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.d / f"{name}.log", "w")
        p = subprocess.Popen(args, cwd=self.d, env=fleet_env(self.d), stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append((p, log))
        return p

    def stop(self) -> None:
        for p, _ in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for p, log in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
            log.close()


def test_dask_cli_preload_and_plugin(fleet):
    dask = str(BIN / "dask")
    common = ["--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard", "--local-directory", "cliscratch"]
    image = str(fleet / "f.so")
    procs = _Procs(fleet)
    try:
        procs.start("scheduler", [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", "sched.json"])
        deadline, address = time.monotonic() + 60, None
        while address is None:
            assert time.monotonic() < deadline, (fleet / "scheduler.log").read_text()
            time.sleep(0.2)
            try:
                address = json.loads((fleet / "sched.json").read_text())["address"]
            except (OSError, ValueError, KeyError):
                pass
        # the address first: Dask gives the arguments after it to the click-configurable preload
        assert address.startswith("tcp://127.0.0.1:")
        procs.start("worker-a", [dask, "worker", address, *common, "--name", "a", "--preload", "snapshot.dask",
                                 "--preload-nanny", "snapshot.dask", "--snap-image", image])
        procs.start("worker-b", [dask, "worker", address, *common, "--name", "b", "--preload", "snapshot.dask",
                                 "--snap-image", image])
        out, err = driver(fleet, CLI_DRIVER % {"ns": NS})
    finally:
        procs.stop()
    assert all(a.startswith("tcp://127.0.0.1:") for a in out["addresses"])
    assert out["preload_equal"] and out["preload_served"]
    info = sorted(out["preload_info"].values(), key=lambda i: i["at_start"] is None)
    # --preload-nanny: the worker process started with SNAP_SYSIMAGE; --preload alone: activated in it
    assert info[0]["at_start"] == image and info[0]["path"] == image
    assert info[1]["at_start"] is None and info[1]["path"] == image
    assert out["plugin_equal"] and out["plugin_served"]
    for i in out["plugin_info"].values():
        assert i["at_start"] is not None and "/cliscratch/snap-images/" in i["at_start"], i
    for p, _ in procs.procs:
        assert p.poll() is not None


def test_late_environment_variable_and_unwritable_report_warn_once(fleet):
    late = ("import os, fleet_tasks\n"
            "os.environ['SNAP_SYSIMAGE'] = 'f.so'\n"
            "print(fleet_tasks.task(4)[1], fleet_tasks.task(5)[1])\n")
    p = run([sys.executable, "-c", late], cwd=fleet, env=fleet_env(fleet))
    assert_ok(p)
    assert p.stdout.strip() == "False False"
    assert p.stderr.count("was set after this Python process started") == 1, p.stderr
    # set at start: served, no such warning; an unwritable report warns once for two misses
    p = run([sys.executable, "-c", "import fleet_tasks; print(fleet_tasks.task(4)[1], fleet_tasks.miss(3), "
             "fleet_tasks.miss(4), __import__('flib').poly(1j))"], cwd=fleet,
            env=fleet_env(fleet, SNAP_SYSIMAGE=str(fleet / "f.so"), SNAP_REPORT="/proc/nope/r.jsonl"))
    assert_ok(p)
    assert p.stdout.split()[0] == "True"
    assert "was set after" not in p.stderr
    assert p.stderr.count("cannot write the miss report /proc/nope/r.jsonl") == 1, p.stderr


RAY_DRIVER = r'''
import json, os, shutil, sys
import ray
import fleet_tasks
import snapshot.ray

NS = %(ns)r
ref = fleet_tasks.reference(NS)
shutil.copy("f.so", "copy3.so")
env = snapshot.ray.runtime_env("copy3.so", strict=True)
os.unlink("copy3.so")
ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", runtime_env=env,
         log_to_driver=False)
try:
    @ray.remote
    def task(n):
        fleet_tasks.forbid()
        return fleet_tasks.task(n), fleet_tasks.info()

    @ray.remote
    class Actor:
        def __init__(self):
            fleet_tasks.forbid()
        def run(self, n):
            return fleet_tasks.task(n), fleet_tasks.info()

    @ray.remote
    def strict_miss(n):
        try:
            return fleet_tasks.miss(n)
        except Exception as e:
            return type(e).__name__

    r = ray.get([task.remote(n) for n in NS])
    a = Actor.remote()
    ra = ray.get([a.run.remote(n) for n in NS])
    out = {"task_equal": [v for (v, _), _ in r] == ref, "task_served": [s for (_, s), _ in r],
           "actor_equal": [v for (v, _), _ in ra] == ref, "actor_served": [s for (_, s), _ in ra],
           "paths": sorted({i["path"] for _, i in r + ra}), "env": env["env_vars"]["SNAP_SYSIMAGE"],
           "strict": ray.get(strict_miss.remote(3))}
finally:
    ray.shutdown()
print(json.dumps(out))
'''


@pytest.mark.ray
def test_ray_runtime_env(fleet):
    out, _ = driver(fleet, RAY_DRIVER % {"ns": NS}, timeout=300)
    assert out["task_equal"] and out["task_served"] == [True] * len(NS)
    assert out["actor_equal"] and out["actor_served"] == [True] * len(NS)
    assert out["env"].startswith("snap_image_")             # shipped through py_modules
    assert len(out["paths"]) == 1 and out["paths"][0].endswith(out["env"]), out["paths"]
    assert out["strict"] == "SnapStrictError"


def test_ship_store_verifies_and_reuses(fleet, tmp_path):
    from snapshot.runtime import ship
    from snapshot.errors import SnapError
    blob = ship.pack(str(fleet / "f.so"))
    dest = ship.store(blob, str(tmp_path / "imgs"))
    assert os.path.basename(dest) == f"{blob.digest[:24]}-f.so"
    assert ship.digest_file(dest) == blob.digest
    before = os.stat(dest).st_mtime_ns
    assert ship.store(blob, str(tmp_path / "imgs")) == dest and os.stat(dest).st_mtime_ns == before
    # a damaged file under that name is replaced; damaged bytes in transit are refused
    Path(dest).write_bytes(b"junk")
    assert ship.store(blob, str(tmp_path / "imgs")) == dest and ship.digest_file(dest) == blob.digest
    bad = blob._replace(data=blob.data[:-1] + bytes([blob.data[-1] ^ 1]))
    with pytest.raises(SnapError, match="damaged"):
        ship.store(bad, str(tmp_path / "other"))
    # bytes that match their digest but are no image: refused by the linker's checks, nothing left
    junk = b"\x7fELF not an image"
    with pytest.raises(SnapError, match="cannot use image"):
        ship.store(ship.ImageBlob("x.so", ship.digest_bytes(junk), junk), str(tmp_path / "junk"))
    assert os.listdir(tmp_path / "junk") == []
    # the sender's own path is used where it holds the same bytes
    assert ship.local_path(blob, str(fleet / "f.so"), str(tmp_path / "x")) == str(fleet / "f.so")
    assert not (tmp_path / "x").exists()
