/*
** cli_record.c: `lowram record [-o OUT.db] [--depth N] [--rss-interval MS]
** [--unwind fp|libunwind] [--keep-spool] [--tui] -- CMD [ARGS...]`.
**
** --tui: the terminal belongs to the live view (tui.h: lt_record_live):
** CMD's stdin is /dev/null and its stdout and stderr go to OUT's name with
** .log for .db; once everything has ended the trace is imported here as
** without --tui and browsed (lt_record_browse) before the summary.
**
** Runs CMD with liblowram.so preloaded, forwards the signals a user sends
** to lowram, waits, then imports the spool of CMD and those of its
** descendants (forks and exec'd images write their own, under names the
** shim derives from OUT: shim_config.h). Which spools belong to this run is
** decided by their headers, not their names: the first process's pid, then
** every spool whose ppid is one of the pids accepted so far (or lowram's
** own pid: an orphan re-parented to us). Exits with CMD's status
** (128+signal if it was killed).
**
** Invariants:
** 1. The forwarded signals are blocked from before their handler is
**    installed until g_child holds CMD's pid, so none is lost in between;
**    CMD starts with an empty mask and default dispositions for them.
** 2. On Linux lowram is a child subreaper: descendants that outlive CMD
**    are re-parented to it, and `lowram record` returns only when the whole
**    process tree has ended (a daemonizing CMD keeps it waiting; that is the
**    price of complete traces). The status returned is still CMD's.
** 3. Once CMD has exited the handlers are gone (SIG_DFL): a signal while
**    waiting for descendants or importing ends lowram. The importer writes
**    a hidden temp file and renames it, so OUT is never half written; a
**    killed import leaves that temp file (.NAME.import-XXXXXX) and keeps the
**    spool, which `lowram import` can still turn into the trace.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "tui.h"
#include "lowram/import.h"
#include "ingest/spool_read.h"
#include "lowram/text.h"
#include "lowram/units.h"

extern char **environ;

#define SHIM_NAME "liblowram.so"

static volatile sig_atomic_t g_child;

/* Forward what a user or a supervisor sent; the terminal already sent its
** SIGINT to the whole foreground group, so the child has that one. */
static void forward(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (g_child > 0 && si->si_code != SI_KERNEL) kill((pid_t)g_child, sig);
}

/* dir/name into out if it fits and is readable. */
static int try_dir(char *out, size_t len, const char *dir, const char *name) {
  int w = snprintf(out, len, "%s/%s", dir, name);
  return w > 0 && (size_t)w < len && access(out, R_OK) == 0 ? 0 : -1;
}

