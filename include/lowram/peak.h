/*
** peak.h: live bytes over time, the peak, and what is live at a moment.
**
** Live bytes at seq S are the blocks with alloc_seq <= S and (free_seq NULL
** or free_seq > S). "The peak" is the highest heap + anonymous-mmap total
** over all seqs (the first seq reaching it); file-backed mappings are
** counted apart (LrLive.file) and are never part of the peak or of the
** contributors, so contributors always add up to the live heap + anon.
**
** Every function takes the opaque trace handle (trace.h); the aggregate
** tables the queries read are built on first use when an unfinished trace
** lacks them. Nothing here prints: failures leave a one-line message in *err.
*/
#ifndef LR_PEAK_H
#define LR_PEAK_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"
#include "lowram/trace.h"

typedef enum LrBy { LR_BY_STACK, LR_BY_FUNCTION, LR_BY_MODULE, LR_BY_FILE, LR_BY_LINE } LrBy;

typedef struct LrLive {
  int64_t heap, anon, file;
} LrLive;

typedef struct LrMoment {
  int64_t seq, ns;    /* ns: time of the last event at or before seq */
  LrLive live;
  int is_peak;        /* seq is the peak's */
  char marker[128];   /* nearest marker at or before seq; "" if none */
  int64_t marker_nth; /* it is the marker_nth marker of that name (1-based) */
  int64_t marker_seq, marker_ns;
} LrMoment;

/* "stack", "function", "module", "file", "line": 0, or -1 for anything else. */
int lr_peak_parse_by(const char *s, LrBy *out);
const char *lr_peak_by_name(LrBy by);

/* Live heap/anon/file bytes at seq (a checkpoint plus two short ranges). */
int lr_peak_live_at(LrTrace *t, int64_t seq, LrLive *out, LrErr *err);

/* Resolves a moment: NULL, "" or "peak"; a seq ("123456"); a time since
** start ("1.5s", "200ms", "350us", "1000ns", "2min": the last event at or
** before it); a marker name ("decode": its first occurrence, "decode#3":
** the third; "marker:NAME" forces a marker whose name looks like a number).
** A moment outside the trace is an error naming the trace and the range. */
int lr_peak_moment(LrTrace *t, const char *spec, LrMoment *out, LrErr *err);
int lr_peak_moment_at_seq(LrTrace *t, int64_t seq, LrMoment *out, LrErr *err);

/* ---- readable stacks ---- */

/* A return address is one frame, or, where the compiler inlined functions
** there (DWARF: the trace's inline_frames), one frame per inlined function,
** innermost first, each with its own file:line and `inlined` set, then the
** function they were inlined into (its line: the call site in it). All of
** them share the address's module and rel_pc. */
typedef struct LrFrame {
  const char *function, *file, *module; /* NULL when unknown */
  int64_t line, rel_pc;
  int inlined; /* a function inlined into the next frame (same address) */
} LrFrame;

typedef struct LrStack {
  int64_t id;       /* -1: the allocation carried no stack */
  size_t nframes;   /* frames[0] is innermost (malloc's caller) */
  LrFrame *frames;
  size_t site;      /* the frame --by function/module/file/line uses: the
                       innermost one outside allocator wrappers, framework
                       allocation layers (ggml_aligned_malloc, PyMem_*,
                       PyDataMem_*, c10::alloc_cpu, std::vector growth...:
                       the table in peak.c) and the C/C++ runtime (libc,
                       libstdc++...); frame 0 if every frame is such */
  size_t own;       /* the innermost frame at or outside site in the
                       program's own module (that of the outermost frame
                       outside the runtime: main's), not the outermost
                       frame (_start); site if none */
} LrStack;

typedef struct LrStacks LrStacks; /* a cache of loaded stacks */

LrStacks *lr_peak_stacks_new(LrTrace *t);
void lr_peak_stacks_free(LrStacks *c);
/* Loaded once, owned by the cache; NULL (and *err) on failure. */
const LrStack *lr_peak_stack(LrStacks *c, int64_t id, LrErr *err);

/* A module's file name for people: the basename whole, or, longer than max
** bytes, its start and its end (max/3 bytes, more to keep all from ".so"
** on, at most max/2) with "…" between, max columns in all; "?" for NULL.
** Returns buf. */
char *lr_peak_module_name(const char *path, size_t max, char *buf, size_t len);
/* A frame's name: the function, else "module+0xrel_pc", else "0xpc". */
char *lr_peak_frame_name(const LrFrame *f, char *buf, size_t len);
/* The group key of a stack: "#id" for LR_BY_STACK, else the site frame's
** function / module / file / "file:line" ("?" parts when unknown). */
char *lr_peak_group_key(const LrStack *s, LrBy by, char *buf, size_t len);
/* Frame names outer to inner joined by ';' (';' and newlines inside names
** become '_'); "[no stack]" for a stack without frames. malloc'd. */
char *lr_peak_stack_path(const LrStack *s);

/* ---- contributors ---- */

typedef struct LrGroup {
  char *key;
  int64_t bytes, count;
  const LrStack *stack; /* the group's stack holding the most bytes */
} LrGroup;

typedef struct LrGroups {
  LrGroup *v;             /* sorted by bytes, largest first */
  size_t n;
  int64_t bytes, count;   /* sums over all groups */
} LrGroups;

/* Every heap/anon block live at seq with size >= min_size, grouped. */
int lr_peak_contributors(LrTrace *t, LrStacks *c, int64_t seq, LrBy by, int64_t min_size,
                         LrGroups *out, LrErr *err);

void lr_peak_groups_free(LrGroups *g);

#endif
