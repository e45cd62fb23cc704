#!/usr/bin/env bash
# tests/adb/test_adb.sh BUILD_DIR: tools/lowram-adb against a fake adb
# (tests/adb/fake-adb, on PATH as `adb`) that serves devices from local
# directories; the host's shim records real host programs (qrun, memprog.c)
# "on" them, and the spools are pulled and imported for real. Asserts real
# values: peak bytes and KV-cache bytes by SQL, the facts file's figures,
# lmkd's and the oom-killer's parsed numbers, exact table rows, arguments
# reaching the program byte for byte, and one-line errors. Then, when
# Debian's real adb (package `adb`) is installed, its no-device error.
# shellcheck disable=SC2015  # ok and bad always succeed
# shellcheck disable=SC2016  # the single-quoted \$ and \` are the point
set -u
build=$(cd "${1:?usage: test_adb.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
tool=$src/tools/lowram-adb
lowram=''
for c in "$build/cli/lowram" "$build/analyzer/lowram"; do [ -x "$c" ] && { lowram=$c; break; }; done
shim=$build/preload/liblowram.so
qrun=$build/runner/qrun
[ -n "$lowram" ] || { echo "FAIL: no lowram in $build/cli or $build/analyzer"; exit 1; }
for f in "$shim" "$qrun"; do [ -f "$f" ] || { echo "FAIL: $f not built"; exit 1; }; done
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 (Debian package sqlite3) is needed"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lowram-adb-test-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
ln -s "$src/tests/adb/fake-adb" "$work/bin/adb"
fakepath=$work/bin:$PATH
cc -O2 -g -o "$work/memprog" "$src/tests/adb/memprog.c" || { echo "FAIL: cannot build memprog"; exit 1; }

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
# eq NAME ACTUAL EXPECTED
eq() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }
# has NAME FILE FIXED-STRING
has() { if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1: '$3' not in $(basename "$2"):"; sed 's/^/     | /' "$2" | head -n 20; fi; }
hasline() { if grep -qxF -- "$3" "$2"; then ok "$1"; else bad "$1: no line '$3' in $(basename "$2"):"; sed 's/^/     | /' "$2" | tail -n 5; fi; }
hasnt() { if grep -qF -- "$3" "$2"; then bad "$1: '$3' found in $(basename "$2")"; else ok "$1"; fi; }
# tsv FILE KEY: a value of the facts file
tsv() { [ -f "$1" ] || { echo "<no file $1>"; return; }; awk -F '\t' -v k="$2" '$1 == k {print $2; f = 1} END {if (!f) print "<absent>"}' "$1"; }
sql() { "$lowram" sql "$1" "$2"; }
# the peak of live heap + anonymous mmap bytes (what the report calls the peak)
peak_sql="SELECT coalesce(max(live), 0) FROM (SELECT sum(delta) OVER (ORDER BY seq, delta
          ROWS UNBOUNDED PRECEDING) AS live FROM live_changes WHERE region != 'file')"

# mkdev ROOT SERIAL MODEL MEMTOTAL MEMAVAIL SWAPTOTAL SWAPFREE UID: a fake device
mkdev() {
  local d=$1/$2
  mkdir -p "$d/fs/data/local/tmp" "$d/fs/sys/block/zram0" "$d/fs/dev"
  printf '%b' "[ro.product.model]: [$3]\n" >"$d/props"
  cat >>"$d/props" <<PROPS
[ro.product.manufacturer]: [Google]
[ro.build.version.release]: [14]
[ro.product.cpu.abi]: [x86_64]
[ro.lmk.low]: [1001]
[ro.lmk.swap_free_low_percentage]: [10]
[sys.lmk.minfree_levels]: [18432:0,23040:100,27648:200,32256:250,55296:900,80640:950]
PROPS
  printf 'MemTotal:       %8d kB\nMemFree:          300000 kB\nMemAvailable:   %8d kB\nSwapTotal:      %8d kB\nSwapFree:       %8d kB\n' \
    "$4" "$5" "$6" "$7" >"$d/meminfo"
  echo "$8" >"$d/uid"
  echo 4294967296 >"$d/fs/sys/block/zram0/disksize"
  echo "1234 567 890 0 4096 0 0 0 0" >"$d/fs/sys/block/zram0/mm_stat"
  # stale and foreign lines the tool must ignore
  cat >"$d/logcat.txt" <<'LOG'
1000000000.000   658   658 I lowmemorykiller: Kill 'stale' (1), uid 10137, oom_score_adj 500 to free 1kB rss, 2kB swap; reason: stale
LOG
}

