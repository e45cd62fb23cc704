/*
** shim_session.c: one spool per process image. Opens the output file under
** the naming rules of shim_config.h, writes the header, argv and module
** map, takes RSS samples (on the recording path, or in an opt-in sampler
** thread), restarts everything in a fork child, tells
** an exec'd image its index, and marks how the run ended (exit, _exit,
** fatal signal, exec). Runs with the calling thread's guard set.
**
** Invariants:
**   1. The spool file is created with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600:
**      an existing file or symlink is never written through.
**   2. The known-module list changes only under mods_lock, which is never
**      held while unwinding or allocating.
*/
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sys_mmap.h"
#include "shim_internal.h"
#include "unwind.h"

#define MAX_MODULES 1024

typedef struct Mod {
  uint64_t base, size;
} Mod;

static Mod mods[MAX_MODULES];
static int nmods;
static int mods_lock;
static char exe_path[LR_CONFIG_PATH_MAX];
static char exec_env[LR_CONFIG_PATH_MAX + 64];
static struct sigaction old_actions[NSIG];
/* Signals whose action is the shim's while the program believes it is
** old_actions[sig] (see the sigaction hook below); atomic. */
static int owned[NSIG];
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};

/* One line on stderr: "lowram: " and the parts (NULL parts are skipped).
** Callers put the separators in the parts. */
static void say5(const char *a, const char *b, const char *c, const char *d, const char *e) {
  const char *parts[] = {"lowram: ", a, b, c, d, e, "\n"};
  for (int i = 0; i < 7; i++)
    if (parts[i] && write(2, parts[i], strlen(parts[i])) < 0) return;
}
static void say(const char *a, const char *b, const char *c, const char *d) {
  say5(a, b, c, d, NULL);
}

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads a small /proc file with raw syscalls into buf; returns its length. */
static size_t read_proc(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t n = 0;
  while (n < cap) {
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  return n;
}

/* The value of "Key:  123 kB" in a /proc status-like text, in bytes. */
static uint64_t proc_kb(const char *buf, size_t len, const char *key) {
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

/* ---- modules ---------------------------------------------------------- */

typedef struct ModInfo {
  uint64_t base, size;
  const char *path;
  const uint8_t *bid;
  size_t bid_len;
} ModInfo;

static void mod_info(struct dl_phdr_info *info, ModInfo *m) {
  m->base = info->dlpi_addr;
  m->size = 0;
  m->bid = NULL;
  m->bid_len = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && ph->p_vaddr + ph->p_memsz > m->size)
      m->size = ph->p_vaddr + ph->p_memsz;
    if (ph->p_type == PT_NOTE && !m->bid) {
      const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
      const uint8_t *end = p + ph->p_memsz;
      while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
        size_t nsz = (nh->n_namesz + 3u) & ~3u, dsz = (nh->n_descsz + 3u) & ~3u;
        const uint8_t *name = p + sizeof *nh, *desc = name + nsz;
        if (desc + dsz > end) break;
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
          m->bid = desc;
          m->bid_len = nh->n_descsz;
          break;
        }
        p = desc + dsz;
      }
    }
  }
  m->path = info->dlpi_name ? info->dlpi_name : "";
  if (!m->path[0] && exe_path[0]) m->path = exe_path;
}

typedef struct SyncCtx {
  Mod now[MAX_MODULES];
  int n;
  LrSpoolWriter *w;
  uint64_t seq;
} SyncCtx;

static int known(uint64_t base) {
  for (int i = 0; i < nmods; i++)
    if (mods[i].base == base) return 1;
  return 0;
}

static int sync_cb(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  SyncCtx *c = arg;
  ModInfo m;
  mod_info(info, &m);
  if (m.size == 0 || c->n >= MAX_MODULES) return 0;
  c->now[c->n].base = m.base;
  c->now[c->n].size = m.size;
  c->n++;
  if (!known(m.base)) {
    if (!c->seq) c->seq = nmods ? lr_shim_next_seq() : 0;
    lr_sw_module(c->w, c->seq, m.base, m.size, m.bid, m.bid_len, m.path, strlen(m.path));
  }
  return 0;
}

