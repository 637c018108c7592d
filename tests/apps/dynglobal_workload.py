"""Training run for dynglobal_lib: every function, including the unservable one."""
import sys

import dynglobal_app

sys.argv[1:] = ["--all"]
dynglobal_app.main()
