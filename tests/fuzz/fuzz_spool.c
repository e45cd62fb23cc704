/*
** fuzz_spool.c: libFuzzer target for the spool reader (spool_read.h). The
** bytes become a spool file; every chunk is opened and every record
** decoded, and every byte a record points at (strings, frames, argv) is
** read, so a pointer outside the mapping shows up under ASan at once.
** Also checks what the reader promises: a cursor never yields more records
** than its chunk has payload bytes (each record takes at least one).
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "ingest/spool_read.h"

static uint64_t touch(const void *p, size_t n) {
  const unsigned char *b = p;
  uint64_t s = 0;
  for (size_t i = 0; i < n; i++) s += b[i];
  return s;
}

static void read_all(const uint8_t *data, size_t size);

/* The bytes as they are, then (if it changes them) with the checksums of
** sealed chunks made right, so mutations inside them get decoded too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  read_all(data, size);
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  if (fz_fix_sums(copy, size)) read_all(copy, size);
  free(copy);
  return 0;
}

static void read_all(const uint8_t *data, size_t size) {
  char path[64];
  int fd = fz_memfd(data, size, path, sizeof path);
  if (fd < 0) return;
  LrErr err;
  LrSpool *sp = lr_spool_open(path, &err);
  close(fd); /* the reader mapped it: the file may go */
  if (!sp) return;
  volatile uint64_t sink = 0;
  uint32_t n = lr_spool_nchunks(sp);
  uint64_t cap = lr_spool_header(sp)->chunk_size;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t tid;
    int has = lr_spool_chunk_tid(sp, i, &tid);
    LrSpoolCursor *c = lr_spool_cursor(sp, i);
    if (c && (!has || lr_spool_cursor_tid(c) != tid)) abort();
    LrSpoolRec r;
    uint64_t recs = 0;
    while (c && lr_spool_next(c, &r)) {
      if (++recs > cap) abort(); /* more records than bytes */
      sink += touch(r.str.p, r.str.len) + touch(r.str2.p, r.str2.len);
      sink += touch(r.frames, r.nframes * sizeof *r.frames);
      for (uint32_t a = 0; a < r.argc; a++) sink += touch(r.argv[a].p, r.argv[a].len);
    }
    lr_spool_cursor_free(c);
  }
  const LrSpoolStats *st = lr_spool_stats(sp);
  if (st->chunks_read + st->chunks_unused + st->chunks_corrupt > 2 * (uint64_t)n + 1) abort();
  lr_spool_close(sp);
  (void)sink;
}
