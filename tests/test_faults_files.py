"""Files changing under a running process (issue 29, item 4): what runs is what was checked.

An image is checked from the bytes read at activation; its code is mapped at the first
install. Rewritten in place in between (``cp new.so img.so``, ``rsync --inplace``: same
inode, other bytes) or truncated, the process must neither run other code than what it
checked (code built for other global values: wrong results, silently) nor die of SIGBUS
(a mapping of a file that shrank), before or after its first call. The runtime copies the
checked bytes into a sealed anonymous file and runs that copy, so the image it activated
keeps serving, unchanged: results equal to the JIT's for the program's own state, served
(compilation forbidden). The host cache (image/host.py) is another file read at
activation: a FIFO, a file of another user or writable by everyone, is a miss; concurrent
writers never leave a torn file.
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

import pytest

import linker
from conftest import APPS, assert_ok, clean_env, run, snap
from linker_util import emit, run_python

SMALL_LIB = """\
import os
from numba import njit

K = float(os.environ["FK_K"])


@njit
def first(x):
    return x * K + 1.0


@njit
def second(x):
    return x - K
"""

# A global array is frozen into each function's code: two of them make an image larger than
# what the loader reads into memory (it copies those through a buffer instead)
BIG_LIB = """\
import os
import numpy as np
from numba import njit

K = float(os.environ["FK_K"])
T = np.arange(40000.0) * K


@njit
def first(x):
    return x + T[x.size]          # an index known at run time: the whole array stays in the code


@njit
def second(x):
    return x * T[2 * x.size]
"""

WORKLOAD = """\
import numpy as np
import {mod}
x = np.linspace(-3.0, 7.0, 11)
{mod}.first(x)
{mod}.second(x)
"""

# argv: image ("-": none, the plain JIT), module, when (first: after activation, before the
# first call; between: after the first function's call, before the second's), change.
APP = """\
import os, shutil, sys
import numpy as np
import snapshot

image, mod, when, change = sys.argv[1:5]
rt = snapshot.activate(image) if image != "-" else None
import snaptest_forbid  # noqa: F401,E402  (SNAPTEST_FORBID_COMPILE=1: any compilation raises)
lib = __import__(mod)


def change_file():
    kind, _, arg = change.partition(":")
    inode = os.stat(image).st_ino
    if kind == "cp":               # what `cp other image` does: truncate, write (same inode)
        shutil.copyfile(arg, image)
    elif kind == "truncate":
        os.truncate(image, int(arg))
    assert os.stat(image).st_ino == inode, "not in place"
    print("changed", change, file=sys.stderr)


x = np.linspace(-3.0, 7.0, 11)
if when == "first":
    change_file()
a = lib.first(x)
if when == "between":
    change_file()
b = lib.second(x)
print(a.tobytes().hex(), b.tobytes().hex(), lib.first(x).tobytes().hex())
if rt is not None:
    print("installed", rt.installed)
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Per library, images of the same workload built under two global values (K = 1, 2):
    their code computes different results."""
    d = tmp_path_factory.mktemp("faults_files")
    (d / "fsmall.py").write_text(SMALL_LIB)
    (d / "fbig.py").write_text(BIG_LIB)
    (d / "app.py").write_text(APP)
    images = {}
    for mod in ("fsmall", "fbig"):
        (d / f"w_{mod}.py").write_text(WORKLOAD.format(mod=mod))
        for k in ("1", "2"):
            out = d / f"{mod}{k}.so"
            assert_ok(snap("create", "-w", f"w_{mod}.py", "-o", str(out), "-q", cwd=d,
                           env=clean_env(FK_K=k)))
            images[mod, k] = out
    from linker import loader
    assert images["fsmall", "1"].stat().st_size < loader._MAP_FROM            # read into memory
    assert images["fbig", "1"].stat().st_size >= loader._MAP_FROM              # copied through a buffer
    for mod in ("fsmall", "fbig"):
        assert images[mod, "1"].stat().st_size == images[mod, "2"].stat().st_size
        assert images[mod, "1"].read_bytes() != images[mod, "2"].read_bytes()
    return d, images


def _app(d: Path, image: str, mod: str, when: str = "-", change: str = "-", *, forbid: bool = True):
    env = clean_env(FK_K="1", PYTHONPATH=str(APPS), **({"SNAPTEST_FORBID_COMPILE": "1"} if forbid else {}))
    return run([sys.executable, "app.py", image, mod, when, change], cwd=d, env=env, timeout=300)


@functools.lru_cache(maxsize=None)
def _jit(d: Path, mod: str) -> str:
    """The plain JIT's bits for the program's state (K = 1): once per module."""
    p = _app(d, "-", mod, forbid=False)
    assert_ok(p)
    return p.stdout.splitlines()[0]


CASES = [
    # small image, rewritten in place with the other build before the first call: its code
    # would have been dlopened from the file, i.e. the other build's (K = 2) code
    ("fsmall", "first", "cp:{other}"),
    ("fsmall", "between", "cp:{other}"),       # after the code was mapped: its pages were the file's
    ("fbig", "first", "truncate:0"),            # the manifest and payloads were read from a mapping
    ("fbig", "between", "truncate:4096"),       # ... and the code too: SIGBUS
    ("fbig", "first", "cp:{other}"),
]


@pytest.mark.parametrize("mod,when,change", CASES)
def test_image_changed_in_place_after_activation_runs_what_was_checked(built, mod, when, change):
    d, images = built
    image = d / f"live-{mod}-{when}-{change.split(':')[0]}.so"
    shutil.copyfile(images[mod, "1"], image)               # built for K = 1, the program's state
    p = _app(d, str(image), mod, when, change.format(other=images[mod, "2"]))
    assert p.returncode != -signal.SIGBUS, "killed by SIGBUS:\n" + p.stderr
    assert_ok(p)                                            # compilation forbidden: all served
    assert "changed" in p.stderr
    out = p.stdout.splitlines()
    assert out[0] == _jit(d, mod)                           # the JIT's bits for K = 1
    assert out[1] == "installed 2"
    assert "SnapWarning" not in p.stderr, p.stderr         # the checked copy serves, nothing refused


# ------------------------------------------------------------------ an incremental image's base
TOP_LIB = """\
from numba import njit
import fsmall


