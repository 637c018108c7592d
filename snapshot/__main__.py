"""``python -m snapshot --sysimage my.so app.py [args]``."""
import sys

from .launch import main

if __name__ == "__main__":
    sys.exit(main())
