"""What LLVM says about this host, remembered per boot: the process triple and CPU features.

Every activation must know both before it may run an image's code, and asking
LLVM costs 0.3-0.5 ms in a fresh process (the feature query executes dozens of
``cpuid`` instructions, which trap in a virtual machine) -- a third of
activating a small image. Neither answer can change while the machine runs (a
hypervisor keeps the CPUID it shows a guest fixed, even across migration) nor
for one llvmlite version, so the first process of a boot asks LLVM and writes a
small file of five text lines; the others read it. The file is keyed by the
kernel's boot id and llvmlite's version, lives in the user's cache directory (``SNAP_CACHE_DIR``,
else ``$XDG_CACHE_HOME/snap`` or ``~/.cache/snap``; ``SNAP_CACHE_DIR=0`` turns it
off) and is written atomically (a temporary file of its own, renamed: concurrent
writers never leave a torn file); anything unexpected in it means: ask LLVM.
So does a file this user did not write: not a regular file (a FIFO would block the
open), owned by another user or writable by everyone -- a shared cache directory
must not let others choose the CPU features this process's image code assumes.
``snap check`` and builds always ask LLVM.
"""
from __future__ import annotations

import os
import stat
import sys
from functools import lru_cache
from typing import Any

# x86-64 psABI micro-architecture levels, as LLVM feature names.
_V1 = ("64bit", "cmov", "cx8", "fxsr", "mmx", "sse", "sse2")
_V2 = _V1 + ("cx16", "popcnt", "sahf", "sse3", "sse4.1", "sse4.2", "ssse3")
_V3 = _V2 + ("avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave")
_V4 = _V3 + ("avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl")
LEVELS = {"generic": ("x86-64", _V1), "x86-64": ("x86-64", _V1), "x86-64-v2": ("x86-64-v2", _V2),
          "x86-64-v3": ("x86-64-v3", _V3), "x86-64-v4": ("x86-64-v4", _V4)}

_BOOT_ID = "/proc/sys/kernel/random/boot_id"
_MAGIC = "snap-host 1"           # first line of the cache file


def cache_dir() -> str | None:
    env = os.environ
    d = env.get("SNAP_CACHE_DIR")
    if d is not None:
        return None if d.strip() in ("", "0") else d
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, "snap")


def host_facts() -> tuple[str, frozenset[str]]:
    """(LLVM process triple, enabled CPU features): from this boot's cache file, else from LLVM."""
    import llvmlite
    d = cache_dir()
    try:
        boot = _read(_BOOT_ID).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        boot = ""
    path = os.path.join(d, f"host-{boot}.txt") if d and boot.replace("-", "").isalnum() else None
    if path is not None:
        try:
            # lines: magic, boot id, llvmlite version, triple, features (space-separated);
            # plain lines, not JSON: decoding JSON cost ~40 us on a cold start
            magic, file_boot, version, triple, features = _read(path, own=True).decode("ascii").split("\n")
            if magic == _MAGIC and file_boot == boot and version == llvmlite.__version__ and triple:
                return triple, frozenset(features.split())
        except (OSError, ValueError):     # UnicodeDecodeError is a ValueError
            pass
    triple, features = process_triple(), host_cpu_features()
    if path is not None:
        _write(path, "\n".join([_MAGIC, boot, llvmlite.__version__, triple, " ".join(sorted(features))]))
    return triple, features


def _read(path: str, own: bool = False) -> bytes:
    """The file's first 64 KiB. ``own``: only a regular file of this user that others cannot
    write (else OSError: a miss). Non-blocking open: a FIFO planted there must not hang us."""
    # os-level, binary: a text-mode open() costs ~0.1 ms more on a cold start
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if own:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & stat.S_IWOTH:
                raise OSError(f"{path}: not a cache file of this user")
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def _write(path: str, text: str) -> None:
    """Atomically (write + rename); old boots' files (and older formats') are removed; never an error."""
    d = os.path.dirname(path)
    # a name of its own per call (threads of one process, processes of one machine), created
    # exclusively: never a file or symlink someone else put there, never one another writer
    # is still writing
    tmp = os.path.join(d, f".host-{os.getpid()}-{os.urandom(6).hex()}.tmp")
    created = False
    try:
        os.makedirs(d, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        created = True
        try:
            data = text.encode("ascii")
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
        created = False
        for name in os.listdir(d):
            if (name.startswith("host-") and name.endswith((".txt", ".json"))
                    and name != os.path.basename(path)):
                os.unlink(os.path.join(d, name))
    except (OSError, ValueError):
        if created:
            try:
                os.unlink(tmp)
            except OSError:
                pass


@lru_cache(maxsize=None)
def machine_fingerprint(triple: str | None = None) -> dict[str, str]:
    """What an image's native code and Numba ABI depend on in this process.

    ``triple``: LLVM's process triple when the caller already knows it (host_facts).
    """
    import llvmlite
    import numba
    import numpy
    return {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "python_abi": sys.implementation.cache_tag or "",
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numpy": numpy.__version__,
        "machine": os.uname().machine,      # what platform.machine() says, without importing it (2 ms)
        "system": sys.platform,
        "llvm_triple": triple or process_triple(),
    }


def process_triple() -> str:
    import llvmlite.binding as ll
    return ll.get_process_triple()


def host_cpu() -> tuple[str, frozenset[str]]:
    """Host CPU name and the set of enabled features, as LLVM sees them."""
    import llvmlite.binding as ll
    return ll.get_host_cpu_name(), host_cpu_features()


@lru_cache(maxsize=None)
def host_cpu_features() -> frozenset[str]:
    """The features LLVM finds enabled on this CPU (what activation checks an image against).

    LLVM's "+avx2,-avx512f,..." string read directly: llvmlite's FeatureMap
    parsing and the CPU-name query would double the cost at every activation.
    """
    from llvmlite.binding import ffi
    with ffi.OutputString() as out:
        if not ffi.lib.LLVMPY_GetHostCPUFeatures(out):
            return frozenset()
        text = str(out)
    return frozenset(f[1:] for f in text.split(",") if f.startswith("+"))


def numba_config() -> dict[str, Any]:
    """The Numba settings that change generated code (part of the image fingerprint)."""
    from numba.core import config
    # CPU_NAME / CPU_FEATURES are not here: the image records its CPU target and
    # the features it requires, which is what decides whether it can run here.
    names = ("OPT", "LOOP_VECTORIZE", "SLP_VECTORIZE", "ENABLE_AVX",
             "BOUNDSCHECK", "FASTMATH", "DEBUGINFO_DEFAULT", "NRT_STATS", "DISABLE_JIT",
             "LLVM_REFPRUNE_PASS", "USE_LLVMLITE_MEMORY_MANAGER", "THREADING_LAYER")
    return {n: str(getattr(config, n, None)) for n in names}


def process_fingerprint(triple: str | None = None) -> dict[str, Any]:
    """This process's fingerprint as an image records it: machine, versions, Numba config."""
    return {**machine_fingerprint(triple), "numba_config": numba_config()}