# run ROOT OUT ARGS...: lowram-adb with the fake adb; rc in $rc, output in
# $work/out.txt and $work/err.txt
run() {
  local root=$1 o=$2
  shift 2
  FAKE_ADB_ROOT=$root PATH=$fakepath "$tool" record --out "$o" --lowram "$lowram" --shim "$shim" "$@" \
    >"$work/out.txt" 2>"$work/err.txt" </dev/null
  rc=$?
}
# one_line_error NAME PATTERN: failed with exactly one stderr line holding PATTERN
one_line_error() {
  local n
  n=$(wc -l <"$work/err.txt")
  if [ "$rc" -ne 0 ] && [ "$n" -eq 1 ] && grep -qF -- "$2" "$work/err.txt"; then
    ok "$1: $(cat "$work/err.txt")"
  else
    bad "$1: rc $rc, $n stderr lines, want one with '$2':"; sed 's/^/     | /' "$work/err.txt" | head
  fi
}

# ---------------------------------------------------------------- 1. qrun end to end
R=$work/r1
mkdev "$R" P7SERIAL "Pixel 7" 7850124 3100000 4194300 4000000 0
"$qrun" gen -o "$work/m.qrun" --dim 64 --layers 2 --heads 4 --kv-heads 4 --hidden 128 \
  --vocab 256 --max-seq 128 --quant q4 --seed 7 >/dev/null 2>&1
