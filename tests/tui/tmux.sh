#!/bin/sh
# tmux.sh: `lowram tui` end to end in a real terminal (tmux), on a real
# recording of qrun. Keys go in with send-keys, the screen comes back with
# capture-pane. Asserts: the peak shown is `lowram report`'s, 80x24 fits,
# sort changes the first row, the tree expands, `p` goes to the peak and
# `m` to a marker, `e` writes a CSV that sums to the live bytes, `/`
# filters, a resize redraws to the new width, ASCII mode has no byte above
# 0x7f, and after `q`, an error and SIGINT the shell is back with no
# alternate screen. Prints "N passed, N failed"; exit 1 on any failure.
set -u
LOWRAM=${LOWRAM_BIN:?run through meson test}
QRUN=${QRUN_BIN:-}
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { # check NAME COMMAND...
  name=$1
  shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit $?
}

if ! command -v tmux >/dev/null 2>&1; then
  bad "tmux is not installed (Debian package: tmux; ./run.sh deps installs it)"
  finish
fi
if [ -z "$QRUN" ] || [ ! -x "$QRUN" ]; then
  bad "QRUN_BIN is not set to the qrun runner (built with -Dtests=true)"
  finish
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/lowram-tui-XXXXXX")
sock="lowram-tui-$$"
T() { tmux -L "$sock" -f /dev/null "$@"; }
cleanup() {
  T kill-server 2>/dev/null
  if [ "$fail" -eq 0 ] && [ -z "${LRTEST_KEEP:-}" ]; then rm -rf "$dir"; else echo "kept $dir"; fi
}
trap cleanup EXIT

# ---- a real trace ----
"$QRUN" gen -o "$dir/tiny.bin" --quant q8 >/dev/null 2>&1 || { bad "qrun gen"; finish; }
"$LOWRAM" record -o "$dir/q.db" -- "$QRUN" run -m "$dir/tiny.bin" --seq-len 64 --tokens 16 \
  --threads 1 >"$dir/record.log" 2>&1 || { bad "lowram record qrun (see $dir/record.log)"; finish; }
"$LOWRAM" report "$dir/q.db" >"$dir/report.txt" || { bad "lowram report"; finish; }
peak_bytes=$(sed -n 's/^Peak .* live = \([0-9]*\) bytes.*/\1/p' "$dir/report.txt")
peak_seq=$(sed -n 's/^  at .*, seq \([0-9]*\),.*/\1/p' "$dir/report.txt" | head -1)
mname=$(sqlite3 "$dir/q.db" "SELECT name FROM markers ORDER BY seq LIMIT 1")
echo "report: peak $peak_bytes B at seq $peak_seq; first marker: $mname"

# ---- the terminal ----
T new-session -d -s t -x 80 -y 24 "cd '$dir' && env PS1='tui-test\$ ' LANG=C.UTF-8 NO_COLOR=1 sh"
screen() { T capture-pane -p -t t; }
wait_for() { # wait_for REGEX [SECONDS]
  i=0
  while [ $i -lt $((${2:-10} * 10)) ]; do
    screen | grep -q -- "$1" && return 0
    sleep 0.1
    i=$((i + 1))
  done
  echo "  (timed out waiting for '$1'; screen:)"
  screen | sed 's/^/  | /'
  return 1
}
keys() { T send-keys -t t "$@"; sleep 0.3; }
alt_off() { [ "$(T display -p -t t '#{alternate_on}')" = 0 ]; }
# The rows of the list: the lines between the column header and "Detail".
list_rows() { screen | sed -n '/  blocks  .*sort /,/^Detail/p' | sed '1d;$d' | grep -v '^ *$'; }
first_row() { list_rows | head -1 | sed 's/ *$//'; }
cursor_line() { screen | grep '^Cursor'; }
shows() { screen | grep -q -- "$1"; }
cursor_has() { cursor_line | grep -q -- "$1"; }
# fits W H: H lines, none wider than W, the chart's axis exactly W wide
fits() {
  [ "$(screen | wc -l)" -eq "$2" ] && ! screen | grep -q ".\{$(($1 + 1))\}" &&
    screen | grep -q "^[-|^P]\{$1\}\$"
}

tui() { keys "clear; $LOWRAM tui $* ; echo EXIT:\$?" Enter; }

tui q.db
check "overview drawn" wait_for '^Peak'
check "peak shown equals lowram report's ($peak_bytes B)" shows "^Peak .* = $peak_bytes B"
check "80x24: 24 lines, none wider than 80, axis 80 wide" fits 80 24
check "80x24: tab line" shows '^ lowram  1 overview'
check "80x24: status line" shows 'q quit  ? keys'
check "starts at the peak" cursor_has "seq $peak_seq, .*PEAK"

# sort: bytes -> count -> name; by name the first row changes
before=$(first_row)
keys s
keys s
check "sort by name shown" shows "sort name"
after=$(first_row)
check "sort changes the first row ('$before' -> '$after')" eval '[ -n "$after" ] && [ "$before" != "$after" ]'
keys s
keys s

