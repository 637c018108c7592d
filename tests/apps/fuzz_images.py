"""Mutate a real image many ways and activate each mutant in this process.

Every mutant must be refused with a SnapError (checksum, structure, manifest,
payload) or, when the mutation was re-sealed and left the code alone, be usable.
Anything else -- another exception, or this process dying -- is a failure.
Usage: python fuzz_images.py IMAGE COUNT SEED OUTDIR
"""
import random
import sys
import warnings
from pathlib import Path

import numba  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from imagetools import reseal  # noqa: E402

import linker  # noqa: E402
from snapshot.errors import SnapError  # noqa: E402
from snapshot.numba_seam.pickling import loads_entry  # noqa: E402
from snapshot.runtime import Runtime  # noqa: E402


def mutate(data: bytes, rng: random.Random, regions) -> tuple[bytes, bool, str]:
    kind = rng.choice(["flip", "flip", "bytes", "truncate", "insert", "sealed-manifest", "sealed-payload"])
    b = bytearray(data)
    if kind == "flip":
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    elif kind == "bytes":
        for _ in range(rng.randint(2, 16)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == "truncate":
        del b[rng.randrange(len(b)):]
    elif kind == "insert":
        i = rng.randrange(len(b))
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    else:
        lo, hi = regions["snap.manifest" if kind == "sealed-manifest" else "snap.payload"]
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(lo, hi)] = rng.randrange(256)
    return bytes(b), kind.startswith("sealed"), kind


def main() -> int:
    src, count, seed, out = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    data = src.read_bytes()
    img = linker.ImageFile.open(src)
    regions = {}
    for name in ("snap.manifest", "snap.payload"):
        mv = img.section(name)
        off = data.index(bytes(mv))
        regions[name] = (off, off + len(mv))
    rng = random.Random(seed)
    refused = accepted = 0
    warnings.simplefilter("ignore")
    for i in range(count):
        mutant, sealed, kind = mutate(data, rng, regions)
        path = out / f"m{seed}_{i}.so"
        path.write_bytes(mutant)
        if sealed:
            try:
                reseal(path)
            except linker.LinkError:
                pass
        try:
            rt = Runtime(str(path))
            rt.load()                         # mapped as at a first call (False if it cannot be)
        except SnapError:
            refused += 1
            continue
        except Exception as e:  # noqa: BLE001
            print(f"FAIL mutant {i} ({kind}): {type(e).__name__}: {e}")
            return 1
        if not sealed:
            print(f"FAIL mutant {i} ({kind}) was accepted without re-sealing")
            return 1
        accepted += 1
        for i in range(len(rt.image.payloads)):   # payload entries unpickle or fail cleanly
            try:
                loads_entry(rt.image.payloads[i])
            except Exception:  # noqa: BLE001
                pass
        path.unlink()
    print(f"ok refused={refused} accepted={accepted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
