"""Run time: a process started from an image (``snap run``, ``python -m snapshot``,
``SNAP_SYSIMAGE``, or ``activate()`` called by the program itself).

* ``activation`` -- ``activate(path)``, ``active()`` (the public forms are
  ``snapshot.activate``, ``activate_package``, ``active``);
* ``images`` -- the active images in precedence order: each request asks them in turn;
* ``opened`` -- one image file, checked at activation, mapped at first use;
* ``serving`` -- Numba's compile requests answered from one image;
* ``report`` -- the miss report;
* ``ship`` -- copy an image to workers (Dask, Ray).
"""
from __future__ import annotations

from .activation import activate, active
from .serving import Runtime

__all__ = ["activate", "active", "Runtime"]
