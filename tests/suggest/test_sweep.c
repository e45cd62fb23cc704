/*
** test_sweep.c: the sweep grid, {name} templating, running each
** combination (through a stand-in recorder script, so this test needs no
** shim) and the index written and read back, including failed runs and
** malformed index files.
*/
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lrtest.h"
#include "lowram/sweep.h"

static void write_file(const char *path, const char *text, int mode) {
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
  chmod(path, (mode_t)mode);
}

static void test_grid_and_templating(void) {
  LrSweep *s = lr_sweep_new();
  LrErr err;
  CU_ASSERT_EQUAL(lr_sweep_add_param(s, "seq=128,256,512", &err), 0);
  CU_ASSERT_EQUAL(lr_sweep_add_param(s, "batch=1,4", &err), 0);
  CU_ASSERT_EQUAL(lr_sweep_nruns(s), 6);
  char *cmd[] = {"qrun", "--seq-len={seq}", "{seq}x{batch}", "{unknown}", "{seq", NULL};
  CU_ASSERT_EQUAL(lr_sweep_set_command(s, 5, cmd, &err), 0);
  /* the last parameter varies fastest */
  const char *want_seq[] = {"128", "128", "256", "256", "512", "512"};
  const char *want_b[] = {"1", "4", "1", "4", "1", "4"};
  for (size_t r = 0; r < 6; r++) {
    CU_ASSERT_STRING_EQUAL(lr_sweep_value(s, r, 0), want_seq[r]);
    CU_ASSERT_STRING_EQUAL(lr_sweep_value(s, r, 1), want_b[r]);
  }
  char **a = lr_sweep_command(s, 3, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_STRING_EQUAL(a[0], "qrun");
  CU_ASSERT_STRING_EQUAL(a[1], "--seq-len=256");
  CU_ASSERT_STRING_EQUAL(a[2], "256x4");
  CU_ASSERT_STRING_EQUAL(a[3], "{unknown}");
  CU_ASSERT_STRING_EQUAL(a[4], "{seq");
  CU_ASSERT_PTR_NULL(a[5]);
  lr_sweep_argv_free(a);
  CU_ASSERT_PTR_NULL(lr_sweep_command(s, 6, &err));
  lr_sweep_free(s);
}

static void test_bad_params(void) {
  const char *bad[] = {"seq", "=1,2", "seq=", "seq=1,,2", "seq=1,1", "run=1,2", "9x=1",
                       "seq=a\tb", "seq=1,{2}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    LrSweep *s = lr_sweep_new();
    LrErr err;
    err.msg[0] = 0;
    CU_ASSERT_EQUAL(lr_sweep_add_param(s, bad[i], &err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--param"));
    lr_sweep_free(s);
  }
  LrSweep *s = lr_sweep_new();
  LrErr err;
  CU_ASSERT_EQUAL(lr_sweep_add_param(s, "seq=1,2", &err), 0);
  CU_ASSERT_EQUAL(lr_sweep_add_param(s, "seq=3", &err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "twice"));
  CU_ASSERT_EQUAL(lr_sweep_add_param(s, "batch=1,2", &err), 0);
  char *cmd[] = {"prog", "{seq}", NULL};
  CU_ASSERT_EQUAL(lr_sweep_set_command(s, 2, cmd, &err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "batch never appears as {batch}"));
  lr_sweep_free(s);
}

/* The stand-in recorder: `FAKE record -o TRACE -- CMD...` runs CMD and, if
** it succeeded, writes the command line into TRACE. */
static const char *fake_recorder =
    "#!/bin/sh\n"
    "[ \"$1\" = record ] && [ \"$2\" = -o ] && [ \"$4\" = -- ] || exit 99\n"
    "out=$3; shift 4\n"
    "\"$@\"; rc=$?\n"
    "[ $rc = 0 ] && echo \"$*\" > \"$out\"\n"
    "exit $rc\n";

static void test_run_and_index(void) {
  char *dir = lrt_tmpdir("sweep");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  char fake[4096], input[4096];
  snprintf(fake, sizeof fake, "%s/fake-lowram", dir);
  write_file(fake, fake_recorder, 0755);
  snprintf(input, sizeof input, "%s/prompts.txt", dir);
  write_file(input, "hello\n", 0644);
  LrSweep *s = lr_sweep_new();
  LrErr err;
  CU_ASSERT_EQUAL(lr_sweep_add_param(s, "seq=10,20", &err), 0);
  CU_ASSERT_EQUAL(lr_sweep_add_param(s, "mode=ok,fail,kill", &err), 0);
  /* reads its stdin too, to show the --stdin file reaches every run */
  char *cmd[] = {"/bin/sh", "-c",
                 "read line; [ \"$line\" = hello ] || exit 7; "
                 "case {mode} in ok) exit 0;; fail) exit 3;; kill) kill -9 $$;; esac",
                 "seq={seq}", NULL};
  CU_ASSERT_EQUAL_FATAL(lr_sweep_set_command(s, 4, cmd, &err), 0);
  LrSweepRun runs[6];
  memset(runs, 0, sizeof runs);
  for (size_t r = 0; r < 6; r++)
    CU_ASSERT_EQUAL(lr_sweep_run(s, r, fake, dir, input, &runs[r], &err), 0);
  char st[64];
  const char *want[] = {"ok", "exit 3", "exit 137", "ok", "exit 3", "exit 137"};
  for (size_t r = 0; r < 6; r++)
    CU_ASSERT_STRING_EQUAL(lr_sweep_status(&runs[r], st, sizeof st), want[r]);
  char path[4200];
  snprintf(path, sizeof path, "%s/run-4.db", dir);
  char *t = lrt_read_file(path, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "seq=20"));
  free(t);
  CU_ASSERT_EQUAL(lr_sweep_write_index(s, dir, runs, &err), 0);
  LrSweepIndex *ix = lr_sweep_index_read(dir, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ix);
  CU_ASSERT_EQUAL(lr_sweep_index_nparams(ix), 2);
  CU_ASSERT_STRING_EQUAL(lr_sweep_index_param(ix, 1), "mode");
  CU_ASSERT_EQUAL(lr_sweep_index_nruns(ix), 6);
  CU_ASSERT_EQUAL(lr_sweep_index_run_id(ix, 4), 5);
  CU_ASSERT_STRING_EQUAL(lr_sweep_index_value(ix, 4, 0), "20");
  CU_ASSERT_STRING_EQUAL(lr_sweep_index_value(ix, 4, 1), "fail");
  CU_ASSERT_STRING_EQUAL(lr_sweep_index_status(ix, 4), "exit 3");
  CU_ASSERT_STRING_EQUAL(lr_sweep_index_status(ix, 3), "ok");
  snprintf(path, sizeof path, "%s/run-4.db", dir);
  CU_ASSERT_STRING_EQUAL(lr_sweep_index_trace(ix, 3), path);
  CU_ASSERT_PTR_NOT_NULL(strstr(lr_sweep_index_command(ix), "seq={seq}"));
  lr_sweep_index_free(ix);
  /* a missing recorder is an error, not a run */
  CU_ASSERT_EQUAL(lr_sweep_run(s, 0, "/nonexistent/lowram", dir, NULL, &runs[0], &err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/lowram"));
  lr_sweep_free(s);
  free(dir);
}

static void test_bad_index(void) {
  char *dir = lrt_tmpdir("sweepix");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  char path[4200];
  snprintf(path, sizeof path, "%s/index.tsv", dir);
  LrErr err;
  CU_ASSERT_PTR_NULL(lr_sweep_index_read(dir, &err)); /* missing */
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a sweep directory"));
  struct {
    const char *text, *msg;
  } cases[] = {
    {"hello\n", ":1: not a lowram sweep index"},
    {"# lowram sweep index v1\n", "no header row"},
    {"# lowram sweep index v1\nrun\tseq\ttrace\n", ":2: header"},
    {"# lowram sweep index v1\nrun\tseq\ttrace\tstatus\n1\t128\trun-1.db\n", ":3: 3 fields"},
    {"# lowram sweep index v1\nrun\tseq\ttrace\tstatus\nx\t128\trun-1.db\tok\n", "bad run number"},
    {"# lowram sweep index v1\nrun\tseq\ttrace\tstatus\n1\t1\ta.db\tok\n1\t2\tb.db\tok\n",
     ":4: run 1 listed twice"},
    {"# lowram sweep index v1\nrun\tseq\ttrace\tstatus\n1\t1\t../x.db\tok\n", "bad trace name"},
    {"# lowram sweep index v1\nrun\ta\tb\tc\td\te\ttrace\tstatus\n", ":2: header"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_file(path, cases[i].text, 0644);
    err.msg[0] = 0;
    LrSweepIndex *ix = lr_sweep_index_read(dir, &err);
    CU_ASSERT_PTR_NULL(ix);
    lr_sweep_index_free(ix);
    if (!strstr(err.msg, cases[i].msg)) fprintf(stderr, "case %zu: got '%s'\n", i, err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, cases[i].msg));
  }
  free(dir);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("sweep", NULL, NULL);
  CU_add_test(s, "grid and templating", test_grid_and_templating);
  CU_add_test(s, "bad parameters", test_bad_params);
  CU_add_test(s, "run and index", test_run_and_index);
  CU_add_test(s, "bad index", test_bad_index);
  return lrt_main();
}
