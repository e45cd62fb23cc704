/*
** shim_config.h: the shim's settings from the environment, and the rules
** that name its output files. Pure functions (no malloc, no I/O) so the unit
** tests can drive them with any environment.
**
**   LOWRAM_OUT           trace path template, %p = pid, %% = '%'
**                        (default "lowram-%p.db"); the spool is
**                        TRACE + LR_SPOOL_SUFFIX. A directory (a path
**                        ending in '/', or one that is a directory) means
**                        the default name inside it (shim_session.c)
**   LOWRAM_DEPTH         frames per stack, 1..256 (default 64)
**   LOWRAM_RSS_INTERVAL  ms between RSS samples, 0 = off, max 60000 (default 10).
**                        Taken by the thread that is recording an event or
**                        mark once the interval has passed (at most one per
**                        interval), plus at start, exit and exec: no thread.
**   LOWRAM_RSS_THREAD    1 = take them in a sampler thread instead (default 0),
**                        which also covers stretches without events. Its cost:
**                        the target gets one more thread (unshare -U and
**                        other single-thread-only calls then fail, thread
**                        counts change), a 64 KiB stack, one spool chunk, and
**                        a wakeup and /proc/self/status read per interval
**   LOWRAM_UNWIND        "libunwind", "eh" or "fp" (default: the build's
**                        choice: libunwind, or eh in -Dunwind=fp builds);
**                        "libunwind-strict" is libunwind for every event,
**                        without the checked frame-pointer fast path; "eh"
**                        reads the modules' .eh_frame CFI (unwind_eh.c)
**   LOWRAM_STACK_CACHE   0 turns off the per-thread stack cache of the
**                        libunwind unwinder (default 1; stack_cache.h); the
**                        stacks are the same either way, only slower. 2 makes
**                        an entry on every second miss, without the budget
**                        that keeps entries cheap (for tests)
**   LOWRAM_STATS         1 = print the shim's counters (stack cache lookups,
**                        hits, entries) on stderr when the process ends
**   LOWRAM_CHUNK_KB      largest spool chunk in KiB, 64..65536 (default
**                        256); a thread's first chunk is 16 KiB, each next
**                        one twice the last (spool_writer.h)
**   LOWRAM_EXEC_INDEX    set by the shim for exec'd images: "PID:N:SPOOL"
*/
#ifndef LR_SHIM_CONFIG_H
#define LR_SHIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define LR_CONFIG_PATH_MAX 4096
#define LR_EXEC_ENV "LOWRAM_EXEC_INDEX"
/* The trace's name without LOWRAM_OUT, and inside a LOWRAM_OUT that names
** a directory (ends in '/' or is one). */
#define LR_DEFAULT_OUT "lowram-%p.db"

typedef struct LrShimConfig {
  uint32_t depth;
  uint32_t rss_interval_ms;
  uint32_t rss_thread;      /* 1: a sampler thread takes the RSS samples */
  uint32_t unwinder;        /* LR_UNWIND_* */
  uint32_t fp_check;        /* libunwind: trust fp walks it has confirmed */
  uint32_t stack_cache;     /* libunwind: the per-thread stack cache (stack_cache.h);
                            ** 2: no budget for making entries */
  uint32_t stats;           /* print the shim's counters on stderr at the end */
  uint32_t chunk_size;      /* bytes */
  const char *out_template; /* points into the environment or a literal */
} LrShimConfig;

/* An environment lookup: getenv, or a test's table. */
typedef const char *(*LrEnvGet)(const char *name, void *ctx);

/* Fills c from the environment. A malformed value keeps the default and
** puts a one-line reason in err (err[0] stays 0 when all is well).
** `fp_only` forces the frame-pointer walker (libunwind not built in). */
void lr_config_parse(LrShimConfig *c, LrEnvGet get, void *ctx, uint32_t default_unwinder,
                     int fp_only, char *err, size_t errlen);

/* tmpl with %p replaced by pid and %% by '%'. Returns 0, or -1 if it does
** not fit in cap or has another %-sequence. */
int lr_config_expand(char *out, size_t cap, const char *tmpl, long pid);

/* The k-th name to try for a trace whose first choice is `trace`:
**   k = 0: trace itself                     run.db
**   k = 1: ".PID" before a trailing ".db"   run.1234.db   (or appended: run.1234)
**   k > 1: ".PID.(k-1)" likewise            run.1234.1.db, run.1234.2.db ...
** Returns 0, or -1 if it does not fit in cap. */
int lr_config_candidate(char *out, size_t cap, const char *trace, long pid, unsigned k);

/* Parses LOWRAM_EXEC_INDEX ("PID:N:SPOOL"). If PID is `pid` (this image
** replaced an image of the same process) returns N + 1 and copies SPOOL,
** the previous image's spool, into prev (cap bytes); otherwise (absent,
** malformed, or inherited from a parent process) returns 0 and prev = "". */
uint64_t lr_config_exec_index(const char *value, long pid, char *prev, size_t cap);

/* Formats "LOWRAM_EXEC_INDEX=PID:N:SPOOL" into out; -1 if it does not fit. */
int lr_config_exec_env(char *out, size_t cap, long pid, uint64_t index, const char *spool);

#endif /* LR_SHIM_CONFIG_H */
