/*
** test_symbols.c: frames named from a real ELF (symtarget, built with -g):
** a static function's name from .symtab and its file:line from DWARF, at
** import from the module's path; nothing when the build-id differs; and
** offline from unstripped copies (DIR/any/path/name and DIR/.build-id/).
** C++ (cppsymtarget): mangled names stored demangled, exactly, at import
** and by `lowram symbolize`; extern "C" names and bad or huge mangled
** names kept as they are.
*/
#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lowram/import.h"
#include "lrtest.h"
#include "lowram/symbolize.h"
#include "test_import.h"

static const char *target;
static const char *cpptarget;

void ti_set_symtarget(const char *path) { target = path; }
void ti_set_cpptarget(const char *path) { cpptarget = path; }

/* The value of symbol `name` in path's .symtab, and its build-id. */
static int elf_info(const char *path, const char *name, uint64_t *value, uint8_t *bid,
                    size_t *bidlen) {
  elf_version(EV_CURRENT);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  Elf *e = elf_begin(fd, ELF_C_READ, NULL);
  int found = -1;
  Elf_Scn *scn = NULL;
  GElf_Shdr sh;
  while (e && (scn = elf_nextscn(e, scn))) {
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB) continue;
    Elf_Data *d = elf_getdata(scn, NULL);
    for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
      GElf_Sym s;
      if (gelf_getsym(d, (int)i, &s) && !strcmp(elf_strptr(e, sh.sh_link, s.st_name), name)) {
        *value = s.st_value;
        found = 0;
      }
    }
  }
  const void *id;
  ssize_t n = e ? dwelf_elf_gnu_build_id(e, &id) : -1;
  if (n > 0 && (size_t)n <= *bidlen) {
    memcpy(bid, id, (size_t)n);
    *bidlen = (size_t)n;
  } else {
    found = -1;
  }
  if (e) elf_end(e);
  close(fd);
  return found;
}

static int known_line(void) {
  char p[4096];
  snprintf(p, sizeof p, "%s/tests/import/symtarget.c", lrt_env("LOWRAM_SOURCE_ROOT"));
  char *src = lrt_read_file(p, NULL);
  if (!src) return -1;
  char *at = strstr(src, "KNOWN-LINE");
  int line = 1;
  for (char *c = src; at && c < at; c++) line += *c == '\n';
  free(src);
  return at ? line : -1;
}

static int copy_file(const char *from, const char *to) {
  size_t len;
  char *data = lrt_read_file(from, &len);
  if (!data) return -1;
  FILE *f = fopen(to, "wb");
  int ok = f && fwrite(data, 1, len, f) == len;
  if (f) fclose(f);
  free(data);
  chmod(to, 0755);
  return ok ? 0 : -1;
}

#define BASE 0x555555550000ull

/* A spool with one module (path, build-id) and one stack returning into
** lr_known_static (just after its first byte) and lr_known_global. */
static int spool_for(const char *name, const char *module_path, const uint8_t *bid,
                     size_t bidlen) {
  uint64_t vs = 0, vg = 0;
  uint8_t real[64];
  size_t rl = sizeof real;
  if (elf_info(target, "lr_known_static", &vs, real, &rl) ||
      elf_info(target, "lr_known_global", &vg, real, &rl))
    return -1;
  Gen g;
  gen_init(&g, 65536);
  GW w;
  gw_init(&w, &g, 1);
  gw_module(&w, 0, BASE, 0x100000, bid ? bid : real, bid ? bidlen : rl, module_path);
  uint64_t ips[] = {BASE + vs + 1, BASE + vg + 8};
  gw_stack(&w, 1, 2, ips);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 10, 1);
  int rc = ti_import(&g, name, NULL);
  gen_free(&g);
  return rc;
}

static char *q_text(const char *sql) {
  static char buf[4096];
  return lrt_sql_text(ti_db(), sql, buf, sizeof buf);
}

