/*
** memprog.c: the program tests/adb/test_adb.sh records on its fake devices.
**   memprog BYTES [KILLFLAG]
** mallocs BYTES (one block, touched), and if the file KILLFLAG exists, plays
** lmkd: it runs the device's `log` to write lmkd's kill line about its own
** pid to the log buffer (a child process, so the run also has a child's
** spool), then SIGKILLs itself with the block still live. Otherwise it frees
** the block and exits 0. No stdio: the live bytes at the peak are BYTES
** exactly.
*/
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  size_t n = strtoull(argv[1], NULL, 10);
  char *p = malloc(n);
  if (!p) return 1;
  memset(p, 7, n);
  if (argc > 2 && access(argv[2], F_OK) == 0) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "Kill 'memprog' (%d), uid 2000, oom_score_adj 900 to free 92212kB rss, 33036kB "
             "swap; reason: low watermark is breached and swap is low (free 48000kB < low 51000kB)",
             (int)getpid());
    char *args[] = {"log", "-p", "i", "-t", "lowmemorykiller", msg, NULL};
    pid_t c;
    int st;
    if (posix_spawnp(&c, "log", NULL, NULL, args, environ) == 0) waitpid(c, &st, 0);
    raise(SIGKILL);
  }
  free(p);
  return 0;
}
