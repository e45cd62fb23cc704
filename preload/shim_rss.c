/*
** shim_rss.c: RSS samples of the process from inside (/proc/self/status:
** VmRSS, RssAnon, RssFile, RssShmem, VmSwap), written as RSS records.
**

By default there is no thread: a thread changes what the program is (it
can no longer unshare(CLONE_NEWUSER), setns into a user namespace, or be
counted as single-threaded). Samples are taken by the recording thread on
its way out of a hook, at most one per interval process-wide (whichever
thread first sees the interval pass claims it with one compare-and-swap),
and also at start, at exit and before exec. A program that stops
allocating (a long decode) gets no samples in between: LOWRAM_RSS_THREAD=1
adds a sampler thread, at its cost (one more thread, a 64 KiB stack and a
chunk of its own, a wakeup per interval).
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim_rss.h"

/* The value of "Key:  123 kB" in a /proc status-like text, in bytes. */
uint64_t lr_proc_kb(const char *buf, size_t len, const char *key) {
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl < len; i++) {
    if ((i == 0 || buf[i - 1] == '\n') && !memcmp(buf + i, key, kl)) {
      uint64_t v = 0;
      for (i += kl; i < len && (buf[i] == ' ' || buf[i] == '\t'); i++) {}
      for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (uint64_t)(buf[i] - '0');
      return v * 1024;
    }
  }
  return 0;
}

/* Reads "Key:  123 kB" values from /proc/self/status line by line through
** a small buffer (this runs on the program's stack, inside a hook; the
** Groups line can be longer than any buffer worth having there). */
static __attribute__((noinline)) void read_status(uint64_t v[5]) {
  static const char *const keys[5] = {"VmRSS:", "RssAnon:", "RssFile:", "RssShmem:", "VmSwap:"};
  v[0] = v[1] = v[2] = v[3] = v[4] = 0;
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[1024], line[64];
  size_t ll = 0;
  int skip = 0, found = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++) {
      char c = buf[i];
      if (c != '\n') {
        if (ll < sizeof line - 1) line[ll++] = c;
        else skip = 1; /* too long to be one of ours */
        continue;
      }
      line[ll] = 0;
      for (int k = 0; k < 5 && !skip; k++) {
        size_t kl = strlen(keys[k]);
        if (ll > kl && !memcmp(line, keys[k], kl)) {
          v[k] = lr_proc_kb(line, ll, keys[k]);
          found++;
        }
      }
      ll = 0;
      skip = 0;
    }
    if (found == 5) break;
  }
  close(fd);
}

uint64_t lr_rss_sample(LrSpoolWriter *w) {
  uint64_t v[5];
  read_status(v);
  uint64_t ns = lr_shim_now();
  if (v[0]) lr_sw_rss_swap(w, __atomic_load_n(&g_shim.seq, __ATOMIC_RELAXED), ns, v);
  return ns;
}

void lr_rss_due(LrSpoolWriter *w, uint64_t ns) {
  uint64_t due = __atomic_load_n(&g_shim.next_rss_ns, __ATOMIC_RELAXED);
  if (ns < due) return;
  /* claim this interval (no other thread's sample until the next is set) */
  if (!__atomic_compare_exchange_n(&g_shim.next_rss_ns, &due, UINT64_MAX, 0, __ATOMIC_RELAXED,
                                   __ATOMIC_RELAXED))
    return;
  uint64_t at = lr_rss_sample(w);
  __atomic_store_n(&g_shim.next_rss_ns, at + (uint64_t)g_shim.cfg.rss_interval_ms * 1000000u,
                   __ATOMIC_RELAXED);
}

static void *sampler(void *arg) {
  uint32_t gen = (uint32_t)(uintptr_t)arg;
  LrTls *t = &lr_tls;
  t->guard = 1; /* this thread never records its own allocations */
  t->tid = (uint32_t)syscall(SYS_gettid);
  t->gen = gen;
  lr_sw_init(&t->w, g_shim.spool, t->tid);
  struct timespec iv = {(time_t)(g_shim.cfg.rss_interval_ms / 1000),
                        (long)(g_shim.cfg.rss_interval_ms % 1000) * 1000000L};
  /* started before recording is switched on: wait for it, stop when a fork
  ** child's new session (another gen) takes over */
  while (__atomic_load_n(&g_shim.gen, __ATOMIC_ACQUIRE) == gen) {
    if (__atomic_load_n(&g_shim.active, __ATOMIC_ACQUIRE)) lr_rss_sample(&t->w);
    nanosleep(&iv, NULL);
  }
  return NULL;
}

int lr_rss_start(void) {
  /* no samples on the recording path unless the interval is set and no
  ** thread takes them */
  __atomic_store_n(&g_shim.next_rss_ns,
                   g_shim.cfg.rss_interval_ms && !g_shim.cfg.rss_thread
                       ? lr_shim_now() + (uint64_t)g_shim.cfg.rss_interval_ms * 1000000u
                       : UINT64_MAX,
                   __ATOMIC_RELAXED);
  if (!g_shim.cfg.rss_interval_ms || !g_shim.cfg.rss_thread) return 0;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 64 * 1024);
  int r = pthread_create(&th, &a, sampler, (void *)(uintptr_t)g_shim.gen);
  pthread_attr_destroy(&a);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return r == 0 ? 0 : -1;
}

void lr_rss_sample_now(void) {
  if (g_shim.spool) lr_rss_sample(lr_shim_writer(&lr_tls));
}