qargs=(run -m m.qrun --seq-len 64 --prompt-len 8 --tokens 8 --batch 2 --threads 1)
run "$R" "$work/o1" --push "$qrun" --push "$work/m.qrun" --symbols "$build/runner" -- ./qrun "${qargs[@]}"
eq "qrun: lowram-adb exit status" "$rc" 0
T=$work/o1/Pixel_7.db
if [ -f "$T" ]; then
  ok "qrun: trace named after the model: $T"
  eq "qrun: trace ended" "$(sql "$T" "SELECT value FROM meta WHERE key='end_reason'")" exit
  kv=$(sql "$T" "SELECT sum(a.size) FROM allocations a JOIN stack_frames f ON f.stack_id = a.stack_id
                 AND f.depth = 0 WHERE f.function = 'qr_alloc_kv_cache'")
  eq "qrun: KV cache bytes = 2 x layers x seq x kv_dim x batch x 4" "$kv" $((2 * 2 * 64 * 64 * 2 * 4))
  # the same run recorded on the host directly: the same peak to the byte
  (cd "$work" && "$lowram" record -o "$work/host.db" -- "$qrun" "${qargs[@]}" >"$work/host.out" 2>/dev/null)
  hostpeak=$(sql "$work/host.db" "$peak_sql")
  peak=$(sql "$T" "$peak_sql")
  eq "qrun: peak bytes (heap + anon) equal the host's direct recording" "$peak" "$hostpeak"
  [ "$peak" -gt "$kv" ] && ok "qrun: peak $peak > KV cache $kv" || bad "qrun: peak $peak <= KV $kv"
  has "qrun: the report printed, with the peak" "$work/out.txt" "live = $peak bytes"
  if cmp -s "$work/o1/Pixel_7.stdout" "$work/host.out"; then ok "qrun: device stdout = host tokens"
  else bad "qrun: tokens differ from the host's"; fi
else
  bad "qrun: no trace $T:"; sed 's/^/     | /' "$work/err.txt" | head -n 20
fi
F=$work/o1/Pixel_7.db.device.tsv
eq "facts: model" "$(tsv "$F" device.model)" "Pixel 7"
eq "facts: MemTotal" "$(tsv "$F" device.memtotal_kb)" 7850124
eq "facts: MemAvailable" "$(tsv "$F" device.memavailable_kb)" 3100000
eq "facts: SwapTotal" "$(tsv "$F" device.swaptotal_kb)" 4194300
eq "facts: SwapFree" "$(tsv "$F" device.swapfree_kb)" 4000000
eq "facts: zram disksize" "$(tsv "$F" device.zram_disksize)" 4294967296
eq "facts: zram mm_stat" "$(tsv "$F" device.zram_mm_stat)" "1234 567 890 0 4096 0 0 0 0"
eq "facts: lmk minfree levels" "$(tsv "$F" device.lmk_minfree)" "18432:0,23040:100,27648:200,32256:250,55296:900,80640:950"
eq "facts: ro.lmk.low" "$(tsv "$F" device.prop.ro.lmk.low)" 1001
eq "facts: abi" "$(tsv "$F" device.abi)" x86_64
eq "facts: root" "$(tsv "$F" device.root)" adbd
eq "facts: exit status" "$(tsv "$F" run.exit_status)" 0
eq "facts: one spool" "$(tsv "$F" run.spools)" 1
eq "facts: no kill" "$(tsv "$F" kill.by)" "<absent>"
hasnt "facts: the stale canned lmkd line is not taken" "$F" "stale"
[ -f "$R/P7SERIAL/fs/data/local/tmp/lowram/liblowram.so" ] && ok "shim pushed to /data/local/tmp/lowram" || bad "shim not pushed"
left=$(find "$R/P7SERIAL/fs/data/local/tmp/lowram" -maxdepth 1 -name 'run-*' | wc -l)
eq "the device's run directory is removed after the pull" "$left" 0

# ---------------------------------------------------------------- 2. quoting
weird=('a b' "it's" '$HOME' 'x;y' '"dq"' '' 'back\slash' '*' '$(id -u)' '`id`' "tab	in" '~' '-n' '&&' '|' "two
lines")
run "$R" "$work/o2" --env LOWRAM_DEPTH=7 -- printf '<%s>\n' "${weird[@]}"
eq "quoting: exit status" "$rc" 0
printf '<%s>\n' "${weird[@]}" >"$work/want.txt"
if cmp -s "$work/o2/Pixel_7.stdout" "$work/want.txt"; then
  ok "quoting: ${#weird[@]} arguments with spaces, quotes, \$, ;, \`, *, tab, newline reach the program unchanged"
else
  bad "quoting: the program saw:"; diff "$work/want.txt" "$work/o2/Pixel_7.stdout" | sed 's/^/     | /'
fi
eq "quoting: --env reaches the program (LOWRAM_DEPTH)" \
  "$(sql "$work/o2/Pixel_7.db" "SELECT value FROM meta WHERE key='stack_depth'")" 7

# ---------------------------------------------------------------- 3. device states
E=$work/empty; mkdir -p "$E"
run "$E" "$work/o3" -- true
one_line_error "no device" "no device attached"
U=$work/unauth; mkdev "$U" R58M1 "Galaxy A51" 1 1 1 1 2000; echo unauthorized >"$U/R58M1/state"
run "$U" "$work/o3" -- true
one_line_error "unauthorized" "device R58M1 is unauthorized"
echo offline >"$U/R58M1/state"
run "$U" "$work/o3" -- true
one_line_error "offline" "device R58M1 is offline"
run "$R" "$work/o3" --serial NOPE -- true
one_line_error "unknown serial" "device NOPE not attached"

# ---------------------------------------------------------------- 4. root
N=$work/noroot; mkdev "$N" NR1 "Moto G" 3900000 1500000 0 0 2000
run "$N" "$work/o4" --root --push "$work/memprog" -- ./memprog 1000
one_line_error "no root, --root" "root is needed (--root) and missing"
run "$N" "$work/o4" --push "$work/memprog" -- ./memprog 1000
eq "no root, no --root: recorded" "$rc" 0
has "no root: says what is not read" "$work/err.txt" "not root: the kernel oom-killer's lines (dmesg) will not be read"
eq "no root: facts root=no" "$(tsv "$work/o4/Moto_G.db.device.tsv" device.root)" no
eq "no root: peak bytes" "$(sql "$work/o4/Moto_G.db" "$peak_sql")" 1000
touch "$N/NR1/su"
run "$N" "$work/o4" --root -- id -u
eq "su: --root runs the command as root (id -u)" "$(cat "$work/o4/Moto_G.stdout")" 0
eq "su: facts root" "$(tsv "$work/o4/Moto_G.db.device.tsv" device.root)" "su -c"

# ---------------------------------------------------------------- 5. disk full
D=$work/full; mkdev "$D" F1 "Pixel 4a" 5700000 2000000 0 0 0; touch "$D/F1/full"
run "$D" "$work/o5" --push "$work/memprog" -- ./memprog 1000
one_line_error "disk full (df)" "disk full: /data/local/tmp/lowram on the device has 120 KiB free"
[ -e "$D/F1/fs/data/local/tmp/lowram/liblowram.so" ] && bad "disk full: pushed anyway" || ok "disk full: nothing pushed, nothing run"
rm "$D/F1/full"; touch "$D/F1/pushfull"
run "$D" "$work/o5" --push "$work/memprog" -- ./memprog 1000
one_line_error "disk full (push fails)" "disk full: pushing"

# ---------------------------------------------------------------- 6. lmkd kill
K=$work/kill; mkdev "$K" K1 "Pixel 7" 7850124 3100000 4194300 4000000 0
touch "$K/K1/fs/data/local/tmp/kill"
run "$K" "$work/o6" --push "$work/memprog" -- ./memprog 5000000 /data/local/tmp/kill
eq "lmkd: lowram-adb exit status" "$rc" 0
F=$work/o6/Pixel_7.db.device.tsv
eq "lmkd: exit status 137 (SIGKILL)" "$(tsv "$F" run.exit_status)" 137
eq "lmkd: kill.by" "$(tsv "$F" kill.by)" lmkd
eq "lmkd: kill.pid is the run's pid" "$(tsv "$F" kill.pid)" "$(tsv "$F" run.pid)"
eq "lmkd: kill.process" "$(tsv "$F" kill.process)" memprog
eq "lmkd: kill.rss_kb" "$(tsv "$F" kill.rss_kb)" 92212
eq "lmkd: kill.swap_kb" "$(tsv "$F" kill.swap_kb)" 33036
eq "lmkd: kill.oom_score_adj" "$(tsv "$F" kill.oom_score_adj)" 900
eq "lmkd: kill.reason" "$(tsv "$F" kill.reason)" "low watermark is breached and swap is low (free 48000kB < low 51000kB)"
kl=$(tsv "$F" kill.line)
case $kl in *"I lowmemorykiller: Kill 'memprog' ($(tsv "$F" run.pid)), uid 2000, oom_score_adj 900 to free 92212kB rss, 33036kB swap; reason: "*) ok "lmkd: kill.line is the raw line" ;;
  *) bad "lmkd: kill.line '$kl'" ;; esac
