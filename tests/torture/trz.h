/*
** trz.h: what the torture tests share: run a program bare and under
** `lowram record` (with a timeout, stdout/stderr kept in files), compare the
** two, find the traces one recording made, and check that they hold
** together. Every check fails the current CUnit test with a message naming
** the trace and the numbers; nothing here skips.
**
** Traces of a run. Today `lowram record -o X.db` writes one file per process
** image (X.db for the command, X.PID.db and X.PID.N.db for forks and exec'd
** images); issue 10 makes it one file per run, with a `processes` table.
** Only trz_traces() and trz_procs() know the difference: the tests ask for
** sums over the run (trz_sum) and for the list of process images
** (trz_procs), and both answers are the same either way.
*/
#ifndef TRZ_H
#define TRZ_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* LOWRAM_TORTURE=long: more iterations, more rounds. */
extern int trz_long;
#define TRZ_N(normal, long_) (trz_long ? (long_) : (normal))

/* A failed check: the message goes to CUnit and to stderr. */
void trz_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define TRZ_CHECK(cond, ...)                                                  \
  do {                                                                        \
    if (cond) CU_assertImplementation(CU_TRUE, __LINE__, #cond, __FILE__, "", CU_FALSE); \
    else trz_fail(__FILE__, __LINE__, __VA_ARGS__);                           \
  } while (0)
#define TRZ_EQ(got, want, what)                                               \
  do {                                                                        \
    long long g_ = (long long)(got), w_ = (long long)(want);                  \
    TRZ_CHECK(g_ == w_, "%s: got %lld, want %lld", (what), g_, w_);           \
  } while (0)

typedef struct TrzRun {
  int rc;             /* exit status; 128+signal if killed; -1 not started; -2 timed out */
  char *out, *err;    /* stdout and stderr, NUL-terminated, malloc'd (never NULL) */
  size_t out_len, err_len;
  double secs;        /* wall time */
  pid_t pid;          /* while running (trz_start) */
  char out_path[600], err_path[600];
} TrzRun;

typedef struct TrzOpts {
  const char *cwd;     /* NULL: the test's directory */
  const char *in;      /* stdin from this file; NULL: /dev/null */
  char *const *env;    /* extra "NAME=value" entries, NULL-terminated */
  int timeout;         /* seconds; 0: 240 (killed and -2 after that) */
} TrzOpts;

/* A fresh directory for the current test, under the run's directory
** (removed at the end when everything passed, kept and named otherwise). */
const char *trz_dir(const char *test);

/* "dir/name", in one of 64 rotating static buffers. */
const char *trz_path(const char *dir, const char *name);

/* Fails the test (naming the Debian package) and returns -1 if prog is not
** an executable (absolute path, or a name found in PATH); 0 if it is. */
int trz_need(const char *prog, const char *package);

/* Runs argv bare; label names the files that keep stdout and stderr
** (LABEL.stdout, LABEL.stderr in the test's directory). */
void trz_run(TrzRun *r, const char *label, char *const argv[], const TrzOpts *o);
/* The same under `lowram record -o DB -- argv...`. */
void trz_record(TrzRun *r, const char *db, char *const argv[], const TrzOpts *o);
/* Asynchronous halves of the above: start, then finish (wait and collect). */
void trz_start(TrzRun *r, const char *label, char *const argv[], const TrzOpts *o);
void trz_start_record(TrzRun *r, const char *db, char *const argv[], const TrzOpts *o);
void trz_finish(TrzRun *r, int timeout);
void trz_free(TrzRun *r);

/* The recorded run behaved as the bare one: same exit status, same stdout
** byte for byte. */
void trz_same(const TrzRun *bare, const TrzRun *rec, const char *what);

/* Two files have identical bytes (and both exist). */
void trz_same_file(const char *a, const char *b);

/* The trace files of the recording whose -o was db, sorted; returns how
** many (at most max). */
size_t trz_traces(const char *db, char paths[][600], size_t max);

/* One process image of a run. */
typedef struct TrzProc {
  char trace[600];
  long long id;     /* processes.id in a one-file-per-run trace, else 0 */
  long long pid, ppid, exec_index, end_code; /* end_code -1: NULL */
  long long unmatched_frees, unmatched_allocs, heap_rows, cut_short, events, peak_heap;
  char end_reason[16];
  char argv0[256];
} TrzProc;

/* Every process image of the run (malloc'd array, caller frees); count in *n.
** Sorted by pid, then exec index. */
TrzProc *trz_procs(const char *db, size_t *n);
/* How many distinct pids. */
size_t trz_npids(const TrzProc *p, size_t n);
/* The last image of the command's own process (the one whose parent is not
** in the run): how the command ended. */
const TrzProc *trz_root(const TrzProc *p, size_t n);

/* The sum over every trace of the run of an integer SQL answer (first
** column of the first row; NULL counts as 0). Fails the test on SQL error. */
long long trz_sum(const char *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A per-process fact of the command's first image (meta in a one-file-per-
** process trace, process_meta in a one-file-per-run trace); LLONG_MIN (and
** a failed check) if absent. */
long long trz_meta(const char *db, const char *key);

/* One integer SQL answer on one trace file (fails the test on error). */
long long trz_int(const char *trace, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The consistency checks, on every trace of the run:
**   - the trace is complete; no spool or import temp file is left;
**   - no row frees before it starts, free_seq/free_kind/free_ns agree;
**   - no two lifetimes of one heap address overlap, unmatched_allocs = 0;
**   - live bytes (running sums of the rows, computed here) never negative,
**     per region and in all; the peak_heap the importer stored is their
**     highest heap level;
**   - every free matches an allocation: unmatched_frees is 0 in the
**     command's image and in exec'd images (at most env_reallocs there:
**     see TRZ_ENV), and in a fork child no more than the heap rows its
**     parent recorded (what it can have inherited);
**   - events >= heap rows + frees (each row and each free is one event).
** Returns the number of process images. */
enum {
  TRZ_CUT = 1,  /* recording was cut short (full disk): unmatched allocs allowed */
  TRZ_ENV = 2,  /* the program calls setenv/putenv: one unmatched realloc per image
                   (the shim's own environ array, see TESTING.md) */
};
size_t trz_check(const char *db, unsigned flags);

/* What the program wrote to $TRZ_INFO ("key=value" lines): the value of key,
** or LLONG_MIN (and a failed check) if absent. */
long long trz_info(const char *path, const char *key);

#endif
