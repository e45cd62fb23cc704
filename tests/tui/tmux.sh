#!/bin/sh
# tmux.sh: `lowram tui` end to end in a real terminal (tmux), on a real
# recording of qrun. Keys go in with send-keys, the screen comes back with
# capture-pane. Asserts: the peak shown is `lowram report`'s, 80x24 fits,
# sort changes the first row, the tree expands, `p` goes to the peak and
# `m` to a marker, `e` writes a CSV that sums to the live bytes, `/`
# filters, a resize redraws to the new width, ASCII mode has no byte above
# 0x7f, and after `q`, an error and SIGINT the shell is back with no
# alternate screen. Processes: on a recording of `sh -c 'step; step'` the
# view (7) lists the trace's pids and own peaks, and enter on one makes the
# overview's peak `lowram report --pid`'s. Live: `record --tui` and `tui
# --live SPOOL` on stepalloc (a block every 200 ms) show the peak growing
# between two captures before the program ends, then the trace at its
# name with the peak of a plain `lowram record`, and a clean terminal; q in
# a live record leaves the program running and the trace still comes.
# Prints "N passed, N failed"; exit 1 on any failure.
set -u
LOWRAM=${LOWRAM_BIN:?run through meson test}
QRUN=${QRUN_BIN:-}
STEP=${STEPALLOC_BIN:-}
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


