/* seeds.c: see seeds.h. */
#include "seeds.h"

#include <stdlib.h>
#include <string.h>

#include "spoolgen.h"

/* One writer using every record type, with realloc/mremap in both forms. */
static void full(Gen *g, int seal) {
  gen_init(g, 4096);
  GW w;
  gw_init(&w, g, 100);
  const char *argv[] = {"./qrun", "--seq-len", "64", "tab\there"};
  gw_argv(&w, 4, argv);
  gw_thread(&w, 1, 100, "main");
  const uint8_t bid[] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};
  gw_module(&w, 2, 0x400000, 0x20000, bid, sizeof bid, "/usr/bin/qrun");
  gw_module(&w, 3, 0x7f1000000000, 0x100000, NULL, 0, "/lib/libfoo.so");
  uint64_t ips1[] = {0x400100, 0x400200, 0x7f1000000123};
  gw_stack(&w, 1, 3, ips1);
  gw_alloc(&w, LR_EV_MALLOC, 4, 0x10000, 100, 1);
  gw_alloc(&w, LR_EV_CALLOC, 5, 0x10100, 64, 1);
  gw_memalign(&w, LR_EV_POSIX_MEMALIGN, 6, 0x20000, 4096, 1, 4096);
  gw_realloc(&w, 8, 0x30000, 400, 1, 0x10000, 7);  /* moved */
  gw_realloc(&w, 10, 0x30000, 800, 1, 0x30000, 9); /* in place */
  gw_realloc(&w, 11, 0x31000, 16, 1, 0, 11);       /* acted as malloc */
  gw_realloc(&w, 13, 0, 0, 1, 0x31000, 12);        /* acted as free */
  gw_free(&w, 14, 0x10100);
  gw_free(&w, 15, 0x99999); /* unknown block */
  gw_mmap(&w, 16, 0x7f0000000000, 3 * 4096, 1, 3, 0x22, 0, "");
  gw_mmap(&w, 17, 0x7f2000000000, 8192, 1, 1, 0x2, 4096, "/models/tiny.qr");
  gw_munmap(&w, 18, 0x7f0000001000, 4096); /* splits the anonymous one */
  gw_mremap(&w, 20, 0x7f3000000000, 16384, 1, 0x7f2000000000, 8192, 1, 19);
  gw_rss(&w, 20, 1 << 20, 1 << 19, 1 << 18, 0);
  gw_mark(&w, 21, "prefill");
  gw_param_int(&w, 22, "seq_len", 64);
  gw_param_str(&w, 23, "dtype", "int8");
  uint64_t ips2[] = {0x7f1000000456};
  gw_stack(&w, 2, 1, ips2);
  gw_alloc(&w, LR_EV_MALLOC, 24, 0x40000, 1 << 16, 2);
  gw_unmodule(&w, 25, 0x7f1000000000);
  gw_mark(&w, 26, "decode");
  gw_munmap(&w, 27, 0x7f3000000000, 16384);
  if (seal) gw_seal(&w);
}

/* Three writers over several chunks each, freeing each other's blocks. */
static void threads(Gen *g) {
  gen_init(g, 4096);
  GW w[3];
  for (int t = 0; t < 3; t++) gw_init(&w[t], g, 200 + (uint32_t)t);
  uint64_t ips[] = {0x400100};
  gw_stack(&w[0], 7, 1, ips);
  gw_stack(&w[1], 7, 1, ips);
  gw_stack(&w[2], 7, 1, ips);
  uint64_t seq = 1;
  for (int i = 0; i < 300; i++) {
    GW *a = &w[i % 3], *b = &w[(i + 1) % 3];
    uint64_t addr = 0x100000 + 32 * (uint64_t)(i % 50);
    gw_alloc(a, LR_EV_MALLOC, seq++, addr, 32 + (uint64_t)i, 7);
    gw_free(b, seq++, addr);
    if (i % 40 == 0) gw_rss(a, seq, 4096u * (uint64_t)i, 0, 0, 0);
    if (i % 70 == 0) gw_thread(b, seq++, b->tid, "worker");
  }
  for (int t = 0; t < 3; t++) gw_seal(&w[t]);
}

static void flip(Gen *g, size_t off) {
  if (off < g->size) g->buf[off] ^= 0x40;
}

enum { S_FULL, S_UNSEALED, S_THREADS, S_CUT, S_BADSUM, S_BADUSED, S_BADHDR, S_BADINDEX, S_N };
static const char *const names[S_N] = {"full", "unsealed", "threads", "cut", "badsum",
                                       "badused", "badhdr", "badindex"};

size_t fz_seed_count(void) { return S_N; }

uint8_t *fz_seed(size_t i, size_t *len, const char **name) {
  if (i >= S_N) return NULL;
  Gen *g = calloc(1, sizeof *g); /* large: keeps it off the stack */
  if (!g) return NULL;
  switch (i) {
  case S_FULL: full(g, 1); break;
  case S_UNSEALED: full(g, 0); break;
  case S_THREADS: threads(g); break;
  case S_CUT: /* the last chunk ends inside a record */
    threads(g);
    g->size -= 4096 - sizeof(LrChunkHeader) - 7;
    break;
  case S_BADSUM:
    full(g, 1);
    flip(g, LR_SPOOL_HEADER_SIZE + sizeof(LrChunkHeader) + 9);
    break;
  case S_BADUSED:
    threads(g);
    ((LrChunkHeader *)(void *)(g->buf + LR_SPOOL_HEADER_SIZE + 4096))->used = 5000;
    break;
  case S_BADHDR:
    full(g, 1);
    gen_header(g)->chunk_size = 4097;
    break;
  case S_BADINDEX:
    threads(g);
    ((LrChunkHeader *)(void *)(g->buf + LR_SPOOL_HEADER_SIZE))->index = 3;
    break;
  }
  uint8_t *out = malloc(g->size ? g->size : 1);
  if (out) memcpy(out, g->buf, g->size);
  *len = g->size;
  if (name) *name = names[i];
  gen_free(g);
  free(g);
  return out;
}
