/*
** unwind_fp.c: the frame-pointer backend. Each frame record is
** {saved frame pointer, return address} on x86_64 and aarch64 alike. The
** walk stops at a null or misaligned frame pointer, one that does not grow
** toward the stack base, or one outside the thread's stack, so code built
** without frame pointers ends the stack early instead of crashing it.
*/
#include "unwind.h"

#include <pthread.h>

int lr_unwind_available(int backend) {
  if (backend == LR_UNWIND_FP) return 1;
  if (backend == LR_UNWIND_LIBUNWIND) return lr_unwind_available_libunwind();
  return 0;
}

void lr_unwind_fp_bounds(uintptr_t *lo, uintptr_t *hi) {
  pthread_attr_t a;
  void *addr = 0;
  size_t size = 0;
  *lo = 0;
  *hi = 0;
  if (pthread_getattr_np(pthread_self(), &a) != 0) return;
  if (pthread_attr_getstack(&a, &addr, &size) == 0) {
    *lo = (uintptr_t)addr;
    *hi = (uintptr_t)addr + size;
  }
  pthread_attr_destroy(&a);
}

/* ARMv8.3 pointer authentication signs return addresses before they are
** saved (-mbranch-protection=pac-ret, the default of some distributions and
** of recent Android), and a signed address lies in no module. XPACLRI
** (hint #7) strips the signature from x30 in place and is a no-op on cores
** without pointer authentication, so it runs unconditionally on aarch64. */
static inline uintptr_t strip_pac(uintptr_t ret) {
#if defined(__aarch64__)
  register uintptr_t lr __asm__("x30") = ret;
  __asm__("hint #7" : "+r"(lr));
  return lr;
#else
  return ret;
#endif
}

__attribute__((noinline)) int lr_unwind_fp(uintptr_t *ips, int max, uintptr_t lo,
                                           uintptr_t hi, uintptr_t *stop) {
  uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
  int n = 0;
  if (hi == 0) { /* unknown bounds: trust only a short window above us */
    lo = fp;
    hi = fp + (1u << 20);
  }
  while (n < max) {
    if (fp < lo || fp > hi - 2 * sizeof(uintptr_t) || (fp & (sizeof(uintptr_t) - 1)))
      break;
    const uintptr_t *rec = (const uintptr_t *)fp;
    uintptr_t ret = strip_pac(rec[1]);
    if (ret == 0) break;
    ips[n++] = ret;
    uintptr_t next = rec[0];
    if (next <= fp) break;
    fp = next;
  }
  if (stop) *stop = fp;
  return n;
}
