/* test_main.c: the 'import' suite (argv[1] = the symtarget program,
** argv[2] = the C++ cppsymtarget when a C++ compiler built it). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

#include "lrtest.h"
#include "test_import.h"

static const char *symtarget;

const char *ti_symtarget(void) { return symtarget; }
void ti_set_symtarget(const char *path);

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_import SYMTARGET\n");
    return 2;
  }
  symtarget = argv[1];
  ti_set_symtarget(argv[1]);
  ti_set_cpptarget(argc > 2 ? argv[2] : NULL);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("import", NULL, NULL);
  ti_add_tests_basic(s);
  ti_add_tests_damage(s);
  ti_add_tests_symbols(s);
  ti_add_tests_cli(s);
  ti_add_tests_trace2(s);
  ti_add_tests_schema_doc(s);
  ti_add_tests_aggsort(s);
  return lrt_main();
}
