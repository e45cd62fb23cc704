/*
** fuzz_import.c: libFuzzer target for the whole import path: the bytes
** become a spool, lr_import() turns it into a trace (lifetimes, stacks,
** modules, symbols, aggregates), and lr_trace_open() opens the result. An
** import may fail (with a one-line message); it must not crash, hang or
** leak, and when it fails it must leave no file behind.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "lowram/import.h"
#include "lowram/trace.h"

/* Imports the bytes with the checksums of sealed chunks made right (the
** spool target covers the checksum check itself), so that mutations reach
** the importer instead of ending as skipped chunks. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *dir = fz_scratch();
  if (!dir) return 0;
  char spool[64], out[4200];
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  fz_fix_sums(copy, size);
  int fd = fz_memfd(copy, size, spool, sizeof spool);
  free(copy);
  if (fd < 0) return 0;
  snprintf(out, sizeof out, "%s/t.db", dir);
  LrErr err;
  LrImportStats st;
  int rc = lr_import(spool, out, NULL, &st, &err);
  close(fd);
  struct stat sb;
  if (rc != 0) {
    if (!memchr(err.msg, 0, sizeof err.msg) || strchr(err.msg, '\n') || !err.msg[0]) abort();
    if (stat(out, &sb) == 0) abort(); /* a failed import leaves nothing */
    return 0;
  }
  LrTrace *t = lr_trace_open(out, &err);
  if (!t || !lr_trace_complete(t)) abort(); /* a fresh import always opens */
  int64_t events = -1;
  if (lr_trace_meta_int(t, "events", &events) != 0 || (uint64_t)events != st.events) abort();
  lr_trace_close(t);
  unlink(out);
  return 0;
}