static void check_named(void) {
  char *fn = q_text("SELECT function FROM stack_frames WHERE stack_id = 1 AND depth = 0");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fn);
  CU_ASSERT_STRING_EQUAL(fn, "lr_known_static");
  char *file = q_text("SELECT file FROM stack_frames WHERE stack_id = 1 AND depth = 0");
  CU_ASSERT_PTR_NOT_NULL_FATAL(file);
  CU_ASSERT_PTR_NOT_NULL(strstr(file, "symtarget.c"));
  CU_ASSERT_EQUAL(ti_int("SELECT line FROM stack_frames WHERE stack_id = 1 AND depth = 0"),
                  known_line());
  fn = q_text("SELECT function FROM stack_frames WHERE stack_id = 1 AND depth = 1");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fn);
  CU_ASSERT_STRING_EQUAL(fn, "lr_known_global");
}

static void test_import_names(void) {
  CU_ASSERT_TRUE_FATAL(known_line() > 0);
  CU_ASSERT_EQUAL_FATAL(spool_for("sym", target, NULL, 0), 0);
  check_named();
  /* another build-id: the file on disk is not what ran, so no names */
  const uint8_t other[] = {0xde, 0xad, 0xbe, 0xef};
  CU_ASSERT_EQUAL_FATAL(spool_for("symother", target, other, sizeof other), 0);
  CU_ASSERT_EQUAL(ti_int("SELECT count(*) FROM frames WHERE function IS NULL"), 2);
}

static void test_offline(void) {
  char stripped[4096], syms[4096], p[4400];
  snprintf(stripped, sizeof stripped, "%s/lr_symtarget", ti_dir());
  CU_ASSERT_EQUAL_FATAL(copy_file(target, stripped), 0);
  char *strip[] = {"strip", "--strip-all", stripped, NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(strip, NULL, NULL, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(spool_for("stripped", stripped, NULL, 0), 0);
  CU_ASSERT_EQUAL(ti_int("SELECT count(*) FROM frames WHERE function IS NULL AND file IS NULL"),
                  2);
  /* DIR/any/path/<name> */
  snprintf(syms, sizeof syms, "%s/syms", ti_dir());
  mkdir(syms, 0755);
  snprintf(p, sizeof p, "%s/usr", syms);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/usr/lr_symtarget", syms);
  CU_ASSERT_EQUAL_FATAL(copy_file(target, p), 0);
  LrErr err;
  LrSymStats st;
  CU_ASSERT_EQUAL_FATAL(lr_sym_file(ti_db(), syms, &st, &err), 0);
  CU_ASSERT_EQUAL(st.modules_matched, 1);
  CU_ASSERT_EQUAL(st.frames_named, 2);
  check_named();

  /* DIR/.build-id/xx/yyyy.debug, through the CLI */
  CU_ASSERT_EQUAL_FATAL(spool_for("stripped2", stripped, NULL, 0), 0);
  uint64_t v;
  uint8_t bid[64];
  size_t bl = sizeof bid;
  CU_ASSERT_EQUAL_FATAL(elf_info(target, "main", &v, bid, &bl), 0);
  char hex[130];
  for (size_t i = 0; i < bl; i++) sprintf(hex + 2 * i, "%02x", bid[i]);
  snprintf(syms, sizeof syms, "%s/syms2", ti_dir());
  mkdir(syms, 0755);
  snprintf(p, sizeof p, "%s/.build-id", syms);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/.build-id/%.2s", syms, hex);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/.build-id/%.2s/%s.debug", syms, hex, hex + 2);
  CU_ASSERT_EQUAL_FATAL(copy_file(target, p), 0);
  char out[4200];
  snprintf(out, sizeof out, "%s/symbolize.out", ti_dir());
  char *cmd[] = {(char *)lrt_env("LOWRAM_BIN"), "symbolize", (char *)ti_db(), "--symbols", syms,
                 NULL};
  CU_ASSERT_EQUAL(lrt_run(cmd, NULL, out, NULL), 0);
  check_named();
  /* a bad --symbols dir: error, trace unchanged */
  char *bad[] = {(char *)lrt_env("LOWRAM_BIN"), "symbolize", (char *)ti_db(), "--symbols",
                 "/nonexistent/dir", NULL};
  CU_ASSERT_EQUAL(lrt_run(bad, NULL, out, out), 1);
  check_named();
}

/* What lowram should find: the C++ runtime the demangler comes from. */
static int have_cxa_demangle(void) {
  const char *libs[] = {"libstdc++.so.6", "libc++.so.1", "libc++_shared.so"};
  for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
    void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
    int ok = h && dlsym(h, "__cxa_demangle");
    if (h) dlclose(h);
    if (ok) return 1;
  }
  return 0;
}

