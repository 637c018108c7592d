#!/usr/bin/env bash
# Set up a virtualenv with snap and its test dependencies, then run the test suite.
# Usage: scripts/test.sh [pytest args...]   (fast set; everything: scripts/test.sh -m "slow or not slow")
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SNAP_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check ".[test]"
exec "$VENV/bin/python" -m pytest "$@"