/* cli.h. For the shim (sub ""), first found of:
**   1. the environment variable `env`, when set (an error if unreadable);
**   2. the libdir beside this lowram: its directory (/proc/self/exe) joined
**      with libdir relative to bindir, so an installed tree that was moved
**      or unpacked elsewhere (DESTDIR) still uses its own files;
**   3. name in lowram's own directory (both copied somewhere);
**   4. the build tree's `build_dir`, only when this is the build tree's lowram;
**   5. the configured PREFIX/LIBDIR. */
int lr_cli_find_lib(const char *cmd, const char *env, const char *name, const char *sub,
                    const char *build_dir, char *out, size_t len) {
  const char *e = getenv(env);
  if (e && *e) {
    int w = snprintf(out, len, "%s", e);
    if (w > 0 && (size_t)w < len && access(out, R_OK) == 0) return 0;
    lr_cli_error(cmd, "%s=%s: %s", env, e,
                 w > 0 && (size_t)w < len ? strerror(errno) : "path too long");
    return -1;
  }
  char exe[PATH_MAX], dir[PATH_MAX * 2 + 64], real[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  char *slash = n > 0 ? (exe[n] = 0, strrchr(exe, '/')) : NULL;
  if (slash) {
    *slash = 0; /* exe is lowram's directory now */
    if (LR_LIBDIR_FROM_BINDIR[0] == '/')
      snprintf(dir, sizeof dir, "%s/%s", LR_LIBDIR_FROM_BINDIR, sub);
    else
      snprintf(dir, sizeof dir, "%s/%s/%s", exe, LR_LIBDIR_FROM_BINDIR, sub);
    /* ".../bin/../lib/..." named plainly */
    if ((realpath(dir, real) && try_dir(out, len, real, name) == 0) ||
        try_dir(out, len, exe, name) == 0)
      return 0;
    char build_cli[PATH_MAX];
    if (realpath(LR_BUILD_CLI_DIR, build_cli) && strcmp(build_cli, exe) == 0 &&
        try_dir(out, len, build_dir, name) == 0)
      return 0;
  }
  snprintf(dir, sizeof dir, "%s/%s", LR_INSTALL_LIBDIR, sub);
  return try_dir(out, len, dir, name);
}

/* Which liblowram.so `record` preloads (LOWRAM_SHIM, ...: lr_cli_find_lib). */
static int find_shim(char *out, size_t len) {
  return lr_cli_find_lib("record", "LOWRAM_SHIM", SHIM_NAME, "", LR_BUILD_PRELOAD_DIR, out, len);
}

/* The directory of lowram's Python package beside the shim (issue 13:
** Python frames): libdir/lowram-python when installed, python/ in the build
** tree (the shim is preload/liblowram.so there). 0 with out set, -1 if none. */
static int find_python_dir(const char *shim, char *out, size_t len) {
  static const char *const rel[] = {"lowram-python", "../python"};
  const char *slash = strrchr(shim, '/');
  int dl = slash ? (int)(slash - shim) : 1;
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    char probe[PATH_MAX];
    int w = snprintf(probe, sizeof probe, "%.*s/%s/sitecustomize.py", dl, slash ? shim : ".",
                     rel[i]);
    if (w <= 0 || (size_t)w >= sizeof probe || access(probe, R_OK) != 0) continue;
    probe[w - (int)sizeof "/sitecustomize.py" + 1] = 0;
    if (!realpath(probe, out) || strlen(out) >= len) continue;
    return 0;
  }
  return -1;
}

/* The NAME=value strings env_set made, freed once CMD has started. */
static char *g_owned[8];
static size_t g_nowned;

/* env with NAME=value set (replacing an existing NAME); NULL value removes. */
static int env_set(char ***env, size_t *n, const char *name, const char *value) {
  size_t nl = strlen(name);
  /* every match: with NAME twice, getenv in CMD may find a stale one */
  for (size_t i = 0; i < *n;)
    if (!strncmp((*env)[i], name, nl) && (*env)[i][nl] == '=') {
      (*env)[i] = (*env)[--*n];
      (*env)[*n] = NULL; /* else the moved last entry stays twice */
    } else {
      i++;
    }
  if (!value) return 0;
  char *kv = malloc(nl + strlen(value) + 2);
  char **ne = realloc(*env, (*n + 2) * sizeof *ne);
  if (!kv || !ne) {
    free(kv);
    if (ne) *env = ne;
    return -1;
  }
  sprintf(kv, "%s=%s", name, value);
  if (g_nowned < sizeof g_owned / sizeof g_owned[0]) g_owned[g_nowned++] = kv;
  *env = ne;
  (*env)[(*n)++] = kv;
  (*env)[*n] = NULL;
  return 0;
}

static void usage(FILE *f) {
  fprintf(f, "usage: lowram record [-o OUT.db] [--depth N] [--rss-interval MS]\n"
             "                     [--unwind fp|libunwind] [--keep-spool] [--no-follow] [--tui]\n"
             "                     -- CMD [ARGS...]\n"
             "  OUT defaults to lowram-<pid>.db in the current directory; every process\n"
             "  and exec'd image CMD starts goes into OUT (--no-follow: CMD's own images\n"
             "  only); refuses to run when OUT or OUT.spool exists; returns when CMD and\n"
             "  every process it started have ended, with CMD's exit status\n"
             "  --tui: show the run live in the terminal (lowram tui), CMD's output going\n"
             "  to OUT's name with .log; q leaves the view and CMD keeps running\n");
}

