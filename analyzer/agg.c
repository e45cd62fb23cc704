/* agg.c: placeholder until the aggregate module lands (see agg.h). */
#include "agg.h"

int lr_agg_build(sqlite3 *db, const char *trace_path, LrErr *err) {
  (void)db;
  (void)trace_path;
  (void)err;
  return 0;
}
