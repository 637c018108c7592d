"""Process-wide state the serving path touches behaves as under the JIT: Numba's threading
layer starts when code using it is first installed (not when other image code is mapped),
so fork works after a first call as it does under the JIT (GNU OpenMP is not fork-safe);
spawn and forkserver children start from the image too; concurrent first calls from
threads give the JIT's results, install each entry once and leave the garbage collector
as the program had it; a child forked while another thread installs does not hang; snap
starts no thread and installs no signal handler."""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import APPS, assert_ok, clean_env, snap

FORBID = {"SNAPTEST_FORBID_COMPILE": "1"}
LAYERS = ["omp", "workqueue", "tbb"]   # tbb where Numba finds libtbb.so.12 (the tbb package)
N_PLAIN = 8

LIB = "import numpy as np\nfrom numba import njit, prange\n\n" + "".join(
    f"\n@njit\ndef f{i}(x):\n    return x * {i + 2} + {i}\n" for i in range(N_PLAIN)) + '''

@njit(parallel=True)
def psum(a):
    s = 0.0
    for i in prange(a.shape[0]):
        s += a[i] * 2.0
    return s
'''

WORKLOAD = f'''
import numpy as np
import plib
for i in range({N_PLAIN}):
    getattr(plib, f"f{{i}}")(1)
    getattr(plib, f"f{{i}}")(1.5)
plib.psum(np.arange(4.0))
'''

# After a first call of plain code: the threading layer not started, no thread, no handler,
# the GC as it was; then parallel code in fork / spawn / forkserver pool workers.
PROC_APP = '''
import snaptest_forbid
import gc, multiprocessing as mp, os, signal, sys, threading
import numpy as np
from numba.np.ufunc import parallel
import plib


def task(n):
    import snaptest_forbid  # noqa: F401  (spawn and forkserver children start afresh)
    return plib.psum(np.arange(float(n))), plib.f1(n)


def state():
    handlers = {s.name: repr(signal.getsignal(s)) for s in signal.valid_signals()
                if isinstance(s, signal.Signals) and s not in (signal.SIGKILL, signal.SIGSTOP)}
    return (parallel._is_initialized, threading.active_count(), gc.isenabled(), gc.get_threshold(),
            sys.getswitchinterval(), sorted(handlers.items()))


if __name__ == "__main__":
    tasks = len(os.listdir("/proc/self/task"))      # the process's OS threads
    print("plain", plib.f0(20), plib.f0(2.5))
    print("state", state())
    print("os threads started by the first calls:", len(os.listdir("/proc/self/task")) - tasks,
          file=sys.stderr)
    for method in sys.argv[1:]:
        with mp.get_context(method).Pool(2 if method == "fork" else 1) as pool:
            print(method, pool.map(task, [10, 100, 1000]))
    print("main", task(10), parallel._is_initialized)
'''


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """plib (8 plain functions, one parallel=True), its image per threading layer."""
    d = tmp_path_factory.mktemp("processes")
    shutil.copy(APPS / "snaptest_forbid.py", d)
    (d / "plib.py").write_text(LIB)
    (d / "wl.py").write_text(WORKLOAD)
    for name, app in (("proc_app.py", PROC_APP), ("thread_app.py", THREAD_APP),
                      ("gc_app.py", GC_APP), ("forkinstall_app.py", FORK_INSTALL_APP)):
        (d / name).write_text(app)
    for layer in LAYERS:
        if layer_available(layer):
            assert_ok(snap("create", "-q", "-w", "wl.py", "-o", f"{layer}.so", cwd=d,
                           env=clean_env(NUMBA_THREADING_LAYER=layer)))
    return d


def layer_available(layer: str) -> bool:
    probe = "from numba.np.ufunc import parallel\nparallel._launch_threads()"
    return subprocess.run([sys.executable, "-c", probe], env=clean_env(NUMBA_THREADING_LAYER=layer),
                          capture_output=True, timeout=120).returncode == 0


