#!/usr/bin/env bash
# tests/python/test_python.sh BUILD: Python frames beside native stacks
# (issue 13), on Debian's /usr/bin/python3 with python3-numpy, scripts
# unchanged but for lowram.mark/param:
#   1. numpy: `kv = np.ones(n)` in make_kv (line 8) is 8000000 bytes named
#      make_kv prog_numpy.py:8 <- main :21 <- <module> :26, in SQL and as
#      the report's site; bytearray(3000000) (3000001 bytes) is scratch :13;
#      the Python frames sit between the native frames up to the
#      evaluator and _PyEval_EvalFrameDefault (the hybrid stack);
#   2. lowram.mark/param from Python: markers and params rows;
#   3. threads: three workers' bytearrays on three threads, each worker :9
#      <- Thread.run; a fork child's allocation in_child :23 <- <module>;
#   4. nothing kept alive (prog_keep.py): a frame's locals die when it
#      returns after sys.setprofile(None) (no RETURN reaches lowram), and
#      2000 compiled-and-dropped functions' code objects die, as bare; the
#      frames before are named, and an allocation after has no Python frame;
#      a malloc without the GIL (prog_gil.py) is named g :12 < f :16 <
#      <module> :19, on 3.11 g :11 (lines are read under the GIL only there:
#      its line at its last builtin call);
#   5. lowram's sitecustomize does not import threading (gevent must patch
#      it first; prog_threads.py's threads above are hooked at its import);
#      the sitecustomize lowram hides still runs; LOWRAM_PYFRAMES=0 keeps
#      marks but records no Python frame; without the shim lowram.mark is a
#      no-op.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")" && pwd)
lowram=${LOWRAM_BIN:-$build/cli/lowram}
py=/usr/bin/python3
work=$(mktemp -d /tmp/lowram-python-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL python: $*"; exit 1; }
command -v sqlite3 >/dev/null || fail "sqlite3 not found: install the Debian package sqlite3"
"$py" -c 'import numpy' 2>/dev/null || fail "$py has no numpy: install the Debian package python3-numpy"
cp "$src/prog_numpy.py" "$src/prog_threads.py" "$src/prog_keep.py" "$src/prog_gil.py" "$work/"

record() { # DB CMD...
  local db=$1
  shift
  "$lowram" record -o "$db" -- "$@" >"$db.out" 2>"$db.err" ||
    { cat "$db.err"; fail "record $* failed"; }
}
# same WANT GOT WHAT
same() { [ "$1" = "$2" ] || fail "$3: want [$1], got [$2]"; }
q() { "$lowram" sql "$@"; }

# ---- 1. numpy ----
record "$work/np.db" "$py" "$work/prog_numpy.py"
# the Python frames of each buffer, innermost first
pyframes() { # DB SIZE
  q "$1" "SELECT group_concat(fn, ' < ') FROM (SELECT s.function || ' ' || replace(s.file, '$work/', '')
      || ':' || s.line AS fn FROM allocations a JOIN stack_frames s ON s.stack_id = a.stack_id
      WHERE a.size = $2 AND s.module = '[python]' ORDER BY a.id, s.depth)"
}
same "ones /usr/lib/python3/dist-packages/numpy/core/numeric.py:N < make_kv prog_numpy.py:8 < main prog_numpy.py:21 < <module> prog_numpy.py:26" \
  "$(pyframes "$work/np.db" 8000000 | sed 's/numeric.py:[0-9]*/numeric.py:N/')" "np.ones(1000000) frames"
same "scratch prog_numpy.py:13 < main prog_numpy.py:21 < <module> prog_numpy.py:26" \
  "$(pyframes "$work/np.db" 3000001)" "bytearray(3000000) frames"
same 1 "$(q "$work/np.db" "SELECT count(*) FROM allocations WHERE size = 8000000")" "one 8000000-byte block"
# hybrid: native frames (numpy's C code) first, the evaluator right after
# the outermost Python frame, main's C start code at the end
q "$work/np.db" "SELECT s.depth, coalesce(s.function, '?'), s.module FROM allocations a
    JOIN stack_frames s ON s.stack_id = a.stack_id WHERE a.size = 8000000 ORDER BY s.depth" >"$work/np.stack"
first_py=$(awk -F'|' '$3 == "[python]" { print $1; exit }' "$work/np.stack")
last_py=$(awk -F'|' '$3 == "[python]" { d = $1 } END { print d }' "$work/np.stack")
[ "$first_py" -gt 0 ] || { cat "$work/np.stack"; fail "no native frame before the Python frames"; }
same "_PyEval_EvalFrameDefault" "$(awk -F'|' -v d=$((last_py + 1)) '$1 == d { print $2 }' "$work/np.stack")" \
  "the frame after the Python frames"
awk -F'|' -v a="$first_py" '$1 < a && $3 !~ /_multiarray_umath|python3/ { bad = 1 } END { exit bad }' \
  "$work/np.stack" || { cat "$work/np.stack"; fail "native frames before the Python ones not numpy's or CPython's"; }
