/*
** cli_record.c: `lowram record [-o OUT.db] [--depth N] [--rss-interval MS]
** [--unwind fp|libunwind] [--keep-spool] -- CMD [ARGS...]`.
**
** Runs CMD with liblowram.so preloaded, forwards the signals a user sends
** to lowram, waits, then imports the spool of CMD and those of its
** descendants (forks and exec'd images write their own, under names the
** shim derives from OUT: shim_config.h). Which spools belong to this run is
** decided by their headers, not their names: the first process's pid, then
** every spool whose ppid is one of the pids accepted so far. Exits with
** CMD's status (128+signal if it was killed).
*/
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "import.h"
#include "spool_read.h"
#include "units.h"

extern char **environ;

#define SHIM_NAME "liblowram.so"
#define MAX_SPOOLS 1024

static volatile sig_atomic_t g_child;

/* Forward what a user or a supervisor sent; the terminal already sent its
** SIGINT to the whole foreground group, so the child has that one. */
static void forward(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (g_child > 0 && si->si_code != SI_KERNEL) kill((pid_t)g_child, sig);
}

/* dir/SHIM_NAME into out if it fits and is readable. */
static int try_dir(char *out, size_t len, const char *dir) {
  int w = snprintf(out, len, "%s/%s", dir, SHIM_NAME);
  return w > 0 && (size_t)w < len && access(out, R_OK) == 0 ? 0 : -1;
}

static int find_shim(char *out, size_t len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = 0;
      if (try_dir(out, len, exe) == 0) return 0;
    }
  }
  if (try_dir(out, len, LR_BUILD_PRELOAD_DIR) == 0) return 0;
  return try_dir(out, len, LR_INSTALL_LIBDIR);
}

typedef struct Found {
  char path[PATH_MAX];
  uint64_t pid, ppid, exec_index;
  int taken;
} Found;

static int found_cmp(const void *a, const void *b) {
  const Found *x = a, *y = b;
  if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
  return x->exec_index < y->exec_index ? -1 : x->exec_index > y->exec_index;
}

