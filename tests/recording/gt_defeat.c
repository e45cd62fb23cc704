/*
** gt_defeat.c: built to defeat the shim's stack cache (preload/stack_cache.h),
** with -O2 -fomit-frame-pointer: every stack it records must equal
** libunwind's (LOWRAM_UNWIND=libunwind-strict), event by event.
**
**   callers   one site reached through two callers with the same frame
**             shapes (same key: same return address, same stack slot),
**             in runs of 1, 7 and 300 calls: callers change under a
**             cached site
**   alloca    an rbp-based frame with alloca(n) reached from two callers of
**             different frame sizes through one call instruction, n swept so
**             that the site's stack slot coincides across callers while the
**             alloca frame's rbp differs (and a stale return address waits
**             where the other caller's was)
**   recurse   the site under recursion of depth 1..24, in a zigzag
**   signal    a SIGUSR1 handler that allocates, raised from two depths,
**             next to direct calls of the same site at the same depths
**   mixed     all of the above interleaved, twice
**
** Sizes name the sites (101 callers, 202 alloca, 303 recurse, 404 signal).
** Every block is freed. No stdio; exits 0.
*/
#include <alloca.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

static volatile uintptr_t sink;
static void *volatile hold;

NOINLINE static void site(size_t n) {
  void *p = malloc(n);
  hold = p;
  sink += (uintptr_t)p & 1;
  free(hold);
}

/* ---- callers: same shapes, different return addresses ----------------- */
NOINLINE static void mid(size_t n) {
  site(n);
  sink++;
}
NOINLINE static void caller_a(size_t n) {
  mid(n);
  sink += 2;
}
NOINLINE static void caller_b(size_t n) {
  mid(n);
  sink += 3;
}
NOINLINE static void callers(void) {
  static const int runs[] = {1, 1, 7, 7, 300, 300, 1, 300, 7, 1};
  for (int r = 0; r < 10; r++)
    for (int i = 0; i < runs[r]; i++) (r & 1 ? caller_b : caller_a)(101);
}

/* ---- alloca: an rbp-based frame at varying depth ----------------------- */
NOINLINE static void alloca_frame(size_t n) {
  char *buf = alloca(n + 1);
  memset(buf, 1, n + 1);
  sink += (uintptr_t)buf[n];
  mid(202);
  sink += (uintptr_t)buf[0];
}
NOINLINE static void small_caller(size_t n) {
  volatile char pad[48];
  pad[0] = 1;
  alloca_frame(n);
  sink += (uintptr_t)pad[0];
}
NOINLINE static void big_caller(size_t n) {
  volatile char pad[240];
  pad[0] = 1;
  alloca_frame(n);
  sink += (uintptr_t)pad[0];
}
/* Both callers are called from one call instruction (through a pointer),
** small first with 192 more bytes of alloca than big then gets: the site's
** slot, and every return address but the one into the caller, coincide,
** and that one's slot in the big path lies in big_caller's uninitialised
** pad, still holding the small path's value. Only the alloca frame's rbp
** tells the two stacks apart. */
static void (*volatile pick[2])(size_t) = {small_caller, big_caller};
static volatile int six = 6;
NOINLINE static void allocas(void) {
  for (int round = 0; round < 3; round++)
    for (size_t n = 0; n <= 512; n += 16) {
      static const int who[6] = {0, 0, 1, 1, 0, 1};
      /* a trip count the compiler cannot see: one call instruction */
      for (int k = 0; k < six; k++) /* small twice: the entry is small's */
        pick[who[k]](k < 2 ? n + 192 : k < 4 ? n : k == 4 ? 512 - n : n / 2);
    }
}

/* ---- recursion -------------------------------------------------------- */
NOINLINE static void recurse(int d) {
  if (d <= 0) {
    mid(303);
    return;
  }
  recurse(d - 1);
  sink += (uintptr_t)d;
}
NOINLINE static void recursions(void) {
  for (int k = 0; k < 4; k++) {
    for (int d = 1; d <= 24; d++) recurse(d);
    for (int d = 24; d >= 1; d--) recurse(d);
    for (int d = 0; d < 48; d++) recurse((d * 7) % 24 + 1);
  }
}

/* ---- a signal handler that allocates ------------------------------------ */
static void on_usr1(int sig) {
  (void)sig;
  site(404);
}
NOINLINE static void raise_here(void) {
  raise(SIGUSR1);
  sink++;
}
NOINLINE static void direct_here(void) {
  site(404);
  sink++;
}
NOINLINE static void deeper(int signal) {
  if (signal)
    raise_here();
  else
    direct_here();
  sink++;
}
NOINLINE static void signals(void) {
  for (int i = 0; i < 40; i++) {
    raise_here();
    direct_here();
    deeper(1);
    deeper(0);
    deeper(i & 1);
  }
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  callers();
  allocas();
  recursions();
  signals();
  for (int i = 0; i < 2; i++) {
    signals();
    callers();
    recursions();
    allocas();
  }
  return 0;
}
