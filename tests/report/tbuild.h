/*
** tbuild.h: builds synthetic lowram traces for the report tests, row by
** row through the real schema (lr_schema_sql), so every number a test
** asserts is known by construction. Times are seq * 1000 ns unless given.
*/
#ifndef TBUILD_H
#define TBUILD_H

#include <sqlite3.h>

#include "lowram/trace.h"
#include <stdint.h>

#include "lowram/peak.h"

extern const char lr_schema_sql[];

/* Creates a fresh trace at path (removing an old file); NULL on failure. */
sqlite3 *tb_create(const char *path);
/* Frame `id` in module `module` (created on first use) named fn at file:line. */
void tb_frame(sqlite3 *db, int64_t id, const char *module, const char *fn, const char *file,
              int64_t line);
/* Stack `id` of frames given innermost first, terminated by 0. */
void tb_stack(sqlite3 *db, int64_t id, ...);
/* One block; free_seq < 0: never freed. Returns its id. */
int64_t tb_alloc(sqlite3 *db, const char *region, int64_t size, int64_t alloc_seq,
                 int64_t free_seq, int64_t tid, int64_t stack);
int64_t tb_map_file(sqlite3 *db, const char *file, int64_t size, int64_t alloc_seq,
                    int64_t free_seq, int64_t tid, int64_t stack);
void tb_marker(sqlite3 *db, int64_t seq, const char *name);
void tb_rss(sqlite3 *db, int64_t seq, int64_t rss, int64_t anon, int64_t file);
void tb_meta(sqlite3 *db, const char *key, const char *value);
/* Builds the aggregates, sets complete = 1 (if complete), closes. 0 on success. */
int tb_finish(sqlite3 *db, const char *path, int complete);
/* Opens the trace at path read-only with its aggregates ensured (built if
** missing); NULL (reason on stderr) on failure. */
LrTrace *tb_open_ro(const char *path);
/* The group whose key is `key` in g, or NULL. */
const LrGroup *tb_group(const LrGroups *g, const char *key);
/* Runs SQL, failing the current test on error. */
void tb_exec(sqlite3 *db, const char *sql);

#endif
