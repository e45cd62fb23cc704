/* spoolgen.c: see spoolgen.h. */
#include "spoolgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REC 700 /* room a record may need; a chunk is claimed if less is left */

void gen_init(Gen *g, uint32_t chunk_size) {
  memset(g, 0, sizeof *g);
  g->chunk_size = chunk_size;
  g->cap = LR_SPOOL_HEADER_SIZE + 64 * (size_t)chunk_size;
  g->buf = calloc(1, g->cap);
  g->size = LR_SPOOL_HEADER_SIZE;
  LrSpoolHeader *h = gen_header(g);
  memcpy(h->magic, LR_SPOOL_MAGIC, 8);
  h->version = LR_SPOOL_VERSION;
  h->header_size = LR_SPOOL_HEADER_SIZE;
  h->chunk_size = chunk_size;
  h->pid = 4242;
  h->ppid = 4241;
  h->start_realtime_ns = 1764043200123456789ull; /* 2025-11-25T04:00:00.123Z */
  h->page_size = 4096;
  h->pointer_size = 8;
  memcpy(h->arch, "x86_64", 6);
  h->mem_total = 2ull << 30;
  h->stack_depth = 64;
  h->rss_interval_ms = 10;
  h->flags = LR_SPOOL_ENDED;
  h->end_reason = LR_END_EXIT;
  h->end_code = 0;
  h->end_ns = 999999;
}

void gen_free(Gen *g) { free(g->buf); }

LrSpoolHeader *gen_header(Gen *g) { return (LrSpoolHeader *)(void *)g->buf; }

int gen_write(const Gen *g, const char *path, size_t len) {
  if (len > g->size) len = g->size;
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = fwrite(g->buf, 1, len, f) == len;
  return fclose(f) == 0 && ok ? 0 : -1;
}

static LrChunkHeader *chunk(Gen *g, int32_t i) {
  return (LrChunkHeader *)(void *)(g->buf + LR_SPOOL_HEADER_SIZE + (size_t)i * g->chunk_size);
}

void gw_init(GW *w, Gen *g, uint32_t tid) {
  memset(w, 0, sizeof *w);
  w->g = g;
  w->tid = tid;
  w->chunk = -1;
}

void gw_new_chunk(GW *w) {
  Gen *g = w->g;
  size_t need = g->size + g->chunk_size;
  if (need > g->cap) {
    size_t nc = g->cap * 2 > need ? g->cap * 2 : need;
    g->buf = realloc(g->buf, nc);
    memset(g->buf + g->cap, 0, nc - g->cap);
    g->cap = nc;
  }
  w->chunk = (int32_t)g->nchunks++;
  g->size = need;
  LrChunkHeader *c = chunk(g, w->chunk);
  c->magic = LR_CHUNK_MAGIC;
  c->index = (uint32_t)w->chunk;
  c->tid = w->tid;
  w->used = 0;
  w->prev_seq = w->prev_ns = 0;
  w->prev_addr = 0;
}

void gw_seal(GW *w) {
  if (w->chunk < 0) return;
  LrChunkHeader *c = chunk(w->g, w->chunk);
  c->sum = lr_sum64(c + 1, c->used);
  c->flags |= LR_CHUNK_SEALED;
  w->chunk = -1;
}

static uint8_t *begin(GW *w) {
  if (w->chunk < 0 || w->used + MAX_REC > w->g->chunk_size - sizeof(LrChunkHeader)) {
    gw_seal(w);
    gw_new_chunk(w);
  }
  return (uint8_t *)(chunk(w->g, w->chunk) + 1) + w->used;
}

static void commit(GW *w, uint8_t *end) {
  LrChunkHeader *c = chunk(w->g, w->chunk);
  uint8_t type = ((uint8_t *)(c + 1))[w->used];
  w->used = (uint32_t)(end - (uint8_t *)(c + 1));
  c->used = w->used;
  if (w->g->nrec < sizeof w->g->rec_end / sizeof w->g->rec_end[0]) {
    w->g->rec_type[w->g->nrec] = type;
    w->g->rec_end[w->g->nrec++] = (size_t)(end - w->g->buf);
  }
}

