/*
** spool_decode.h: a small, bounds-checked spool decoder for the recording
** tests. It is deliberately independent of lib/ingest/spool_read.c (written
** by someone else from the same header), so the tests check the writer
** against the format, not against one reader's reading of it.
**
** lrt_spool_load reads every chunk (sealed ones are checked against their
** sum) and keeps every record in flat arrays. Any malformed byte makes it
** fail with a reason; it never reads outside the file.
*/
#ifndef LRT_SPOOL_DECODE_H
#define LRT_SPOOL_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "lr_spool_format.h"

typedef struct LrtEvent {
  uint32_t kind, tid, chunk;
  uint64_t seq, ns, addr, size, stack, alignment;
  uint64_t old_addr, free_seq, old_size, prot, flags, offset;
  char path[256];
} LrtEvent;

typedef struct LrtStack {
  uint64_t id;
  uint32_t n;
  uintptr_t ips[LR_SPOOL_MAX_FRAMES];
} LrtStack;

typedef struct LrtModule {
  uint64_t seq, base, size;
  int unload;              /* an UNMODULE record */
  size_t bid_len;
  char path[256];
} LrtModule;

typedef struct LrtOther {  /* RSS, MARK, PARAM, THREAD */
  uint32_t type, tid;
  uint64_t seq, ns, v[5];   /* RSS: v[4] is VmSwap when has_swap */
  int has_swap;
  int64_t ival;
  char name[256], text[256];
} LrtOther;

typedef struct LrtSpool {
  LrSpoolHeader hdr;
  LrtEvent *ev;      size_t nev;
  LrtStack *st;      size_t nst;
  LrtModule *mod;    size_t nmod;
  LrtOther *oth;     size_t noth;
  char argv[8][256]; size_t argc;
  uint64_t argv_n;   /* the ARGV record's own count (argv keeps 8) */
  size_t chunks, sealed, payload_bytes;
  size_t units; /* chunk_size units the chunks span (minor 2: a chunk spans 1, 2, 4...) */
} LrtSpool;

/* 0, or -1 with a reason in err. */
int lrt_spool_load(const char *path, LrtSpool *s, char *err, size_t errlen);
/* Same, from memory (unit tests, fuzz-style truncation). */
int lrt_spool_parse(const uint8_t *buf, size_t len, LrtSpool *s, char *err, size_t errlen);
void lrt_spool_free(LrtSpool *s);

/* Events of a kind (0 = all kinds). */
size_t lrt_count(const LrtSpool *s, unsigned kind);
const LrtStack *lrt_stack(const LrtSpool *s, uint64_t id);

#endif
