/*
** scan.c: see scan.h.
*/
#include "store/scan.h"

#include <stdlib.h>
#include <string.h>

int lr_store_scan(sqlite3 *db, int64_t proc, uint32_t mask, LrStoreBlockFn fn, void *ctx,
                  char **msg) {
  sqlite3_stmt *st = NULL;
  LrBcCols cols;
  memset(&cols, 0, sizeof cols);
  uint8_t *buf = NULL;
  size_t cap = 0;
  int rc = 0;
  *msg = NULL;
  if (sqlite3_prepare_v2(db, "SELECT id, data FROM main.alloc_blocks WHERE process_id = ?1", -1,
                         &st, NULL) != SQLITE_OK) {
    *msg = sqlite3_mprintf("alloc_blocks: %s", sqlite3_errmsg(db));
    return -1;
  }
  sqlite3_bind_int64(st, 1, proc);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const void *p = sqlite3_column_blob(st, 1);
    int len = sqlite3_column_bytes(st, 1), oom = 0;
    size_t raw = 0;
    if (!p || len <= 0 || lr_bc_unpack(p, (size_t)len, &buf, &cap, &raw, &oom) ||
        lr_bc_decode(buf, raw, mask, &cols, &oom)) {
      *msg = oom ? sqlite3_mprintf("out of memory")
                 : sqlite3_mprintf("block %lld of alloc_blocks is damaged",
                                   (long long)sqlite3_column_int64(st, 0));
      rc = -1;
      break;
    }
    rc = fn(ctx, &cols);
  }
  if (rc == 0 && step != SQLITE_DONE) {
    *msg = sqlite3_mprintf("alloc_blocks: %s", sqlite3_errmsg(db));
    rc = -1;
  }
  sqlite3_finalize(st);
  lr_bc_cols_free(&cols);
  free(buf);
  return rc;
}
