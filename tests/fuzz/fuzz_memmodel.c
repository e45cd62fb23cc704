/*
** fuzz_memmodel.c: libFuzzer target for the reader of the memory model that
** `lowram suggest --emit` writes and `qrun --max-memory` reads
** (runner/memmodel.c). Refused: NULL and one line "PATH:LINE: reason".
** Accepted: the invariants of memmodel.h hold (1..4 named parameters,
** 1..64 phases, margin in [0, 1)), and every question qrun asks of a
** model (peak, largest value that fits, the batch to pick) returns within
** its bounds; the first line also goes through the byte-size parser.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "memmodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64], err[512];
  int fd = fz_memfd(data, size, path, sizeof path);
  if (fd < 0) return 0;
  memset(err, 0, sizeof err);
  QrMemModel *m = qr_memmodel_load(path, err, sizeof err);
  close(fd);
  /* the byte-size parser, on the first line */
  char line[64];
  size_t n = 0;
  while (n < size && n + 1 < sizeof line && data[n] != '\n') line[n] = (char)data[n], n++;
  line[n] = 0;
  double bytes;
  if (qr_memmodel_parse_bytes(line, &bytes) == 0 && !(bytes > 0)) abort();
  if (!m) {
    if (!memchr(err, 0, sizeof err) || strncmp(err, path, strlen(path)) || strchr(err, '\n'))
      abort();
    return 0;
  }
  int np = qr_memmodel_nparams(m), nph = qr_memmodel_nphases(m);
  double margin = qr_memmodel_margin(m);
  if (np < 1 || np > QR_MEMMODEL_MAX_PARAMS || nph < 1 || nph > QR_MEMMODEL_MAX_PHASES ||
      !(margin >= 0 && margin < 1))
    abort();
  for (int p = 0; p < np; p++)
    if (qr_memmodel_param(m, qr_memmodel_param_name(m, p)) != p) abort();
  for (int ph = 0; ph < nph; ph++)
    if (!qr_memmodel_phase_name(m, ph)) abort();
  int sp = qr_memmodel_seq_param(m), bp = qr_memmodel_batch_param(m);
  if (sp < -1 || sp >= np || bp < -1 || bp >= np) abort();
  static const double at[] = {1, 512, 1e6};
  for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
    double x[QR_MEMMODEL_MAX_PARAMS];
    for (int p = 0; p < np; p++) x[p] = at[k];
    int phase = -2;
    (void)qr_memmodel_peak(m, x, &phase);
    if (phase < -1 || phase >= nph) abort();
    for (int p = 0; p < np; p++) {
      long v = -1;
      int fits = qr_memmodel_largest(m, x, p, 1e9, 1 << 20, &v);
      if (fits && (v < 1 || v > (1 << 20))) abort();
    }
  }
  double need = 0;
  char e2[256];
  long b = qr_memmodel_pick_batch(m, 512, 0, 1e9, 4096, &need, e2, sizeof e2);
  if (b < -1 || b > 4096) abort();
  qr_memmodel_free(m);
  return 0;
}
