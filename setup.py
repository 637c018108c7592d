"""Installs snap-sysimage.pth next to the packages: the SNAP_SYSIMAGE start-up hook.

Everything else is in pyproject.toml. A .pth line runs at interpreter start-up;
ours imports snapshot.startup only when SNAP_SYSIMAGE (or SNAP_TRAINING_CHILDREN, in the
child processes of `snap create`'s workload) is set.

Two ways in, one per kind of install:
  pip install .     build_py copies the file into build_lib: the wheel's root (purelib).
  pip install -e .  a PEP 660 editable wheel holds no build_lib files, only what
                    editable_wheel writes into the unpacked wheel; the file is put
                    there too (the wheel's root is purelib, where .pth files are read).
`snap doctor` says whether the hook is installed in a given Python.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "snap-sysimage.pth"
HERE = os.path.dirname(os.path.abspath(__file__))


class build_py_with_pth(build_py):
    def run(self):
        super().run()
        if not getattr(self, "editable_mode", False):
            self.copy_file(os.path.join(HERE, PTH), os.path.join(self.build_lib, PTH), preserve_mode=0)

    def get_outputs(self, include_bytecode=1):
        outputs = list(super().get_outputs(include_bytecode))
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [os.path.join(self.build_lib, PTH)]


cmdclass = {"build_py": build_py_with_pth}

try:
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:        # setuptools < 64: no PEP 660 editable installs at all
    editable_wheel = None

if editable_wheel is not None and hasattr(editable_wheel, "_run_build_commands"):
    class editable_wheel_with_pth(editable_wheel):
        # setuptools writes every file of `unpacked_wheel` into the editable wheel;
        # its root is purelib (site-packages), where the interpreter reads .pth files.
        def _run_build_commands(self, dist_name, unpacked_wheel, build_lib, tmp_dir):
            result = super()._run_build_commands(dist_name, unpacked_wheel, build_lib, tmp_dir)
            shutil.copyfile(os.path.join(HERE, PTH), os.path.join(unpacked_wheel, PTH))
            return result

    cmdclass["editable_wheel"] = editable_wheel_with_pth

setup(cmdclass=cmdclass)