/* ---- RSS from outside (schemas/SPOOL.md, "Outside samples") ----------
**
** While CMD and its descendants run, lowram samples /proc/PID/status of
** each of them every interval, from outside: no thread, no syscall and no
** byte of memory in the traced program. The samples go to one file for the
** run ("PID MONO_NS VM_RSS RSS_ANON RSS_FILE RSS_SHMEM VM_SWAP PSS" lines);
** once the run has ended they are dealt out to the spools (each image gets
** the samples of its pid from its start to the next image's), as SPOOL.rss
** beside each spool, which the importer merges by time.
**
** PSS (each page's bytes divided among the processes that map it) comes
** from /proc/PID/smaps_rollup, which the kernel computes by walking every
** page table of the process under its mmap lock: bench/overhead/pss_cost.sh
** measured 40 us a read for a small process (status: 9 us), 1.3 ms with
** 256 MiB resident and 6-7 ms with 1 GiB (status: still 9 us). So PSS is
** read in the first round of samples and then at most once per 10
** intervals and 100 ms (by time, not by counting rounds: a loaded machine
** that stretches the rounds does not stretch PSS's), and further apart
** still when reading it took long: the next PSS round waits 20 times what
** the last one cost (a sampler busy at most ~5% of its time on
** PSS, and a program's mmap lock held for as small a share). Other rounds
** write "-" in its place. */
#define PSS_EVERY 10
#define PSS_MIN_GAP_NS 100000000u
#define PSS_COST_FACTOR 20
typedef struct Sampler {
  int on;
  FILE *f;
  char path[PATH_MAX + 64];
  uint64_t interval_ns, next_ns, taken;
  uint64_t next_pss_ns; /* no PSS round before then */
} Sampler;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* VmRSS, RssAnon, RssFile, RssShmem, VmSwap of pid, in bytes; -1 if it has
** none (gone, or a zombie). */
static int read_status(long pid, uint64_t v[5]) {
  static const char *const keys[5] = {"VmRSS:", "RssAnon:", "RssFile:", "RssShmem:", "VmSwap:"};
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  int got = 0;
  memset(v, 0, 5 * sizeof *v);
  while (fgets(line, sizeof line, f))
    for (int k = 0; k < 5; k++) {
      size_t kl = strlen(keys[k]);
      if (!strncmp(line, keys[k], kl)) {
        v[k] = strtoull(line + kl, NULL, 10) * 1024u;
        got |= 1 << k;
      }
    }
  fclose(f);
  return got & 1 ? 0 : -1;
}

/* Pss of pid from smaps_rollup, in bytes; -1 if it cannot be read (gone,
** a zombie, or a kernel before 4.14). */
static int64_t read_pss(long pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", pid);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  int64_t v = -1;
  while (v < 0 && fgets(line, sizeof line, f))
    if (!strncmp(line, "Pss:", 4)) v = (int64_t)strtoll(line + 4, NULL, 10) * 1024;
  fclose(f);
  return v;
}

/* lowram's descendants, breadth first, from /proc/P/task/T/children. */
static size_t descendants(long *out, size_t cap) {
  size_t n = 0, i = 0;
  out[n++] = (long)getpid();
  while (i < n) {
    char dpath[64];
    snprintf(dpath, sizeof dpath, "/proc/%ld/task", out[i++]);
    DIR *d = opendir(dpath);
    if (!d) continue;
    for (struct dirent *e; (e = readdir(d));) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      char cpath[64 + sizeof e->d_name + 16];
      snprintf(cpath, sizeof cpath, "%s/%.*s/children", dpath, 24, e->d_name);
      FILE *f = fopen(cpath, "re");
      if (!f) continue;
      for (long c; n < cap && fscanf(f, "%ld", &c) == 1;) out[n++] = c;
      fclose(f);
    }
    closedir(d);
  }
  return n;
}