static SyncCtx sync_ctx; /* under mods_lock: too big for a thread's stack */

void lr_session_modules_sync(void) {
  while (__atomic_exchange_n(&mods_lock, 1, __ATOMIC_ACQUIRE)) sched_yield();
  SyncCtx *c = &sync_ctx;
  c->n = 0;
  c->w = lr_shim_writer(&lr_tls);
  c->seq = 0;
  dl_iterate_phdr(sync_cb, c);
  for (int i = 0; i < nmods; i++) {
    int still = 0;
    for (int k = 0; k < c->n && !still; k++) still = c->now[k].base == mods[i].base;
    if (!still) {
      if (!c->seq) c->seq = lr_shim_next_seq();
      lr_sw_unmodule(c->w, c->seq, mods[i].base);
    }
  }
  memcpy(mods, c->now, sizeof(Mod) * (size_t)c->n);
  nmods = c->n;
  __atomic_store_n(&mods_lock, 0, __ATOMIC_RELEASE);
}

static int self_cb(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t *r = arg, me = r[2];
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo && me < hi) {
      r[0] = lo;
      r[1] = hi;
      return 1;
    }
  }
  return 0;
}

void lr_session_text_range(uintptr_t addr, uintptr_t *lo, uintptr_t *hi) {
  uintptr_t r[3] = {0, 0, addr};
  dl_iterate_phdr(self_cb, r);
  *lo = r[0];
  *hi = r[1];
}

void lr_session_self_range(uintptr_t *lo, uintptr_t *hi) {
  lr_session_text_range((uintptr_t)&lr_session_self_range, lo, hi);
}

/* ---- RSS samples ---------------------------------------------------------

By default there is no thread: a thread changes what the program is (it
can no longer unshare(CLONE_NEWUSER), setns into a user namespace, or be
counted as single-threaded). Samples are taken by the recording thread on
its way out of a hook, at most one per interval process-wide (whichever
thread first sees the interval pass claims it with one compare-and-swap),
and also at start, at exit and before exec. A program that stops
allocating (a long decode) gets no samples in between: LOWRAM_RSS_THREAD=1
adds a sampler thread, at its cost (one more thread, a 64 KiB stack and a
chunk of its own, a wakeup per interval). */

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
          v[k] = proc_kb(line, ll, keys[k]);
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

/* Writes one RSS record into w; returns its time. */
static uint64_t sample_rss(LrSpoolWriter *w) {
  uint64_t v[5];
  read_status(v);
  uint64_t ns = lr_shim_now();
  if (v[0]) lr_sw_rss_swap(w, __atomic_load_n(&g_shim.seq, __ATOMIC_RELAXED), ns, v);
  return ns;
}

void lr_session_rss_due(LrSpoolWriter *w, uint64_t ns) {
  uint64_t due = __atomic_load_n(&g_shim.next_rss_ns, __ATOMIC_RELAXED);
  if (ns < due) return;
  /* claim this interval (no other thread's sample until the next is set) */
  if (!__atomic_compare_exchange_n(&g_shim.next_rss_ns, &due, UINT64_MAX, 0, __ATOMIC_RELAXED,
                                   __ATOMIC_RELAXED))
    return;
  uint64_t at = sample_rss(w);
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
    if (__atomic_load_n(&g_shim.active, __ATOMIC_ACQUIRE)) sample_rss(&t->w);
    nanosleep(&iv, NULL);
  }
  return NULL;
}