def run_app(d, args: list[str], *, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    """Run a test program in its own session, killed whole (pool workers too) if it hangs."""
    p = subprocess.Popen([sys.executable, *args], cwd=d, env=clean_env(**env), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"{' '.join(args)} hung ({timeout} s)\nstdout:\n{out}\nstderr:\n{err}")
    return subprocess.CompletedProcess(args, p.returncode, out, err)


def image_env(d, layer: str, **extra: str) -> dict[str, str]:
    return {"SNAP_SYSIMAGE": str(d / f"{layer}.so"), "NUMBA_THREADING_LAYER": layer, **FORBID, **extra}


@pytest.mark.parametrize("layer", LAYERS)
def test_fork_after_a_first_call_works_as_under_the_jit(work, layer):
    """Only plain code ran before the fork: no threading layer (GNU OpenMP would kill every
    forked worker running parallel code, and Pool.map would hang), no thread; forked
    workers install the parallel entry themselves."""
    if not (work / f"{layer}.so").exists():
        pytest.skip(f"Numba's {layer} threading layer is not available here")
    jit = run_app(work, ["proc_app.py", "fork"], NUMBA_THREADING_LAYER=layer)
    assert_ok(jit)
    assert "state (False," in jit.stdout
    image = run_app(work, ["proc_app.py", "fork"], **image_env(work, layer))
    assert_ok(image)
    assert image.stdout == jit.stdout
    assert "fork() called" not in image.stderr and "SnapWarning" not in image.stderr, image.stderr
    # (the JIT's compiler starts one of LLVM's; snap none)
    assert "os threads started by the first calls: 0" in image.stderr, image.stderr


def test_spawn_and_forkserver_children_start_from_the_image(work):
    """SNAP_SYSIMAGE is inherited: spawn and forkserver children are served from the image
    (compilation forbidden in them too), with the JIT's results."""
    layer = "omp"
    jit = run_app(work, ["proc_app.py", "spawn", "forkserver"], NUMBA_THREADING_LAYER=layer)
    assert_ok(jit)
    image = run_app(work, ["proc_app.py", "spawn", "forkserver"], **image_env(work, layer))
    assert_ok(image)
    assert image.stdout == jit.stdout
    assert "SnapWarning" not in image.stderr and "Traceback" not in image.stderr, image.stderr


def test_threading_symbols_are_what_numba_registers():
    """The names left unfilled until the threading layer starts are exactly those Numba's
    ``_launch_threads`` registers (a Numba upgrade adding one must not go unnoticed)."""
    probe = '''
import llvmlite.binding as ll
from numba.np.ufunc import parallel
names = []
original = ll.add_symbol
ll.add_symbol = lambda name, addr: (names.append(name), original(name, addr))
parallel._launch_threads()
from snapshot.numba_seam.resolver import THREADING_SYMBOLS
print(sorted(names) == sorted(THREADING_SYMBOLS), sorted(set(names) ^ THREADING_SYMBOLS))
'''
    p = subprocess.run([sys.executable, "-c", probe], env=clean_env(NUMBA_THREADING_LAYER="workqueue"),
                       capture_output=True, text=True, timeout=120)
    assert_ok(p)
    assert p.stdout.strip() == "True []"


# 8 threads make their first calls at once: each calls every function, starting at its own
# (different entries and the same entries at the same time).
THREAD_APP = f'''
import snaptest_forbid
import gc, os, sys, threading
import plib

sys.setswitchinterval(1e-5)        # switch threads often: interleave the first calls
if sys.argv[1] == "gc-off":
    gc.disable()                   # the program's own choice: it must stay so
FUNCS = [getattr(plib, f"f{{i}}") for i in range({N_PLAIN})]
barrier = threading.Barrier(8)
out = [None] * 8


def work(t):
    barrier.wait()
    out[t] = [(FUNCS[(k + t) % len(FUNCS)].__name__, FUNCS[(k + t) % len(FUNCS)](t),
               FUNCS[(k + t) % len(FUNCS)](t + 0.5)) for k in range(len(FUNCS))]


threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
    if t.is_alive():
        print("deadlock", flush=True)
        os._exit(3)
for t in range(8):
    print(t, sorted(out[t]))
print("gc", gc.isenabled())
for f in FUNCS:
    print(f.__name__, sorted(str(s) for s in f.signatures), len(f.overloads), f(7), f(7.5))
import snapshot
for rt in snapshot.active():
    from snapshot.numba_seam.standins import ImageLibrary
    served = sum(isinstance(c.library, ImageLibrary) for f in FUNCS for c in f.overloads.values())
    print("served", rt.installed, served, file=sys.stderr)
'''


@pytest.mark.parametrize("gc_mode", ["gc-on", "gc-off"])
def test_concurrent_first_calls_from_eight_threads(work, gc_mode):
    """The JIT's results, no deadlock, each entry installed once (16: 8 functions x 2
    signatures), every overload the image's, the dispatchers as under the JIT, the GC as
    the program left it."""
    jit = run_app(work, ["thread_app.py", gc_mode], NUMBA_THREADING_LAYER="workqueue")
    assert_ok(jit)
    assert f"gc {gc_mode == 'gc-on'}" in jit.stdout
    for _ in range(3):
        image = run_app(work, ["thread_app.py", gc_mode], **image_env(work, "workqueue"))
        assert_ok(image)
        assert image.stdout == jit.stdout
        assert f"served {2 * N_PLAIN} {2 * N_PLAIN}" in image.stderr, image.stderr


# Two threads' first calls under an adversarial schedule, forced with a profiler hook at
# the collector's switches: a thread that finds the collector off (another one is inside
# snap) is held before it switches it off until the other one has switched it back on --
# the interleaving that left it off for good. In "user" mode the program's main thread
# switches the collector off while the other thread is inside snap: it must stay off.
GC_APP = '''
import snaptest_forbid
import gc, sys, threading
import plib

mode = sys.argv[1]
inside, read_off, enabled_again, user_done = (threading.Event() for _ in range(4))
first = []


def hook(frame, event, arg):
    if event == "c_return" and arg is gc.disable and not first:
        first.append(threading.get_ident())
        inside.set()                                   # this thread is inside snap's section
        (read_off if mode == "threads" else user_done).wait(1)
    elif event == "c_return" and arg is gc.isenabled and first and first[0] != threading.get_ident():
        read_off.set()
    elif event == "c_call" and arg is gc.disable and first and first[0] != threading.get_ident():
        enabled_again.wait(1)
    elif event == "c_return" and arg is gc.enable:
        enabled_again.set()


def call(f, x, out):
    sys.setprofile(hook)
    out.append(f(x))
    sys.setprofile(None)


out0, out1 = [], []
t0 = threading.Thread(target=call, args=(plib.f0, 3, out0))
t0.start()
if mode == "threads":
    t1 = threading.Thread(target=call, args=(plib.f1, 4, out1))
    t1.start()
    t1.join()
else:
    inside.wait(1)         # (no section: the other thread is making its first call meanwhile)
    gc.disable()           # the program's choice, made while the other thread is in its first call
    user_done.set()
t0.join()
print(out0, out1, "gc", gc.isenabled())
'''


@pytest.mark.parametrize("mode", ["threads", "user"])
def test_first_calls_leave_the_collector_as_the_program_set_it(work, mode):
    """Under any thread schedule: concurrent first calls leave the collector on; a program
    that switches it off while another thread makes a first call keeps it off."""
    expected = "[6] [13] gc True" if mode == "threads" else "[6] [] gc False"
    jit = run_app(work, ["gc_app.py", mode], NUMBA_THREADING_LAYER="workqueue")
    assert_ok(jit)
    assert jit.stdout.strip() == expected
    image = run_app(work, ["gc_app.py", mode], **image_env(work, "workqueue"))
    assert_ok(image)
    assert image.stdout.strip() == expected


# A thread is held inside snap's install of f0 (under its lock) while the main thread forks:
# the child makes first calls of f1, f0 and the parallel psum, served from the image.
FORK_INSTALL_APP = '''
import snaptest_forbid
import gc, os, select, sys, threading
import numpy as np
import plib

inside, go = threading.Event(), threading.Event()
SERVING = os.path.join("runtime", "serving.py")


def tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "_install" and frame.f_code.co_filename.endswith(SERVING):
        inside.set()
        go.wait(30)


def first_call(out):
    sys.settrace(tracer)
    out.append(plib.f0(1))
    sys.settrace(None)


out = []
t = threading.Thread(target=first_call, args=(out,))
t.start()
if not inside.wait(30):
    sys.exit("the first call never reached an install")
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        os.write(w, repr((plib.f1(2), plib.f0(1), plib.psum(np.arange(10.0)), gc.isenabled())).encode())
    finally:
        os._exit(0)
go.set()
t.join()
ready, _, _ = select.select([r], [], [], 20)
if not ready:
    os.kill(pid, 9)
    sys.exit("the child forked during an install hung")
print("child", os.read(r, 1000).decode(), "parent", out, os.waitpid(pid, 0)[1])
'''


def test_child_forked_while_another_thread_installs_does_not_hang(work):
    """The installing thread does not exist in the child: its hold on snap's lock (Numba's
    compiler lock) is released there, and the collector is as the program had it."""
    p = run_app(work, ["forkinstall_app.py"], **image_env(work, "omp"))
    assert_ok(p)
    assert p.stdout.strip() == "child (7, 2, 90.0, True) parent [2] 0"


TOP_LIB = '''
from numba import njit
from plib import psum

@njit
def top(a):
    return psum(a) + 1.0
'''

BASE_APP = '''
import snaptest_forbid
import numpy as np
from numba.np.ufunc import parallel
import plib, toplib
print(plib.f0(3), parallel._is_initialized)
print(toplib.top(np.arange(10.0)), parallel._is_initialized)
'''


def test_image_calling_parallel_code_of_its_base_starts_the_threading_layer(work):
    """An incremental image's entry calls its base's parallel code without installing it:
    the base's threading entry points are filled when that entry is installed."""
    (work / "toplib.py").write_text(TOP_LIB)
    (work / "topwl.py").write_text("import numpy as np, toplib\ntoplib.top(np.arange(3.0))\n")
    (work / "base_app.py").write_text(BASE_APP)
    env = {"NUMBA_THREADING_LAYER": "workqueue"}
    assert_ok(snap("create", "-q", "-w", "topwl.py", "--base", "workqueue.so", "-o", "top.so", cwd=work,
                   env=clean_env(**env)))
    jit = run_app(work, ["base_app.py"], **env)
    assert_ok(jit)
    assert jit.stdout == "6 False\n91.0 True\n"
    image = run_app(work, ["base_app.py"], SNAP_SYSIMAGE=str(work / "top.so"), **FORBID, **env)
    assert_ok(image)
    assert image.stdout == jit.stdout
    assert "SnapWarning" not in image.stderr, image.stderr


def test_image_not_saying_which_entries_need_threads_starts_them_when_mapped(work, tmp_path):
    """An image built before entries recorded whether they need the threading layer (no
    ``threads`` in its manifest header) starts it when its code is mapped, as then:
    its parallel code still runs."""
    from imagetools import forge
    legacy = tmp_path / "legacy.so"
    forge(work / "workqueue.so", legacy, b'"threads":true}\n', b'"thread_":true}\n')   # the header's last key
    p = run_app(work, ["-c", "import snaptest_forbid, numpy as np, plib\nfrom numba.np.ufunc import parallel\n"
                             "print(plib.f0(3), parallel._is_initialized, plib.psum(np.arange(10.0)))"],
                **image_env(work, "workqueue", SNAP_SYSIMAGE=str(legacy)))
    assert_ok(p)
    assert p.stdout == "6 True 90.0\n"


# A thread is held inside snapshot.activate (the collector paused, the activation lock held)
# while the main thread forks: the child activates the image itself and is served from it.
FORK_ACTIVATE_APP = '''
import snaptest_forbid
import gc, os, select, sys, threading
import snapshot
import plib

inside, go = threading.Event(), threading.Event()
ACTIVATION = os.path.join("runtime", "activation.py")


def tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "_activate" and frame.f_code.co_filename.endswith(ACTIVATION):
        inside.set()
        go.wait(30)


def activate():
    sys.settrace(tracer)
    snapshot.activate(sys.argv[1])
    sys.settrace(None)


t = threading.Thread(target=activate)
t.start()
if not inside.wait(30):
    sys.exit("the activation never started")
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        gc_after_fork = gc.isenabled()
        rt = snapshot.activate(sys.argv[1])
        os.write(w, repr((gc_after_fork, plib.f1(2), rt.installed, gc.isenabled())).encode())
    finally:
        os._exit(0)
go.set()
t.join()
ready, _, _ = select.select([r], [], [], 20)
if not ready:
    os.kill(pid, 9)
    sys.exit("the child forked during an activation hung")
print("child", os.read(r, 1000).decode(), "parent", plib.f0(1), gc.isenabled(), os.waitpid(pid, 0)[1])
'''


def test_child_forked_while_another_thread_activates(work):
    """The activating thread does not exist in the child: the collector it paused is on
    again there, its locks are free, and the child activates and is served."""
    (work / "forkactivate_app.py").write_text(FORK_ACTIVATE_APP)
    p = run_app(work, ["forkactivate_app.py", str(work / "workqueue.so")], NUMBA_THREADING_LAYER="workqueue",
                **FORBID)
    assert_ok(p)
    assert p.stdout.strip() == "child (True, 7, 1, True) parent 2 True 0"


ACTIVATE_APP = '''
import snaptest_forbid
import sys, threading
import snapshot
import plib

sys.setswitchinterval(1e-6)
barrier = threading.Barrier(8)
got = [None] * 8


def activate(t):
    barrier.wait()
    got[t] = snapshot.activate(sys.argv[1])
    got[t] = (got[t], plib.f1(t))


threads = [threading.Thread(target=activate, args=(t,)) for t in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len({id(rt) for rt, _ in got}), len(snapshot.active()), [v for _, v in got], snapshot.active()[0].installed)
'''


def test_eight_threads_activating_one_image_activate_it_once(work):
    (work / "activate_app.py").write_text(ACTIVATE_APP)
    for _ in range(2):
        p = run_app(work, ["activate_app.py", str(work / "workqueue.so")], NUMBA_THREADING_LAYER="workqueue",
                    **FORBID)
        assert_ok(p)
        assert p.stdout.strip() == "1 1 [1, 4, 7, 10, 13, 16, 19, 22] 1"
