#!/usr/bin/env bash
# snap in one minute, on a fresh machine (needs python3 with venv + pip):
#   1. create a virtualenv (.venv, reused if present) and install snap into it;
#   2. build a system image from the k-means example's training workload;
#   3. run the example app without the image (Numba JIT-compiles everything)
#      and from the image (no compilation), and compare the time to first result.
# Usage: bash scripts/demo.sh          (SNAP_VENV=dir to use another virtualenv)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${SNAP_VENV:-.venv}
SHOWN=$VENV       # as given, for the hints at the end
EXAMPLE=examples/kmeans
# (not kmeans.so: a file named like a module next to it would shadow kmeans.py on import)
IMAGE=$EXAMPLE/kmeans-image.so

# The comparison must start from nothing: no image inherited from the caller,
# no Numba on-disk cache switched on for the example.
unset SNAP_SYSIMAGE SNAP_STRICT SNAP_REPORT KMEANS_NUMBA_CACHE

if [ -t 1 ]; then
    step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else          # a log or a pipe: no terminal escapes
    step() { printf '\n==> %s\n' "$*"; }
fi

step "virtualenv $VENV with snap installed"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# SNAP_VENV may be relative (to the repository) or absolute
case $VENV in /*) ;; *) VENV=$ROOT/$VENV ;; esac
PY=$VENV/bin/python
PIPLOG=$(mktemp)
echo "    installing snap and numba, llvmlite, numpy, lief, typer, rich (up to a minute the first time)"
# pip's own lines go to the log; what it is collecting and installing is shown as it happens
set +e
{ "$PY" -m pip install -q --disable-pip-version-check --upgrade pip &&
  "$PY" -m pip install --disable-pip-version-check --progress-bar off . ; } 2>&1 | tee "$PIPLOG" |
    { grep --line-buffered -E '^(Collecting|Installing collected|Successfully installed)' |
      sed -u -E 's/^(.{0,96}).*/    \1/'; true; }
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    cat "$PIPLOG"; rm -f "$PIPLOG"
    echo "demo: installing snap into $VENV failed (output above)" >&2
    exit 1
fi
rm -f "$PIPLOG"
"$PY" -c 'import numba, llvmlite, sys; print(f"python {sys.version.split()[0]}, numba {numba.__version__}, llvmlite {llvmlite.__version__}")'

step "snap create: run $EXAMPLE/workload.py once, link what it compiled into $IMAGE"
"$VENV/bin/snap" create --workload "$EXAMPLE/workload.py" --output "$IMAGE"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Run the app; show its output (without the machine-readable line); keep the timing.
run_app() {   # run_app NAME CMD...
    local name=$1; shift
    "$@" "$EXAMPLE/app.py" --timing-json >"$TMP/$name.out"
    grep -v '^TIMING ' "$TMP/$name.out" | sed 's/^/    /'
}

step "without the image: python $EXAMPLE/app.py (Numba compiles at first call)"
run_app jit "$PY"

step "with the image: snap run --sysimage $IMAGE $EXAMPLE/app.py"
run_app image "$VENV/bin/snap" run --sysimage "$IMAGE"

step "summary"
"$PY" - "$TMP/jit.out" "$TMP/image.out" <<'EOF'
import json
import sys

def load(path):
    lines = open(path).read().splitlines()
    timing = next(json.loads(l[len("TIMING "):]) for l in lines if l.startswith("TIMING "))
    results = [l for l in lines if l.startswith("  ") and not l.startswith("  served")]
    return timing, results

(jit, jit_res), (img, img_res) = load(sys.argv[1]), load(sys.argv[2])

def ttfx(t):   # process start -> first result (from the app's own start if /proc is unavailable)
    return t["first_result_epoch"] - (t["process_start_epoch"] or t["app_start_epoch"])

a, b = ttfx(jit), ttfx(img)
print(f"    time to first result without image: {a:7.3f} s   (first call {jit['first_call_s']:.3f} s)")
if img["activation_s"] is None:
    print("    the image was NOT used (see the warning above)")
    sys.exit(1)
print(f"    time to first result with image:    {b:7.3f} s   (first call {img['first_call_s']:.3f} s, "
      f"image activation {img['activation_s'] * 1000:.0f} ms)")
print(f"    speed-up: {a / b:.1f}x; results identical: {'yes' if jit_res == img_res else 'NO'}")
sys.exit(0 if jit_res == img_res else 1)
EOF

cat <<EOF

Next: the same image through the start-up hook, command line unchanged:
    SNAP_SYSIMAGE=$IMAGE $SHOWN/bin/python $EXAMPLE/app.py
Edit a function in $EXAMPLE/kmeans.py and run again: it and its callers JIT-compile, with one warning.
What the image holds, and whether it would serve here:
    $SHOWN/bin/snap info $IMAGE;  $SHOWN/bin/snap check $IMAGE
(or put $SHOWN/bin on PATH; numba-snap is the same command, for where snap is another one,
such as Ubuntu's /usr/bin/snap)
EOF