static void start_sampler(void) {
  /* no samples on the recording path unless the interval is set and no
  ** thread takes them */
  __atomic_store_n(&g_shim.next_rss_ns,
                   g_shim.cfg.rss_interval_ms && !g_shim.cfg.rss_thread
                       ? lr_shim_now() + (uint64_t)g_shim.cfg.rss_interval_ms * 1000000u
                       : UINT64_MAX,
                   __ATOMIC_RELAXED);
  if (!g_shim.cfg.rss_interval_ms || !g_shim.cfg.rss_thread) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 64 * 1024);
  if (pthread_create(&th, &a, sampler, (void *)(uintptr_t)g_shim.gen) != 0)
    say("cannot start the RSS sampler thread", "", "", "");
  pthread_attr_destroy(&a);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- session ------------------------------------------------------------ */

/* Creates the spool under the first free name (shim_config.h rules). */
static int open_spool(void) {
  char base[LR_CONFIG_PATH_MAX];
  long pid = (long)getpid();
  if (lr_config_expand(base, sizeof base, g_shim.cfg.out_template, pid) != 0) {
    say("LOWRAM_OUT is too long or has a bad %-sequence: ", g_shim.cfg.out_template,
        " (not tracing)", "");
    return -1;
  }
  /* A directory (LOWRAM_OUT=/data/local/tmp/): the default name inside it,
  ** so forks and exec'd images name their spools as they do by default
  ** (the old code tried "DIR/" and then "DIR/.PID": a hidden file). */
  size_t bl = strlen(base);
  struct stat dst;
  if (base[bl - 1] == '/' || (stat(base, &dst) == 0 && S_ISDIR(dst.st_mode))) {
    char name[64];
    if (lr_config_expand(name, sizeof name, LR_DEFAULT_OUT, pid) != 0) return -1;
    size_t nl = strlen(name);
    if (base[bl - 1] != '/') base[bl++] = '/';
    if (bl + nl + 1 > sizeof base - sizeof LR_SPOOL_SUFFIX - 48) {
      say("LOWRAM_OUT is too long: ", g_shim.cfg.out_template, " (not tracing)", "");
      return -1;
    }
    memcpy(base + bl, name, nl + 1);
  }
  for (unsigned k = 0; k < 1000; k++) {
    char *tr = g_shim.trace, *sp = g_shim.spool_path;
    size_t cap = sizeof g_shim.trace - sizeof LR_SPOOL_SUFFIX;
    if (lr_config_candidate(tr, cap, base, pid, k) != 0) break;
    size_t tl = strlen(tr);
    memcpy(sp, tr, tl);
    memcpy(sp + tl, LR_SPOOL_SUFFIX, sizeof LR_SPOOL_SUFFIX);
    struct stat st;
    if (lstat(tr, &st) == 0) continue; /* the trace name is taken */
    int fd = open(sp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    if (errno != EEXIST) {
      say5("cannot create ", sp, ": ", strerror(errno), " (not tracing)");
      return -1;
    }
  }
  say("no free trace name near ", base, " (not tracing)", "");
  return -1;
}

static void write_start_records(void) {
  LrSpoolWriter *w = lr_shim_writer(&lr_tls);
  char args[16384];
  size_t n = read_proc("/proc/self/cmdline", args, sizeof args);
  lr_sw_argv(w, args, n);
  nmods = 0;
  lr_session_modules_sync();
  sample_rss(w); /* every trace has a first sample, however short its life */
}

void lr_session_sample_rss(void) {
  if (g_shim.spool) sample_rss(lr_shim_writer(&lr_tls));
}

/* Unmaps the stack tables (a failed start, or a fork child's copy of its
** parent's). */
static void free_tables(void) {
  lr_stack_table_free(g_shim.stacks);
  g_shim.stacks = NULL;
  lr_stack_table_free(g_shim.fp_trusted);
  g_shim.fp_trusted = NULL;
  if (g_shim.fp_map) lr_sys_munmap(g_shim.fp_map, g_shim.fp_map_len * sizeof(uint64_t));
  g_shim.fp_map = NULL;
}

/* Maps the stack tables. They come before the spool: a process that cannot
** have them (RLIMIT_AS) is not traced and leaves no spool behind (a spool
** with a header and nothing else would read as a run killed at start). */
static int map_tables(void) {
  /* The table's touched pages count in the target's RssAnon, and new
  ** stacks land on random pages: levels up to 2^16 slots (2 MiB at most,
  ** about 90k stacks before dedup degrades) is the compromise. The arena
  ** fills in order. Both start small (stack_table.h). */
  g_shim.stacks = lr_stack_table_new(16, 64u << 20);
  if (!g_shim.stacks) {
    say("cannot map the stack table: ", strerror(errno), " (not tracing)", "");
    return -1;
  }
  /* NULL (the check is off) if it cannot be mapped: plain libunwind then */
  if (g_shim.cfg.unwinder == LR_UNWIND_LIBUNWIND && g_shim.cfg.fp_check &&
      lr_unwind_available(LR_UNWIND_LIBUNWIND)) {
    g_shim.fp_map_len = (uint64_t)1 << 15;
    g_shim.fp_map = (uint64_t *)lr_sys_mmap(NULL, g_shim.fp_map_len * sizeof(uint64_t),
                                            PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if ((void *)g_shim.fp_map == MAP_FAILED) g_shim.fp_map = NULL;
    if (g_shim.fp_map) g_shim.fp_trusted = lr_stack_table_new(15, 16u << 20);
  }
  return 0;
}

int lr_session_start(long ppid, uint64_t exec_index) {
  if (map_tables() != 0) return -1;
  int fd = open_spool();
  if (fd < 0) {
    free_tables();
    return -1;
  }
  if (!exe_path[0]) {
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    exe_path[n > 0 ? n : 0] = 0;
  }
  char mi[4096];
  size_t mn = read_proc("/proc/meminfo", mi, sizeof mi);
  /* the absolute path, to reopen the spool if the program closes its fd
  ** after a chdir */
  static char abs_path[LR_CONFIG_PATH_MAX];
  abs_path[0] = 0;
  if (g_shim.spool_path[0] == '/') {
    memcpy(abs_path, g_shim.spool_path, strlen(g_shim.spool_path) + 1);
  } else if (getcwd(abs_path, sizeof abs_path)) {
    size_t cl = strlen(abs_path), sl = strlen(g_shim.spool_path);
    if (cl + 1 + sl < sizeof abs_path) {
      abs_path[cl] = '/';
      memcpy(abs_path + cl + 1, g_shim.spool_path, sl + 1);
    } else {
      abs_path[0] = 0;
    }
  } else {
    abs_path[0] = 0;
  }
  LrSpoolOpts o = {
    .chunk_size = g_shim.cfg.chunk_size,
    .stack_depth = g_shim.cfg.depth,
    .rss_interval_ms = g_shim.cfg.rss_interval_ms,
    .unwinder = g_shim.cfg.unwinder,
    .pid = (uint64_t)getpid(),
    .ppid = (uint64_t)ppid,
    .exec_index = exec_index,
    .start_mono_ns = clock_ns(CLOCK_MONOTONIC),
    .start_realtime_ns = clock_ns(CLOCK_REALTIME),
    .mem_total = proc_kb(mi, mn, "MemTotal:"),
    .path = abs_path[0] ? abs_path : NULL,
  };
  g_shim.start_ns = o.start_mono_ns;
  g_shim.seq = 0;
  int r = lr_spool_create(&g_shim.spool, fd, &o);
  if (r != 0) {
    say5("cannot set up the spool ", g_shim.spool_path, ": ", strerror(-r), " (not tracing)");
    unlink(g_shim.spool_path);
    free_tables();
    return -1;
  }
  __atomic_add_fetch(&g_shim.gen, 1, __ATOMIC_RELEASE);
  write_start_records();
  if (lr_spool_cut_short(g_shim.spool)) {
    /* not even the first chunk (argv, modules) could be reserved or mapped:
    ** a spool that holds nothing is not left behind */
    int e = lr_spool_error(g_shim.spool);
    say5("cannot map a chunk of ", g_shim.spool_path, ": ", e ? strerror(e) : "fd lost",
         " (not tracing)");
    lr_sw_drop(&lr_tls.w);
    lr_tls.gen = 0;
    lr_spool_abandon(g_shim.spool);
    g_shim.spool = NULL;
    unlink(g_shim.spool_path);
    free_tables();
    return -1;
  }
  start_sampler();
  return 0;
}

/* The forking process's pid, taken before the fork: in the child,
** getppid() says 1 (or a subreaper) once the parent has exited. */
static long fork_parent;

void lr_session_before_fork(void) { fork_parent = (long)syscall(SYS_getpid); }

void lr_session_after_fork(void) {
  long parent = fork_parent;
  fork_parent = 0;
  if (!__atomic_load_n(&g_shim.active, __ATOMIC_ACQUIRE)) return;
  LrTls *t = &lr_tls;
  int g = t->guard;
  t->guard = 1;
  __atomic_store_n(&g_shim.active, 0, __ATOMIC_RELEASE);
  /* the parent's chunk, header and stack ids are not ours to touch */
  lr_sw_drop(&t->w);
  t->gen = 0;
  lr_spool_abandon(g_shim.spool);
  g_shim.spool = NULL;
  free_tables();
  __atomic_store_n(&mods_lock, 0, __ATOMIC_RELEASE);
  g_shim.exit_known = 0;
  if (lr_session_start(parent ? parent : (long)getppid(), 0) == 0) {
    lr_session_exec_env();
    __atomic_store_n(&g_shim.active, 1, __ATOMIC_RELEASE);
  }
  t->guard = g;
}

/* LOWRAM_STATS=1: the shim's counters, one line on stderr (the threads
** that ended and the calling one). */
static void put_u(char **p, uint64_t v) {
  char d[24];
  int n = 0;
  do d[n++] = (char)('0' + v % 10); while ((v /= 10));
  while (n) *(*p)++ = d[--n];
}

static void print_stats(void) {
  lr_shim_sc_retire();
  LrScStats c = g_shim.scs;
  char line[256], *p = line;
  const char *parts[] = {"lowram: stack cache: ", " lookups, ", " hits (", "%), ",
                         " entries made, ", " stacks not cacheable\n"};
  uint64_t vals[] = {c.lookups, c.hits, c.lookups ? c.hits * 100 / c.lookups : 0, c.fills,
                     c.refused};
  for (int i = 0; i < 6; i++) {
    for (const char *q = parts[i]; *q; q++) *p++ = *q;
    if (i < 5) put_u(&p, vals[i]);
  }
  if (write(2, line, (size_t)(p - line)) < 0) return;
  uint64_t kept = __atomic_load_n(&g_shim.pend_kept, __ATOMIC_RELAXED),
           lost = __atomic_load_n(&g_shim.pend_lost, __ATOMIC_RELAXED);
  if (kept || lost) {
    p = line;
    for (const char *q = "lowram: signal handlers' mmap/munmap inside a hook: "; *q; q++) *p++ = *q;
    put_u(&p, kept);
    for (const char *q = " recorded late, "; *q; q++) *p++ = *q;
    put_u(&p, lost);
    for (const char *q = " lost\n"; *q; q++) *p++ = *q;
    if (write(2, line, (size_t)(p - line)) < 0) return;
  }
  uint64_t r = __atomic_load_n(&g_shim.rescued, __ATOMIC_RELAXED);
  if (r) {
    p = line;
    for (const char *q = "lowram: "; *q; q++) *p++ = *q;
    put_u(&p, r);
    for (const char *q = " allocations by signal handlers inside the allocator served from the "
                         "rescue pool\n"; *q; q++)
      *p++ = *q;
    if (write(2, line, (size_t)(p - line)) < 0) return;
  }
}

void lr_session_end(uint32_t reason, int64_t code) {
  if (!g_shim.spool) return;
  /* a vfork child shares our memory (and this thread's chunk) but is not
  ** the process that owns the spool: it must not end or seal anything */
  if ((uint64_t)syscall(SYS_getpid) != lr_spool_header(g_shim.spool)->pid) return;
  /* Frees in later destructors must not claim chunks after the end. A
  ** fatal signal may return to the program (a sent one is re-raised, a
  ** fault re-executes), so recording stays on for whatever still lands. */
  if (reason != LR_END_SIGNAL) __atomic_store_n(&g_shim.active, 0, __ATOMIC_RELEASE);
  if (reason != LR_END_SIGNAL) {
    LrSpoolWriter *w = lr_shim_writer(&lr_tls);
    sample_rss(w); /* the last word on resident memory */
  }
  lr_spool_end(g_shim.spool, reason, code, lr_shim_now());
  if (reason != LR_END_SIGNAL) lr_sw_seal(&lr_tls.w);
  if (reason != LR_END_SIGNAL && g_shim.cfg.stats) print_stats();
}

/* The previous image of this process was replaced by us: say so in its
** spool (it had no chance to). */
void lr_session_mark_prev_exec(const char *prev) {
  int fd = open(prev, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  LrSpoolHeader *h = (LrSpoolHeader *)lr_sys_mmap(NULL, LR_SPOOL_HEADER_SIZE,
                                                  PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if ((void *)h != MAP_FAILED) {
    if (!memcmp(h->magic, LR_SPOOL_MAGIC, 8) && h->pid == (uint64_t)getpid() &&
        !(h->flags & LR_SPOOL_ENDED)) {
      uint64_t now = clock_ns(CLOCK_MONOTONIC);
      h->end_reason = LR_END_EXEC;
      h->end_code = 0;
      h->end_ns = now > h->start_mono_ns ? now - h->start_mono_ns : 0;
      __atomic_fetch_or(&h->flags, LR_SPOOL_ENDED, __ATOMIC_RELEASE);
    }
    lr_sys_munmap(h, LR_SPOOL_HEADER_SIZE);
  }
  close(fd);
}

/* Tells an image exec'd from this one its index and our spool. The string
** lives in a static buffer handed to putenv once; a fork child rewrites it
** in place, so no allocation happens after start. */
const char *lr_session_exec_env_entry(void) { return exec_env; }

void lr_session_exec_env(void) {
  static int put;
  LrSpoolHeader *h = lr_spool_header(g_shim.spool);
  if (lr_config_exec_env(exec_env, sizeof exec_env, (long)getpid(), h->exec_index,
                         g_shim.spool_path) != 0)
    return;
  if (!put && getenv(LR_EXEC_ENV) != exec_env + sizeof LR_EXEC_ENV) {
    putenv(exec_env);
    put = 1;
  }
}

/* ---- the shim's signal handlers, and hiding them ---------------------------
The shim catches fatal signals (and SIGTERM/SIGHUP) left at their default
action, to write how the run ended. A program that asks what its SIGSEGV
action is must not see ours: it would take the shim's handler for a
debugger's or a sanitizer's, or chain to it. So sigaction() and signal()
are hooked: while a signal is the shim's (owned, and its action really is
one of our handlers), a query answers with what the program had (the
default), and a program that sets its own action gets it, and the shim lets
go of that signal; likewise signal() and glibc's __sysv_signal,
sysv_signal, sigset, bsd_signal and ssignal. Calls that bypass these
symbols (a raw rt_sigaction syscall, as Go's runtime makes) still see the
shim's handler; setting an action that way still
works, and the shim then never sees that signal. The main thread's
alternate signal stack (alt_stack below) stays visible to sigaltstack(). */

typedef int (*SigactionFn)(int, const struct sigaction *, struct sigaction *);
typedef void (*SighandlerFn)(int);
typedef SighandlerFn (*SignalFn)(int, SighandlerFn);
static SigactionFn real_sigaction_fn;
/* libc's signal() and, on glibc, its System V and BSD variants: each sets
** an action with its own flags (signal() also minds siginterrupt()), so the
** hooks call them and only hide the shim's handler in what they return.
** glibc's <signal.h> turns signal() into __sysv_signal without
** _DEFAULT_SOURCE (-std=c99). */
enum { SF_SIGNAL, SF_SYSV, SF_SYSV2, SF_SIGSET, SF_BSD, SF_SSIGNAL, SF_N };
static const char *const signal_fn_names[SF_N] = {"signal", "__sysv_signal", "sysv_signal",
                                                  "sigset",        "bsd_signal",  "ssignal"};
static SignalFn real_signal_fns[SF_N];

/* Called from the constructor before the session starts (and so before the
** shim owns any signal), so that a hook never calls dlsym, which is not
** async-signal-safe, from a signal handler. */
static void resolve_signal_fns(void) {
  if (!__atomic_load_n(&real_sigaction_fn, __ATOMIC_ACQUIRE)) {
    int g = lr_tls.guard;
    lr_tls.guard = 1; /* dlsym may allocate */
    SigactionFn f = (SigactionFn)dlsym(RTLD_NEXT, "sigaction");
    for (int i = 0; i < SF_N; i++) {
#ifndef __GLIBC__
      if (i != SF_SIGNAL) continue;
#endif
      *(void **)&real_signal_fns[i] = dlsym(RTLD_NEXT, signal_fn_names[i]);
    }
    lr_tls.guard = g;
    __atomic_store_n(&real_sigaction_fn, f, __ATOMIC_RELEASE);
  }
}

void lr_session_resolve_signals(void) { resolve_signal_fns(); }

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  SigactionFn f = __atomic_load_n(&real_sigaction_fn, __ATOMIC_ACQUIRE);
  if (!f) {
    resolve_signal_fns();
    f = __atomic_load_n(&real_sigaction_fn, __ATOMIC_ACQUIRE);
  }
  if (!f) {
    errno = ENOSYS;
    return -1;
  }
  return f(sig, act, old);
}

static void on_fatal(int sig, siginfo_t *si, void *uc);
static void on_term(int sig, siginfo_t *si, void *uc);

/* The shim no longer has sig. Not in a vfork child: it shares the parent's
** memory (owned[]) but not its actions, which stay the shim's. */
static void disown(int sig) {
  if (g_shim.spool && (uint64_t)syscall(SYS_getpid) != lr_spool_header(g_shim.spool)->pid) return;
  __atomic_store_n(&owned[sig], 0, __ATOMIC_RELEASE);
}

/* Whether sig is the shim's now: owned, and its action one of ours (a
** program that set its action another way took it back). */
static int shim_owns(int sig) {
  if (sig <= 0 || sig >= NSIG || !__atomic_load_n(&owned[sig], __ATOMIC_ACQUIRE)) return 0;
  struct sigaction cur;
  if (real_sigaction(sig, NULL, &cur) != 0) return 0;
  if ((cur.sa_flags & SA_SIGINFO) && (cur.sa_sigaction == on_fatal || cur.sa_sigaction == on_term))
    return 1;
  disown(sig);
  return 0;
}

LR_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (!shim_owns(sig)) return real_sigaction(sig, act, old);
  struct sigaction was = old_actions[sig]; /* act and old may be one struct */
  if (act) {
    int r = real_sigaction(sig, act, NULL);
    if (r != 0) return r;
    disown(sig);
  }
  if (old) *old = was;
  return 0;
}

/* One of libc's signal() family, the shim's handler hidden: what it
** returns is the program's action when the shim's was in place, and a call
** that sets an action (sets: not sigset's SIG_HOLD) lets go of the signal. */
static SighandlerFn call_signal_fn(int which, int sig, SighandlerFn h, int sets) {
  if (!__atomic_load_n(&real_sigaction_fn, __ATOMIC_ACQUIRE)) resolve_signal_fns();
  SignalFn f = real_signal_fns[which];
  if (!f) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  if (!shim_owns(sig)) return f(sig, h);
  SighandlerFn was = f(sig, h);
  if (was == SIG_ERR) return was;
  if (sets) disown(sig);
  if ((uintptr_t)was == (uintptr_t)on_fatal || (uintptr_t)was == (uintptr_t)on_term)
    was = old_actions[sig].sa_handler;
  return was;
}

LR_EXPORT SighandlerFn signal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SIGNAL, sig, h, 1);
}

