#!/usr/bin/env bash
# tests/install/install.sh BUILD_DIR MESON CC: what `meson install` gives a
# user, checked on the current build without touching it or the sources.
#
# 1. `meson install --destdir D` of BUILD_DIR (its own prefix, libdir...).
# 2. The installed prefix is moved to another temp dir Q and D is deleted,
#    so only the lookup relative to Q/bin/lowram can find Q's shim (the
#    configured PREFIX/LIBDIR does not hold it, and Q/bin is not the build
#    tree's cli/, so the build tree's shim is out of the search).
# 3. Q holds bin/lowram, bin/qrun, LIBDIR/liblowram.so, include/lowram.h and
#    LIBDIR/pkgconfig/lowram.pc; nothing installed points into the build tree.
# 4. `Q/bin/lowram record -o X.db -- /bin/true` with LOWRAM_SHIM unset: the
#    trace names /bin/true as the process, its exit 0, and Q's liblowram.so
#    as the module preloaded (the proof the installed shim was used); a
#    `sh -c 'exit 7'` run gives 7 both as lowram's status and in the trace.
# 5. `pkg-config --cflags lowram` (PKG_CONFIG_PATH at Q's .pc, its prefix
#    variable set to Q since the tree was moved) gives -IQ/include, under
#    which a program that includes lowram.h compiles; recorded by Q's
#    lowram, its marker, parameter and malloc are in the trace.
# 6. LOWRAM_SHIM set wins over the installed shim.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
meson=$2
cc=$3
work=$(mktemp -d /tmp/lowram-install-XXXXXX)
fail() {
  echo "FAIL install: $*"
  echo "(kept $work)"
  exit 1
}
# nothing of the build tree reaches the installed programs through these
unset LOWRAM_SHIM LD_LIBRARY_PATH
need() { command -v "$1" >/dev/null || fail "$1 not found: install the Debian package $2 (./run.sh deps)"; }
need sqlite3 sqlite3
need pkg-config pkg-config
need readelf binutils

