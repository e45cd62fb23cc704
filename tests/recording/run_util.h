/*
** run_util.h: helpers shared by test_shim_runs.c and test_shim_compare.c
** (see run_util.c). Both take argv: GT_PROG GT_PLUGIN SPOOL_DUMP [GT_CPP].
*/
#ifndef SR_RUN_UTIL_H
#define SR_RUN_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "spool_decode.h"

extern const char *sr_gt, *sr_plugin, *sr_cpp, *sr_shim;
extern char *sr_dir;

/* Reads argv and the environment, makes the test directory; -1 on misuse. */
int sr_start(int argc, char **argv, const char *tag);

/* Runs argv under the shim with LOWRAM_OUT=DIR/tag.db, stdout to
** DIR/tag.out, plus one extra environment entry (NULL: a 5 ms RSS interval).
** Returns the exit status (128+signo if killed). */
int sr_run_tag(const char *tag, char *const argv[], const char *extra);
/* The same for gt_prog MODE [ARG]. */
int sr_run_gt(const char *tag, const char *mode, const char *arg, const char *extra);
/* Loads DIR/name; 0 or -1 (reason on stderr). */
int sr_load(const char *name, LrtSpool *s);
/* How many spools in DIR start with prefix (other than `exclude`); the
** last one's name goes to out. */
int sr_find_spool(const char *prefix, const char *exclude, char *out, size_t cap);
/* The address gt_prog printed for function `name` in run `tag` (0 if none). */
uintptr_t sr_fn_addr(const char *tag, const char *name);
/* Whether frame `depth` of e's stack is a return address just inside fn. */
int sr_frame_in(const LrtSpool *s, const LrtEvent *e, unsigned depth, uintptr_t fn);
/* Events of kind and size (~0: any size); *in_fn gets how many have frame
** depth in fn (fn 0: not checked). */
size_t sr_count_sized(const LrtSpool *s, unsigned kind, uint64_t size, unsigned depth,
                      uintptr_t fn, size_t *in_fn);
/* Imports DIR/tag.db with `lowram import`; 1 if that worked. */
int sr_import(const char *tag);
/* One integer from SQL on DIR/tag.db. */
int64_t sr_sql(const char *tag, const char *q);

#endif
