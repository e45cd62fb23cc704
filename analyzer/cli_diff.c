/* cli_diff.c: placeholder until the command lands. */
#include "cli.h"

int lr_cli_diff(int argc, char **argv) {
  (void)argc;
  (void)argv;
  lr_cli_error("diff", "not built yet");
  return 1;
}
