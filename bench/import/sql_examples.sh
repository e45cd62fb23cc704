#!/bin/sh
# bench/import/sql_examples.sh: runs every ```sql example of
# schemas/README.md ("Example queries") on a trace with the sqlite3 shell
# and lowram's extension loaded (what `lowram sql TRACE` runs) and prints
# each one's wall time, its first line of SQL and how many rows it answered.
#   bench/import/sql_examples.sh TRACE [README] [TIMEOUT_S]
# LOWRAM (default: lowram on PATH, else build/cli/lowram) finds the
# extension (`lowram sql --ext`).
# README defaults to the schemas/README.md beside this script (give another
# one, e.g. `git show HEAD~1:schemas/README.md > /tmp/old.md`, to time an
# older version of the examples); TIMEOUT_S (default 60) stops a query that
# runs longer and prints "> TIMEOUT_S". The placeholder seq 12345 ("live at
# that moment") is replaced by the trace's meta.peak_heap_seq, as a user
# would after the heap-peak example. A cold page cache is not forced: run it
# twice and read the second to leave the disk out.
# The README's table of times comes from this, on a 10M-event trace of the
# churn program:
#   LOWRAM_SHIM=BUILD/preload/liblowram.so BUILD/cli/lowram record -o /tmp/c10.db \
#     -- BUILD/bench/overhead/malloc_heavy_nofp 5000000
#   bench/import/sql_examples.sh /tmp/c10.db
set -eu
T=${1:?usage: sql_examples.sh TRACE [README] [TIMEOUT_S]}
DOC=${2:-$(dirname "$0")/../../schemas/README.md}
TO=${3:-60}
[ -r "$T" ] || { echo "sql_examples.sh: $T: cannot read" >&2; exit 1; }
[ -r "$DOC" ] || { echo "sql_examples.sh: $DOC: cannot read" >&2; exit 1; }
command -v sqlite3 >/dev/null 2>&1 || { echo "sql_examples.sh: sqlite3 not installed" >&2; exit 1; }
L=${LOWRAM:-$(command -v lowram || echo "$(dirname "$0")/../../build/cli/lowram")}
EXT=$("$L" sql --ext) || { echo "sql_examples.sh: $L sql --ext failed" >&2; exit 1; }
sq() { sqlite3 -readonly -cmd ".load $EXT" "$@"; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lr-sqlex.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

seq=$(sq "$T" "SELECT value FROM meta WHERE key = 'peak_heap_seq'")
# one file per example, in order
awk -v dir="$TMP" '/^```sql$/ { n++; f = sprintf("%s/q%02d.sql", dir, n); on = 1; next }
  /^```/ { on = 0 } on { print > f }' "$DOC"
printf '%-3s %9s %7s  %s\n' '#' seconds rows 'example (first line)'
for f in "$TMP"/q*.sql; do
  sed "s/12345/${seq:-0}/g" "$f" > "$f.run"
  s=$(date +%s.%N)
  if timeout "$TO" sqlite3 -readonly -cmd ".load $EXT" "$T" < "$f.run" > "$f.out" 2>"$f.err"; then
    e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc)
    rows=$(wc -l < "$f.out")
  else
    rc=$?
    if [ "$rc" = 124 ]; then t="> $TO"; rows=-; else t=failed; rows=$(head -c 60 "$f.err"); fi
  fi
  n=$(basename "$f" .sql | sed 's/^q0*//')
  printf '%-3s %9s %7s  %s\n' "$((n - 1))" "$t" "$rows" "$(grep -v '^ *$' "$f" | head -1 | cut -c1-60)"
done
