/*
** spoolgen.h: builds spools in memory for the import tests, record by
** record, with the same encoding the shim uses (lr_put_uv/lr_put_sv), so
** the tests know every byte by construction. Not a second writer for real
** use: no atomics, no mapping, just a growable buffer.
*/
#ifndef LR_SPOOLGEN_H
#define LR_SPOOLGEN_H

#include <stddef.h>
#include <stdint.h>

#include "lr_spool_format.h"

typedef struct Gen {
  uint8_t *buf;
  size_t size, cap;
  uint32_t chunk_size, nchunks;
  size_t rec_end[8192]; /* file offset just past each record, in write order */
  uint8_t rec_type[8192];
  size_t nrec;
} Gen;

typedef struct GW {
  Gen *g;
  uint32_t tid;
  int32_t chunk; /* -1: none yet */
  uint32_t used;
  uint64_t prev_seq, prev_ns;
  int64_t prev_addr;
} GW;

/* A spool with chunks of chunk_size bytes and page size 4096. */
void gen_init(Gen *g, uint32_t chunk_size);
void gen_free(Gen *g);
LrSpoolHeader *gen_header(Gen *g);
/* Writes the first `len` bytes (all if len == SIZE_MAX) to path. */
int gen_write(const Gen *g, const char *path, size_t len);

void gw_init(GW *w, Gen *g, uint32_t tid);
/* Seals the writer's current chunk (checksum + flag) and drops it. */
void gw_seal(GW *w);
/* Starts a new chunk now (the next record goes there). */
void gw_new_chunk(GW *w);

void gw_alloc(GW *w, unsigned kind, uint64_t seq, uint64_t addr, uint64_t size, uint64_t stack);
void gw_memalign(GW *w, unsigned kind, uint64_t seq, uint64_t addr, uint64_t size,
                 uint64_t stack, uint64_t align);
void gw_free(GW *w, uint64_t seq, uint64_t addr);
void gw_realloc(GW *w, uint64_t seq, uint64_t addr, uint64_t size, uint64_t stack,
                uint64_t old_addr, uint64_t free_seq);
void gw_mmap(GW *w, uint64_t seq, uint64_t addr, uint64_t len, uint64_t stack, uint64_t prot,
             uint64_t flags, uint64_t offset, const char *path);
void gw_munmap(GW *w, uint64_t seq, uint64_t addr, uint64_t len);
void gw_mremap(GW *w, uint64_t seq, uint64_t addr, uint64_t new_len, uint64_t stack,
               uint64_t old_addr, uint64_t old_len, uint64_t flags, uint64_t free_seq);
void gw_stack(GW *w, uint64_t id, uint32_t n, const uint64_t *ips);
void gw_module(GW *w, uint64_t seq, uint64_t base, uint64_t size, const uint8_t *bid,
               size_t bidlen, const char *path);
void gw_unmodule(GW *w, uint64_t seq, uint64_t base);
void gw_rss(GW *w, uint64_t seq, uint64_t rss, uint64_t anon, uint64_t file, uint64_t shmem);
void gw_mark(GW *w, uint64_t seq, const char *name);
void gw_param_int(GW *w, uint64_t seq, const char *name, int64_t v);
void gw_param_str(GW *w, uint64_t seq, const char *name, const char *v);
void gw_argv(GW *w, int argc, const char *const *argv);
void gw_thread(GW *w, uint64_t seq, uint64_t tid, const char *name);

/* ns used for an event at seq (the tests check it): seq * 10 */
#define GEN_NS(seq) ((seq) * 10u)

#endif