grep -q '__libc_start_main\|_start' "$work/np.stack" || { cat "$work/np.stack"; fail "native start code lost"; }
# the report's site is the program's own line, with its callers
"$lowram" report "$work/np.db" --top 3 >"$work/np.txt"
awk '/Live at the peak by stack/,/^$/' "$work/np.txt" >"$work/np.rows"
grep -A2 -F "7.63 MiB" "$work/np.rows" | sed 's/^ *[0-9.]* [KMG]*i*B *[0-9.]*% *[0-9]* *//; s/^ *//' | tr '\n' '|' >"$work/np.chain"
same "make_kv prog_numpy.py:8 ([python])|<- main prog_numpy.py:21 ([python])|<- <module> prog_numpy.py:26 ([python])|" \
  "$(cat "$work/np.chain")" "report rows of the np.ones buffer"
grep -qF "scratch prog_numpy.py:13 ([python])" "$work/np.rows" || { cat "$work/np.rows"; fail "bytearray site"; }
# by line: the two sites add up to their exact bytes
"$lowram" report "$work/np.db" --by line --top 40 >"$work/np.byline"
grep -qF "prog_numpy.py:8" "$work/np.byline" || { cat "$work/np.byline"; fail "--by line has no prog_numpy.py:8"; }

# ---- 2. mark and param from Python ----
same "alloc|done" "$(q "$work/np.db" "SELECT group_concat(name, '|') FROM (SELECT name FROM markers ORDER BY seq)")" "markers"
same "dtype||float64;n|1000000|" "$(q "$work/np.db" "SELECT group_concat(name || '|' || coalesce(value_int, '') || '|' || coalesce(value_text, ''), ';') FROM (SELECT * FROM params ORDER BY name)")" "params"
# the buffers were made between the two markers
same 2 "$(q "$work/np.db" "SELECT count(*) FROM allocations WHERE size IN (8000000, 3000001) AND
    alloc_seq > (SELECT seq FROM markers WHERE name = 'alloc') AND
    alloc_seq < (SELECT seq FROM markers WHERE name = 'done')")" "allocations between the markers"

# ---- 3. threads and fork ----
record "$work/th.db" "$py" "$work/prog_threads.py"
for n in 2000001 2000002 2000003; do
  same "worker prog_threads.py:9 < Thread.run threading.py:N < Thread._bootstrap_inner threading.py:N < Thread._bootstrap threading.py:N" \
    "$(pyframes "$work/th.db" $n | sed 's#/usr/lib/python3\.[0-9]*/threading.py:[0-9]*#threading.py:N#g')" "thread buffer $n"
done
same 3 "$(q "$work/th.db" "SELECT count(DISTINCT thread_id) FROM allocations WHERE size BETWEEN 2000001 AND 2000003")" "worker threads"
same "in_child prog_threads.py:13 < <module> prog_threads.py:23" "$(pyframes "$work/th.db" 5000001)" "fork child's frames"
same 2 "$(q "$work/th.db" "SELECT count(*) FROM processes")" "processes"

# ---- 4. nothing kept alive ----
bare=$("$py" "$work/prog_keep.py")
same "code objects of deleted functions still alive: 0 of 2000|Big still alive after return: False" \
  "$(echo "$bare" | tr '\n' '|' | sed 's/|$//')" "prog_keep.py bare"
record "$work/keep.db" "$py" "$work/prog_keep.py"
same "$bare" "$(cat "$work/keep.db.out")" "prog_keep.py under record (bare: $(echo $bare))"
same "Big.__init__ prog_keep.py:21 < f prog_keep.py:25 < <module> prog_keep.py:31" \
  "$(pyframes "$work/keep.db" 6000001)" "frames before setprofile(None)"
same 1 "$(q "$work/keep.db" "SELECT count(*) FROM allocations WHERE size = 4000001")" "one 4000001-byte block"
same "" "$(pyframes "$work/keep.db" 4000001)" "Python frames after setprofile(None)"
record "$work/gil.db" "$py" "$work/prog_gil.py"
gline=12
[ "$("$py" -c 'import sys; print(sys.version_info[:2] == (3, 11))')" = True ] && gline=11
same "g prog_gil.py:$gline < f prog_gil.py:16 < <module> prog_gil.py:19" "$(pyframes "$work/gil.db" 1234567)" \
  "frames of a malloc without the GIL"

# ---- 5. sitecustomize chain, LOWRAM_PYFRAMES=0, no shim ----
mkdir "$work/site"
printf 'import os\nopen(os.environ["CHAIN_MARK"], "w").write("ran")\n' >"$work/site/sitecustomize.py"
CHAIN_MARK=$work/chained PYTHONPATH=$work/site LOWRAM_PYFRAMES=0 record "$work/off.db" "$py" "$work/prog_numpy.py"
same ran "$(cat "$work/chained" 2>/dev/null)" "the hidden sitecustomize ran"
same 0 "$(q "$work/off.db" "SELECT count(*) FROM modules WHERE path = '[python]'")" "[python] frames with LOWRAM_PYFRAMES=0"
same "alloc|done" "$(q "$work/off.db" "SELECT group_concat(name, '|') FROM (SELECT name FROM markers ORDER BY seq)")" "markers with LOWRAM_PYFRAMES=0"
record "$work/nothr.db" "$py" -c 'import sys; print("threading" in sys.modules)'
same False "$(cat "$work/nothr.db.out")" "threading imported by lowram's sitecustomize"
out=$(PYTHONPATH=$build/python "$py" -c 'import lowram; lowram.mark("x"); lowram.param("a", 1); print(lowram.active())')
same False "$out" "lowram.active() without the shim"
echo "ok python"
