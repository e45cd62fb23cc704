/* cli_export.c: placeholder until the command lands. */
#include "cli.h"

int lr_cli_export(int argc, char **argv) {
  (void)argc;
  (void)argv;
  lr_cli_error("export", "not built yet");
  return 1;
}