# ---- processes: a run of three (sh and two stepallocs) ----
peak_of() { screen | sed -n 's/^Peak .* = \([0-9]*\) B.*/\1/p'; }
# The live peak once it is above $1: polled (up to 10 s), not after a fixed
# sleep, so a loaded machine that starts the view late still sees the
# program's 30 steps of 200 ms grow it (prints the last value seen).
grows_from() {
  local i=0 v
  while [ $i -lt 50 ]; do
    v=$(peak_of)
    [ -n "$v" ] && [ -n "$1" ] && [ "$v" -gt "$1" ] && break
    sleep 0.2
    i=$((i + 1))
  done
  echo "$v"
}
if [ -n "$STEP" ] && [ -x "$STEP" ] && [ -n "${LOWRAM_SHIM:-}" ]; then
  "$LOWRAM" record -o "$dir/mp.db" -- sh -c "'$STEP' 3 300000 0; '$STEP' 5 400000 0; true" \
    >"$dir/mp.log" 2>&1 || bad "record sh -c (see $dir/mp.log)"
  nproc=$(sqlite3 "$dir/mp.db" "SELECT count(*) FROM processes")
  small=$(sqlite3 "$dir/mp.db" "SELECT pid FROM processes WHERE json_extract(argv, '\$[2]') = '300000'")
  big=$(sqlite3 "$dir/mp.db" "SELECT pid FROM processes WHERE json_extract(argv, '\$[2]') = '400000'")
  small_peak=$("$LOWRAM" report --pid "$small" "$dir/mp.db" | sed -n 's/^Peak .* live = \([0-9]*\) bytes.*/\1/p')
  big_peak=$("$LOWRAM" report "$dir/mp.db" | sed -n 's/^Peak .* live = \([0-9]*\) bytes.*/\1/p')
  echo "processes: $nproc; small pid $small peak $small_peak; big pid $big peak $big_peak"
  tui mp.db
  check "multi-process: the overview shows the highest peak ($big_peak B)" wait_for "^Peak .* = $big_peak B"
  check "the run line names the process shown and the count" shows "^Run of $nproc processes .*pid $big"
  keys 7
  check "7 shows the processes view" wait_for '^Processes: '
  # rows: between the column header and Detail
  prows() { screen | sed -n '/own peak .*pid exec/,/^Detail/p' | sed '1d;$d' | grep -v '^ *$'; }
  n=$(prows | wc -l)
  check "one row per process ($n = $nproc)" [ "$n" = "$nproc" ]
  ok_pids=1
  for pid in $(sqlite3 "$dir/mp.db" "SELECT pid FROM processes"); do
    prows | grep -q " $pid " || ok_pids=0
  done
  check "every pid of the trace listed" [ "$ok_pids" = 1 ]
  first_child=$(prows | sed -n 2p)
  check "the highest peak first among siblings (row 2: pid $big)" eval 'echo "$first_child" | grep -q " $big "'
  check "the shown process is marked" eval 'prows | grep -q "^\* .* $big "'
  line=$(prows | grep -n " $small " | cut -d: -f1)
  i=1
  while [ "$i" -lt "${line:-1}" ]; do keys Down; i=$((i + 1)); done
  keys Enter
  check "enter: the status says pid $small is shown" wait_for "showing pid $small"
  keys 1
  check "overview peak becomes lowram report --pid $small's ($small_peak B)" wait_for "^Peak .* = $small_peak B"
  check "the run line names pid $small" shows "shown: pid $small "
  keys P
  check "P shows the processes view, the new process marked" eval 'prows | grep -q "^\* .* $small "'
  keys q
  check "processes: q exits 0" wait_for '^EXIT:0'

  # ---- live: record --tui ----
  "$LOWRAM" record -o "$dir/plain.db" -- "$STEP" 30 100000 200 >/dev/null 2>&1
  plain_peak=$(sqlite3 "$dir/plain.db" "SELECT max(peak) FROM processes")
  keys "clear; $LOWRAM record --tui -o live.db -- '$STEP' 30 100000 200; echo EXIT:\$?" Enter
  check "record --tui: LIVE in the status line" wait_for '^LIVE [0-9]* events'
  check "record --tui: says where the output goes" shows "output: live.log"
  wait_for '^Peak' >/dev/null
  p1=$(peak_of)
  p2=$(grows_from "$p1")
  check "record --tui: the peak grows while it runs ($p1 -> $p2 B)" eval '[ -n "$p1" ] && [ -n "$p2" ] && [ "$p2" -gt "$p1" ]'
  check "record --tui: the process is running" shows "ended: running"
  check "record --tui: ends as the ordinary browser" wait_for 'ended (exit 0): the trace is live.db' 15
  check "record --tui: no LIVE once ended" eval '! shows "^LIVE"'
  check "record --tui: the final peak on screen ($plain_peak B)" shows "^Peak .* = $plain_peak B"
  keys q
  check "record --tui: q exits with the program's status 0" wait_for '^EXIT:0'
  check "record --tui: no alternate screen left" alt_off
  check "record --tui: cursor visible again" [ "$(T display -p -t t '#{cursor_flag}')" = 1 ]
  check "record --tui: the summary after the browser" shows 'lowram record: live.db: 1 process'
  live_peak=$(sqlite3 "$dir/live.db" "SELECT max(peak) FROM processes" 2>/dev/null)
  check "record --tui: the trace equals a plain record's (peak $live_peak = $plain_peak)" [ "$live_peak" = "$plain_peak" ]
  check "record --tui: the program's output in live.log" grep -q 'block 30 of 100000 bytes' "$dir/live.log"
  check "record --tui: no temporary trace left beside it" eval '[ -z "$(ls "$dir" | grep -e import -e "^live.*spool")" ]'

  # q while live: the program keeps running, the trace still comes
  keys "clear; $LOWRAM record --tui -o bg.db -- '$STEP' 8 100000 200; echo EXIT:\$?" Enter
  wait_for '^LIVE' >/dev/null
  keys q
  check "q while live: says the program keeps running" wait_for 'left the live view; .* keeps running'
  check "q while live: no alternate screen" alt_off
  check "q while live: record returns when the program ends" wait_for '^EXIT:0' 15
  bg_peak=$(sqlite3 "$dir/bg.db" "SELECT max(peak) FROM processes" 2>/dev/null)
  check "q while live: the trace is imported (peak $bg_peak B)" [ "${bg_peak:-0}" -ge 800000 ]

  # ---- live: tui --live SPOOL of a preloaded program ----
  ( cd "$dir" && LD_PRELOAD=$LOWRAM_SHIM LOWRAM_OUT=$dir/pre.db "$STEP" 30 100000 200 >/dev/null 2>&1 ) &
  bgpid=$!
  i=0
  while [ ! -s "$dir/pre.db.spool" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  tui --live pre.db.spool
  check "--live: LIVE in the status line" wait_for '^LIVE [0-9]* events'
  wait_for '^Peak' >/dev/null
  p1=$(peak_of)
  p2=$(grows_from "$p1")
  check "--live: the peak grows while it runs ($p1 -> $p2 B)" eval '[ -n "$p1" ] && [ -n "$p2" ] && [ "$p2" -gt "$p1" ]'
  check "--live: ends as the ordinary browser" wait_for 'the run ended: its trace is pre.db' 15
  wait "$bgpid"
  pre_peak=$(sqlite3 "$dir/pre.db" "SELECT max(peak) FROM processes" 2>/dev/null)
  check "--live: the trace at the spool's name ($pre_peak B)" [ "${pre_peak:-0}" -ge 1400000 ]
  check "--live: the final peak on screen" shows "^Peak .* = $pre_peak B"
  keys q
  check "--live: q exits 0" wait_for '^EXIT:0'
  check "--live: no alternate screen left" alt_off
else
  bad "STEPALLOC_BIN or LOWRAM_SHIM not set: processes and live tests not run"
fi

finish