tn=$(tsv "$F" kill.time_ns_since_start)
if [[ $tn =~ ^[0-9]+$ ]] && [ "$tn" -gt 0 ] && [ "$tn" -lt 60000000000 ]; then ok "lmkd: kill time $tn ns after start"
else bad "lmkd: kill.time_ns_since_start '$tn'"; fi
hasnt "lmkd: the stale line is not taken" "$F" "stale"
T=$work/o6/Pixel_7.db
eq "lmkd: trace ended killed" "$(sql "$T" "SELECT value FROM meta WHERE key='end_reason'")" killed
eq "lmkd: peak bytes (live at the kill)" "$(sql "$T" "$peak_sql")" 5000000
nsp=$(tsv "$F" run.spools)
nch=$(sql "$T" "SELECT count(*) FROM processes")
if [ "$nsp" -ge 2 ] && [ "$nch" -eq "$nsp" ]; then ok "lmkd: every spool of the run in one trace ($nch processes)"
else bad "lmkd: $nsp spools, $nch processes in the trace"; fi
eq "lmkd: no trace per child" "$(find "$work/o6" -name 'Pixel_7.[0-9]*.db' | wc -l)" 0
if "$lowram" import --help 2>&1 | grep -q -- --meta-file; then
  eq "lmkd: kill.rss_kb in the trace's meta" "$(sql "$T" "SELECT value FROM meta WHERE key='kill.rss_kb'")" 92212
  rpt=$work/o6/Pixel_7.report.txt
  has "lmkd: the report names the killer and its reason" "$rpt" "Killed by lmkd at "
  has "lmkd: ... with the reason" "$rpt" ": low watermark is breached and swap is low (free 48000kB < low 51000kB)"
  has "lmkd: ... what it freed" "$rpt" "it freed 90.1 MiB of RSS and 32.3 MiB of swap (oom_score_adj 900)"
  has "lmkd: ... what was live then" "$rpt" "live in the trace then: 4.77 MiB (heap 4.77 MiB + anon mmap 0 B)"
  has "lmkd: ... the device" "$rpt" "device: Pixel 7, MemTotal "
