"""Installs snap-sysimage.pth next to the packages: the SNAP_SYSIMAGE start-up hook.

Everything else is in pyproject.toml. A .pth line runs at interpreter start-up;
ours imports snapshot.startup only when SNAP_SYSIMAGE is set.
"""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "snap-sysimage.pth"


class build_py_with_pth(build_py):
    def run(self):
        super().run()
        self.copy_file(PTH, os.path.join(self.build_lib, PTH), preserve_mode=0)

    def get_outputs(self, include_bytecode=1):
        return list(super().get_outputs(include_bytecode)) + [os.path.join(self.build_lib, PTH)]


setup(cmdclass={"build_py": build_py_with_pth})
