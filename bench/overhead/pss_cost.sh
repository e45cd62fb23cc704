#!/bin/sh
# pss_cost.sh: what one PSS sample costs `lowram record`'s outside sampler,
# beside one status sample: the time to open, read and close
# /proc/PID/smaps_rollup (Pss) and /proc/PID/status (VmRSS...) of a process
# with about 100 mappings, best and median of ROUNDS rounds of N reads each.
#
#   bench/overhead/pss_cost.sh [N] [ROUNDS] [MIB]
#
# (default 1000 reads, 5 rounds, 0 MiB). The target maps 100 anonymous
# regions of 64 KiB with alternating protections (so the kernel cannot merge
# them) and touches them, plus MIB MiB in one more mapping; the kernel walks
# the page tables of every mapping for smaps_rollup (its cost grows with
# resident pages: run it with MIB=1024 to see a model-sized process), and
# only reads counters for status. cli/record.c takes PSS at every 10th status sample,
# at most once per 100 ms, from what this prints.
set -eu
N=${1:-1000}
R=${2:-5}
MIB=${3:-0}
CC=${CC:-cc}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lowram-pss.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/pss_cost.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* one read of the whole file, as the sampler does it */
static int read_once(const char *path) {
  static char buf[8192];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t r, t = 0;
  while ((r = read(fd, buf, sizeof buf)) > 0) t += r;
  close(fd);
  return t > 0 ? 0 : -1;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int n = atoi(argv[1]), rounds = atoi(argv[2]);
  size_t big = (size_t)atol(argv[3]) << 20;
  int pfd[2];
  if (pipe(pfd)) return 1;
  pid_t pid = fork();
  if (pid == 0) { /* the target: ~100 mappings of its own, then waits */
    for (int i = 0; i < 100; i++) {
      char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) _exit(1);
      memset(p, 1, 65536);
      if (i % 2) mprotect(p, 65536, PROT_READ);
    }
    if (big) {
      char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) _exit(1);
      memset(p, 1, big);
    }
    close(pfd[1]);
    pause();
    _exit(0);
  }
  close(pfd[1]);
  char c;
  if (read(pfd[0], &c, 1) < 0) return 1; /* EOF: the child has its maps */
  char maps[64], roll[64], stat[64], line[256];
  snprintf(maps, sizeof maps, "/proc/%d/maps", (int)pid);
  snprintf(roll, sizeof roll, "/proc/%d/smaps_rollup", (int)pid);
  snprintf(stat, sizeof stat, "/proc/%d/status", (int)pid);
  FILE *f = fopen(maps, "r");
  int nmaps = 0;
  while (f && fgets(line, sizeof line, f)) nmaps++;
  if (f) fclose(f);
  const char *paths[2] = {stat, roll}, *names[2] = {"status", "smaps_rollup"};
  double *t[2] = {malloc(rounds * sizeof(double)), malloc(rounds * sizeof(double))};
  for (int r = 0; r < rounds; r++)
    for (int k = 0; k < 2; k++) { /* interleaved: a load spike hits both */
      double s = now();
      for (int i = 0; i < n; i++)
        if (read_once(paths[k])) { fprintf(stderr, "pss_cost: cannot read %s\n", paths[k]); return 1; }
      t[k][r] = (now() - s) / n;
    }
  printf("target: %d mappings, %zu MiB more resident; %d reads x %d rounds\n", nmaps,
         big >> 20, n, rounds);
  double med[2];
  for (int k = 0; k < 2; k++) {
    qsort(t[k], rounds, sizeof(double), cmp);
    med[k] = t[k][rounds / 2];
    printf("  /proc/PID/%-13s best %7.1f us  median %7.1f us per read\n", names[k],
           t[k][0] * 1e6, med[k] * 1e6);
  }
  printf("  smaps_rollup / status: %.1fx (median)\n", med[1] / med[0]);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return 0;
}
C
"$CC" -O2 -o "$TMP/pss_cost" "$TMP/pss_cost.c"
"$TMP/pss_cost" "$N" "$R" "$MIB"
