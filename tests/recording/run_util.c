/*
** run_util.c: what the recording integration tests share: run a program
** under liblowram.so into a fresh directory, load its spool with the tests'
** decoder, place stack frames against the addresses gt_prog printed, and
** import the trace with `lowram import` for SQL checks when that works.
*/
#include "run_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lrtest.h"

const char *sr_gt, *sr_plugin, *sr_cpp, *sr_shim;
char *sr_dir;
static int sr_have_import = -1;

/* Runs argv under the shim with LOWRAM_OUT=dir/tag.db; stdout to dir/tag.out. */
int sr_run_tag(const char *tag, char *const argv[], const char *extra) {
  char out[600], env_out[640], env_pre[600], outf[600];
  snprintf(out, sizeof out, "%s/%s.db", sr_dir, tag);
  snprintf(env_out, sizeof env_out, "LOWRAM_OUT=%s", out);
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", sr_shim);
  snprintf(outf, sizeof outf, "%s/%s.out", sr_dir, tag);
  char *env[] = {env_pre, env_out, (char *)(extra ? extra : "LOWRAM_RSS_INTERVAL=5"), NULL};
  return lrt_run(argv, env, outf, NULL);
}

int sr_run_gt(const char *tag, const char *mode, const char *arg, const char *extra) {
  char *argv[] = {(char *)sr_gt, (char *)mode, (char *)arg, NULL};
  return sr_run_tag(tag, argv, extra);
}

int sr_load(const char *name, LrtSpool *s) {
  char path[600], err[300];
  snprintf(path, sizeof path, "%s/%s", sr_dir, name);
  if (lrt_spool_load(path, s, err, sizeof err)) {
    fprintf(stderr, "test_shim_runs: %s\n", err);
    return -1;
  }
  return 0;
}

/* The other spool in dir whose name starts with prefix (not `exclude`). */
int sr_find_spool(const char *prefix, const char *exclude, char *out, size_t cap) {
  DIR *d = opendir(sr_dir);
  struct dirent *e;
  int found = 0;
  while (d && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (!strncmp(e->d_name, prefix, strlen(prefix)) && n > 6 &&
        !strcmp(e->d_name + n - 6, ".spool") && strcmp(e->d_name, exclude)) {
      snprintf(out, cap, "%s", e->d_name);
      found++;
    }
  }
  if (d) closedir(d);
  return found;
}

/* The address gt_prog printed for function `name` in run `tag`. */
uintptr_t sr_fn_addr(const char *tag, const char *name) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s.out", sr_dir, tag);
  char *txt = lrt_read_file(path, NULL);
  uintptr_t v = 0;
  char key[128];
  snprintf(key, sizeof key, "%s=", name);
  char *p = txt ? strstr(txt, key) : NULL;
  if (p) v = (uintptr_t)strtoull(p + strlen(key), NULL, 16);
  free(txt);
  return v;
}

/* Whether frame `depth` of the event's stack is a return address inside
** the function starting at fn (these functions are all under 400 bytes). */
int sr_frame_in(const LrtSpool *s, const LrtEvent *e, unsigned depth, uintptr_t fn) {
  const LrtStack *st = lrt_stack(s, e->stack);
  return st && fn && depth < st->n && st->ips[depth] > fn && st->ips[depth] - fn < 400;
}

/* Events of `kind` and `size` (size ~0: any) and how many of them have
** frame `depth` in fn (fn 0: not checked). */
size_t sr_count_sized(const LrtSpool *s, unsigned kind, uint64_t size, unsigned depth,
                          uintptr_t fn, size_t *in_fn) {
  size_t n = 0, k = 0;
  for (size_t i = 0; i < s->nev; i++) {
    const LrtEvent *e = &s->ev[i];
    if (e->kind != kind || (size != ~0ull && e->size != size)) continue;
    n++;
    if (fn && sr_frame_in(s, e, depth, fn)) k++;
  }
  if (in_fn) *in_fn = k;
  return n;
}

/* Imports dir/tag.db with `lowram import` if that works here. */
int sr_import(const char *tag) {
  if (sr_have_import == 0) return 0;
  char db[600], log[600];
  snprintf(db, sizeof db, "%s/%s.db", sr_dir, tag);
  snprintf(log, sizeof log, "%s/%s.import.log", sr_dir, tag);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "import", db, NULL};
  int rc = lrt_run(argv, NULL, log, log);
  if (sr_have_import < 0) {
    sr_have_import = rc == 0;
    if (!sr_have_import)
      fprintf(stderr, "test_shim_runs: `lowram import` failed (see %s): SQL checks skipped\n",
              log);
  }
  return rc == 0;
}

int64_t sr_sql(const char *tag, const char *q) {
  char db[600];
  snprintf(db, sizeof db, "%s/%s.db", sr_dir, tag);
  return lrt_sql_int(db, q);
}



int sr_start(int argc, char **argv, const char *tag) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s GT_PROG GT_PLUGIN SPOOL_DUMP [GT_CPP]\n", argv[0]);
    return -1;
  }
  sr_gt = argv[1];
  sr_plugin = argv[2];
  sr_cpp = argc > 4 ? argv[4] : NULL;
  sr_shim = lrt_env("LOWRAM_SHIM");
  struct rlimit nocore = {0, 0}; /* crash cases must not dump core */
  setrlimit(RLIMIT_CORE, &nocore);
  sr_dir = lrt_tmpdir(tag);
  return 0;
}