#ifdef __GLIBC__
LR_EXPORT SighandlerFn __sysv_signal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SYSV, sig, h, 1);
}

LR_EXPORT SighandlerFn sysv_signal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SYSV2, sig, h, 1);
}

LR_EXPORT SighandlerFn sigset(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SIGSET, sig, h, h != SIG_HOLD);
}

LR_EXPORT SighandlerFn bsd_signal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_BSD, sig, h, 1);
}

LR_EXPORT SighandlerFn ssignal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SSIGNAL, sig, h, 1);
}
#endif

static void on_fatal(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  int e = errno, g = lr_tls.guard;
  lr_tls.guard = 1;
  if (g_shim.spool) lr_session_end(LR_END_SIGNAL, sig);
  lr_tls.guard = g;
  disown(sig);
  real_sigaction(sig, &old_actions[sig], NULL);
  /* a fault re-executes and meets the old action; a sent signal is re-sent */
  if (si->si_code <= 0 || sig == SIGABRT) raise(sig);
  errno = e;
}

/* SIGTERM and SIGHUP when their action is the default (terminate): the
** spool says which signal ended the run, then the signal is raised again
** with the default action, so the process dies of it as it would have. A
** program that installs its own handler later replaces this one (the shim
** then does not see the ending: "killed", or the recorder's status).
** SIGINT is left alone: Python, for one, installs its KeyboardInterrupt
** handler only when it finds SIGINT at SIG_DFL. */
static const int term_signals[] = {SIGTERM, SIGHUP};

