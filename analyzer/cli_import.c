/* cli_import.c: placeholder until the command lands. */
#include "cli.h"

int lr_cli_import(int argc, char **argv) {
  (void)argc;
  (void)argv;
  lr_cli_error("import", "not built yet");
  return 1;
}

int lr_cli_recover(int argc, char **argv) {
  (void)argc;
  (void)argv;
  lr_cli_error("recover", "not built yet");
  return 1;
}

int lr_cli_symbolize(int argc, char **argv) {
  (void)argc;
  (void)argv;
  lr_cli_error("symbolize", "not built yet");
  return 1;
}
