"""Small repros of snap bugs found by running Numba's own test suite from an image
(tests/test_suite_regressions.py)."""
import numpy as np
from numba import guvectorize, int32, jit, njit
from numba.experimental import jitclass
from numba.typed import Dict


def two_classes():
    """Two jitclasses of one name and field spec, other code (Numba's test_distinct_classes)."""
    @jitclass([("x", int32)])
    class Foo(object):
        def __init__(self, x):
            self.x = x + 2

        def run(self):
            return self.x + 1

    first = Foo

    @jitclass([("x", int32)])
    class Foo(object):  # noqa: F811
        def __init__(self, x):
            self.x = x - 2

        def run(self):
            return self.x - 1

    return first, Foo


def generator_class():
    """A jitclass generator method yielding arrays (its callee's environment must live)."""
    @jitclass([])
    class Gen(object):
        def __init__(self):
            pass

        def gen(self, niter):
            for i in range(niter):
                yield np.arange(i)

    return Gen


def make_fib():
    """An eagerly compiled closure that recurses through its own (then empty) cell."""
    @jit("i8(i8)", nopython=True)
    def fib(n):
        if n < 2:
            return n
        return fib(n - 1) + fib(n - 2)

    return fib


@njit
def unsafe_cast(k1, v1, k2):
    """Compiling it warns (NumbaTypeSafetyWarning): the warning is part of what the JIT does."""
    d = Dict()
    d[k1] = v1
    return d[k2]


def gufunc_callers():
    """Closures of one factory holding different gufuncs: told apart by the gufunc's function."""
    @guvectorize("(n),()->(n)")
    def add(x, y, res):
        for i in range(x.shape[0]):
            res[i] = x[i] + y

    @guvectorize("(n),()->(n)")
    def sub(x, y, res):
        for i in range(x.shape[0]):
            res[i] = x[i] - y

    def caller_of(g):
        @njit
        def call(x, y, res):
            g(x, y, res)
        return call

    return caller_of(add), caller_of(sub)


def numba_package_closures():
    """Closures made by a factory of a module under ``numba.`` (Numba's shipped tests): its
    code is pinned by Numba's version, its closures' cells are not (numba test_exceptions
    test_raise_nested_nopython served the outer function of one class's raiser for another's); and one of them
    called from a user function, whose served call installs it into its dispatcher as the
    JIT's compilation would (numba test_lists test_list_of_list_ctor read ``signatures``)."""
    from numba.tests.test_exceptions import MyError, UDEArgsToSuper, outer_function, raise_instance
    # outer closures holding a dispatcher each: of one factory, other cells
    first = njit(outer_function(njit(raise_instance(MyError, "message"))))
    second = njit(outer_function(njit(raise_instance(UDEArgsToSuper, "message"))))
    callee = njit(raise_instance(MyError, "callee"))

    @njit
    def caller(i):
        return callee(i) + 1

    return first, second, callee, caller


def overload_callee_state():
    """A jitted function called only from an @overload's implementation (numba
    test_dictobject / test_lists test_mutation_not_carried_single_function read
    ``baz.signatures`` after ``foo()``): its caller's served call installs it into its
    dispatcher, as typing the overload would compile it under the JIT. The overload
    function's closure holds it; Numba's typing finds the overload in its registry."""
    from numba import literally
    from numba.extending import overload

    @njit
    def nop(*args):
        pass

    out = []
    for fn, iv in (nop, None), (literally, {'a': 1, 'b': 2, 'c': 3}):
        @njit
        def baz(x):
            pass

        def bar(z):
            pass

        @overload(bar)
        def ol_bar(z):
            def impl(z):
                fn(z)
                baz(z)
            return impl

        @njit
        def foo():
            x = {'a': 1, 'b': 2, 'c': 3}
            bar(x)
            x['d'] = 4
            return x

        foo()
        out.append((iv, baz.signatures[0][0].initial_value, len(baz.signatures)))
    return out


def numba_test_cases():
    """Tests of Numba's own modules (a pinned package: its code is identified by Numba's
    version), run as they are:

    - test_mutation_not_carried_single_function (dict and list): the two ``foo`` of its
      loop differ only by the closure of the overload function typing their ``bar`` (over
      ``nop`` or ``literally``, and its ``baz``): two entries, each served for its own;
    - TestListSort.test_sort_all_args: four ``<lambda>`` of one method, passed as sort keys,
      share their qualname: each ``_sort`` specialization is served for its own key's code
      (a pinned function made inside another one is told by its code, not its name);
    - TestLiteralStrKeyDict.test_literal_value: the overload function typing ``bar`` holds
      the test's ``self`` in its closure (its state differs in every process): not part of
      ``foo``'s identity, which is served."""
    import os
    import unittest

    from numba.tests.test_dictobject import TestLiteralStrKeyDict, TestTypedDictInitialValues
    from numba.tests.test_lists import TestListInitialValues
    from numba.tests.test_typedlist import TestListSort
    out = []
    for case, name in ((TestTypedDictInitialValues, "test_mutation_not_carried_single_function"),
                       (TestListInitialValues, "test_mutation_not_carried_single_function"),
                       (TestListSort, "test_sort_all_args"),
                       (TestLiteralStrKeyDict, "test_literal_value")):
        result = unittest.TestResult()
        test = case(name)
        # a test's state differs in every process (under a runner: the records of its result
        # object): here, the process id
        test.snap_pid = os.getpid()
        test.run(result)
        out.append((case.__name__, name, result.wasSuccessful(),
                    [str(e[1]).strip().splitlines()[-1][:200] for e in result.failures + result.errors]))
    return out
