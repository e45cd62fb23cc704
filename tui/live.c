/*
** live.c: the run as it is now, imported into temporary traces (live.h).
*/
#include "live.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* An import slower than this stops naming frames until the final one. */
#define SLOW_IMPORT_S 0.5
/* Reimport at least this often while the run goes on: records written into
** a page already dirty change neither the size nor the mtime. */
#define MAX_QUIET_S 0.5

double lt_live_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int lt_live_init(LtLive *lv, LrErr *err) {
  const char *tmp = getenv("TMPDIR");
  snprintf(lv->tmpdir, sizeof lv->tmpdir, "%s/lowram-live-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(lv->tmpdir)) {
    int e = errno;
    lv->tmpdir[0] = 0;
    return lr_err_set(err, "cannot make a temporary directory: %s", strerror(e));
  }
  lv->symbols = 1;
  return 0;
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[4600];
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  if (d) closedir(d);
  rmdir(dir);
}

void lt_live_free(LtLive *lv) {
  if (lv->tmpdir[0]) remove_dir(lv->tmpdir);
  lv->tmpdir[0] = lv->cur[0] = lv->stale[0] = 0;
}

/* The spools of the run as they are now. */
static long spools_now(LtLive *lv, LrRunSpool **out, LrErr *err) {
  if (lv->spool[0]) return lr_import_gather(lv->spool, out, err);
  long n = lr_import_find_run(lv->dir, lv->prefix, lv->root_pid, lv->adopter, lv->since_ns, out,
                              err);
  if (n > 0 && lv->root_only) {
    long k = 0;
    for (long i = 0; i < n; i++)
      if ((*out)[i].pid == lv->root_pid) (*out)[k++] = (*out)[i];
    n = k;
  }
  return n;
}

static uint64_t signature(const LrRunSpool *s, size_t n) {
  uint64_t h = 1469598103934665603ull ^ n;
  struct stat st;
  for (size_t i = 0; i < n; i++) {
    if (stat(s[i].path, &st) != 0) continue;
    h = (h ^ (uint64_t)st.st_size) * 1099511628211ull;
    h = (h ^ (uint64_t)st.st_mtim.tv_sec) * 1099511628211ull;
    h = (h ^ (uint64_t)st.st_mtim.tv_nsec) * 1099511628211ull;
    h = (h ^ s[i].pid) * 1099511628211ull;
  }
  return h;
}

static int alive(int64_t pid) {
  return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Every process ended (its spool says how) or is gone (killed). */
static int run_ended(LrTrace *t) {
  LrProcess *ps = NULL;
  size_t n = 0;
  LrErr err = {{0}};
  if (lr_trace_processes(t, &ps, &n, &err) || !n) {
    free(ps);
    return 0;
  }
  int ended = 1;
  for (size_t i = 0; i < n && ended; i++) {
    const char *r = ps[i].end_reason;
    int said = r[0] && strcmp(r, "killed") && strcmp(r, "cut_short");
    if (!said && alive(ps[i].pid)) ended = 0;
  }
  free(ps);
  return ended;
}

int lt_live_poll(LtLive *lv, int force, LrTrace **out, LrErr *err) {
  *out = NULL;
  if (lv->stale[0]) {
    unlink(lv->stale); /* the model let go of it at the last swap */
    lv->stale[0] = 0;
  }
  LrRunSpool *sp = NULL;
  long n = spools_now(lv, &sp, err);
  if (n <= 0) {
    free(sp);
    if (n == 0) lr_err_set(err, "no spool of the run yet");
    return 0;
  }
  uint64_t sig = signature(sp, (size_t)n);
  double now = lt_live_now();
  if (!force && lv->last_import > 0 && sig == lv->sig && now - lv->last_import < MAX_QUIET_S) {
    free(sp);
    return 0;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/live-%u.db", lv->tmpdir, ++lv->made);
  LrImportOpts o = {0};
  o.no_symbolize = !lv->symbols;
  LrImportStats st;
  double t0 = lt_live_now();
  int rc = lr_import_run(sp, (size_t)n, path, &o, &st, err);
  free(sp);
  lv->last_import = lt_live_now();
  lv->import_secs = lv->last_import - t0;
  if (rc) return -1;
  if (lv->import_secs > SLOW_IMPORT_S) lv->symbols = 0;
  LrTrace *t = lr_trace_open(path, err);
  if (!t) {
    unlink(path);
    return -1;
  }
  lv->sig = sig;
  lv->events = (int64_t)st.events;
  lv->nspools = (size_t)n;
  lv->ended = run_ended(t);
  if (lv->cur[0]) snprintf(lv->stale, sizeof lv->stale, "%s", lv->cur);
  snprintf(lv->cur, sizeof lv->cur, "%s", path);
  *out = t;
  return 1;
}