static uint8_t *seq_ns(GW *w, uint8_t *p, uint64_t seq, int with_ns) {
  p = lr_put_uv(p, seq - w->prev_seq);
  w->prev_seq = seq;
  if (with_ns) {
    p = lr_put_uv(p, GEN_NS(seq) - w->prev_ns);
    w->prev_ns = GEN_NS(seq);
  }
  return p;
}

static uint8_t *addr(GW *w, uint8_t *p, uint64_t a) {
  p = lr_put_sv(p, (int64_t)(a - (uint64_t)w->prev_addr));
  w->prev_addr = (int64_t)a;
  return p;
}

static uint8_t *str(uint8_t *p, const char *s, size_t n) {
  p = lr_put_uv(p, n);
  if (n) memcpy(p, s, n);
  return p + n;
}

void gw_alloc(GW *w, unsigned kind, uint64_t seq, uint64_t a, uint64_t size, uint64_t stack) {
  uint8_t *p = begin(w);
  *p++ = (uint8_t)kind;
  p = seq_ns(w, p, seq, 1);
  p = addr(w, p, a);
  p = lr_put_uv(p, size);
  p = lr_put_uv(p, stack);
  commit(w, p);
}

void gw_memalign(GW *w, unsigned kind, uint64_t seq, uint64_t a, uint64_t size,
                 uint64_t stack, uint64_t align) {
  uint8_t *p = begin(w);
  *p++ = (uint8_t)kind;
  p = seq_ns(w, p, seq, 1);
  p = addr(w, p, a);
  p = lr_put_uv(p, size);
  p = lr_put_uv(p, stack);
  p = lr_put_uv(p, align);
  commit(w, p);
}

void gw_free(GW *w, uint64_t seq, uint64_t a) {
  uint8_t *p = begin(w);
  *p++ = LR_EV_FREE;
  p = seq_ns(w, p, seq, 1);
  p = addr(w, p, a);
  commit(w, p);
}

void gw_realloc(GW *w, uint64_t seq, uint64_t a, uint64_t size, uint64_t stack,
                uint64_t old_addr, uint64_t free_seq) {
  uint8_t *p = begin(w);
  *p++ = LR_EV_REALLOC;
  p = seq_ns(w, p, seq, 1);
  p = addr(w, p, a);
  p = lr_put_uv(p, size);
  p = lr_put_uv(p, stack);
  p = lr_put_sv(p, (int64_t)(old_addr - a));
  p = lr_put_uv(p, seq - free_seq);
  commit(w, p);
}

void gw_mmap(GW *w, uint64_t seq, uint64_t a, uint64_t len, uint64_t stack, uint64_t prot,
             uint64_t flags, uint64_t offset, const char *path) {
  uint8_t *p = begin(w);
  *p++ = LR_EV_MMAP;
  p = seq_ns(w, p, seq, 1);
  p = addr(w, p, a);
  p = lr_put_uv(p, len);
  p = lr_put_uv(p, stack);
  p = lr_put_uv(p, prot);
  p = lr_put_uv(p, flags);
  p = lr_put_uv(p, offset);
  p = str(p, path ? path : "", path ? strlen(path) : 0);
  commit(w, p);
}

void gw_munmap(GW *w, uint64_t seq, uint64_t a, uint64_t len) {
  uint8_t *p = begin(w);
  *p++ = LR_EV_MUNMAP;
  p = seq_ns(w, p, seq, 1);
  p = addr(w, p, a);
  p = lr_put_uv(p, len);
  commit(w, p);
}

