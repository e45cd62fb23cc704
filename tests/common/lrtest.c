/* lrtest.c: see lrtest.h. */
#include "lrtest.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *lrt_env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) {
    fprintf(stderr, "lrtest: environment variable %s is not set (run through meson test)\n", name);
    exit(2);
  }
  return v;
}

int lrt_run(char *const argv[], char *const env[], const char *out_path,
            const char *err_path) {
  size_t n = 0, k = 0;
  while (environ[n]) n++;
  while (env && env[k]) k++;
  char **envp = calloc(n + k + 1, sizeof *envp);
  if (!envp) return -1;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    /* an entry in env overrides the same name in environ */
    int shadowed = 0;
    for (size_t e = 0; e < k; e++) {
      const char *eq = strchr(env[e], '=');
      size_t len = eq ? (size_t)(eq - env[e]) : strlen(env[e]);
      if (!strncmp(environ[i], env[e], len) && environ[i][len] == '=') shadowed = 1;
    }
    if (!shadowed) envp[j++] = environ[i];
  }
  for (size_t e = 0; e < k; e++) envp[j++] = env[e];
  envp[j] = NULL;

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (out_path)
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (err_path)
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  int rc = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, NULL, argv, envp)
                                : posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  if (rc != 0) {
    fprintf(stderr, "lrtest: cannot start %s: %s\n", argv[0], strerror(rc));
    return -1;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

static sqlite3_stmt *query(const char *db_path, const char *sql, sqlite3 **db) {
  if (sqlite3_open_v2(db_path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "lrtest: %s: %s\n", db_path, sqlite3_errmsg(*db));
    return NULL;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(*db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "lrtest: %s: %s\n  in: %s\n", db_path, sqlite3_errmsg(*db), sql);
    return NULL;
  }
  if (sqlite3_step(st) != SQLITE_ROW) {
    fprintf(stderr, "lrtest: %s: no row for: %s\n", db_path, sql);
    sqlite3_finalize(st);
    return NULL;
  }
  return st;
}

int64_t lrt_sql_int(const char *db_path, const char *sql) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = query(db_path, sql, &db);
  int64_t v = INT64_MIN;
  if (st) {
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

char *lrt_sql_text(const char *db_path, const char *sql, char *buf, size_t len) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = query(db_path, sql, &db);
  char *r = NULL;
  if (st) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    if (t) {
      snprintf(buf, len, "%s", (const char *)t);
      r = buf;
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return r;
}

/* Every directory lrt_tmpdir made, for lrt_main to remove or name. */
static char *tmpdirs[64];
static int ntmpdirs;

char *lrt_tmpdir(const char *tag) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  size_t len = strlen(base) + strlen(tag) + 32;
  char *p = malloc(len);
  if (!p) return NULL;
  snprintf(p, len, "%s/lrtest-%s-XXXXXX", base, tag);
  if (!mkdtemp(p)) {
    fprintf(stderr, "lrtest: mkdtemp %s: %s\n", p, strerror(errno));
    free(p);
    return NULL;
  }
  if (ntmpdirs < (int)(sizeof tmpdirs / sizeof tmpdirs[0])) tmpdirs[ntmpdirs++] = strdup(p);
  return p;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}


char *lrt_path_in(const char *dir, const char *name) {
  static char buf[32][512];
  static int k;
  char *p = buf[k++ % 32];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

void lrt_write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(fwrite(p, 1, n, f), n);
  fclose(f);
}

char *lrt_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
    if (n + 1 == cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) return NULL;
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

/* Traces of schema v3 keep allocations behind a virtual table
** (lib/store/allocvt.h): tests that open a trace with plain sqlite3_open
** get it registered on every connection (lrtest links the store). */
int lr_allocvt_register_all(void);

__attribute__((constructor)) static void register_store(void) { lr_allocvt_register_all(); }

int lrt_main(void) {
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
  CU_cleanup_registry();
  int keep = failed || getenv("LRTEST_KEEP");
  for (int i = 0; i < ntmpdirs; i++) {
    if (!tmpdirs[i]) continue;
    if (keep) fprintf(stderr, "lrtest: files kept in %s\n", tmpdirs[i]);
    else nftw(tmpdirs[i], remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(tmpdirs[i]);
  }
  ntmpdirs = 0;
  return failed ? 1 : 0;
}

int lrt_lowram(const char *out_path, const char *err_path, const char *first, ...) {
  char *argv[16] = {(char *)lrt_env("LOWRAM_BIN"), (char *)first};
  va_list ap;
  va_start(ap, first);
  for (int i = 2; first && i < 15; i++)
    if (!(argv[i] = va_arg(ap, char *))) break;
  va_end(ap);
  return lrt_run(argv, NULL, out_path, err_path);
}
