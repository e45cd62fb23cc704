#!/usr/bin/env bash
# docs/foreign_picture.sh BUILD: the README's real-program example, made again.
# Records the numpy recipe (tests/suggest/numpy_infer.py: the attention
# with a KV cache that on-device guides copy, Debian's python3-numpy) at
# batch 16 x seq 128, writes the text report to docs/numpy_report.txt and
# the HTML page's screenshot (Debian's chromium, headless) to
# docs/numpy_report.png. Needs ./run.sh deps (python3-numpy, chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
lowram=$build/cli/lowram
[ -x "$lowram" ] || { echo "docs/foreign_picture.sh: no $lowram (build first)" >&2; exit 2; }
python=/usr/bin/python3 # Debian's, where python3-numpy is installed
"$python" -c 'import numpy' 2>/dev/null ||
  { echo "docs/foreign_picture.sh: python3-numpy is not installed (./run.sh deps)" >&2; exit 2; }
command -v chromium >/dev/null ||
  { echo "docs/foreign_picture.sh: chromium is not installed (./run.sh deps)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$PWD
lowram=$root/$lowram
# run where the trace and the script are, so the report names them shortly
cp tests/suggest/numpy_infer.py "$work/"
cd "$work"
"$lowram" record -o numpy.db -- "$python" numpy_infer.py 16 128 >/dev/null 2>record.log
"$lowram" report numpy.db --top 8 >"$root/docs/numpy_report.txt"
"$lowram" html numpy.db -o numpy.html
timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --window-size=1280,1000 --virtual-time-budget=5000 \
  --screenshot="$root/docs/numpy_report.png" "file://$work/numpy.html" >/dev/null 2>&1
echo "docs/numpy_report.txt, docs/numpy_report.png"
