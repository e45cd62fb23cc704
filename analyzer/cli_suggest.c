/* cli_suggest.c: placeholder until the command lands. */
#include "cli.h"

int lr_cli_suggest(int argc, char **argv) {
  (void)argc;
  (void)argv;
  lr_cli_error("suggest", "not built yet");
  return 1;
}