static void sample_tree(Sampler *s) {
  long pids[4096];
  size_t n = descendants(pids, sizeof pids / sizeof pids[0]);
  uint64_t start = mono_ns();
  /* half an interval of slack: a round starts a little after its slot */
  int pss = start + s->interval_ns / 2 >= s->next_pss_ns;
  for (size_t i = 1; i < n; i++) {
    uint64_t v[5], t = mono_ns();
    if (read_status(pids[i], v) != 0) continue;
    char pv[24] = "-";
    int64_t p = pss ? read_pss(pids[i]) : -1;
    if (p >= 0) snprintf(pv, sizeof pv, "%lld", (long long)p);
    fprintf(s->f, "%ld %llu %llu %llu %llu %llu %llu %s\n", pids[i], (unsigned long long)t,
            (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2],
            (unsigned long long)v[3], (unsigned long long)v[4], pv);
    s->taken++;
  }
  if (pss) {
    /* from the round's start: rounds keep to the interval's schedule */
    uint64_t gap = (mono_ns() - start) * PSS_COST_FACTOR;
    if (gap < PSS_MIN_GAP_NS) gap = PSS_MIN_GAP_NS;
    if (gap < PSS_EVERY * s->interval_ns) gap = PSS_EVERY * s->interval_ns;
    s->next_pss_ns = start + gap;
  }
}

/* waitpid(which) that samples while it waits: returns 0 with *status once
** `which` ended, or (which -1) once no child is left; -1 on error. */
static int wait_sampling(Sampler *s, pid_t which, int *status) {
  for (;;) {
    int st;
    pid_t r = waitpid(which, &st, s->on ? WNOHANG : 0);
    if (r > 0) {
      if (which == -1) continue;
      *status = st;
      return 0;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      return which == -1 && errno == ECHILD ? 0 : -1;
    }
    uint64_t now = mono_ns();
    if (now >= s->next_ns) {
      sample_tree(s);
      s->next_ns += s->interval_ns;
      if (s->next_ns <= now) s->next_ns = now + s->interval_ns;
    }
    /* wake at the next sample, or within 5 ms to see an exit */
    uint64_t nap = s->next_ns > now ? s->next_ns - now : 0;
    if (nap > 5000000u) nap = 5000000u;
    struct timespec ts = {0, (long)nap};
    nanosleep(&ts, NULL);
  }
}

/* Deals the run's samples out to its spools: SPOOL.rss with the samples of
** the spool's pid from its image's start to the next image's. */
static void deal_samples(Sampler *s, const LrRunSpool *sp, size_t n) {
  if (!s->f) return;
  fflush(s->f);
  uint64_t *start = calloc(n ? n : 1, sizeof *start);
  FILE **out = calloc(n ? n : 1, sizeof *out);
  for (size_t i = 0; start && out && i < n; i++) {
    LrSpoolHeader h;
    int fd = open(sp[i].path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h) start[i] = h.start_mono_ns;
    if (fd >= 0) close(fd);
  }
  rewind(s->f);
  char line[256];
  while (start && out && fgets(line, sizeof line, s->f)) {
    long pid;
    unsigned long long t;
    int at;
    if (sscanf(line, "%ld %llu %n", &pid, &t, &at) != 2) continue;
    size_t best = n;
    for (size_t i = 0; i < n; i++) /* the latest image of pid started by t */
      if (sp[i].pid == (uint64_t)pid && start[i] && start[i] <= t &&
          (best == n || start[i] > start[best]))
        best = i;
    if (best == n) continue;
    if (!out[best]) {
      char p[sizeof sp[best].path + 8];
      snprintf(p, sizeof p, "%s.rss", sp[best].path);
      out[best] = fopen(p, "we");
      if (!out[best]) continue;
    }
    fprintf(out[best], "%llu %s", t, line + at);
  }
  for (size_t i = 0; out && i < n; i++)
    if (out[i]) fclose(out[i]);
  free(start);
  free(out);
  fclose(s->f);
  s->f = NULL;
  unlink(s->path);
}