else
  has "lmkd: note that the importer has no --meta-file" "$work/err.txt" "no 'import --meta-file'"
fi

# lowram import --meta-file with bad input: one line naming the file and line, no trace
if "$lowram" import --help 2>&1 | grep -q -- --meta-file; then
  LOWRAM_OUT=$work/m0.db LD_PRELOAD=$shim /bin/true
  printf 'device.model\tX\nno tab here\n' >"$work/bad.tsv"
  printf 'format\tnot-a-trace\n' >"$work/own.tsv"
  mkfifo "$work/fifo.tsv"
  for bad in "bad.tsv:2: no TAB between key and value" "fifo.tsv: not a regular file" \
             "own.tsv:1: meta key 'format' is the trace's own"; do
    f=$work/${bad%%[: ]*}
    "$lowram" import "$work/m0.db.spool" -o "$work/m.db" --meta-file "$f" >/dev/null 2>"$work/merr.txt"
    mrc=$?
    if [ "$mrc" -ne 0 ] && [ "$(wc -l <"$work/merr.txt")" -eq 1 ] && grep -qF -- "${bad#* }" "$work/merr.txt"
    then ok "meta-file: ${f##*/} refused in one line"
    else bad "meta-file: ${f##*/}: rc $mrc"; sed 's/^/     | /' "$work/merr.txt"; fi
  done
fi

# ---------------------------------------------------------------- 7. kernel oom-killer (root: dmesg)
oom='echo "<3>Out of memory: Killed process $$ (sh) total-vm:10000kB, anon-rss:5000kB, file-rss:200kB, shmem-rss:8kB, UID:0 pgtables:100kB oom_score_adj:0" >/dev/kmsg; kill -9 $$'
run "$K" "$work/o7" -- sh -c "$oom"
F=$work/o7/Pixel_7.db.device.tsv
eq "oom-killer: kill.by" "$(tsv "$F" kill.by)" oom-killer
eq "oom-killer: kill.pid is the run's pid" "$(tsv "$F" kill.pid)" "$(tsv "$F" run.pid)"
eq "oom-killer: kill.rss_kb = anon + file + shmem" "$(tsv "$F" kill.rss_kb)" 5208
eq "oom-killer: kill.reason" "$(tsv "$F" kill.reason)" "Out of memory"
eq "oom-killer: read through su" "$(run "$N" "$work/o7s" -- sh -c "$oom"; tsv "$work/o7s/Moto_G.db.device.tsv" kill.rss_kb)" 5208
N2=$work/noroot2; mkdev "$N2" NR2 "Moto G" 3900000 1500000 0 0 2000
run "$N2" "$work/o7n" -- sh -c "$oom"
eq "oom-killer: not read without root" "$(tsv "$work/o7n/Moto_G.db.device.tsv" kill.by)" "<absent>"

# ---------------------------------------------------------------- 8. device output is escaped
X=$work/esc; mkdev "$X" X1 'Evil\033]0;pwned\007Phone' 1000000 500000 0 0 0
run "$X" "$work/o8" --push "$work/memprog" -- ./memprog 100
eq "escape: recorded" "$rc" 0
if LC_ALL=C grep -q $'\033\|\007' "$work/out.txt" "$work/err.txt"; then bad "escape: a raw control character reached the terminal"
else ok "escape: no raw control character printed"; fi
has "escape: shown as \\x1b" "$work/out.txt" 'Evil\x1b]0;pwned\x07Phone'
[ -f "$work/o8/Evil_0_pwned_Phone.db" ] && ok "escape: sanitized name Evil_0_pwned_Phone.db" || bad "escape: $(ls "$work/o8")"

