"""Print the state of each dispatcher of dstate_lib after its calls (plain JIT or image).

With ``--annotations``: the type-annotation records (``get_annotation_info``) too, which
an image answers by compiling on demand (run it without SNAPTEST_FORBID_COMPILE)."""
import sys

import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: any compilation raises)

import dstate_lib


def _try(f):
    try:
        return f()
    except Exception as e:  # noqa: BLE001 - printed: a difference to show
        return f"{type(e).__name__}: {e}"


def _annotation_key(ta) -> str:
    return str((ta.func_id.filename + ':' + str(ta.func_id.firstlineno + 1), ta.signature))


def state(d) -> list[str]:
    out = [f"signatures={d.signatures}",
           f"nopython_signatures={[str(s) for s in d.nopython_signatures]}",
           f"overloads={sorted(map(str, d.overloads))}",
           f"stats={d.stats}",
           # the keys get_annotation_info gives, read as it reads them (no annotation is built)
           f"annotation_keys={_try(lambda: sorted(_annotation_key(c.type_annotation) for c in d.overloads.values()))}",
           f"cache_hits={dict(d._cache_hits)} cache_misses={dict(d._cache_misses)}",
           f"compiled={sorted(map(str, d._compiled_overloads)) if hasattr(d, '_compiled_overloads') else '-'}",
           f"can_compile={d._can_compile}"]
    if "--annotations" in sys.argv:
        out.append(f"annotation_info={_try(lambda: sorted(map(str, d.get_annotation_info().items())))}")
    return out


print(dstate_lib.run())
for name in dstate_lib.DISPATCHERS:
    d = getattr(dstate_lib, name)
    for line in state(d):
        print(name, line)
acc = dstate_lib.Acc
meth = acc.class_type.jit_methods["add"]
for line in state(meth):
    print("Acc.add", line)
