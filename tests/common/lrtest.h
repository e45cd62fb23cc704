/*
** lrtest.h: helpers shared by the integration tests: run a command and get
** its exit status, and ask a trace one SQL question. Every helper fails the
** current CUnit test (with the reason) instead of crashing on bad output.
*/
#ifndef LRTEST_H
#define LRTEST_H

#include <CUnit/CUnit.h>
#include <stdint.h>

/* Environment variables set by tests/meson.build ("LOWRAM_BIN", ...);
** aborts the test binary with a message if one is missing. */
const char *lrt_env(const char *name);

/* Runs argv (argv[0] looked up in PATH if it has no '/') with the extra
** environment entries `env` ("NAME=value", NULL-terminated, may be NULL)
** added to this process's. stdout/stderr go to the files named (NULL: the
** test's own). Returns the exit status, 128+signo if it was killed, or -1
** if it could not be started. */
int lrt_run(char *const argv[], char *const env[], const char *out_path,
            const char *err_path);

/* Runs $LOWRAM_BIN with the arguments up to the first NULL (at most 14),
** stdout and stderr to the files named; returns as lrt_run. */
int lrt_lowram(const char *out_path, const char *err_path, const char *first, ...)
    __attribute__((sentinel));

/* The first column of the first row of `sql` on the trace at db_path, as an
** integer (INT64_MIN if no row, the db can't be opened, or the SQL fails;
** the reason is printed to stderr). */
int64_t lrt_sql_int(const char *db_path, const char *sql);

/* Same, as text copied into buf; returns buf, or NULL on failure. */
char *lrt_sql_text(const char *db_path, const char *sql, char *buf, size_t len);

/* A fresh empty directory under $TMPDIR (or /tmp) for one test's files;
** the path is malloc'd. lrt_main removes it, with everything in it, when
** every test passed, and keeps it (naming it) when one failed, or always
** with LRTEST_KEEP set in the environment. */
char *lrt_tmpdir(const char *tag);


/* "dir/name" in one of 32 static buffers used in turn, so that up to 32
** results can be held at once (enough for one argv). */
char *lrt_path_in(const char *dir, const char *name);

/* Writes n bytes from p to path (created or truncated), failing the current
** test if the file can't be opened (fatal) or not all bytes are written. */
void lrt_write_file(const char *path, const void *p, size_t n);

/* Reads a whole file into a malloc'd NUL-terminated buffer (NULL on error). */
char *lrt_read_file(const char *path, size_t *len);

/* Runs the registered CUnit suites verbosely, then removes or keeps the
** lrt_tmpdir directories (see there); returns 0 if all passed. */
int lrt_main(void);

#endif
