# tests/cross/common.sh: what the aarch64 tests share, sourced after each
# defines fail() and sets $src and $work.

# run LOG CMD...: CMD's output goes to LOG, and into this test's log when
# CMD fails, so the tool's own error (meson, the compiler, qemu) is seen.
run() {
  local log=$1 rc=0
  shift
  "$@" >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    cat "$log"
    echo "---- exit $rc: $*"
  fi
  return $rc
}

# Missing tools fail the test, naming the Debian package (./run.sh deps).
need() { command -v "$1" >/dev/null || fail "$1 not found: install the Debian package $2"; }
need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
need qemu-aarch64 qemu-user
need readelf binutils
need sqlite3 sqlite3
if [ ! -f /usr/aarch64-linux-gnu/include/stdio.h ] || [ ! -f /usr/aarch64-linux-gnu/lib/libc.so ]; then
  fail "no aarch64 C library to link against: install the Debian package libc6-dev-arm64-cross"
fi

# qemu's "max" CPU checks pointer-authentication signatures (pac-ret signs
# every saved return address, as on recent phones), so the unwinders must
# strip them for frames to be named at all.
q=(qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu)

# cross_build: the device build of the shim and qrun (-Dunwind=fp: nothing
# needed on the device) into $work/build.
cross_build() {
  run "$work/setup.log" meson setup "$work/build" "$src" \
    --cross-file "$src/cross/aarch64-linux-gnu.ini" \
    -Danalyzer=false -Dtests=false -Dunwind=fp --werror \
    -Dc_args=-mbranch-protection=pac-ret || {
    # the compiler's own error is in meson's log, not in its output
    tail -n 40 "$work/build/meson-logs/meson-log.txt" 2>/dev/null || true
    fail "meson setup of the aarch64 cross build failed (output above)"
  }
  run "$work/ninja.log" ninja -C "$work/build" || fail "the aarch64 cross build failed (output above)"
  readelf -h "$work/build/preload/liblowram.so" | grep -q AArch64 || fail "shim is not aarch64"
}
