/*
** sql.c: `lowram sql TRACE [SQL...]`: the sqlite3 shell on a trace, with
** lowram_sqlite.so loaded, so that the allocations table of a v3 trace
** (a virtual table over blocks, schemas/README.md "Storage") answers like
** any other. `lowram sql --ext` prints the extension's path (for Python:
** conn.enable_load_extension(True); conn.load_extension(PATH)).
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define EXT_NAME "lowram_sqlite.so"

static void usage(FILE *f) {
  fprintf(f, "usage: lowram sql TRACE [SQL...]   the sqlite3 shell on TRACE, allocations loaded\n"
             "       lowram sql --ext            the path of lowram_sqlite.so, to load elsewhere\n"
             "(LOWRAM_SQLITE_EXT overrides where the extension is found; SQLITE3 the shell)\n");
}

int lr_cli_sql(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  char ext[PATH_MAX];
  if (lr_cli_find_lib("sql", "LOWRAM_SQLITE_EXT", EXT_NAME, "lowram", LR_BUILD_LIB_DIR, ext,
                      sizeof ext) != 0) {
    if (!getenv("LOWRAM_SQLITE_EXT"))
      lr_cli_error("sql", "cannot find %s next to lowram or in %s/lowram", EXT_NAME,
                   LR_INSTALL_LIBDIR);
    return 1;
  }
  if (!strcmp(argv[1], "--ext")) {
    printf("%s\n", ext);
    return 0;
  }
  struct stat st;
  if (stat(argv[1], &st) != 0) {
    lr_cli_error("sql", "%s: %s", argv[1], strerror(errno));
    return 1;
  }
  if (!S_ISREG(st.st_mode)) {
    lr_cli_error("sql", "%s: not a regular file", argv[1]);
    return 1;
  }
  const char *shell = getenv("SQLITE3");
  if (!shell || !*shell) shell = "sqlite3";
  char load[PATH_MAX + 16];
  snprintf(load, sizeof load, ".load '%s'", ext);
  char **args = calloc((size_t)argc + 4, sizeof *args);
  if (!args) {
    lr_cli_error("sql", "out of memory");
    return 1;
  }
  int n = 0;
  args[n++] = (char *)shell;
  args[n++] = "-cmd";
  args[n++] = load;
  for (int i = 1; i < argc; i++) args[n++] = argv[i];
  args[n] = NULL;
  execvp(shell, args);
  lr_cli_error("sql", "cannot run %s: %s (the Debian package sqlite3)", shell, strerror(errno));
  free(args);
  return 1;
}
