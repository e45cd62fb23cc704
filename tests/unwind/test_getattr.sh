#!/usr/bin/env bash
# test_getattr.sh PROG: PROG's threads call pthread_getattr_np first thing;
# under the shim, with each unwinder, the run must end within 20 s with the
# bare output, and the trace must hold its 4 malloc(1000) calls.
set -u
prog=$1
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
work=$(mktemp -d "${TMPDIR:-/tmp}/lr-getattr.XXXXXX")
trap 'rm -rf "$work"' EXIT
want=$("$prog")
for u in libunwind fp eh libunwind-strict; do
  out=$(LOWRAM_UNWIND=$u timeout 20 "$LOWRAM_BIN" record -o "$work/$u.db" -- "$prog" 2>"$work/$u.err")
  rc=$?
  if [ "$rc" -eq 0 ] && [ "$out" = "$want" ]; then ok "$u: ends, output as bare ($out)"
  else bad "$u: rc $rc (124 = hung), output '$out'"; sed 's/^/     | /' "$work/$u.err"; continue; fi
  n=$("$LOWRAM_BIN" sql "$work/$u.db" "SELECT count(*) FROM allocations WHERE size = 1000 AND kind = 'malloc'")
  if [ "$n" = 4 ]; then ok "$u: the 4 malloc(1000) recorded"; else bad "$u: $n malloc(1000) rows"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
