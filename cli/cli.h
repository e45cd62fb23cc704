/*
** cli.h: the `lowram` subcommands. lowram.c dispatches argv[1] to one of
** these; each lives in its own cli_<name>.c, parses its own options, prints
** for people, and returns the process exit status (0 ok, 1 failure, 2 usage).
** The analysis itself lives in the library modules (trace.h, peak.h, ...),
** which never print, so the TUI can call them too.
*/
#ifndef LR_CLI_H
#define LR_CLI_H

int lr_cli_record(int argc, char **argv);    /* cli_record.c */
int lr_cli_import(int argc, char **argv);    /* cli_import.c: import */
int lr_cli_sql(int argc, char **argv);       /* sql.c: the sqlite3 shell on a trace */

/* A file lowram ships in its libdir (`sub`: a folder in it, "" for none):
** the path in environment variable `env` if set, else beside this lowram,
** else in the build tree's build_dir (the build tree's lowram only), else
** the configured libdir. 0 with out set; -1 (said, as `lowram cmd: ...`,
** only for a bad `env`). */
int lr_cli_find_lib(const char *cmd, const char *env, const char *name, const char *sub,
                    const char *build_dir, char *out, size_t len);
int lr_cli_recover(int argc, char **argv);   /* cli_import.c: recover */
int lr_cli_symbolize(int argc, char **argv); /* cli_import.c: symbolize */
int lr_cli_report(int argc, char **argv);    /* cli_report.c */
int lr_cli_html(int argc, char **argv);      /* html.c (page: html/page.html) */
int lr_cli_export(int argc, char **argv);    /* cli_export.c */
int lr_cli_diff(int argc, char **argv);      /* cli_diff.c */
int lr_cli_sweep(int argc, char **argv);     /* cli_sweep.c */
int lr_cli_suggest(int argc, char **argv);   /* cli_suggest.c */

/* s escaped for a terminal (lowram/text.h), in one of 16 rotating buffers
** of 1 KiB, so one printf can show several names; longer text is cut. */
const char *lr_cli_esc(const char *s);

/* Prints "lowram <cmd>: <message>\n" to stderr (one line, for bad input). */
void lr_cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like lr_cli_error for a failure while reading the trace at `path`: the
** message gets "PATH: " in front unless it already names the file, so every
** such error says which file was wrong. */
void lr_cli_trace_error(const char *cmd, const char *path, const char *msg);

#endif