# ---------------------------------------------------------------- 9. ABI
A=$work/abi; mkdev "$A" A1 "Pixel 8" 1 1 0 0 0; sed -i 's/x86_64/arm64-v8a/' "$A/A1/props"
run "$A" "$work/o9" -- true
one_line_error "abi: an x86-64 shim for an arm64 phone" "is for x86_64, the device's ABI is arm64-v8a"

# ---------------------------------------------------------------- 10. two devices in parallel
M=$work/multi
mkdev "$M" AAA1 "Pixel 7" 7850124 3100000 4194300 4000000 0
mkdev "$M" BBB2 "SM-A515F" 3735552 1200000 2097148 1048576 2000
mkdev "$M" CCC3 "Nokia 1" 1 1 0 0 2000; echo unauthorized >"$M/CCC3/state"
touch "$M/BBB2/fs/data/local/tmp/kill"
run "$M" "$work/o10" --serial AAA1,BBB2,CCC3 --push "$work/memprog" -- ./memprog 3000000 /data/local/tmp/kill
one_line_error "multi: --serial with an unauthorized device" "device CCC3 is unauthorized"
start=$(date +%s%N)
run "$M" "$work/o10" --all --push "$work/memprog" -- ./memprog 3000000 /data/local/tmp/kill
eq "multi: exit status" "$rc" 0
has "multi: the unauthorized device is skipped" "$work/err.txt" "skipping device CCC3 is unauthorized"
rss() { sql "$1" "SELECT value FROM meta WHERE key='peak_rss'" | awk '{printf "%.1f MiB", $1 / 1048576}'; }
rowA=$(printf '%-20s %-12s %-16s %-12s %-12s %-25s %-6s %s' Pixel_7 "7666.1 MiB" "3027.3 MiB" "2.9 MiB" \
  "$(rss "$work/o10/Pixel_7.db")" "3906.2 MiB / 4096.0 MiB" 0 no)
rowB=$(printf '%-20s %-12s %-16s %-12s %-12s %-25s %-6s %s' SM-A515F "3648.0 MiB" "1171.9 MiB" "2.9 MiB" \
  "$(rss "$work/o10/SM-A515F.db")" "1024.0 MiB / 2048.0 MiB" 137 \
  "yes: low watermark is breached and swap is low (free 48000kB < low 51000kB)")
head=$(printf '%-20s %-12s %-16s %-12s %-12s %-25s %-6s %s' device MemTotal 'MemAvail@start' peak \
  'peak RSS' 'swap free/total' exit 'killed by lmkd')
hasline "multi: table header" "$work/out.txt" "$head"
hasline "multi: row of the Pixel 7 (not killed)" "$work/out.txt" "$rowA"
hasline "multi: row of the SM-A515F (killed by lmkd)" "$work/out.txt" "$rowB"
eq "multi: B's kill.swap_kb" "$(tsv "$work/o10/SM-A515F.db.device.tsv" kill.swap_kb)" 33036
eq "multi: A's peak bytes" "$(sql "$work/o10/Pixel_7.db" "$peak_sql")" 3000000
eq "multi: B's peak bytes" "$(sql "$work/o10/SM-A515F.db" "$peak_sql")" 3000000
# in parallel: the two runs overlap (each device's run started before the other ended)
sa=$(sql "$work/o10/Pixel_7.db" "SELECT value FROM meta WHERE key='start_realtime_ns'")
sb=$(sql "$work/o10/SM-A515F.db" "SELECT value FROM meta WHERE key='start_realtime_ns'")
[ -f "$work/o10/Pixel_7.log" ] && [ -f "$work/o10/SM-A515F.log" ] && ok "multi: one log per device" || bad "multi: logs missing"
if [ "$sa" -ge "$start" ] && [ "$sb" -ge "$start" ]; then ok "multi: both runs recorded in this invocation"; else bad "multi: start times $sa $sb before $start"; fi
mkdev "$M" DDD4 "Pixel 7" 7850124 3100000 4194300 4000000 0
run "$M" "$work/o11" --serial AAA1,DDD4 --push "$work/memprog" -- ./memprog 1000
if [ -f "$work/o11/Pixel_7_AAA1.db" ] && [ -f "$work/o11/Pixel_7_DDD4.db" ]; then ok "multi: same model twice: names get the serial"
else bad "multi: same model: $(ls "$work/o11")"; fi

