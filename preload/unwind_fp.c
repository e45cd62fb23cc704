/*
** unwind_fp.c: the frame-pointer backend. Each frame record is
** {saved frame pointer, return address} on x86_64 and aarch64 alike. The
** walk stops at a null or misaligned frame pointer, one that does not grow
** toward the stack base, or one outside the thread's stack, so code built
** without frame pointers ends the stack early instead of crashing it.
*/
#include "unwind.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <string.h>
#include <unistd.h>

int lr_unwind_available(int backend) {
  if (backend == LR_UNWIND_FP) return 1;
  if (backend == LR_UNWIND_LIBUNWIND) return lr_unwind_available_libunwind();
  return 0;
}

/* Parses one hex number at *p; advances past it. */
static uintptr_t hex_at(const char **p, const char *end) {
  uintptr_t v = 0;
  for (; *p < end; (*p)++) {
    char c = **p;
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) break;
    v = v << 4 | (uintptr_t)d;
  }
  return v;
}

/* The current thread's stack: the mapping of /proc/self/maps that holds
** our stack pointer. Not pthread_getattr_np: glibc holds the thread's own
** lock while that call reallocs, so a thread whose first allocation happens
** inside the program's pthread_getattr_np would wait on itself forever here
** (it did: gcc -fsanitize=thread programs hung on their first thread). This
** takes no lock and allocates nothing: a stack buffer, open/read/close, once
** per thread. */
void lr_unwind_fp_bounds(uintptr_t *lo, uintptr_t *hi) {
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  *lo = 0;
  *hi = 0;
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  size_t have = 0;
  int done = 0;
  while (!done) {
    ssize_t r = read(fd, buf + have, sizeof buf - have);
    if (r <= 0) break;
    have += (size_t)r;
    const char *p = buf, *end = buf + have;
    for (;;) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      if (!nl) break;
      const char *q = p;
      uintptr_t a = hex_at(&q, nl);
      if (q < nl && *q == '-') {
        q++;
        uintptr_t b = hex_at(&q, nl);
        if (sp >= a && sp < b) {
          *lo = a;
          *hi = b;
          /* the main thread's [stack] grows down past today's start: allow
          ** what RLIMIT_STACK allows, as pthread_getattr_np would */
          if (memmem(q, (size_t)(nl - q), "[stack]", 7)) {
            struct rlimit rl;
            uintptr_t room = 64u << 20;
            if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
              room = (uintptr_t)rl.rlim_cur;
            *lo = b > room ? b - room : 0;
            if (*lo > a) *lo = a;
          }
          done = 1;
          break;
        }
      }
      p = nl + 1;
    }
    /* keep the unfinished line for the next read */
    size_t rest = (size_t)(end - p);
    if (rest == sizeof buf) break; /* a line longer than the buffer: give up */
    memmove(buf, p, rest);
    have = rest;
  }
  close(fd);
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
