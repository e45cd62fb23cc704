/*
** shim_session.c: one spool per process image. Opens the output file under
** the naming rules of shim_config.h, writes the header, argv, module map
** (shim_modules.c) and first RSS sample (shim_rss.c), restarts everything
** in a fork child, tells an exec'd image its index, and marks how the run
** ended (exit, _exit, exec; fatal signals through shim_signals.c). Runs
** with the calling thread's guard set.
**
** Invariant: the spool file is created with O_CREAT|O_EXCL|O_NOFOLLOW,
** mode 0600: an existing file or symlink is never written through.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim_modules.h"
#include "shim_rss.h"
#include "shim_session.h"
#include "shim_stack.h"
#include "sys_mmap.h"
#include "unwind.h"

static char exec_env[LR_CONFIG_PATH_MAX + 64];

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
  lr_modules_start();
  lr_rss_sample(w); /* every trace has a first sample, however short its life */
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
    .mem_total = lr_proc_kb(mi, mn, "MemTotal:"),
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
  if (lr_rss_start() != 0) say("cannot start the RSS sampler thread", "", "", "");
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
  lr_modules_after_fork();
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
    lr_rss_sample(w); /* the last word on resident memory */
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
