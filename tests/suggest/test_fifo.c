/*
** test_fifo.c: suggest and the sweep index refuse what is not a regular
** file (a FIFO, a directory, a device) at once, with one line naming it,
** where they used to block forever in open(). Each call runs in a child
** that is killed after 10 s, so a hang fails the test instead of the suite.
*/
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lowram/suggest.h"
#include "lowram/sweep.h"
#include "lrtest.h"

enum { SUGGEST, INDEX };

/* Runs lr_suggest_load or lr_sweep_index_read on path in a child; the
** error message comes back through shared memory. 0 if the call failed
** (as wanted) within 10 s, 1 if it succeeded, -1 if it hung or crashed. */
static int call(int what, const char *path, char *msg, size_t len) {
  char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CU_ASSERT_FATAL(shared != MAP_FAILED);
  fflush(NULL);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    alarm(10);
    LrErr err = {{0}};
    int ok;
    if (what == SUGGEST) {
      LrSuggest *m = lr_suggest_load(path, NULL, 0, &err);
      ok = m != NULL;
      lr_suggest_free(m);
    } else {
      LrSweepIndex *ix = lr_sweep_index_read(path, &err);
      ok = ix != NULL;
      lr_sweep_index_free(ix);
    }
    snprintf(shared, 4096, "%s", err.msg);
    _exit(ok);
  }
  int st;
  waitpid(pid, &st, 0);
  snprintf(msg, len, "%s", shared);
  munmap(shared, 4096);
  if (WIFSIGNALED(st)) {
    fprintf(stderr, "%s: killed by signal %d (SIGALRM = hung in open)\n", path, WTERMSIG(st));
    return -1;
  }
  return WEXITSTATUS(st);
}

/* The call fails at once with exactly want. */
static void refuses(int what, const char *path, const char *want) {
  char msg[1024];
  int r = call(what, path, msg, sizeof msg);
  CU_ASSERT_EQUAL(r, 0);
  if (strcmp(msg, want)) fprintf(stderr, "%s: got '%s', want '%s'\n", path, msg, want);
  CU_ASSERT_STRING_EQUAL(msg, want);
  CU_ASSERT_PTR_NULL(strchr(msg, '\n'));
}

static char *in(const char *dir, const char *name) {
  static char buf[8][4200];
  static int k;
  char *p = buf[k++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

static char *msg_of(const char *fmt, const char *a) {
  static char buf[4][4400];
  static int k;
  char *p = buf[k++ % 4];
  snprintf(p, sizeof buf[0], fmt, a);
  return p;
}

static void test_trace_fifo(void) {
  char *dir = lrt_tmpdir("fifo-trace");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  char *fifo = in(dir, "f.db");
  CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
  refuses(SUGGEST, fifo, msg_of("%s: not a regular file", fifo));
  /* a device and a missing file: the same one line */
  refuses(SUGGEST, "/dev/null", "/dev/null: not a regular file");
  char *missing = in(dir, "none.db");
  refuses(SUGGEST, missing, msg_of("%s: No such file or directory", missing));
  free(dir);
}

static void test_index_fifo(void) {
  char *dir = lrt_tmpdir("fifo-index");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  char *index = in(dir, LR_SWEEP_INDEX);
  CU_ASSERT_EQUAL_FATAL(mkfifo(index, 0600), 0);
  refuses(INDEX, dir, msg_of("%s: not a regular file", index));
  refuses(SUGGEST, dir, msg_of("%s: not a regular file", index));
  /* a directory under the index's name */
  CU_ASSERT_EQUAL_FATAL(unlink(index), 0);
  CU_ASSERT_EQUAL_FATAL(mkdir(index, 0700), 0);
  refuses(INDEX, dir, msg_of("%s: not a regular file", index));
  rmdir(index);
  free(dir);
}

/* A sweep whose index is fine but whose run traces are FIFOs: each run is
** left out with the reason, and the whole fails with one line. */
static void test_run_fifo(void) {
  char *dir = lrt_tmpdir("fifo-runs");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  static const char index[] = "# lowram sweep index v1\n"
                              "run\tseq\ttrace\tstatus\n"
                              "1\t128\trun-1.db\tok\n"
                              "2\t256\trun-2.db\tok\n";
  lrt_write_file(in(dir, LR_SWEEP_INDEX), index, sizeof index - 1);
  CU_ASSERT_EQUAL_FATAL(mkfifo(in(dir, "run-1.db"), 0600), 0);
  CU_ASSERT_EQUAL_FATAL(mkfifo(in(dir, "run-2.db"), 0600), 0);
  refuses(SUGGEST, dir, msg_of("%s: no usable run (failed: 1, 2)", dir));
  free(dir);
}

/* The command: one line on stderr, exit status 1, no hang. */
static void test_cli(void) {
  char *dir = lrt_tmpdir("fifo-cli");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  char *fifo = in(dir, "f.db");
  CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
  char *err = in(dir, "err.txt");
  char *argv[] = {"timeout", "-s", "KILL", "20", (char *)lrt_env("LOWRAM_BIN"), "suggest", fifo,
                  NULL};
  int rc = lrt_run(argv, NULL, "/dev/null", err);
  CU_ASSERT_EQUAL(rc, 1);
  size_t n = 0;
  char *text = lrt_read_file(err, &n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  char want[4400];
  snprintf(want, sizeof want, "lowram suggest: %s: not a regular file\n", fifo);
  if (strcmp(text, want)) fprintf(stderr, "got '%s'\n", text);
  CU_ASSERT_STRING_EQUAL(text, want);
  free(text);
  free(dir);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("fifo", NULL, NULL);
  CU_add_test(s, "trace is a FIFO or a device", test_trace_fifo);
  CU_add_test(s, "index.tsv is a FIFO or a directory", test_index_fifo);
  CU_add_test(s, "run traces are FIFOs", test_run_fifo);
  CU_add_test(s, "lowram suggest FIFO", test_cli);
  return lrt_main();
}
