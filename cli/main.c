/*
** main.c: entry point of the `lowram` command. It only dispatches; every
** subcommand is a file of its own in cli/ (see cli.h).
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tui.h"
#include "lowram/text.h"

typedef struct Command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  {"record", lr_cli_record, "run a program under the recorder and import its trace"},
  {"import", lr_cli_import, "turn a spool into a SQLite trace"},
  {"recover", lr_cli_recover, "finish the trace of a process that died"},
  {"symbolize", lr_cli_symbolize, "name the frames of a trace again, from unstripped copies"},
  {"report", lr_cli_report, "peak, contributors, leaks, temporaries, phases, timeline"},
  {"html", lr_cli_html, "the report as one HTML page: memory chart, flame graph, tables"},
  {"export", lr_cli_export, "CSV or folded stacks of a trace"},
  {"diff", lr_cli_diff, "compare the peaks and sites of two traces"},
  {"sweep", lr_cli_sweep, "record a command over a grid of parameters"},
  {"suggest", lr_cli_suggest, "predict peaks and say what fits a memory budget"},
  {"sql", lr_cli_sql, "the sqlite3 shell on a trace, its allocations table loaded"},
  {"tui", lt_main, "browse a trace in the terminal: chart, contributors, call trees"},
};

const char *lr_cli_esc(const char *s) {
  static char buf[16][1024];
  static unsigned i;
  return lr_text_escape(s, buf[i++ % 16], sizeof buf[0]);
}

/* Messages carry file names and names from traces: the whole line is
** escaped, so it stays one line and no byte of it drives the terminal. */
void lr_cli_error(const char *cmd, const char *fmt, ...) {
  char msg[4096], out[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "lowram %s: %s\n", cmd, lr_text_escape(msg, out, sizeof out));
}

void lr_cli_trace_error(const char *cmd, const char *path, const char *msg) {
  if (!msg || !*msg) msg = "failed";
  if (strstr(msg, path)) lr_cli_error(cmd, "%s", msg);
  else lr_cli_error(cmd, "%s: %s", path, msg);
}

static void usage(FILE *out) {
  fprintf(out, "usage: lowram COMMAND [ARGS...]   (lowram COMMAND --help for its options)\n\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("lowram %s\n", LOWRAM_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "lowram: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
