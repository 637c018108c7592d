"""The per-boot cache of LLVM's answers about this host (snapshot/image/host.py).

Activation needs the process triple and the CPU features before it may run an
image's code; the first process of a boot asks LLVM and writes them down, the
others read the file. These tests prove the file is written with what LLVM
says, that activation really decides from it (a file claiming a missing feature
gets the image refused, the program still runs on the JIT), that a damaged,
foreign, older-format or old-boot file is replaced, and that SNAP_CACHE_DIR=0 writes nothing.
"""
from __future__ import annotations

from pathlib import Path

import llvmlite
import llvmlite.binding as ll

from conftest import assert_ok, clean_env, snap

BOOT = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
FEATURES = {f for f, on in ll.get_host_cpu_features().items() if on}


def _run(image: Path, cache: Path | str, **env: str):
    return snap("run", "--sysimage", str(image), "kinds_app.py",
                env=clean_env(SNAP_CACHE_DIR=str(cache), **env))


def _doc(enabled, **over) -> str:
    """The cache file's text: magic, boot id, llvmlite version, triple, features."""
    f = {"magic": "snap-host 1", "boot_id": BOOT, "llvmlite": llvmlite.__version__,
         "triple": ll.get_process_triple(), "features": " ".join(sorted(enabled)), **over}
    return "\n".join([f["magic"], f["boot_id"], f["llvmlite"], f["triple"], f["features"]])


def _features(path: Path) -> set[str]:
    magic, boot, version, triple, features = path.read_text().split("\n")
    assert (magic, boot, version, triple) == ("snap-host 1", BOOT, llvmlite.__version__,
                                              ll.get_process_triple())
    return set(features.split())


def _required_feature(image: Path) -> str:
    data = image.read_bytes()
    start = data.index(b'"features":["') + len(b'"features":["')
    return data[start:data.index(b'"', start)].decode()


def test_first_activation_writes_what_llvm_says(kinds_image, kinds_reference, tmp_path):
    p = _run(kinds_image, tmp_path, SNAP_STRICT="1")
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]
    assert _features(tmp_path / f"host-{BOOT}.txt") == FEATURES
    assert [f.name for f in tmp_path.iterdir()] == [f"host-{BOOT}.txt"]     # no temp file left


def test_activation_decides_from_this_boots_file(kinds_image, kinds_reference, tmp_path):
    feature = _required_feature(kinds_image)
    (tmp_path / f"host-{BOOT}.txt").write_text(_doc(FEATURES - {feature}))
    p = _run(kinds_image, tmp_path)
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]           # refused image: the JIT ran it
    assert f"this CPU lacks features the image needs: {feature}" in p.stderr, p.stderr
    strict = _run(kinds_image, tmp_path, SNAP_STRICT="1")
    assert strict.returncode != 0 and feature in strict.stderr


def test_damaged_foreign_or_old_files_are_replaced(kinds_image, kinds_reference, tmp_path):
    path = tmp_path / f"host-{BOOT}.txt"
    old_boot = tmp_path / "host-00000000-0000-0000-0000-000000000000.txt"
    older_format = tmp_path / f"host-{BOOT}.json"
    feature = _required_feature(kinds_image)
    for content in (b"\x00\xff not text", _doc(FEATURES, llvmlite="0.0.0").encode(),
                    _doc(FEATURES, magic="snap-host 0").encode(), _doc(FEATURES, triple="").encode(),
                    (_doc(FEATURES) + "\nan extra line").encode(),
                    _doc(FEATURES - {feature}, boot_id="someone else").encode()):
        path.write_bytes(content)
        old_boot.write_text(_doc(set()))
        older_format.write_text("{}")
        p = _run(kinds_image, tmp_path, SNAP_STRICT="1")
        assert_ok(p)
        assert p.stdout == kinds_reference["base"]
        assert _features(path) == FEATURES
        assert not old_boot.exists() and not older_format.exists()


def test_snap_cache_dir_0_writes_nothing(kinds_image, kinds_reference, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    p = _run(kinds_image, "0", SNAP_STRICT="1", HOME=str(home), XDG_CACHE_HOME=str(home / "xdg"))
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]
    assert list(home.iterdir()) == []