/* The spools in dir whose names start with prefix and whose writers are
** `child` or its descendants, sorted by pid then exec index. Returns how
** many were put at the start of *all (malloc'd, caller frees). */
static size_t find_spools(const char *dir, const char *prefix, uint64_t child,
                          uint64_t since_ns, Found **all) {
  size_t n = 0, cap = 0;
  *all = NULL;
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t pl = strlen(prefix), sl = strlen(LR_SPOOL_SUFFIX);
  while (d && (e = readdir(d)) && n < MAX_SPOOLS) {
    size_t el = strlen(e->d_name);
    if (el <= sl || strncmp(e->d_name, prefix, pl) ||
        strcmp(e->d_name + el - sl, LR_SPOOL_SUFFIX))
      continue;
    if (n == cap) {
      Found *f = realloc(*all, (cap = cap ? cap * 2 : 8) * sizeof *f);
      if (!f) break;
      *all = f;
    }
    Found *f = &(*all)[n];
    if (snprintf(f->path, sizeof f->path, "%s/%s", dir, e->d_name) >= (int)sizeof f->path)
      continue;
    LrSpool *sp = lr_spool_open(f->path, NULL);
    if (!sp) continue;
    f->pid = lr_spool_header(sp)->pid;
    f->ppid = lr_spool_header(sp)->ppid;
    f->exec_index = lr_spool_header(sp)->exec_index;
    /* a spool older than this run is a leftover, whatever its pid says */
    f->taken = f->pid == child && lr_spool_header(sp)->start_realtime_ns + 1000000000u >= since_ns;
    if (lr_spool_header(sp)->start_realtime_ns + 1000000000u < since_ns) f->ppid = 0;
    lr_spool_close(sp);
    n++;
  }
  if (d) closedir(d);
  /* close the family: a spool whose parent is in it is in it */
  for (int more = 1; more;) {
    more = 0;
    for (size_t i = 0; i < n; i++) {
      if ((*all)[i].taken) continue;
      for (size_t j = 0; j < n; j++)
        if ((*all)[j].taken && (*all)[j].pid == (*all)[i].ppid) {
          (*all)[i].taken = more = 1;
          break;
        }
    }
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if ((*all)[i].taken) (*all)[k++] = (*all)[i];
  if (k) qsort(*all, k, sizeof **all, found_cmp);
  return k;
}

/* The NAME=value strings env_set made, freed once CMD has started. */
static char *g_owned[8];
static size_t g_nowned;

/* env with NAME=value set (replacing an existing NAME); NULL value removes. */
static int env_set(char ***env, size_t *n, const char *name, const char *value) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < *n; i++)
    if (!strncmp((*env)[i], name, nl) && (*env)[i][nl] == '=') {
      (*env)[i] = (*env)[--*n];
      (*env)[*n] = NULL; /* else the moved last entry stays twice */
      break;
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
             "                     [--unwind fp|libunwind] [--keep-spool] -- CMD [ARGS...]\n"
             "  OUT defaults to lowram-<pid>.db in the current directory; forks and\n"
             "  exec'd images get OUT with .<pid> (.<pid>.N) before .db\n");
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
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
  };
  const char *out = NULL, *depth = NULL, *rss = NULL, *unwind = NULL;
  int keep = 0, c;
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
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind >= argc) {
    usage(stderr);
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

  size_t n = 0;
  while (environ[n]) n++;
  char **env = malloc((n + 1) * sizeof *env);
  if (!env) return 1;
  memcpy(env, environ, (n + 1) * sizeof *env);
  const char *old = getenv("LD_PRELOAD");
  char preload[2 * PATH_MAX];
  /* ours first, so allocations in another preloaded allocator are seen too */
  snprintf(preload, sizeof preload, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "");
  if (env_set(&env, &n, "LD_PRELOAD", preload) || env_set(&env, &n, "LOWRAM_OUT", tmpl) ||
      env_set(&env, &n, "LOWRAM_EXEC_INDEX", NULL) ||
      (depth && env_set(&env, &n, "LOWRAM_DEPTH", depth)) ||
      (rss && env_set(&env, &n, "LOWRAM_RSS_INTERVAL", rss)) ||
      (unwind && env_set(&env, &n, "LOWRAM_UNWIND", unwind))) {
    lr_cli_error("record", "out of memory");
    return 1;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);

  pid_t pid;
  char **cmd = argv + optind;
  struct timespec t0;
  clock_gettime(CLOCK_REALTIME, &t0);
  uint64_t since_ns = (uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec;
  int rc = strchr(cmd[0], '/') ? posix_spawn(&pid, cmd[0], NULL, NULL, cmd, env)
                               : posix_spawnp(&pid, cmd[0], NULL, NULL, cmd, env);
  free(env);
  for (size_t i = 0; i < g_nowned; i++) free(g_owned[i]);
  g_nowned = 0;
  if (rc != 0) {
    lr_cli_error("record", "%s: cannot run: %s", cmd[0], strerror(rc));
    return 127;
  }
  g_child = pid;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      lr_cli_error("record", "waiting for %s: %s", cmd[0], strerror(errno));
      return 1;
    }
  g_child = 0;
  int code = WIFEXITED(status) ? WEXITSTATUS(status)
             : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;

  Found *spools = NULL;
  size_t ns = find_spools(dir, prefix, (uint64_t)pid, since_ns, &spools);
  if (!ns) {
    lr_cli_error("record", "%s left no spool in %s (a static or setuid program, or the shim "
                 "could not start; see its messages above)", cmd[0], dir);
    free(spools);
    return code ? code : 1;
  }
  int failed = 0;
  for (size_t i = 0; i < ns; i++) {
    char trace[PATH_MAX];
    LrErr err = {{0}};
    LrImportStats s;
    /* the last image of CMD itself died of what waitpid said */
    LrImportOpts opts = {NULL, 0, 0};
    if (WIFSIGNALED(status) && spools[i].pid == (uint64_t)pid &&
        (i + 1 == ns || spools[i + 1].pid != (uint64_t)pid))
      opts.killed_by = WTERMSIG(status);
    if (lr_import_default_out(spools[i].path, trace, sizeof trace) != 0 ||
        lr_import(spools[i].path, trace, &opts, &s, &err) != 0) {
      lr_cli_error("record", "%s", err.msg[0] ? err.msg : spools[i].path);
      failed = 1;
      continue;
    }
    if (!keep) unlink(spools[i].path);
    char heap[32], r[32];
    lr_fmt_bytes(heap, sizeof heap, s.peak_heap);
    lr_fmt_bytes(r, sizeof r, s.peak_rss);
    const char *shown = strncmp(trace, cwd, strlen(cwd)) || trace[strlen(cwd)] != '/'
                            ? trace : trace + strlen(cwd) + 1;
    fprintf(stderr, "lowram record: trace of pid %llu%s in %s\n", (unsigned long long)spools[i].pid,
            spools[i].exec_index ? " (exec'd image)" : "", shown);
    fprintf(stderr, "lowram record: %llu events, %llu stacks, peak heap %s, peak RSS %s, "
                    "ended: %s\n",
            (unsigned long long)s.events, (unsigned long long)s.stacks, heap,
            s.peak_rss ? r : "not sampled", s.end_reason);
  }
  free(spools);
  return code ? code : failed;
}
