/* cli_record.c: placeholder until the command lands. */
#include "cli.h"

int lr_cli_record(int argc, char **argv) {
  (void)argc;
  (void)argv;
  lr_cli_error("record", "not built yet");
  return 1;
}
