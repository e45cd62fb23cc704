/*
** rows.c: see rows.h. Each LrLifeRow becomes one row of the block store
** (store/blockstore.h), NULLs as the v2 table had them: free_* while live,
** stack_id without a stack, alignment outside the memalign family, prot
** and flags outside the mmap family, file and file_offset for anything
** but a file mapping.
*/
#include "ingest/rows.h"

#include <stdlib.h>
#include <string.h>

#include "lowram/trace.h"
#include "store/blockstore.h"

struct LrRows {
  LrBsWriter *w;
  uint64_t alloc_off, stack_off; /* the process's id offsets */
};

LrRows *lr_rows_new(sqlite3 *db, int64_t proc, int64_t alloc_off, int64_t stack_off, int *oom) {
  LrRows *r = calloc(1, sizeof *r);
  if (!r) {
    *oom = 1;
    return NULL;
  }
  r->alloc_off = (uint64_t)alloc_off;
  r->stack_off = (uint64_t)stack_off;
  if (!(r->w = lr_bs_writer_new(db, "main", proc, oom))) {
    free(r);
    return NULL;
  }
  return r;
}

static void set_text(LrBcRow *b, int col, const char *s) {
  b->s[col] = s;
  b->len[col] = (uint32_t)strlen(s);
}

int lr_rows_put(LrRows *w, const LrLifeRow *r, int *oom) {
  LrBcRow b;
  b.nulls = 0;
  b.v[LR_BC_ID] = (int64_t)(r->id + w->alloc_off);
  set_text(&b, LR_BC_KIND, lr_event_kind_name(r->kind));
  set_text(&b, LR_BC_REGION, lr_life_region_name(r->region));
  b.v[LR_BC_ADDRESS] = (int64_t)r->address;
  b.v[LR_BC_SIZE] = (int64_t)r->size;
  b.v[LR_BC_ALLOC_SEQ] = (int64_t)r->alloc_seq;
  b.v[LR_BC_ALLOC_NS] = (int64_t)r->alloc_ns;
  if (r->free_kind) {
    b.v[LR_BC_FREE_SEQ] = (int64_t)r->free_seq;
    b.v[LR_BC_FREE_NS] = (int64_t)r->free_ns;
    set_text(&b, LR_BC_FREE_KIND, r->free_kind);
  } else {
    b.nulls |= 1u << LR_BC_FREE_SEQ | 1u << LR_BC_FREE_NS | 1u << LR_BC_FREE_KIND;
  }
  b.v[LR_BC_THREAD] = (int64_t)r->tid;
  if (r->stack)
    b.v[LR_BC_STACK] = (int64_t)(r->stack + w->stack_off);
  else
    b.nulls |= 1u << LR_BC_STACK;
  if (r->has_alignment)
    b.v[LR_BC_ALIGN] = (int64_t)r->alignment;
  else
    b.nulls |= 1u << LR_BC_ALIGN;
  if (r->is_mapping) {
    b.v[LR_BC_PROT] = (int64_t)r->prot;
    b.v[LR_BC_FLAGS] = (int64_t)r->flags;
  } else {
    b.nulls |= 1u << LR_BC_PROT | 1u << LR_BC_FLAGS;
  }
  if (r->file) {
    set_text(&b, LR_BC_FILE, r->file);
    b.v[LR_BC_FILE_OFFSET] = (int64_t)r->file_offset;
  } else {
    b.nulls |= 1u << LR_BC_FILE | 1u << LR_BC_FILE_OFFSET;
  }
  return lr_bs_put(w->w, &b, oom);
}

int lr_rows_flush(LrRows *w) {
  int oom = 0;
  return lr_bs_flush(w->w, &oom);
}

void lr_rows_free(LrRows *w) {
  if (!w) return;
  lr_bs_writer_free(w->w);
  free(w);
}
