/*
** fuzz_sweep_index.c: libFuzzer target for the sweep index reader
** (lr_sweep_index_read, lib/predict/sweep.c) and what `lowram suggest`
** does with an index: the bytes become DIR/index.tsv in a scratch
** directory. Refused: one line naming the index. Accepted: at most 4
** parameters and LR_SWEEP_MAX_RUNS runs with distinct ids in range, and
** every trace is a name inside DIR (DIR/NAME, no other '/'). Then
** lr_suggest_load(DIR) must fail with one line (no trace exists: runs
** whose trace is the index itself, '.' or '..' are refused by name).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "lowram/suggest.h"
#include "lowram/sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *scratch = fz_scratch();
  if (!scratch) return 0;
  char dir[4200], path[4300];
  snprintf(dir, sizeof dir, "%s/sweep", scratch);
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s/%s", dir, LR_SWEEP_INDEX);
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  LrErr err;
  memset(&err, 0, sizeof err);
  LrSweepIndex *ix = lr_sweep_index_read(dir, &err);
  if (!ix) {
    if (!memchr(err.msg, 0, sizeof err.msg) || strncmp(err.msg, path, strlen(path)) ||
        strchr(err.msg, '\n'))
      abort();
  } else {
    int np = lr_sweep_index_nparams(ix);
    size_t nr = lr_sweep_index_nruns(ix), dl = strlen(dir);
    if (np < 0 || np > LR_SWEEP_MAX_PARAMS || nr > LR_SWEEP_MAX_RUNS) abort();
    if (!lr_sweep_index_command(ix)) abort();
    for (int p = 0; p < np; p++)
      if (!lr_sweep_index_param(ix, p) || !*lr_sweep_index_param(ix, p)) abort();
    for (size_t i = 0; i < nr; i++) {
      int id = lr_sweep_index_run_id(ix, i);
      if (id < 1 || id > LR_SWEEP_MAX_RUNS) abort();
      for (size_t j = 0; j < i; j++)
        if (lr_sweep_index_run_id(ix, j) == id) abort();
      const char *t = lr_sweep_index_trace(ix, i);
      if (strncmp(t, dir, dl) || t[dl] != '/' || !t[dl + 1] || strchr(t + dl + 1, '/')) abort();
      if (!lr_sweep_index_status(ix, i)) abort();
      for (int p = 0; p < np; p++)
        if (!lr_sweep_index_value(ix, i, p)) abort();
    }
    lr_sweep_index_free(ix);
    memset(&err, 0, sizeof err);
    LrSuggest *m = lr_suggest_load(dir, NULL, 0, &err);
    if (m || !memchr(err.msg, 0, sizeof err.msg) || !err.msg[0] || strchr(err.msg, '\n')) abort();
  }
  unlink(path);
  rmdir(dir); /* fz_scratch's directory goes at exit only when empty */
  return 0;
}