# the time cursor
keys Home
check "home leaves the peak" eval '! cursor_has PEAK'
keys p
check "p moves to the peak (seq $peak_seq)" cursor_has "seq $peak_seq, .*PEAK"
prev=$(sqlite3 "$dir/q.db" "SELECT name || ' ' || seq FROM markers WHERE seq < $peak_seq ORDER BY seq DESC LIMIT 1")
next=$(sqlite3 "$dir/q.db" "SELECT name || ' ' || seq FROM markers WHERE seq > $peak_seq ORDER BY seq LIMIT 1")
keys M
check "M moves to the marker before the peak ($prev)" cursor_has "seq ${prev#* }, .* in ${prev% *}"
keys p
keys m
check "m moves to the marker after the peak ($next)" cursor_has "seq ${next#* }, .* in ${next% *}"
keys Right
keys Left
check "left/right redraw the cursor line" shows "^Cursor seq"

# CSV of the contributors at the peak, summed back
keys p
keys e
check "e says where it wrote" wait_for 'wrote ./lowram-overview-1.csv'
sum=$(awk -F, 'NR > 1 { s += $2 } END { print s + 0 }' "$dir/lowram-overview-1.csv" 2>/dev/null)
check "CSV parses back: bytes sum to the peak ($sum = $peak_bytes)" [ "$sum" = "$peak_bytes" ]
check "CSV header is export's" sh -c "head -1 '$dir/lowram-overview-1.csv' | grep -q '^key,bytes,share,blocks,'"
keys e
check "a second e never overwrites" wait_for 'wrote ./lowram-overview-2.csv'

# filter
keys / k v _ c a c h e Enter
rows=$(list_rows | wc -l)
kv=$(list_rows | grep -c kv_cache)
check "/ filters to the kv cache rows ($kv of $rows)" eval '[ "$rows" -ge 1 ] && [ "$rows" = "$kv" ]'
keys Escape
rows2=$(list_rows | wc -l)
check "escape clears the filter ($rows2 rows)" [ "$rows2" -gt "$rows" ]

# the call tree
keys t
check "t shows the call tree" shows "top-down tree"
n0=$(list_rows | wc -l)
plus=$(list_rows | grep -n ' + ' | head -1 | cut -d: -f1)
if [ -n "$plus" ]; then
  i=1
  while [ "$i" -lt "$plus" ]; do keys Down; i=$((i + 1)); done
  keys Enter
fi
n1=$(list_rows | wc -l)
check "enter expands a tree node ($n0 -> $n1 rows)" eval '[ -n "$plus" ] && [ "$n1" -gt "$n0" ]'
keys Left
n2=$(list_rows | wc -l)
check "left collapses it again ($n2 rows)" [ "$n2" -eq "$n0" ]
keys t
keys t

# other views and help
keys 2
check "2 shows leaks" wait_for '^Leaks:'
keys 5
check "5 shows phases" shows "^$mname "
keys '?'
check "? shows the keys" wait_for 'Keys'
keys x
keys 1

# resize
T resize-window -t t -x 120 -y 40
sleep 0.5
check "resize to 120x40 redraws to the size" fits 120 40
T resize-window -t t -x 80 -y 24
sleep 0.5
check "back to 80x24" fits 80 24

# q: the shell is back, no alternate screen, the cursor visible
keys q
check "q exits 0" wait_for '^EXIT:0'
check "q: no alternate screen left" alt_off
check "q: the prompt is back" shows "tui-test\\$ *\$"
check "q: cursor visible again" [ "$(T display -p -t t '#{cursor_flag}')" = 1 ]

# ASCII only: no byte above 0x7f anywhere on the screen
keys "clear; LR_ASCII=1 $LOWRAM tui q.db; echo EXIT:\$?" Enter
wait_for '^Peak' >/dev/null
keys t
check "LR_ASCII=1: only ASCII on screen" eval '! screen | LC_ALL=C grep -q "[^ -~]"'
keys q
wait_for '^EXIT:0' >/dev/null
keys "clear; LC_ALL=C LANG=C $LOWRAM tui q.db; echo EXIT:\$?" Enter
wait_for '^Peak' >/dev/null
check "C locale: only ASCII on screen" eval '! screen | LC_ALL=C grep -q "[^ -~]"'
keys q
wait_for '^EXIT:0' >/dev/null

# an error: a missing trace
tui missing.db
check "a missing trace exits 1" wait_for '^EXIT:1'
check "the error names the file" wait_for 'lowram tui: .*missing.db'
check "error: no alternate screen left" alt_off

# SIGINT
tui q.db
wait_for '^Peak' >/dev/null
keys C-c
check "SIGINT exits 130" wait_for '^EXIT:130'
check "SIGINT: no alternate screen left" alt_off
check "SIGINT: the prompt is back" shows "tui-test\\$ *\$"
check "SIGINT: cursor visible again" [ "$(T display -p -t t '#{cursor_flag}')" = 1 ]

finish
