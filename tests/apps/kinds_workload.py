"""Training workload for kinds_lib: runs the app's calls once."""
import runpy
import os

runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "kinds_app.py"), run_name="__main__")
