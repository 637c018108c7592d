"""Compilations that fail (a typing error the caller expects, as in many of Numba's own tests),
exec'd functions sharing one name (one compiles, one fails), and a sort key made inside a
function (tests/test_coverage_misses.py): each miss must say what it is."""
from numba import njit
from numba.experimental import jitclass
from numba.typed import List


@njit
def add_one(x):
    return x + 1


def generate(line: str):
    """A function exec'd from text, named `bar` like every other one made here."""
    ctx: dict = {}
    exec(f"def bar():\n    x = 1\n    {line}\n    return x\n", ctx)
    return njit(ctx["bar"])


def sort_with_local_key(values):
    @njit
    def key(x):
        return -x
    lst = List(values)
    lst.sort(key=key)
    return list(lst)


def failing(f, *args):
    """The first line of the error compiling ``f`` for ``args`` raises (what a test checks)."""
    try:
        f(*args)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e).splitlines()[0]
    return "no error"


def make_getitem(item):
    """One code, closures over other items (Numba's test_record_dtype): one index is out of range."""
    @njit
    def get(t):
        return t[item]
    return get


@jitclass([])
class Floaty:
    """float() works on it, int() fails to type (Numba's test_jitclasses test_numeric_fallback):
    its type is named after the class's address, another in every process."""
    def __init__(self):
        pass

    def __float__(self):
        return 3.5


@njit
def as_int(x):
    return int(x)
