"""Training workload for dargs_lib: runs the app's calls once."""
import os
import runpy

runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dargs_app.py"), run_name="__main__")