/* f(x*, x*, ...): "_Z", then a function name of fn bytes, then 39
** parameters of type pointer to a 102-byte class name, all but the first
** by substitution (S0_). About 224 bytes mangled, 4095 + fn demangled. */
static char *wide(int fn) {
  char *m = malloc(400);
  if (!m) return NULL;
  char *p = m + sprintf(m, "_Z%d", fn);
  p += sprintf(p, "%.*sP102", fn, "ffff");
  memset(p, 'x', 102);
  p += 102;
  for (int i = 0; i < 38; i++) p += sprintf(p, "S0_");
  return m;
}

/* "_ZN", 9 times "400aaa...", then "<r>aaa...", then "Ev": 3635 + r
** bytes mangled (100 <= r < 1000). */
static char *longname(int r) {
  char *m = malloc(5000);
  if (!m) return NULL;
  char *p = m + sprintf(m, "_ZN");
  for (int i = 0; i < 10; i++) {
    int n = i < 9 ? 400 : r;
    p += sprintf(p, "%d", n);
    memset(p, 'a', (size_t)n);
    p += n;
  }
  strcpy(p, "Ev");
  return m;
}

static void test_demangle_names(void) {
  /* never a type out of a C name, never a guess out of garbage */
  const char *keep[] = {"main", "i", "f", "lr_known_static", "_Z", "_Zgarbage!", "_GLOBAL__sub_I_x",
                        ""};
  for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
    char *d = lr_sym_demangle(keep[i]);
    CU_ASSERT_PTR_NULL(d);
    free(d);
  }
  CU_ASSERT_PTR_NULL(lr_sym_demangle(NULL));
  char *d = lr_sym_demangle("_ZN3lrt3Box4makeEi");
  if (!have_cxa_demangle()) { /* no C++ runtime: names stay mangled */
    CU_ASSERT_PTR_NULL(d);
    free(d);
    fprintf(stderr, "test_import: no __cxa_demangle on this machine: demangling not checked\n");
    return;
  }
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_STRING_EQUAL(d, "lrt::Box::make(int)");
  free(d);
  d = lr_sym_demangle("_ZN3lrt4growIdEEPT_PKNS_3BoxEm");
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_STRING_EQUAL(d, "double* lrt::grow<double>(lrt::Box const*, unsigned long)");
  free(d);
  /* the 4096-byte bound on the readable name: 4096 bytes kept, 4097 not
  ** (from a 225-byte mangled name) */
  char *m = wide(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  d = lr_sym_demangle(m);
  CU_ASSERT_PTR_NOT_NULL(d);
  CU_ASSERT_EQUAL(d ? strlen(d) : 0, 4096);
  CU_ASSERT(d && !strncmp(d, "f(xxx", 5) && !strcmp(d + 4090, "xxxx*)"));
  free(d);
  free(m);
  m = wide(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_PTR_NULL(lr_sym_demangle(m));
  free(m);
  /* and on the mangled one: 4097 bytes are not even tried (libstdc++
  ** itself turns down names over about a kilobyte today, so only the
  ** outcome is checked) */
  m = longname(462);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(strlen(m), 4097);
  CU_ASSERT_PTR_NULL(lr_sym_demangle(m));
  free(m);
}

/* A spool with cppsymtarget as its one module (at path) and one 80-byte
** malloc whose stack returns into Box::make, grow<double> and lr_cpp_plain. */
static int spool_cpp(const char *name, const char *path) {
  uint64_t vm = 0, vg = 0, vp = 0;
  uint8_t bid[64];
  size_t bl = sizeof bid;
  if (elf_info(cpptarget, "_ZN3lrt3Box4makeEi", &vm, bid, &bl) ||
      elf_info(cpptarget, "_ZN3lrt4growIdEEPT_PKNS_3BoxEm", &vg, bid, &bl) ||
      elf_info(cpptarget, "lr_cpp_plain", &vp, bid, &bl))
    return -1;
  Gen g;
  gen_init(&g, 65536);
  GW w;
  gw_init(&w, &g, 1);
  gw_module(&w, 0, BASE, 0x100000, bid, bl, path);
  uint64_t ips[] = {BASE + vm + 4, BASE + vg + 4, BASE + vp + 4};
  gw_stack(&w, 1, 3, ips);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 80, 1);
  int rc = ti_import(&g, name, NULL);
  gen_free(&g);
  return rc;
}

