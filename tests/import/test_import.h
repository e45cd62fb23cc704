/* test_import.h: shared helpers of the import test files (test_import.c). */
#ifndef LR_TEST_IMPORT_H
#define LR_TEST_IMPORT_H

#include <CUnit/CUnit.h>
#include <stdint.h>

#include "lowram/err.h"
#include "spoolgen.h"

int ti_import(Gen *g, const char *name, LrErr *err);
const char *ti_db(void);
const char *ti_spool(void);
int64_t ti_int(const char *sql);
/* A fresh directory for one test's files. */
const char *ti_dir(void);
/* The symtarget program (built -g by meson). */
const char *ti_symtarget(void);
void ti_set_symtarget(const char *path);
/* The C++ cppsymtarget program, or NULL when no C++ compiler built it. */
void ti_set_cpptarget(const char *path);

void ti_add_tests_basic(CU_pSuite s);
void ti_add_tests_damage(CU_pSuite s);
void ti_add_tests_symbols(CU_pSuite s);
void ti_add_tests_cli(CU_pSuite s);
void ti_add_tests_trace2(CU_pSuite s);
void ti_add_tests_schema_doc(CU_pSuite s);
void ti_add_tests_aggsort(CU_pSuite s);

#endif
