"""More kinds of Numba code (issue 4): jitclass, cfunc, generators, literal_unroll,
functions made inside functions, one function under two option sets, structref."""
import numpy as np
from numba import cfunc, deferred_type, literal_unroll, njit, optional, types
from numba.experimental import jitclass, structref


@jitclass([("x", types.float64), ("n", types.int64), ("data", types.float64[:])])
class Acc:
    def __init__(self, x, n):
        self.x = x
        self.n = n
        self.data = np.zeros(n)

    def add(self, v):
        self.x += v
        self.data[self.n - 1] = v
        return self.x

    @property
    def double(self):
        return 2.0 * self.x

    @double.setter
    def double(self, v):
        self.x = v / 2.0

    @staticmethod
    def unit():
        return 1.0

    def scaled(self, k):
        return Acc(self.x * k, self.n)


@njit
def use_acc(a, v):
    a.add(v)
    return a.x + a.double + a.unit()


@njit
def make_acc(x):
    a = Acc(x, 3)
    a.add(1.0)
    return a


@cfunc("float64(float64, float64)")
def c_hypot(a, b):
    return np.sqrt(a * a + b * b)


@cfunc(types.int64(types.CPointer(types.int64), types.int64))
def c_sum(ptr, n):
    s = 0
    for i in range(n):
        s += ptr[i]
    return s


@njit
def gen_squares(n):
    for i in range(n):
        yield i * i


@njit
def gen_arr(a):
    s = 0.0
    for v in a:
        s += v
        yield s


@njit
def consume_gen(n):
    t = 0
    for v in gen_squares(n):
        t += v
    return t


@njit
def unroll_sum(tup):
    s = 0.0
    for v in literal_unroll(tup):
        s += len(v) if isinstance(v, str) else v
    return s


def poly(x):
    return x * x + 1.0


poly_fast = njit(fastmath=True)(poly)
poly_plain = njit(poly)


def run_inner(v):
    @njit
    def inner(a):
        return a * 3 + 1
    return inner(v)


@structref.register
class PointTypeT(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class Point(structref.StructRefProxy):
    def __new__(cls, x, y):
        return structref.StructRefProxy.__new__(cls, x, y)

    @property
    def x(self):
        return point_x(self)

    @property
    def y(self):
        return point_y(self)


@njit
def point_x(p):
    return p.x


@njit
def point_y(p):
    return p.y


structref.define_proxy(Point, PointTypeT, ["x", "y"])


@njit
def point_norm2(p):
    return p.x * p.x + p.y * p.y


@njit
def make_point(x):
    return Point(x, x + 1.0)


node_type = deferred_type()


@jitclass([("value", types.int64), ("next", optional(node_type))])
class Node:
    """A self-referential jitclass: its Box accessors box its own type."""

    def __init__(self, value, next):
        self.value = value
        self.next = next

    def length(self):
        n, cur = 0, self
        while cur is not None:
            n += 1
            cur = cur.next
        return n


node_type.define(Node.class_type.instance_type)


@njit
def build_list(n):
    head = Node(0, None)
    for i in range(1, n):
        head = Node(i, head)
    return head