static void check_cpp_named(void) {
  const char *want[] = {"lrt::Box::make(int)",
                        "double* lrt::grow<double>(lrt::Box const*, unsigned long)",
                        "lr_cpp_plain"};
  for (int depth = 0; depth < 3; depth++) {
    char q[200];
    snprintf(q, sizeof q,
             "SELECT f.function FROM allocations a JOIN stack_frames f "
             "ON f.stack_id = a.stack_id WHERE a.size = 80 AND f.depth = %d",
             depth);
    char *fn = q_text(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fn);
    CU_ASSERT_STRING_EQUAL(fn, want[depth]);
  }
  char *file = q_text("SELECT file FROM stack_frames WHERE stack_id = 1 AND depth = 0");
  CU_ASSERT_PTR_NOT_NULL_FATAL(file);
  CU_ASSERT_PTR_NOT_NULL(strstr(file, "cppsymtarget.cpp"));
}

static void test_demangle_trace(void) {
  if (!cpptarget || !have_cxa_demangle()) {
    fprintf(stderr, "test_import: no C++ compiler or runtime: C++ frames not checked\n");
    return;
  }
  /* at import, from the module's own path */
  CU_ASSERT_EQUAL_FATAL(spool_cpp("cpp", cpptarget), 0);
  check_cpp_named();
  CU_ASSERT_EQUAL(ti_int("SELECT count(*) FROM frames WHERE function LIKE '\\_Z%' ESCAPE '\\'"),
                  0);
  /* offline: a stripped copy names nothing; `lowram symbolize --symbols`
  ** from the unstripped one gives the same demangled names */
  char stripped[4096], syms[4096], p[4400];
  snprintf(stripped, sizeof stripped, "%s/lr_cppsymtarget", ti_dir());
  CU_ASSERT_EQUAL_FATAL(copy_file(cpptarget, stripped), 0);
  char *strip[] = {"strip", "--strip-all", stripped, NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(strip, NULL, NULL, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(spool_cpp("cppstripped", stripped), 0);
  CU_ASSERT_EQUAL(ti_int("SELECT count(*) FROM frames WHERE function IS NULL"), 3);
  snprintf(syms, sizeof syms, "%s/cppsyms", ti_dir());
  mkdir(syms, 0755);
  snprintf(p, sizeof p, "%s/lr_cppsymtarget", syms);
  CU_ASSERT_EQUAL_FATAL(copy_file(cpptarget, p), 0);
  char out[4200];
  snprintf(out, sizeof out, "%s/cppsymbolize.out", ti_dir());
  char *cmd[] = {(char *)lrt_env("LOWRAM_BIN"), "symbolize", (char *)ti_db(), "--symbols", syms,
                 NULL};
  CU_ASSERT_EQUAL(lrt_run(cmd, NULL, out, NULL), 0);
  check_cpp_named();
}

void ti_add_tests_symbols(CU_pSuite s) {
  CU_add_test(s, "symbols at import (static function, file:line)", test_import_names);
  CU_add_test(s, "offline symbolize from unstripped copies", test_offline);
  CU_add_test(s, "C++ demangling: exact names, bounds, kept when not mangled",
              test_demangle_names);
  CU_add_test(s, "C++ frames demangled at import and by symbolize", test_demangle_trace);
}
