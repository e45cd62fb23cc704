/*
** chain.c: call chains of known depth for the eh unwinder's tests (built
** twice by tests/unwind/meson.build: -O2 -fomit-frame-pointer, and -O2
** -fomit-frame-pointer -fasynchronous-unwind-tables).
**
**   chain check   at the end of each chain, lr_unwind_eh's stack and
**                 libunwind's unw_backtrace's are compared frame for frame
**                 (after each one's own first frame, inside the unwinder),
**                 and the chain's frames are counted and named (dladdr:
**                 the program is linked with -rdynamic). Exit 0 if all equal.
**                 Without libunwind (tests/cross/arm64_xz.sh builds it for
**                 aarch64) only the counts and names are checked.
**   chain alloc   the same chains, each ending in malloc(SIZE) of a size
**                 unique to the chain, for recordings (test_record.sh).
**
** Chains: plain recursion of depth D through two alternating functions,
** recursion with alloca of a size varying per level (rbp-based frames in
** code otherwise without frame pointers), a noreturn-free tail of calls
** through a function pointer, and a deep one (60 frames).
*/

#include <alloca.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unwind.h"
#include "unwind_eh.h"

static int mode_alloc;
static int failures;
static volatile int sink;

#define NOI __attribute__((noinline))

static const char *name_of(uintptr_t pc) {
  Dl_info d;
  if (dladdr((void *)(pc - 1), &d) && d.dli_sname) return d.dli_sname;
  return "?";
}

/* At a chain's end: compare the two unwinders, count the chain's frames. */
NOI void chain_leaf(const char *chain, int want_rec, size_t size) {
  if (mode_alloc) {
    void *p = malloc(size);
    sink += p != NULL;
    __asm__ volatile("" ::"r"(p) : "memory");
    free(p);
    return;
  }
  uintptr_t a[256], b[256];
  int na = lr_unwind_eh(a, 256, 0);
  int nb = lr_unwind_libunwind(b, 256);
  if (!lr_unwind_available_libunwind()) { /* a device build: eh's stack alone */
    memcpy(b, a, sizeof a);
    nb = na;
  }
  /* [0] is inside each unwinder, [1] the return into this function from
  ** each call: the same function, different call sites; then equal */
  int ok = na == nb && na > 3 && !memcmp(a + 2, b + 2, (size_t)(na - 2) * sizeof *a) &&
           !strcmp(name_of(b[1]), "chain_leaf");
  int rec = 0, saw_main = 0;
  for (int i = 1; i < na; i++) {
    const char *s = name_of(a[i]);
    if (!strncmp(s, "chain_rec", 9) || !strncmp(s, "chain_alloca", 12)) rec++;
    if (!strcmp(s, "main")) saw_main = 1;
  }
  if (!name_of(a[1]) || strcmp(name_of(a[1]), "chain_leaf")) ok = 0;
  if (rec != want_rec || !saw_main) ok = 0;
  printf("%s %s: eh %d frames, libunwind %d, %d recursive frames (want %d), main %s\n",
         ok ? "ok" : "FAIL", chain, na, nb, rec, want_rec, saw_main ? "reached" : "MISSING");
  if (!ok) {
    failures++;
    for (int i = 0; i < (na > nb ? na : nb); i++)
      printf("  #%-3d eh %#14lx %-28s libunwind %#14lx %s\n", i,
             i < na ? (unsigned long)a[i] : 0ul, i < na ? name_of(a[i]) : "",
             i < nb ? (unsigned long)b[i] : 0ul, i < nb ? name_of(b[i]) : "");
  }
}

NOI void chain_rec_b(int d, const char *chain, int want, size_t size);
NOI void chain_rec_a(int d, const char *chain, int want, size_t size) {
  if (d == 0) chain_leaf(chain, want, size);
  else chain_rec_b(d - 1, chain, want, size);
  sink++; /* not a tail call */
}
NOI void chain_rec_b(int d, const char *chain, int want, size_t size) {
  volatile char pad[40];
  pad[d % 40] = 1;
  if (d == 0) chain_leaf(chain, want, size);
  else chain_rec_a(d - 1, chain, want, size);
  sink += pad[0];
}

/* alloca of a size varying per level: the frame is rbp-based (x86-64) or
** x29-based (aarch64) even without -fno-omit-frame-pointer */
NOI void chain_alloca(int d, const char *chain, int want, size_t size) {
  char *buf = alloca(16 + (size_t)d * 24);
  memset(buf, d, 16 + (size_t)d * 24);
  if (d == 0) chain_leaf(chain, want, size);
  else chain_alloca(d - 1, chain, want, size);
  sink += buf[d];
}

typedef void (*step_fn)(int, const char *, int, size_t);
NOI void chain_indirect(step_fn f, int d, const char *chain, int want, size_t size) {
  volatile double x[3] = {1, 2, 3};
  f(d, chain, want, size);
  sink += (int)x[1];
}

int main(int argc, char **argv) {
  mode_alloc = argc > 1 && !strcmp(argv[1], "alloc");
  if (argc < 2 || (!mode_alloc && strcmp(argv[1], "check"))) {
    fprintf(stderr, "usage: chain check|alloc\n");
    return 2;
  }
  /* each chain twice: the second walk is served from the shape cache */
  for (int rep = 0; rep < 2; rep++) {
    chain_rec_a(0, "rec0", 1, 1001);
    chain_rec_a(7, "rec7", 8, 1002);
    chain_rec_b(12, "rec12", 13, 1003);
    chain_alloca(5, "alloca5", 6, 1004);
    chain_alloca(17, "alloca17", 18, 1005);
    chain_indirect(chain_alloca, 3, "indirect-alloca3", 4, 1006);
    chain_indirect(chain_rec_b, 9, "indirect-rec9", 10, 1007);
    chain_rec_a(60, "rec60", 61, 1008);
  }
  if (!mode_alloc) printf("%s\n", failures ? "FAIL" : "all chains equal");
  return failures ? 1 : 0;
}
