"""No cyclic GC pass while snap activates an image: process-wide, right under threads and fork.

Why pause at all: importing numba leaves about a million long-lived objects, and a full
collection that snap's own allocations happen to trigger before activation moves them out
of the collector's sight (``gc.freeze``, runtime/activation.py) scans them all (10-80 ms).
Activation, and importing snap's runtime on the way to it, therefore run with the
collector off; in a process the start-up hook serves, so does numba's own import (it
leaves no cyclic garbage, and the collections its allocations trigger cost ~6% of it). First calls do not pause it: after the freeze a collection is cheap
(measured: about 0.1 ms over 120 first calls), and pausing only moved a due collection
to the program's next allocation.

The collector's switch is one per process, while sections may be opened by several
threads at once (libraries activating their images from threads, the start-up hook):
each open section is counted under a lock, the collector is switched off when the first
one opens and back on when the last one closes -- only if it was on when the first one
opened: a program that turned it off keeps it off, one that turns it on meanwhile keeps
it on. (One that turns it off from another thread while a section is open gets it back
on: the switch cannot tell who turned it off. Sections are a few ms, once per image.)
A child forked while another thread had a section open does not inherit it.

Plain functions, not a context manager: creating an object could itself trigger the
collection the section avoids.
"""
from __future__ import annotations

import gc
import os
import threading

_lock = threading.Lock()
_open: dict[int, int] = {}     # thread ident -> sections it has open now
_restore = False               # the collector was on when the first open section opened


def pause() -> None:
    """Open a section (pair with ``resume()`` in a ``finally``)."""
    global _restore
    me = threading.get_ident()
    with _lock:
        if not _open:
            _restore = gc.isenabled()
            gc.disable()
        _open[me] = _open.get(me, 0) + 1


def resume() -> None:
    """Close the section this thread opened last; the collector back on if it was the last
    open section and the collector was on when the first one opened."""
    me = threading.get_ident()
    with _lock:
        n = _open.pop(me, 0) - 1
        if n > 0:
            _open[me] = n
        elif not _open and _restore:
            gc.enable()


def _after_fork_in_child() -> None:
    """Only the forking thread exists in the child: sections other threads had open are
    closed (the collector back on if it was on), and the lock, maybe held by one of them at
    the fork, is made new."""
    _lock._at_fork_reinit()
    others = {t for t in _open if t != threading.get_ident()}
    if not others:
        return
    for t in others:
        del _open[t]
    if not _open and _restore:
        gc.enable()


os.register_at_fork(after_in_child=_after_fork_in_child)
