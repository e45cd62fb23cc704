/* cli_report.c: placeholder until the command lands. */
#include "cli.h"

int lr_cli_report(int argc, char **argv) {
  (void)argc;
  (void)argv;
  lr_cli_error("report", "not built yet");
  return 1;
}