void gw_mremap(GW *w, uint64_t seq, uint64_t a, uint64_t new_len, uint64_t stack,
               uint64_t old_addr, uint64_t old_len, uint64_t flags, uint64_t free_seq) {
  uint8_t *p = begin(w);
  *p++ = LR_EV_MREMAP;
  p = seq_ns(w, p, seq, 1);
  p = addr(w, p, a);
  p = lr_put_uv(p, new_len);
  p = lr_put_uv(p, stack);
  p = lr_put_sv(p, (int64_t)(old_addr - a));
  p = lr_put_uv(p, old_len);
  p = lr_put_uv(p, flags);
  p = lr_put_uv(p, seq - free_seq);
  commit(w, p);
}

void gw_stack(GW *w, uint64_t id, uint32_t n, const uint64_t *ips) {
  uint8_t *p = begin(w);
  *p++ = LR_REC_STACK;
  p = lr_put_uv(p, id);
  p = lr_put_uv(p, n);
  uint64_t prev = 0;
  for (uint32_t i = 0; i < n; i++) {
    p = lr_put_sv(p, (int64_t)(ips[i] - prev));
    prev = ips[i];
  }
  commit(w, p);
}

void gw_module(GW *w, uint64_t seq, uint64_t base, uint64_t size, const uint8_t *bid,
               size_t bidlen, const char *path) {
  uint8_t *p = begin(w);
  *p++ = LR_REC_MODULE;
  p = seq_ns(w, p, seq, 0);
  p = lr_put_uv(p, base);
  p = lr_put_uv(p, size);
  p = str(p, (const char *)bid, bidlen);
  p = str(p, path, strlen(path));
  commit(w, p);
}

void gw_unmodule(GW *w, uint64_t seq, uint64_t base) {
  uint8_t *p = begin(w);
  *p++ = LR_REC_UNMODULE;
  p = seq_ns(w, p, seq, 0);
  p = lr_put_uv(p, base);
  commit(w, p);
}

void gw_rss(GW *w, uint64_t seq, uint64_t rss, uint64_t anon, uint64_t file, uint64_t shmem) {
  uint8_t *p = begin(w);
  *p++ = LR_REC_RSS;
  p = seq_ns(w, p, seq, 1);
  p = lr_put_uv(p, rss);
  p = lr_put_uv(p, anon);
  p = lr_put_uv(p, file);
  p = lr_put_uv(p, shmem);
  commit(w, p);
}

void gw_mark(GW *w, uint64_t seq, const char *name) {
  uint8_t *p = begin(w);
  *p++ = LR_REC_MARK;
  p = seq_ns(w, p, seq, 1);
  p = str(p, name, strlen(name));
  commit(w, p);
}

void gw_param_int(GW *w, uint64_t seq, const char *name, int64_t v) {
  uint8_t *p = begin(w);
  *p++ = LR_REC_PARAM;
  p = seq_ns(w, p, seq, 1);
  p = str(p, name, strlen(name));
  p = lr_put_uv(p, LR_PARAM_INT);
  p = lr_put_sv(p, v);
  commit(w, p);
}

void gw_param_str(GW *w, uint64_t seq, const char *name, const char *v) {
  uint8_t *p = begin(w);
  *p++ = LR_REC_PARAM;
  p = seq_ns(w, p, seq, 1);
  p = str(p, name, strlen(name));
  p = lr_put_uv(p, LR_PARAM_STR);
  p = str(p, v, strlen(v));
  commit(w, p);
}

void gw_argv(GW *w, int argc, const char *const *argv) {
  uint8_t *p = begin(w);
  *p++ = LR_REC_ARGV;
  p = lr_put_uv(p, (uint64_t)argc);
  for (int i = 0; i < argc; i++) p = str(p, argv[i], strlen(argv[i]));
  commit(w, p);
}

void gw_thread(GW *w, uint64_t seq, uint64_t tid, const char *name) {
  uint8_t *p = begin(w);
  *p++ = LR_REC_THREAD;
  p = seq_ns(w, p, seq, 1);
  p = lr_put_uv(p, tid);
  p = str(p, name, strlen(name));
  commit(w, p);
}
