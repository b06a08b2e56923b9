# Sourced by every example's run.sh, after it sets `here` (its folder) and `needs` (the modules it imports).
# It checks the Python, makes a fresh output folder and a workspace of the example's own there, and
# defines `thresher` as "$python -m thresher", so that thresher, make_assets.py and thresher's workers
# all run in one Python (the examples' environments name no conda file: see examples/README.md).
#
#   EXAMPLE_SIZE=small|full   how much data to score (default full; the tests use small)
#   EXAMPLE_OUT=DIR           where the assets, the workspace and the download go (default: out/ in the
#                             example's folder, replaced on every run); must be empty or absent
#   PYTHON=PATH               the Python that has thresher and the example's requirements (default: python)

size="${EXAMPLE_SIZE:-full}"
if [[ "$size" != small && "$size" != full ]]; then
  echo "ERROR: EXAMPLE_SIZE is '$size'; it must be small or full." >&2
  exit 2
fi

python="${PYTHON:-python}"
if ! command -v "$python" >/dev/null; then
  echo "ERROR: no '$python' command to run the example with." >&2
  echo "Fix: activate the virtualenv that has thresher (make demo creates .venv), or set PYTHON=/path/to/python." >&2
  exit 1
fi
# find_spec, not import: importing torch alone takes seconds.
missing=$("$python" -c 'import importlib.util, sys; print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))' thresher $needs)
if [[ -n "$missing" ]]; then
  echo "ERROR: $("$python" -c 'import sys; print(sys.executable)') cannot import: $missing." >&2
  if [[ " $missing " == *" thresher "* ]]; then
    echo "Fix: activate the virtualenv that has thresher (make demo creates .venv), or set PYTHON=/path/to/its/python." >&2
  else
    echo "Fix: $python -m pip install -r ${here#"$PWD/"}/requirements.txt" >&2
  fi
  exit 1
fi

thresher() { "$python" -m thresher "$@"; }

if [[ -z "${EXAMPLE_OUT:-}" ]]; then
  out="$here/out"
  rm -rf "$out"
else
  out="$(realpath -m "$EXAMPLE_OUT")"
  if [[ -n "$(ls -A "$out" 2>/dev/null)" ]]; then
    echo "ERROR: EXAMPLE_OUT=$EXAMPLE_OUT is not empty, and the example writes a fresh workspace there." >&2
    echo "Fix: give a new or empty folder, or leave EXAMPLE_OUT unset to use $here/out." >&2
    exit 1
  fi
fi
mkdir -p "$out"
# A workspace of the example's own: never ./.thresher, the user's THRESHER_HOME or database.
export THRESHER_HOME="$out/.thresher"
unset THRESHER_DATABASE_URL
cd "$here"
