/* cli_sweep.c: placeholder until the command lands. */
#include "cli.h"

int lr_cli_sweep(int argc, char **argv) {
  (void)argc;
  (void)argv;
  lr_cli_error("sweep", "not built yet");
  return 1;
}
