#!/bin/sh
# bench/import/same_output.sh: proof that two builds import spools to the same
# trace, for a change meant to make the import faster and nothing else.
#   bench/import/same_output.sh BUILD1 BUILD2 SPOOL|DIR...
# Imports every spool (a DIR is searched for *.spool and fuzz corpus files)
# with each build's `lowram import` and compares `sqlite3 X.db .dump` (every
# table, schema included, byte for byte), or, when the import fails, the exit
# status and the message with the temporary paths taken out. Prints one line
# per difference and a summary; exits 1 if anything differed.
set -u
B1=${1:?usage: same_output.sh BUILD1 BUILD2 SPOOL|DIR...}
B2=${2:?usage: same_output.sh BUILD1 BUILD2 SPOOL|DIR...}
shift 2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lr-same-output.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
n=0 same=0 diff=0 failed=0
one() { # SPOOL
  n=$((n + 1))
  for k in 1 2; do
    eval B=\$B$k
    rm -f "$TMP/$k.db"
    "$B/cli/lowram" import "$1" -o "$TMP/$k.db" >/dev/null 2>"$TMP/$k.err"
    echo "exit $?" >>"$TMP/$k.err"
    sed -i "s|$TMP/||g" "$TMP/$k.err"
    # `lowram sql`: the sqlite3 shell with the store loaded (v3 virtual tables)
    if [ -f "$TMP/$k.db" ]; then "$B/cli/lowram" sql "$TMP/$k.db" .dump >"$TMP/$k.sql"; else : >"$TMP/$k.sql"; fi
  done
  if cmp -s "$TMP/1.sql" "$TMP/2.sql" && cmp -s "$TMP/1.err" "$TMP/2.err"; then
    same=$((same + 1))
    [ -s "$TMP/1.sql" ] || failed=$((failed + 1))
  else
    diff=$((diff + 1))
    echo "DIFFERS: $1"
  fi
}
for a in "$@"; do
  if [ -d "$a" ]; then
    for f in $(find "$a" -type f \( -name '*.spool' -o -path '*corpus*' \) | sort); do one "$f"; done
  else
    one "$a"
  fi
done
echo "$n spools: $same identical ($failed of them failed to import, with the same message), $diff differ"
[ "$diff" = 0 ]