@njit
def top(x):
    return fsmall.first(x) * 2.0
"""

# argv: base image, the build to copy over it after its activation ("-": none), top image
BASE_APP = """\
import shutil, sys
import numpy as np
import snapshot

base, rebuilt, top = sys.argv[1:4]
if base != "-":
    assert snapshot.activate(base) is not None
if rebuilt != "-":
    shutil.copyfile(rebuilt, base)          # in place: the process runs the build it activated
rt = snapshot.activate(top) if top != "-" else None
import ftop  # noqa: E402
print(ftop.top(np.linspace(-3.0, 7.0, 11)).tobytes().hex())
print("top", "active" if rt is not None else "refused")
"""


def test_a_base_rewritten_after_its_activation_is_not_the_base_recorded(built):
    """An incremental image records the SHA-256 of its base: compared with the bytes this
    process activated, not with the file, which now holds the recorded build while the code
    running is another (built for other global values: the top image's code would call it)."""
    d, images = built
    (d / "ftop.py").write_text(TOP_LIB)
    (d / "w_top.py").write_text("import numpy as np\nimport ftop\nftop.top(np.linspace(-3.0, 7.0, 11))\n")
    (d / "base_app.py").write_text(BASE_APP)
    run_dir = d / "incremental"
    run_dir.mkdir()
    assert_ok(snap("create", "-w", "w_top.py", "--base", str(images["fsmall", "2"]),
                   "-o", str(run_dir / "top.so"), "-q", cwd=d, env=clean_env(FK_K="2")))
    base = run_dir / "fsmall2.so"                      # the name top.so records, next to it
    shutil.copyfile(images["fsmall", "1"], base)      # another build (K = 1) of the same functions
    env = clean_env(FK_K="2")

    def app(*args: str):
        p = run([sys.executable, "base_app.py", *args], cwd=d, env=env)
        assert_ok(p)
        return p
    jit = app("-", "-", "-").stdout.splitlines()[0]
    p = app(str(base), str(images["fsmall", "2"]), str(run_dir / "top.so"))
    assert p.stdout.splitlines() == [jit, "top refused"], p.stderr
    assert "is built on another build of fsmall2.so" in p.stderr, p.stderr
    # the recorded build, activated as such: top.so serves, with the same results
    shutil.copyfile(images["fsmall", "2"], base)
    p = app(str(base), "-", str(run_dir / "top.so"))
    assert p.stdout.splitlines() == [jit, "top active"], p.stderr


# ------------------------------------------------------------------ the loader itself
def test_loader_runs_its_copy_whatever_happens_to_the_file(tmp_path):
    """Both ways the loader holds an image (read into memory; copied through a buffer from
    256 KiB): checked bytes kept until the load, then code that is a copy of them."""
    one = linker.link([emit("define i64 @v() {\n  ret i64 1\n}")], sections={"snap.manifest": b"s"})
    two = linker.link([emit("define i64 @v() {\n  ret i64 2\n}")], sections={"snap.manifest": b"s"})
    pad = b"m" * (300 << 10)
    big_one = linker.link([emit("define i64 @v() {\n  ret i64 1\n}")], sections={"snap.manifest": pad})
    big_two = linker.link([emit("define i64 @v() {\n  ret i64 2\n}")], sections={"snap.manifest": pad})
    # names as long as a file name can be, in bytes (ext4: 255), each character two bytes
    long = "\u00e9" * 125
    for name, a, b in (("small", one, two), ("big", big_one, big_two), (long, one, two)):
        (tmp_path / f"{name}1.so").write_bytes(a)
        (tmp_path / f"{name}2.so").write_bytes(b)
    r = run_python(f"""
        import ctypes, os, shutil
        import linker
        d = {str(tmp_path)!r}
        def v(img):
            return ctypes.CFUNCTYPE(ctypes.c_int64)(img.address("v"))()
        for name in ("small", "big", {long!r}):
            path = os.path.join(d, name + "1.so")
            f = linker.ImageFile.open(path)
            shutil.copyfile(os.path.join(d, name + "2.so"), path)   # in place, before the load
            os.truncate(path, 100)
            assert bytes(f.section("snap.manifest")[:1]) == (b"m" if name == "big" else b"s")
            if name == {long!r}:
                assert v(f.load(lambda n: None)) == 1
                continue
            img = f.load(lambda n: None)
            assert v(img) == 1, name                     # the bytes checked, not the file's
            os.truncate(path, 0)                          # after the load: its pages are not the file's
            assert v(img) == 1 and len(img.section("snap.manifest")) == (300 << 10 if name == "big" else 1)
            maps = open("/proc/self/maps").read()
            assert "/memfd:snap:" + name + "1.so" in maps, maps
        copies = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink("/proc/self/fd/" + fd).startswith("/memfd:snap:"):
                    copies.append(os.stat("/proc/self/fd/" + fd))
            except FileNotFoundError:        # the listing's own descriptor, closed since
                pass
        assert len(copies) >= 3 and not any(st.st_mode & 0o111 for st in copies)   # not executable
        print("ok")
    """, check=False)
    assert r.returncode != -signal.SIGBUS, "killed by SIGBUS"
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_an_immutable_image_is_loaded_from_its_file(tmp_path):
    """A large file nobody can change (``chattr +i``; fs-verity alike) needs no private copy:
    the loader maps and dlopens it, so its pages are shared between processes and profilers
    reading the file after the process name its functions. (Small images are copied all the
    same, at their first load: cheaper than asking the file system at every activation.)"""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr")
    small = tmp_path / "small.so"
    big = tmp_path / "big.so"
    small.write_bytes(linker.link([emit("define i64 @v() {\n  ret i64 1\n}")], sections={"snap.manifest": b"s"}))
    big.write_bytes(linker.link([emit("define i64 @v() {\n  ret i64 2\n}")],
                                sections={"snap.manifest": b"m" * (300 << 10)}))
    made = [p for p in (small, big) if run(["chattr", "+i", str(p)]).returncode == 0]
    try:
        if len(made) < 2:
            pytest.skip("this file system or user cannot make files immutable (chattr +i)")
        r = run_python(f"""
            import ctypes, linker
            for path, want in (({str(big)!r}, 2), ({str(small)!r}, 1)):
                img = linker.load(path, lambda n: None)
                assert ctypes.CFUNCTYPE(ctypes.c_int64)(img.address("v"))() == want
                maps = open("/proc/self/maps").read()
                if want == 2:
                    assert linker.load(path, lambda n: None) is img      # glibc: the same inode
                    assert path in maps and "memfd:snap:" not in maps, maps
                else:
                    assert "memfd:snap:small.so" in maps, maps
            print("ok")
        """, check=False)
        assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
    finally:
        for p in made:
            run(["chattr", "-i", str(p)])


# ------------------------------------------------------------------ the host cache
def _host_cache_path(cache: Path) -> Path:
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return cache / f"host-{boot}.txt"


def test_a_fifo_as_host_cache_is_a_miss_not_a_hang(built, tmp_path):
    d, images = built
    cache = tmp_path / "cache"
    cache.mkdir()
    os.mkfifo(_host_cache_path(cache))
    image = d / "fifo.so"
    shutil.copyfile(images["fsmall", "1"], image)
    env = clean_env(FK_K="1", PYTHONPATH=str(APPS), SNAP_CACHE_DIR=str(cache), SNAPTEST_FORBID_COMPILE="1")
    p = run([sys.executable, "app.py", str(image), "fsmall", "-", "-"], cwd=d, env=env, timeout=120)
    assert_ok(p)
    assert p.stdout.splitlines()[0] == _jit(d, "fsmall")
    assert _host_cache_path(cache).is_file()                 # replaced by this process's answer


def test_a_host_cache_others_can_write_is_not_trusted(built, tmp_path):
    """A world-writable cache file (a shared SNAP_CACHE_DIR) claiming another machine: were it
    believed, the image would be refused as built elsewhere (or, claiming more CPU features
    than this one has, its code would be chosen for them)."""
    d, images = built
    cache = tmp_path / "cache"
    cache.mkdir()
    path = _host_cache_path(cache)
    import llvmlite
    boot = path.name[len("host-"):-len(".txt")]
    path.write_text("\n".join(["snap-host 1", boot, llvmlite.__version__, "sparc-sun-solaris", "avx"]))
    path.chmod(0o666)
    env = clean_env(FK_K="1", PYTHONPATH=str(APPS), SNAP_CACHE_DIR=str(cache), SNAPTEST_FORBID_COMPILE="1")
    p = run([sys.executable, "app.py", str(images["fsmall", "1"]), "fsmall", "-", "-"], cwd=d, env=env)
    assert_ok(p)                                              # served: LLVM was asked, not the file
    assert "SnapWarning" not in p.stderr, p.stderr
    assert "sparc" not in path.read_text() and path.stat().st_mode & 0o777 == 0o600


def test_concurrent_host_cache_writers_never_leave_a_torn_file(tmp_path):
    """Threads of one process writing the cache at once (first installs of several images):
    a reader sees a whole file, one writer's or another's, never a mix or a cut one."""
    from snapshot.image import host
    path = str(tmp_path / "host-x.txt")
    texts = [("line %d\n" % i) * 2000 for i in range(6)]
    stop = threading.Event()
    bad: list[bytes] = []

    def writer(t: str) -> None:
        while not stop.is_set():
            host._write(path, t)

    def reader() -> None:
        whole = {t.encode() for t in texts}
        while not stop.is_set():
            try:
                with open(path, "rb") as f:
                    got = f.read()
            except FileNotFoundError:
                continue
            if got not in whole:
                bad.append(got)
    threads = [threading.Thread(target=writer, args=(t,)) for t in texts] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    stop.wait(1.5)
    stop.set()
    for t in threads:
        t.join()
    assert not bad, f"{len(bad)} torn reads, e.g. {len(bad[0])} bytes"
    assert sorted(os.listdir(tmp_path)) == ["host-x.txt"]     # no temporary file left behind


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_an_image_path_that_is_no_regular_file_warns_and_the_jit_runs(built, tmp_path, kind):
    """SNAP_SYSIMAGE naming a FIFO (an open that waits for a writer forever) or a device
    (/dev/zero: a read that never ends): one warning, the JIT's result, no hang."""
    d, _ = built
    image = tmp_path / "img.so"
    if kind == "fifo":
        os.mkfifo(image)
    else:
        image.symlink_to("/dev/zero")
    p = _app(d, str(image), "fsmall", forbid=False)
    assert_ok(p)
    assert p.stdout.splitlines()[0] == _jit(d, "fsmall")
    assert "not a regular file" in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_copy_sealed_against_writes_even_when_the_kernel_holds_its_pages():
    """``F_SEAL_WRITE`` fails with EBUSY while the kernel holds an extra reference on one of
    the copy's pages (memory pressure: page migration, reclaim; seen as "cannot use image:
    device or resource busy" and a whole run on the JIT with four builds beside it). Here a
    page is held the way the kernel documents it, spliced into a pipe (vmsplice): the copy
    is still sealed -- every write refused -- and nothing fails."""
    import ctypes
    import errno
    import fcntl

    from linker import loader
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                          ctypes.c_long]

    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    fd = loader._sealed_file("pinned.so")
    r, w = os.pipe()
    try:
        os.write(fd, b"\x7fELF" + bytes(8188))
        addr = libc.mmap(None, 8192, 1, 1, fd, 0)                   # PROT_READ, MAP_SHARED
        assert addr not in (None, ctypes.c_void_p(-1).value)
        assert libc.vmsplice(w, ctypes.byref(IoVec(addr, 4096)), 1, 0) == 4096
        libc.munmap(ctypes.c_void_p(addr), ctypes.c_size_t(8192))
        with pytest.raises(OSError) as plain:                       # what the kernel does
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, loader._SEALS)
        assert plain.value.errno == errno.EBUSY
        loader._seal(fd)
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"x", 0)
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 1)
        assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) & fcntl.F_SEAL_SEAL
    finally:
        for f in (fd, r, w):
            os.close(f)
