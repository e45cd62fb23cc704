#!/usr/bin/env bash
# tests/symbols/test_symbols.sh BUILD: frames people can read, on programs
# built here with gcc and recorded with lowram (issue 13, "Frames"):
#   1. inline: infer.c at -O2 (no frame pointers), three buffers allocated
#      in static functions inlined into main: each reads as its own chain
#      (scratch infer.c:11 <- forward_token infer.c:23 <- main infer.c:30),
#      in the report and in SQL (inline_frames);
#   2. libc named from Debian's libc6-dbg in /usr/lib/debug, without
#      --symbols (__libc_start_call_main, __libc_start_main);
#   3. dlopen: a plugin whose constructor allocates inside dlopen: the
#      frame names plugin_init plugin.c:9 in libplug...so, not an address;
#      stripped, it is named from debuginfod's local cache
#      (DEBUGINFOD_CACHE_PATH) and from a .gnu_debuglink file in .debug/;
#   4. a long module name is shown whole in the report;
#   5. sites: an allocator wrapper and a framework layer (ggml's names)
#      are skipped: the site is kv_cache_init <- create_memory.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")" && pwd)
lowram=${LOWRAM_BIN:-$build/cli/lowram}
work=$(mktemp -d /tmp/lowram-symbols-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL symbols: $*"; exit 1; }
command -v sqlite3 >/dev/null || fail "sqlite3 not found: install the Debian package sqlite3"
command -v gcc >/dev/null || fail "gcc not found: install the Debian package gcc"
# reports name modules by file name: keep lowram's own build paths out
export DEBUGINFOD_CACHE_PATH=$work/no-cache

record() { # DB CMD...
  local db=$1
  shift
  "$lowram" record -o "$db" -- "$@" >"$db.out" 2>"$db.err" ||
    { cat "$db.err"; fail "record $* failed"; }
}
# has TEXT FILE: TEXT (a whole line's worth, fixed string) is in FILE
has() { grep -qF -- "$1" "$2" || { cat "$2"; fail "want '$1' in $(basename "$2")"; }; }

# ---- 1. inlined functions ----
gcc -O2 -g -fomit-frame-pointer -o "$work/infer" "$src/infer.c"
record "$work/infer.db" "$work/infer"
"$lowram" report "$work/infer.db" --top 4 >"$work/infer.txt"
# each buffer's site and callers, frame by frame, in the report
awk '/Live at the peak by stack/,/^$/' "$work/infer.txt" | sed 's/^ *[0-9.]* [KMG]*i*B *[0-9.]*% *[0-9]* *//; s/^ *//' >"$work/infer.rows"
grep -A2 -F "scratch infer.c:11 (infer)" "$work/infer.rows" | tr '\n' '|' >"$work/chains"
echo >>"$work/chains"
has "scratch infer.c:11 (infer)|<- forward_token infer.c:23 (infer)|<- main infer.c:30 (infer)|" "$work/chains"
has "scratch infer.c:11 (infer)|<- main infer.c:32 (infer)|" "$work/chains"
grep -A1 -F "kv_cache infer.c:17 (infer)" "$work/infer.rows" | tr '\n' '|' >"$work/kv"
echo >>"$work/kv"
has "kv_cache infer.c:17 (infer)|<- main infer.c:31 (infer)|" "$work/kv"
# the same in SQL: the frame of the 100000-byte buffer and its inlined functions
"$lowram" sql "$work/infer.db" "SELECT i.depth || ' ' || i.function || ' ' || i.line
    FROM allocations a JOIN stack_entries e ON e.stack_id = a.stack_id AND e.depth = 0
    JOIN inline_frames i ON i.frame_id = e.frame_id WHERE a.size = 100000 ORDER BY i.depth;
  SELECT 'frame ' || f.function || ' ' || f.line FROM allocations a JOIN stack_entries e
    ON e.stack_id = a.stack_id AND e.depth = 0 JOIN frames f ON f.id = e.frame_id
    WHERE a.size = 100000" >"$work/inline.sql.txt"
printf '0 scratch 11\n1 forward_token 23\nframe main 30\n' >"$work/inline.want"
cmp -s "$work/inline.sql.txt" "$work/inline.want" ||
  { cat "$work/inline.sql.txt"; fail "inline_frames of the 100000-byte buffer"; }

# ---- 2. libc from /usr/lib/debug (Debian's libc6-dbg), no --symbols ----
libc=$("$lowram" sql "$work/infer.db" "SELECT path FROM modules WHERE path LIKE '%/libc.so.6'" | head -1)
[ -n "$libc" ] || fail "no libc.so.6 module in the trace"
bid=$(readelf -n "$libc" | awk '/Build ID/ {print $3}')
[ -f "/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug" ] ||
  fail "no debug file for $libc (build-id $bid) in /usr/lib/debug: install the Debian package libc6-dbg"
"$lowram" sql "$work/infer.db" "SELECT f.function FROM frames f JOIN modules m ON m.id = f.module_id
  WHERE m.path = '$libc'" >"$work/libc.txt"
grep -qx "__libc_start_call_main" "$work/libc.txt" || { cat "$work/libc.txt"; fail "libc: want __libc_start_call_main"; }
grep -qx "__libc_start_main" "$work/libc.txt" || { cat "$work/libc.txt"; fail "libc: want __libc_start_main"; }
has "<- __libc_start_call_main libc_start_call_main.h:58 (libc.so.6)" "$work/infer.txt"

# ---- 3. a plugin's constructor, inside dlopen ----
long=libplug_multiarray_umath.cpython-311-x86_64-linux-gnu.so
gcc -O2 -g -fPIC -shared -o "$work/$long" "$src/plugin.c"
gcc -O2 -g -o "$work/loader" "$src/loader.c" -ldl
ctor_frame() { # DB: the constructor's frame, "function file:line module"
  "$lowram" sql "$1" "SELECT coalesce(f.function, '?') || ' ' || coalesce(f.file, '?') || ':' ||
      coalesce(f.line, 0) || ' ' || coalesce(m.path, '(no module)')
    FROM allocations a JOIN stack_entries e ON e.stack_id = a.stack_id AND e.depth = 0
    JOIN frames f ON f.id = e.frame_id LEFT JOIN modules m ON m.id = f.module_id
    WHERE a.size = 123457"
}
record "$work/plug.db" "$work/loader" "$work/$long"
got=$(ctor_frame "$work/plug.db")
[ "$got" = "plugin_init $src/plugin.c:9 $work/$long" ] || fail "constructor frame: got '$got'"
"$lowram" report "$work/plug.db" --top 2 >"$work/plug.txt"
# ---- 4. the whole module name ----
has "plugin_init plugin.c:9 ($long)" "$work/plug.txt"

# longer than the report's 96 columns for it: its first 63 bytes, "…", its
# last 32 (lr_peak_module_name)
huge=libplug_$(printf 'x%.0s' $(seq 1 100))_umath.cpython-311-x86_64-linux-gnu.so
cp "$work/$long" "$work/$huge"
record "$work/huge.db" "$work/loader" "$work/$huge"
"$lowram" report "$work/huge.db" --top 1 >"$work/huge.txt"
cut=$(printf '%s' "$huge" | cut -c1-63)…${huge: -32}
has "plugin_init plugin.c:9 ($cut)" "$work/huge.txt"

# stripped, its debug file in debuginfod's cache (no network)
objcopy --only-keep-debug "$work/$long" "$work/plug.debug"
mkdir -p "$work/strip"
strip -s -o "$work/strip/libplug.so" "$work/$long"
pbid=$(readelf -n "$work/strip/libplug.so" | awk '/Build ID/ {print $3}')
mkdir -p "$work/cache/$pbid"
cp "$work/plug.debug" "$work/cache/$pbid/debuginfo"
DEBUGINFOD_CACHE_PATH=$work/cache record "$work/cache.db" "$work/loader" "$work/strip/libplug.so"
got=$(ctor_frame "$work/cache.db")
[ "$got" = "plugin_init $src/plugin.c:9 $work/strip/libplug.so" ] ||
  fail "stripped plugin with its debug file in DEBUGINFOD_CACHE_PATH: got '$got'"
record "$work/nocache.db" "$work/loader" "$work/strip/libplug.so"
got=$(ctor_frame "$work/nocache.db")
case $got in plugin_init*) fail "stripped plugin named without its debug file: '$got'" ;; esac
# stripped, with a .gnu_debuglink to .debug/libplug.debug beside it
mkdir -p "$work/link/.debug"
cp "$work/plug.debug" "$work/link/.debug/libplug.debug"
strip -s -o "$work/link/libplug.so" "$work/$long"
(cd "$work/link/.debug" && objcopy --add-gnu-debuglink=libplug.debug ../libplug.so)
record "$work/link.db" "$work/loader" "$work/link/libplug.so"
got=$(ctor_frame "$work/link.db")
[ "$got" = "plugin_init $src/plugin.c:9 $work/link/libplug.so" ] ||
  fail "stripped plugin with a .gnu_debuglink in .debug/: got '$got'"

# ---- 5. sites past allocator and framework wrappers ----
gcc -O0 -g -o "$work/sites" "$src/sites.c"
record "$work/sites.db" "$work/sites"
"$lowram" report "$work/sites.db" --top 1 >"$work/sites.txt"
awk '/Live at the peak by stack/,/^$/' "$work/sites.txt" | sed -n 3,4p | sed 's/^ *[0-9.]* [KMG]*i*B *[0-9.]*% *[0-9]* *//; s/^ *//' | tr '\n' '|' >"$work/site"
echo >>"$work/site"
has "kv_cache_init sites.c:16 (sites)|<- create_memory sites.c:18 (sites)|" "$work/site"
"$lowram" report "$work/sites.db" --top 1 --by function >"$work/byfn.txt"
grep -q " kv_cache_init$" "$work/byfn.txt" || { cat "$work/byfn.txt"; fail "--by function: want kv_cache_init"; }
echo "symbols: ok"