static void on_term(int sig, siginfo_t *si, void *uc) {
  (void)si;
  (void)uc;
  int g = lr_tls.guard;
  lr_tls.guard = 1;
  if (g_shim.spool) lr_session_end(LR_END_SIGNAL, sig);
  lr_tls.guard = g;
  disown(sig);
  real_sigaction(sig, &old_actions[sig], NULL);
  raise(sig); /* blocked until we return: then the default action */
}

/* A stack overflow faults on the guard page, where no handler can run: the
** main thread gets an alternate signal stack (64 KiB of address space,
** touched only by a fatal signal) unless the program set one. Other threads
** have none: an overflow there ends the trace as "killed". */
static void alt_stack(void) {
  stack_t cur;
  if (sigaltstack(NULL, &cur) != 0 || !(cur.ss_flags & SS_DISABLE)) return;
  size_t sz = 64 * 1024;
  void *p = lr_sys_mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  stack_t ss = {.ss_sp = p, .ss_size = sz, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) lr_sys_munmap(p, sz);
}

void lr_session_install_signals(void) {
  resolve_signal_fns();
  alt_stack();
  struct sigaction st;
  memset(&st, 0, sizeof st);
  st.sa_sigaction = on_term;
  st.sa_flags = SA_SIGINFO;
  sigfillset(&st.sa_mask);
  for (size_t i = 0; i < sizeof term_signals / sizeof *term_signals; i++) {
    int s = term_signals[i];
    struct sigaction old;
    if (real_sigaction(s, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
        old.sa_handler != SIG_DFL)
      continue; /* ignored, or the program's own */
    old_actions[s] = old;
    if (real_sigaction(s, &st, NULL) == 0) __atomic_store_n(&owned[s], 1, __ATOMIC_RELEASE);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++) {
    int s = fatal_signals[i];
    struct sigaction old;
    if (real_sigaction(s, NULL, &old) != 0) continue;
    /* leave a program's (or a sanitizer's) own handler alone */
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL) continue;
    if ((old.sa_flags & SA_SIGINFO)) continue;
    old_actions[s] = old;
    if (real_sigaction(s, &sa, NULL) == 0) __atomic_store_n(&owned[s], 1, __ATOMIC_RELEASE);
  }
}
