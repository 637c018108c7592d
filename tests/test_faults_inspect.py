"""snap info / check / doctor on hostile files: bounded, regular files only, nothing run, output escaped.

They promise to read any file safely. Here the file is a FIFO named like an image, a
symlink to /dev/zero, a sparse file of 4 GiB, a manifest nesting JSON 900 and 5000 deep,
manifest strings carrying terminal control sequences (clear the screen, a fake "ok"
line, bidi overrides, C1 controls, a lone surrogate), module names that would make the
import system run installed code (a meta path finder asked about "distutils"), and ~200
truncations and corruptions of a real image. Each must give a one-line refusal or a
report, never a hang, a traceback, an import, an unpickle or a raw control character.

Hostile images are made with snap's own linker (a real image: the manifest and payload
sections are whatever the test wants) from a real image's manifest.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import random
import resource
import sys
from pathlib import Path

import pytest

import linker
from conftest import assert_ok, clean_env, run, snap_exe
from imagetools import reseal
from linker_util import emit
from snapshot.errors import SnapError
from snapshot.image.manifest import MAGIC, MANIFEST_SECTION, PAYLOAD_SECTION, Dep, Manifest
from snapshot.image.payload import pack_payloads

LIB = '''\
from numba import njit


@njit
def add(a, b):
    return a + b
'''
INIT = '''\
import os
if os.environ.get("SNAPTEST_IMPORT_MARKER"):
    open(os.environ["SNAPTEST_IMPORT_MARKER"], "w").close()
'''
WORKLOAD = "from pkgq import lib\nlib.add(1, 2)\nlib.add(1.5, 2.5)\n"

# what a terminal acts on: ESC (clear screen, colours), CR (overwrite the line), BEL, a C1 CSI,
# a bidi override (text shown reversed), a line separator, a lone surrogate (cannot be encoded)
HOSTILE = "\x1b[2J\x1b[H\r\x07\x9b31m\u202eko :kcehc\u2028\ud800"
RAW = ("\x1b", "\r", "\x07", "\x9b", "\u202e", "\u2028")
FAKE_OK = "\nok: everything is fine\n"

LIMITS = 3 << 30     # address space of the snap processes here: a runaway read fails, not the machine


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMITS, LIMITS))


def snap(*args: str, env: dict | None = None, timeout: float = 60, cwd=None):
    import subprocess
    return subprocess.run([snap_exe(), *args], env=env or clean_env(), capture_output=True,
                          timeout=timeout, preexec_fn=_limited, cwd=cwd)


def one_line_error(p, what: str, needle: str) -> str:
    """The command refused with exactly one line (the rc, no traceback) naming ``needle``."""
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    assert p.returncode == 1, (p.returncode, out[-2000:], err[-3000:])
    assert "Traceback" not in out + err, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"snap {what} failed:"), err[-3000:]
    assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """(image, source tree) of pkgq.lib, built once."""
    root = tmp_path_factory.mktemp("faultsinspect")
    src = root / "src"
    (src / "pkgq").mkdir(parents=True)
    (src / "pkgq" / "__init__.py").write_text(INIT)
    (src / "pkgq" / "lib.py").write_text(LIB)
    (src / "run.py").write_text(WORKLOAD)
    image = root / "img.so"
    p = run([snap_exe(), "create", "-q", "-w", "run.py", "-o", str(image)], cwd=src)
    assert_ok(p)
    return image, src


def manifest_of(image: Path) -> Manifest:
    with linker.ImageFile.open(image) as img:
        return Manifest.from_bytes(img.section(MANIFEST_SECTION))


def forge_image(path: Path, manifest: bytes, payload: bytes = b"") -> Path:
    """A real image (snap's linker, checksum and all) holding ``manifest`` and ``payload``."""
    obj = emit("define i64 @snaptest_f(i64 %x) {\n  ret i64 %x\n}\n")
    path.write_bytes(linker.link([obj], sections={MANIFEST_SECTION: manifest, PAYLOAD_SECTION: payload}))
    return path


def splice_header(manifest: bytes, old: bytes, new: bytes) -> bytes:
    """The manifest with ``old`` replaced by ``new`` in its header (its length rewritten)."""
    start = len(MAGIC) + 8
    n = int(manifest[len(MAGIC):start])
    header = manifest[start:start + n]
    assert old in header
    header = header.replace(old, new, 1)
    return MAGIC + b"%08d" % len(header) + header + manifest[start + n:]


# ------------------------------------------------------------ files that are not images
def test_fifo_named_like_an_image_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "img.so"
    os.mkfifo(fifo)
    for args in (["info"], ["info", "--json"], ["check"], ["check", "--deep"]):
        one_line_error(snap(*args, str(fifo), timeout=30), args[0], "is a FIFO, not a regular file")


def test_symlink_to_dev_zero_is_refused_not_read(tmp_path):
    link = tmp_path / "img.so"
    link.symlink_to("/dev/zero")
    for args in (["info"], ["check", "--json"]):
        one_line_error(snap(*args, str(link)), args[0], "is a character device, not a regular file")


def test_huge_file_is_refused_before_it_is_read(real, tmp_path):
    """An image's first bytes followed by 4 GiB (sparse): its ELF headers say how long it is."""
    image, _ = real
    huge = tmp_path / "huge.so"
    with open(huge, "wb") as f:
        f.write(image.read_bytes())
        f.truncate(4 << 30)
    for args in (["info"], ["check"]):
        line = one_line_error(snap(*args, str(huge)), args[0], "ELF headers")
        assert str(4 << 30) in line


# ------------------------------------------------------------ manifests that are hostile
@pytest.mark.parametrize("depth", [900, 5000])
def test_deeply_nested_manifest_is_one_line(real, tmp_path, depth):
    image, _ = real
    m = manifest_of(image)
    raw = m._replace(build={**m.build, "deep": "@@DEEP@@"}).to_bytes()
    raw = splice_header(raw, b'"@@DEEP@@"', b"[" * depth + b"]" * depth)
    forged = forge_image(tmp_path / "deep.so", raw)
    for args in (["info"], ["info", "--json"], ["check"], ["check", "--json"], ["check", "--deep"]):
        one_line_error(snap(*args, str(forged)), args[0], "nested")


def _poisoned(real, tmp_path) -> Path:
    image, _ = real
    m = manifest_of(image)
    e = m.entries[0]
    deps = [Dep("pkgq" + HOSTILE, "add", e.code), Dep("x\x1b[2J", "y" + HOSTILE, "z")]
    entries = [e._replace(qualname="add" + HOSTILE, signature="(int64) -> int64" + FAKE_OK + HOSTILE,
                          deps=deps), *m.entries[1:]]
    forged = m._replace(
        entries=entries,
        fingerprint={**m.fingerprint, "python": m.fingerprint["python"] + HOSTILE},
        cpu={**m.cpu, "name": "skylake" + HOSTILE},
        skipped=[m.skipped[0]._replace(reason=HOSTILE)] if m.skipped else [],
        sources=[s._replace(path=s.path + HOSTILE) for s in m.sources],
        build={**m.build, "workloads": ["run.py" + FAKE_OK + HOSTILE]})
    return forge_image(tmp_path / ("evil" + "\x1b[2J" + ".so"), forged.to_bytes())


def test_control_characters_in_a_manifest_never_reach_the_terminal(real, tmp_path):
    forged = _poisoned(real, tmp_path)
    for args in (["info"], ["check"], ["check", "--deep"]):
        p = snap(*args, str(forged), env=clean_env(COLUMNS="400"))
        out, err = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")   # (a lone surrogate: not UTF-8)
        assert "Traceback" not in err, err[-3000:]
        assert p.returncode == (0 if args == ["info"] else 1), (args, err)
        for ch in RAW:
            assert ch not in out + err, (args, repr(ch))
        assert "\\x1b[2J" in out and "\\u202e" in out, args           # shown, escaped
        assert not any(line.startswith("ok: everything") for line in out.splitlines()), args
    for args in (["info", "--json"], ["check", "--json"]):
        p = snap(*args, str(forged))
        assert p.returncode == (0 if args[0] == "info" else 1)
        assert p.stdout.isascii() and not any(c < 0x20 and c != 0x0A for c in p.stdout), args
        doc = json.loads(p.stdout)
        assert any(e["function"].endswith("add" + HOSTILE) for e in doc["entries"]), args  # data kept as is


def test_doctor_escapes_what_an_image_says(real, tmp_path):
    """The project's image (pyproject.toml [tool.snap] output) is poisoned: doctor's report of
    it shows the image's strings escaped. (Not SNAP_SYSIMAGE: set, it makes every Python
    process, snap's own included, activate the image at start -- trusted by definition.)"""
    forged = _poisoned(real, tmp_path)
    (tmp_path / "pyproject.toml").write_text(f"[tool.snap]\noutput = {json.dumps(forged.name)}\n")
    p = snap("doctor", cwd=tmp_path)
    out, err = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
    assert "Traceback" not in err, err[-3000:]
    for ch in RAW:
        assert ch not in out + err, repr(ch)
    assert "[tool.snap] output" in out and "\\x1b[2J" in out, out


def test_runtime_warnings_escape_what_an_image_says(real, tmp_path):
    """A program started from the poisoned image: it is refused (built for another Python,
    its name and fingerprint carry control sequences) with a warning whose image strings are
    escaped, and the program still gets the JIT's result."""
    forged = _poisoned(real, tmp_path)
    _, src = real
    p = run([sys.executable, "-c", "from pkgq import lib; print(lib.add(1, 2))"], cwd=src,
            env=clean_env(SNAP_SYSIMAGE=str(forged), PYTHONPATH=str(src)))
    assert_ok(p)
    assert p.stdout.split() == ["3"]
    assert "SnapWarning" in p.stderr and "\\x1b[2J" in p.stderr, p.stderr
    for ch in RAW:
        assert ch not in p.stderr, repr(ch)


# ------------------------------------------------------------ nothing run on the image's say-so
class _Recorder:
    """A meta path finder that notes every name the import system asks it about."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, name, path=None, target=None):
        self.asked.append(name)
        return None


def test_check_asks_no_meta_path_finder_and_imports_nothing(real, tmp_path):
    """Module names from the manifest are looked up with PathFinder over sys.path only: an
    installed meta path finder (setuptools' distutils hack imports 81 modules when asked
    about "distutils") is never run, no package __init__ is, and names that are not module
    names are not looked up at all."""
    from snapshot.inspect.check import check_image
    image, src = real
    m = manifest_of(image)
    e = m.entries[0]
    names = ["distutils", "snaptest_nowhere", "snaptest_nowhere.sub", "pkgq.lib", "../../etc/passwd",
             "a b", "os.path", "", "x." * 300 + "y"]
    forged = forge_image(tmp_path / "names.so", m._replace(
        entries=[e._replace(module=n) for n in names], sources=[]).to_bytes())
    check_image(str(image))        # snap's own lazy imports done: what follows is the names' doing
    marker = tmp_path / "imported"
    os.environ["SNAPTEST_IMPORT_MARKER"] = str(marker)
    rec = _Recorder()
    sys.path.insert(0, str(src))
    sys.meta_path.insert(0, rec)
    before = set(sys.modules)
    try:
        rep = check_image(str(forged))
    finally:
        sys.meta_path.remove(rec)
        sys.path.remove(str(src))
        del os.environ["SNAPTEST_IMPORT_MARKER"]
    new = sorted(set(sys.modules) - before)
    assert not {n.split(".")[0] for n in names} & set(rec.asked), rec.asked
    assert not marker.exists()
    assert not [n for n in new if n.split(".")[0] in ("distutils", "setuptools", "_distutils_hack", "pkgq")], new
    assert rep.entries[3].status != "source missing"          # pkgq.lib found, on sys.path, without importing


def test_inspection_never_unpickles_the_payload(real, tmp_path):
    """The payload is a pickle that creates a file when unpickled: info, check, check --deep
    and doctor read the image and never load it."""
    image, _ = real
    unpickled = tmp_path / "unpickled"
    m = manifest_of(image)
    evil = pack_payloads([pickle.dumps(_Opener(str(unpickled)), protocol=4)] * len(m.entries))
    forged = forge_image(tmp_path / "pickle.so", m.to_bytes(), evil)
    for args in (["info", str(forged)], ["info", "--json", str(forged)], ["check", str(forged)],
                 ["check", "--deep", "--json", str(forged)]):
        p = snap(*args)
        assert "Traceback" not in p.stderr.decode(), p.stderr[-2000:]
        assert not unpickled.exists(), args
    p = snap("doctor", env=clean_env(SNAP_SYSIMAGE=str(forged)), cwd=tmp_path)
    assert "Traceback" not in p.stderr.decode()
    assert not unpickled.exists()


class _Opener:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# ------------------------------------------------------------ fuzz
N_VARIANTS = 200


def _encode(header: dict, entries: list) -> bytes:
    """A manifest framed as Manifest.to_bytes frames it (header length, entry offsets), with
    whatever values the header and entries hold."""
    lines = [json.dumps(e, separators=(",", ":")).encode() for e in entries]
    offsets, at = [], 0
    for line in lines:
        offsets.append(at)
        at += len(line) + 1
    offsets.append(at)
    header = {**header, "offsets": "".join(f"{o:08x}" for o in offsets)}
    head = json.dumps(header, separators=(",", ":")).encode()
    return MAGIC + b"%08d" % len(head) + head + b"\n" + b"\n".join(lines)


def _decode(manifest: bytes) -> tuple[dict, list]:
    start = len(MAGIC) + 8
    n = int(manifest[len(MAGIC):start])
    return json.loads(manifest[start:start + n]), [json.loads(x) for x in manifest[start + n + 1:].split(b"\n")]


_ODD = [None, 0, -1, 2 ** 70, 1.5, True, "", HOSTILE, "x" * 5000, [], {}, ["a", 1], {"a": [1, {"b": None}]},
        json.loads("[" * 40 + "]" * 40)]


def _retyped(rnd: random.Random, header: dict, entries: list) -> bytes:
    """One value somewhere in the manifest replaced by a value of another type or shape."""
    header, entries = json.loads(json.dumps(header)), json.loads(json.dumps(entries))
    root = rnd.choice([header, rnd.choice(entries)])
    node = root
    for _ in range(rnd.randint(1, 3)):          # down a few levels, then replace one value
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        k = rnd.choice(keys)
        if isinstance(node[k], (dict, list)) and node[k] and rnd.random() < 0.6:
            node = node[k]
            continue
        node[k] = rnd.choice(_ODD)
        break
    return _encode(header, entries)


def _variants(data: bytes, seed: int = 29) -> list[tuple[str, bytes]]:
    """Truncations at many offsets, random bytes flipped, bytes overwritten then re-sealed
    (so the checksum passes and the damage reaches the parsers behind it), and manifests
    whose values have another type or shape (linked into a real image)."""
    rnd = random.Random(seed)
    out = []
    man = data.find(MAGIC)
    for i in range(N_VARIANTS):
        kind = i % 5
        b = bytearray(data)
        if kind == 0:
            b = b[:rnd.randrange(len(data))]
        elif kind == 1:
            for _ in range(rnd.randint(1, 8)):
                b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        elif kind == 2:     # in the manifest, re-sealed
            for _ in range(rnd.randint(1, 4)):
                at = man + rnd.randrange(len(data) - man)
                b[at] = rnd.choice(b'{}[]",:\\0123456789 \x00\x1b\xff')
        elif kind == 3:     # anywhere, re-sealed
            at = rnd.randrange(len(b))
            b[at:at + 8] = rnd.randbytes(8)
        else:
            out.append(("retyped", _retyped(rnd, *_manifest_docs(data))))
            continue
        out.append(("truncated" if kind == 0 else "flipped" if kind == 1 else "sealed", bytes(b)))
    return out


def _manifest_docs(data: bytes) -> tuple[dict, list]:
    img = linker.ImageFile("image", -1, data, True)
    return _decode(bytes(img.section(MANIFEST_SECTION)))


def _write(f: Path, kind: str, data: bytes) -> None:
    if kind == "retyped":
        forge_image(f, data)
        return
    f.write_bytes(data)
    if kind == "sealed":
        _crc_reseal(f)


def _crc_reseal(path: Path) -> None:
    try:
        reseal(path)
    except Exception:  # noqa: BLE001 - damage that hides the directory: left as it is
        pass


def test_fuzz_inspection_in_process(real, tmp_path):
    """~200 damaged images through every inspection function and renderer, in this process:
    each either describes the image or raises SnapError (the CLI's one line)."""
    from snapshot import cli
    from snapshot.inspect.check import check_dict, check_image
    from snapshot.inspect.info import info_dict, read_info
    image, _ = real
    f = tmp_path / "fuzz.so"
    outcomes: dict[str, int] = {}
    for n, (kind, data) in enumerate(_variants(image.read_bytes())):
        _write(f, kind, data)
        for step in ("info", "check"):
            sink = io.StringIO()
            try:
                with contextlib.redirect_stdout(sink):
                    if step == "info":
                        inf = read_info(str(f))
                        json.dumps(info_dict(inf), indent=2, sort_keys=True)
                        cli._render_info(inf)
                    else:
                        rep = check_image(str(f), deep=n % 2 == 0)
                        json.dumps(check_dict(rep), indent=2, sort_keys=True)
                        cli._render_check(rep)
                shown = sink.getvalue()
                assert not [ch for ch in RAW if ch in shown], f"variant {n} ({kind}), {step}: raw control text"
                outcome = "described"
            except SnapError as e:
                assert "\n" not in " ".join(str(e).split())
                outcome = "refused"
            except Exception as e:  # noqa: BLE001
                raise AssertionError(f"variant {n} ({kind}), {step}: {type(e).__name__}: {e}") from e
            outcomes[f"{step} {outcome}"] = outcomes.get(f"{step} {outcome}", 0) + 1
    # the damage reached past the checksum: some were described, many refused
    assert outcomes.get("info refused", 0) > 50 and outcomes.get("check refused", 0) > 50, outcomes


def test_fuzz_one_cli_run_per_class_of_damage(real, tmp_path):
    """One subprocess per class of damage (the commands in turn; all three ran on every variant
    in process above): one line or a report, within the timeout."""
    image, _ = real
    data = image.read_bytes()
    chosen: dict[str, bytes] = {}
    for kind, b in _variants(data):
        chosen.setdefault(kind, b)
    commands = (["info"], ["info", "--json"], ["check"])
    for i, (kind, b) in enumerate(chosen.items()):
        f = tmp_path / f"{kind}.so"
        _write(f, kind, b)
        args = commands[i % len(commands)]
        p = snap(*args, str(f), timeout=60)
        err = p.stderr.decode("utf-8", "replace")
        assert "Traceback" not in err, (kind, args, err[-3000:])
        lines = [line for line in err.splitlines() if line.strip()]
        if p.returncode != 0 and not (args[0] == "check" and p.stdout):     # (check: a report)
            assert len(lines) == 1 and lines[0].startswith(f"snap {args[0]} failed:"), (kind, args, err)