# the build's own layout: prefix, libdir, bindir, includedir
opt() {
  "$meson" introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]))' "$1"
}
prefix=$(opt prefix)
libdir=$(opt libdir)
bindir=$(opt bindir)
includedir=$(opt includedir)
echo "build prefix $prefix, bindir $bindir, libdir $libdir, includedir $includedir"
case "$libdir$bindir$includedir" in /*) fail "an absolute bindir/libdir/includedir is not covered here" ;; esac

# 1. install into D, the build's own tool output shown on failure
D=$work/destdir
"$meson" install -C "$build" --no-rebuild --destdir "$D" >"$work/install.log" 2>&1 || {
  cat "$work/install.log"
  fail "meson install failed (its output above)"
}

# 2. move the prefix elsewhere; D (and with it PREFIX's image) is gone
Q=$work/moved
mv "$D$prefix" "$Q"
rm -rf "$D"

# 3. the files, and no path into the build tree
for f in "$bindir/lowram" "$bindir/qrun" "$libdir/liblowram.so" "$includedir/lowram.h" \
         "$libdir/pkgconfig/lowram.pc"; do
  [ -f "$Q/$f" ] || fail "$f is not installed (installed: $(cd "$Q" && find . -type f | tr '\n' ' '))"
done
cmp -s "$Q/$includedir/lowram.h" "$src/preload/lowram.h" ||
  fail "the installed lowram.h differs from preload/lowram.h"
for f in "$bindir/lowram" "$bindir/qrun" "$libdir/liblowram.so"; do
  if readelf -d "$Q/$f" | grep -E 'RUNPATH|RPATH' | grep -qF "$build"; then
    fail "$f keeps a run path into the build tree: $(readelf -d "$Q/$f" | grep PATH)"
  fi
done

# 4. record /bin/true with the installed lowram, LOWRAM_SHIM unset
cd "$work"
"$Q/$bindir/lowram" record -o true.db -- /bin/true >rec.out 2>&1 || {
  cat rec.out
  fail "installed lowram record -- /bin/true failed (its output above)"
}
q() { "$Q/$bindir/lowram" sql "$1" "$2"; }  # the installed extension too
[ "$(q true.db "SELECT value FROM meta WHERE key='argv'")" = '["/bin/true"]' ] ||
  fail "argv in the trace: $(q true.db "SELECT value FROM meta WHERE key='argv'")"
[ "$(q true.db "SELECT value FROM meta WHERE key='end_reason'")" = exit ] ||
  fail "end_reason: $(q true.db "SELECT value FROM meta WHERE key='end_reason'")"
[ "$(q true.db "SELECT value FROM meta WHERE key='end_code'")" = 0 ] ||
  fail "end_code: $(q true.db "SELECT value FROM meta WHERE key='end_code'")"
[ "$(q true.db "SELECT value FROM meta WHERE key='complete'")" = 1 ] || fail "trace not complete"
shims=$(q true.db "SELECT path FROM modules WHERE path LIKE '%/liblowram.so'")
want_shim=$(cd "$Q/$libdir" && pwd -P)/liblowram.so
[ "$shims" = "$want_shim" ] || fail "preloaded shim: '$shims', want the installed $want_shim"
echo "ok: installed lowram recorded /bin/true (exit 0) with $shims"

set +e
"$Q/$bindir/lowram" record -o seven.db -- /bin/sh -c 'exit 7' >seven.out 2>&1
rc=$?
set -e
[ $rc = 7 ] || { cat seven.out; fail "lowram record -- sh -c 'exit 7' returned $rc"; }
[ "$(q seven.db "SELECT value FROM meta WHERE key='end_code'")" = 7 ] ||
  fail "end_code of sh -c 'exit 7': $(q seven.db "SELECT value FROM meta WHERE key='end_code'")"

# 5. pkg-config and the header, used by a program recorded with Q's lowram
cat >annot.c <<'EOF'
#include <lowram.h>
#include <stdlib.h>
int main(void) {
  lowram_param("answer", 42);
  lowram_mark("work");
  free(malloc(4242));
  return 0;
}
EOF
cflags=$(PKG_CONFIG_PATH="$Q/$libdir/pkgconfig" pkg-config --define-variable=prefix="$Q" \
         --cflags lowram) || fail "pkg-config --cflags lowram failed"
echo "pkg-config --cflags lowram: $cflags"
case " $cflags " in *" -I$Q/$includedir "*) ;; *) fail "cflags '$cflags' lack -I$Q/$includedir" ;; esac
# shellcheck disable=SC2086
$cc $cflags -o annot annot.c >cc.out 2>&1 || { cat cc.out; fail "annot.c does not compile with $cflags"; }
"$Q/$bindir/lowram" record -o annot.db -- ./annot >annot.out 2>&1 || {
  cat annot.out
  fail "recording annot failed"
}
[ "$(q annot.db "SELECT name FROM markers")" = work ] || fail "marker 'work' not in the trace"
[ "$(q annot.db "SELECT value_int FROM params WHERE name='answer'")" = 42 ] ||
  fail "param answer=42 not in the trace"
[ "$(q annot.db "SELECT count(*) FROM allocations WHERE size=4242")" = 1 ] ||
  fail "malloc(4242) not in the trace"
echo "ok: pkg-config --cflags lowram compiles lowram.h; its marker and param are recorded"

# 6. LOWRAM_SHIM first: the build tree's shim when named
LOWRAM_SHIM="$build/preload/liblowram.so" "$Q/$bindir/lowram" record -o env.db -- /bin/true \
  >env.out 2>&1 || { cat env.out; fail "record with LOWRAM_SHIM failed"; }
got=$(q env.db "SELECT path FROM modules WHERE path LIKE '%/liblowram.so'")
[ "$(readlink -f "$got")" = "$(readlink -f "$build/preload/liblowram.so")" ] ||
  fail "LOWRAM_SHIM ignored: $got"
if LOWRAM_SHIM=$work/nothing.so "$Q/$bindir/lowram" record -o bad.db -- /bin/true >bad.out 2>&1; then
  fail "record with an unreadable LOWRAM_SHIM succeeded"
fi
grep -q "LOWRAM_SHIM=$work/nothing.so" bad.out || { cat bad.out; fail "no error naming LOWRAM_SHIM"; }
echo "ok: LOWRAM_SHIM wins over the installed shim; an unreadable one is an error"

cd /
rm -rf "$work"