/* CMD's last traced image whose spool says nothing of its end (its shim
** did not see it: it exec'd a program that is not traced, `env -i CMD`,
** or an exec path the shim does not hook) while waitpid saw CMD exit:
** the spool gets that exit, at the time CMD was reaped. */
static void end_by_status(const char *path, int status, uint64_t reaped_ns) {
  if (!WIFEXITED(status)) return;
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  LrSpoolHeader h;
  if (pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && !memcmp(h.magic, LR_SPOOL_MAGIC, 8) &&
      !(h.flags & LR_SPOOL_ENDED)) {
    h.end_reason = LR_END_EXIT;
    h.end_code = WEXITSTATUS(status);
    h.end_ns = reaped_ns > h.start_mono_ns ? reaped_ns - h.start_mono_ns : 0;
    h.flags |= LR_SPOOL_ENDED;
    if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) { /* left as it was */ }
  }
  close(fd);
}

static int parse_num(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int lr_cli_record(int argc, char **argv) {
  static const struct option longs[] = {
    {"output", required_argument, 0, 'o'},
    {"depth", required_argument, 0, 'd'},
    {"rss-interval", required_argument, 0, 'r'},
    {"unwind", required_argument, 0, 'u'},
    {"keep-spool", no_argument, 0, 'k'},
    {"no-follow", no_argument, 0, 'n'},
    {"tui", no_argument, 0, 'T'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
  };
  const char *out = NULL, *depth = NULL, *rss = NULL, *unwind = NULL;
  int keep = 0, no_follow = 0, tui = 0, c;
  long v;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+o:h", longs, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'd':
      if (parse_num(optarg, 1, 256, &v)) {
        lr_cli_error("record", "--depth %s: want a number of frames from 1 to 256", optarg);
        return 2;
      }
      depth = optarg;
      break;
    case 'r':
      if (parse_num(optarg, 0, 60000, &v)) {
        lr_cli_error("record", "--rss-interval %s: want milliseconds from 0 (off) to 60000",
                     optarg);
        return 2;
      }
      rss = optarg;
      break;
    case 'u':
      if (strcmp(optarg, "fp") && strcmp(optarg, "libunwind")) {
        lr_cli_error("record", "--unwind %s: want fp or libunwind", optarg);
        return 2;
      }
      unwind = optarg;
      break;
    case 'k': keep = 1; break;
    case 'n': no_follow = 1; break;
    case 'T': tui = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return 2;
  }
  if (tui && (!isatty(0) || !isatty(1))) {
    lr_cli_error("record", "--tui needs a terminal (stdin and stdout)");
    return 2;
  }
  char shim[PATH_MAX];
  if (find_shim(shim, sizeof shim) != 0) {
    lr_cli_error("record", "cannot find %s next to lowram, in %s or in %s", SHIM_NAME,
                 LR_BUILD_PRELOAD_DIR, LR_INSTALL_LIBDIR);
    return 1;
  }
  /* An absolute OUT, so a CMD that changes directory still writes here. */
  char tmpl[PATH_MAX], cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) {
    lr_cli_error("record", "cannot get the current directory: %s", strerror(errno));
    return 1;
  }
  if (!out) out = "lowram-%p.db";
  if (snprintf(tmpl, sizeof tmpl, "%s%s%s", out[0] == '/' ? "" : cwd, out[0] == '/' ? "" : "/",
               out) >= (int)sizeof tmpl) {
    lr_cli_error("record", "%s: path too long", out);
    return 1;
  }
  struct stat st;
  if (!strchr(tmpl, '%') && lstat(tmpl, &st) == 0) {
    lr_cli_error("record", "%s: already exists, not overwriting it", out);
    return 1;
  }
  /* A spool at OUT's spool name is another run's (a killed LOWRAM_OUT run,
  ** or a record killed while importing): the shim would write beside it
  ** under a derived name, and whoever opens OUT later would import it.
  ** Refused before anything runs; it is the user's data, so it stays. */
  char stale[PATH_MAX + sizeof LR_SPOOL_SUFFIX];
  snprintf(stale, sizeof stale, "%s%s", tmpl, LR_SPOOL_SUFFIX);
  if (!strchr(tmpl, '%') && lstat(stale, &st) == 0) {
    lr_cli_error("record", "%s%s: a spool of an earlier run is already there; remove it, or make "
                 "its trace with `lowram import %s%s`", out, LR_SPOOL_SUFFIX, out, LR_SPOOL_SUFFIX);
    return 2;
  }
  /* the directory and the name prefix every spool of this run starts with */
  char dir[PATH_MAX], prefix[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", tmpl);
  char *slash = strrchr(dir, '/');
  *slash = 0;
  if (!*dir) snprintf(dir, sizeof dir, "/");
  snprintf(prefix, sizeof prefix, "%s", strrchr(tmpl, '/') + 1);
  char *cut = strchr(prefix, '%');
  if (cut) *cut = 0;
  else if (strlen(prefix) > 3 && !strcmp(prefix + strlen(prefix) - 3, ".db"))
    prefix[strlen(prefix) - 3] = 0;

  /* RSS from outside at the interval (--rss-interval, else the shim's
  ** LOWRAM_RSS_INTERVAL, else its 10 ms); the shim then takes only its
  ** start and end samples. --tui waits in the live view: the shim samples. */
  Sampler smp = {0};
  long rss_ms = 10;
  const char *rss_env = getenv("LOWRAM_RSS_INTERVAL");
  if (rss) parse_num(rss, 0, 60000, &rss_ms);
  else if (rss_env && parse_num(rss_env, 0, 60000, &rss_ms)) rss_ms = 10;
  if (!tui && rss_ms > 0) {
    snprintf(smp.path, sizeof smp.path, "%s/.%s-XXXXXX.rss", dir, prefix);
    int sfd = mkstemps(smp.path, 4);
    smp.f = sfd >= 0 ? fdopen(sfd, "w+") : NULL;
    if (!smp.f) {
      if (sfd >= 0) close(sfd), unlink(smp.path);
      lr_cli_error("record", "cannot make a file for RSS samples in %s: %s (RSS sampled by "
                   "the shim instead)", dir, strerror(errno));
    } else {
      smp.on = 1;
      smp.interval_ns = (uint64_t)rss_ms * 1000000u;
    }
  }
  size_t n = 0;
  while (environ[n]) n++;
  char **env = malloc((n + 1) * sizeof *env);
  if (!env) return 1;
  memcpy(env, environ, (n + 1) * sizeof *env);
  const char *old = getenv("LD_PRELOAD");
  char preload[2 * PATH_MAX];
  /* ours first, so allocations in another preloaded allocator are seen too */
  snprintf(preload, sizeof preload, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "");
  /* Python programs load lowram's sitecustomize (Python frames), which
  ** then runs the one it hides */
  char pydir[PATH_MAX], pypath[2 * PATH_MAX + 2];
  const char *oldpp = getenv("PYTHONPATH");
  int has_py = find_python_dir(shim, pydir, sizeof pydir) == 0;
  if (has_py)
    snprintf(pypath, sizeof pypath, "%s%s%s", pydir, oldpp && *oldpp ? ":" : "",
             oldpp ? oldpp : "");
  if ((has_py && env_set(&env, &n, "PYTHONPATH", pypath)) ||
      env_set(&env, &n, "LD_PRELOAD", preload) || env_set(&env, &n, "LOWRAM_OUT", tmpl) ||
      env_set(&env, &n, "LOWRAM_EXEC_INDEX", NULL) ||
      (depth && env_set(&env, &n, "LOWRAM_DEPTH", depth)) ||
      (smp.on && env_set(&env, &n, "LOWRAM_RSS_INTERVAL", "0")) ||
      (!smp.on && rss && env_set(&env, &n, "LOWRAM_RSS_INTERVAL", rss)) ||
      (unwind && env_set(&env, &n, "LOWRAM_UNWIND", unwind))) {
    lr_cli_error("record", "out of memory");
    return 1;
  }

  /* invariant 1: block, install, spawn with a clean mask, publish, unblock */
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  size_t nsigs = sizeof sigs / sizeof sigs[0];
  sigset_t fwd, prev, none;
  sigemptyset(&fwd);
  sigemptyset(&none);
  for (size_t i = 0; i < nsigs; i++) sigaddset(&fwd, sigs[i]);
  sigprocmask(SIG_BLOCK, &fwd, &prev);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < nsigs; i++) sigaction(sigs[i], &sa, NULL);
#ifdef PR_SET_CHILD_SUBREAPER
  /* invariant 2; failing (old kernel) only loses orphans' completeness */
  (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
#endif

  pid_t pid;
  char **cmd = argv + optind;
  struct timespec t0;
  clock_gettime(CLOCK_REALTIME, &t0);
  uint64_t since_ns = (uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec;
  /* --tui: CMD's output to a log, named once CMD's pid is known */
  char log_tmp[PATH_MAX + 32], log_path[PATH_MAX + 32] = "";
  int log_fd = -1;
  posix_spawn_file_actions_t fa;
  if (tui) {
    snprintf(log_tmp, sizeof log_tmp, "%s/.%s-XXXXXX.log", dir, prefix);
    log_fd = mkstemps(log_tmp, 4);
    if (log_fd < 0 || posix_spawn_file_actions_init(&fa) ||
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) ||
        posix_spawn_file_actions_adddup2(&fa, log_fd, 1) ||
        posix_spawn_file_actions_adddup2(&fa, log_fd, 2) ||
        posix_spawn_file_actions_addclose(&fa, log_fd)) {
      lr_cli_error("record", "--tui: cannot make a log in %s: %s", dir, strerror(errno));
      return 1;
    }
  }
  posix_spawnattr_t attr;
  int rc = posix_spawnattr_init(&attr);
  if (rc == 0) {
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &fwd);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = strchr(cmd[0], '/') ? posix_spawn(&pid, cmd[0], tui ? &fa : NULL, &attr, cmd, env)
                             : posix_spawnp(&pid, cmd[0], tui ? &fa : NULL, &attr, cmd, env);
    posix_spawnattr_destroy(&attr);
  }
  free(env);
  for (size_t i = 0; i < g_nowned; i++) free(g_owned[i]);
  g_nowned = 0;
  if (rc == 0) g_child = pid;
  sigprocmask(SIG_SETMASK, &prev, NULL);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  if (rc != 0) {
    for (size_t i = 0; i < nsigs; i++) sigaction(sigs[i], &dfl, NULL);
    lr_cli_error("record", "%s: cannot run: %s", cmd[0], strerror(rc));
    if (tui) close(log_fd), unlink(log_tmp);
    if (smp.f) fclose(smp.f), unlink(smp.path);
    return 127;
  }
  /* the trace goes where the user said: OUT, its %p made CMD's pid */
  char trace[PATH_MAX];
  size_t w = 0;
  for (const char *q = tmpl; *q && w + 24 < sizeof trace; q++) {
    if (q[0] == '%' && q[1] == 'p') {
      w += (size_t)snprintf(trace + w, sizeof trace - w, "%lld", (long long)pid);
      q++;
    } else if (q[0] == '%' && q[1] == '%') {
      trace[w++] = '%';
      q++;
    } else {
      trace[w++] = *q;
    }
  }
  trace[w] = 0;
  int status = 0, live = 0;
  if (tui) {
    /* the log beside the trace: OUT.db -> OUT.log, never over a file */
    posix_spawn_file_actions_destroy(&fa);
    close(log_fd);
    size_t tl = strlen(trace);
    snprintf(log_path, sizeof log_path, "%.*s.log",
             (int)(tl > 3 && !strcmp(trace + tl - 3, ".db") ? tl - 3 : tl), trace);
    if (link(log_tmp, log_path) == 0) unlink(log_tmp);
    else snprintf(log_path, sizeof log_path, "%s", log_tmp);
    LtRecordRun lr = {dir, prefix, (uint64_t)pid, (uint64_t)getpid(), since_ns, no_follow,
                      cmd[0], log_path, trace};
    live = lt_record_live(&lr, &status); /* 1: everything ended and was reaped */
  }
  smp.next_ns = mono_ns();
  if (live != 1 && wait_sampling(&smp, pid, &status) != 0) {
    lr_cli_error("record", "waiting for %s: %s", cmd[0], strerror(errno));
    return 1;
  }
  uint64_t reaped_ns = mono_ns();
  /* invariant 3: nothing left to forward to; a signal now ends lowram */
  for (size_t i = 0; i < nsigs; i++) sigaction(sigs[i], &dfl, NULL);
  g_child = 0;
  /* invariant 2: descendants re-parented to us; their spools are complete
  ** only once they have exited */
  wait_sampling(&smp, -1, NULL);
  int code = WIFEXITED(status) ? WEXITSTATUS(status)
             : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;

  LrRunSpool *spools = NULL;
  LrErr err = {{0}};
  long found = lr_import_find_run(dir, prefix, (uint64_t)pid, (uint64_t)getpid(), since_ns,
                                  &spools, &err);
  if (found < 0) {
    lr_cli_error("record", "%s", err.msg);
    deal_samples(&smp, NULL, 0);
    return code ? code : 1;
  }
  size_t ns = (size_t)found, all = ns;
  if (no_follow) {
    /* CMD's own images only; the spools of the processes it started go */
    size_t k = 0;
    for (size_t i = 0; i < ns; i++)
      if (spools[i].pid == (uint64_t)pid) spools[k++] = spools[i];
      else if (!keep) unlink(spools[i].path);
    ns = k;
  }
  deal_samples(&smp, spools, ns);
  if (!ns) {
    lr_cli_error("record", "%s left no spool in %s (a static or setuid program, or the shim "
                 "could not start; see its messages above)", cmd[0], dir);
    free(spools);
    return code ? code : 1;
  }
  /* the last image of CMD itself died of what waitpid said */
  for (size_t i = 0; i < ns; i++)
    if (WIFSIGNALED(status) && spools[i].pid == (uint64_t)pid) {
      int last = 1;
      for (size_t j = 0; j < ns; j++)
        if (spools[j].pid == (uint64_t)pid && spools[j].exec_index > spools[i].exec_index)
          last = 0;
      if (last) spools[i].killed_by = WTERMSIG(status);
    }
  for (size_t i = 0; i < ns; i++) { /* an exit the last image's shim did not see */
    if (spools[i].pid != (uint64_t)pid) continue;
    int last = 1;
    for (size_t j = 0; j < ns; j++)
      if (spools[j].pid == (uint64_t)pid && spools[j].exec_index > spools[i].exec_index)
        last = 0;
    if (last) end_by_status(spools[i].path, status, reaped_ns);
  }
  LrImportOpts opts = {0};
  if (isatty(2)) opts.progress = lr_cli_import_progress;
  LrImportStats s;
  int irc = lr_import_run(spools, ns, trace, &opts, &s, &err);
  if (opts.progress) lr_cli_import_progress(NULL, NULL);
  int failed = 0;
  if (irc) {
    /* the spools stay, so `lowram import` can still make the trace */
    lr_cli_error("record", "%s", err.msg);
    failed = 1;
  } else {
    if (!keep)
      for (size_t i = 0; i < ns; i++) {
        char side[sizeof spools[i].path + 8];
        snprintf(side, sizeof side, "%s.rss", spools[i].path);
        unlink(spools[i].path);
        unlink(side);
      }
    const char *shown = strncmp(trace, cwd, strlen(cwd)) || trace[strlen(cwd)] != '/'
                            ? trace : trace + strlen(cwd) + 1;
    if (live == 1) lt_record_browse(shown); /* the summary prints once it is left */
    lr_cli_run_summary(stderr, "record", shown, trace, &s);
    char esc[256];
    if (no_follow && all > ns)
      fprintf(stderr, "lowram record: --no-follow: %zu process(es) started by %s left out\n",
              all - ns, lr_text_escape(cmd[0], esc, sizeof esc));
  }
  free(spools);
  return code ? code : failed;
}