# ---------------------------------------------------------------- 10b. the --meta-file handoff
# A lowram that advertises --meta-file (the importer's option to come): the
# tool must pass the main trace's facts file, and only to the main import.
cat >"$work/lowram-meta" <<WRAP
#!/bin/sh
if [ "\$1 \$2" = "import --help" ]; then "$lowram" import --help; echo "  --meta-file FILE"; exit 0; fi
a=''
for x in "\$@"; do
  if [ "\$a" = 1 ]; then echo "meta \$x" >>"$work/meta.log"; cat "\$x" >>"$work/meta.log"; a=2; continue; fi
  [ "\$x" = --meta-file ] && { a=1; continue; }
done
if [ "\$1" = import ]; then
  echo "import \$*" >>"$work/meta.log"
  # drop --meta-file FILE, then run the real importer
  n=\$#; i=0; skip=0
  for x in "\$@"; do
    i=\$((i + 1))
    if [ \$skip = 1 ]; then skip=0; elif [ "\$x" = --meta-file ]; then skip=1; else set -- "\$@" "\$x"; fi
    [ \$i = \$n ] && break
  done
  shift \$n
fi
exec "$lowram" "\$@"
WRAP
chmod +x "$work/lowram-meta"
FAKE_ADB_ROOT=$K PATH=$fakepath "$tool" record --out "$work/o10b" --lowram "$work/lowram-meta" --shim "$shim" \
  --push "$work/memprog" -- ./memprog 4096 /data/local/tmp/kill >"$work/out.txt" 2>"$work/err.txt" </dev/null
rc=$?
eq "meta-file: recorded" "$rc" 0
eq "meta-file: passed once, for the main trace" "$(grep -c '^meta ' "$work/meta.log")" 1
has "meta-file: the main trace's facts file" "$work/meta.log" "meta $work/o10b/Pixel_7.db.device.tsv"
has "meta-file: with the kill" "$work/meta.log" "kill.rss_kb	92212"
hasnt "meta-file: no note when the importer has the option" "$work/err.txt" "no 'import --meta-file'"
# one trace for the run: the program's 4096-byte block, and its child's process
eq "meta-file: the import still made the trace" "$(sql "$work/o10b/Pixel_7.db" "SELECT count(*) FROM allocations a JOIN processes p ON p.id = a.process_id WHERE a.size = 4096 AND p.exec_index = 0 AND p.parent_id IS NULL")" 1

# ---------------------------------------------------------------- 10c. a command that does not start
run "$R" "$work/o10c" -- ./no-such-program 'a b'
if [ "$rc" -ne 0 ] && grep -qF "no spool in /data/local/tmp/lowram/run-" "$work/err.txt"; then ok "no such program: a clear error"
else bad "no such program: rc $rc"; sed 's/^/     | /' "$work/err.txt"; fi

# ---------------------------------------------------------------- 11. Debian's real adb
real_adb=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$work/bin" | paste -sd:) command -v adb || true)
if [ -n "$real_adb" ]; then
  port=$((20000 + RANDOM % 20000))
  ANDROID_ADB_SERVER_PORT=$port "$tool" record --adb "$real_adb" --out "$work/o12" --lowram "$lowram" \
    --shim "$shim" -- true >"$work/out.txt" 2>"$work/err.txt" </dev/null
  rc=$?
  ANDROID_ADB_SERVER_PORT=$port "$real_adb" kill-server >/dev/null 2>&1
  one_line_error "real adb ($real_adb), no device" "no device attached"
else
  echo "SKIP real adb: not installed (Debian package adb)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
