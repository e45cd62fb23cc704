/*
** symbolize.c: see symbolize.h. One module at a time: find the ELF files
** that match its build-id, load their function symbols into a sorted
** array, and name each of the module's frames from them (function from the
** symbol table, file:line from DWARF), in one UPDATE per frame.
**
** C++ names are demangled (_ZN3lrt3Box4makeEi -> lrt::Box::make(int)) with
** the C++ runtime's own __cxa_demangle, found at run time: lowram is C and
** takes no C++ dependency. Without a C++ runtime on the machine, or for a
** name it cannot or should not demangle, the symbol's own name is kept:
** demangling never fails a symbolize pass.
*/
#include "lowram/symbolize.h"
#include "ingest/symtrace.h"

#include <dirent.h>
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lowram/trace.h"

#define MAX_CANDIDATES 8
#define MAX_DEPTH 12
/* Longer names, mangled or demangled, stay mangled: template-heavy code
** can demangle to many kilobytes that no report can show anyway. */
#define MAX_DEMANGLED 4096

typedef struct Sym {
  uint64_t lo, hi;
  const char *name;
} Sym;

/* An address range of one compile unit, for DWARF without .debug_aranges. */
typedef struct CuRange {
  uint64_t lo, hi;
  Dwarf_Die die;
} CuRange;

typedef struct ElfFile {
  int fd;
  Elf *elf;
  Dwarf *dw;
  Sym *syms;
  size_t nsyms;
  int is_exec; /* ET_EXEC: rel_pc + base is the ELF address */
  CuRange *cus; /* built on the first address dwarf_addrdie cannot place */
  size_t ncus;
  int cus_built;
} ElfFile;

static int sym_cmp(const void *a, const void *b) {
  const Sym *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void build_id_hex(Elf *elf, char *out, size_t len) {
  const void *id = NULL;
  ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
  out[0] = 0;
  if (n <= 0 || (size_t)n * 2 + 1 > len) return;
  for (ssize_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", ((const unsigned char *)id)[i]);
}

static void load_syms(ElfFile *f) {
  Elf_Scn *scn = NULL, *pick = NULL;
  GElf_Shdr sh, picked = {0};
  while ((scn = elf_nextscn(f->elf, scn))) {
    if (!gelf_getshdr(scn, &sh)) continue;
    if (sh.sh_type == SHT_SYMTAB || (sh.sh_type == SHT_DYNSYM && !pick)) {
      pick = scn;
      picked = sh;
      if (sh.sh_type == SHT_SYMTAB) break;
    }
  }
  if (!pick || !picked.sh_entsize) return;
  Elf_Data *d = elf_getdata(pick, NULL);
  if (!d) return;
  size_t n = picked.sh_size / picked.sh_entsize;
  f->syms = calloc(n ? n : 1, sizeof *f->syms);
  if (!f->syms) return;
  for (size_t i = 0; i < n; i++) {
    GElf_Sym s;
    if (!gelf_getsym(d, (int)i, &s)) continue;
    int t = GELF_ST_TYPE(s.st_info);
    if ((t != STT_FUNC && t != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF || !s.st_value)
      continue;
    const char *name = elf_strptr(f->elf, picked.sh_link, s.st_name);
    if (!name || !*name) continue;
    f->syms[f->nsyms++] = (Sym){s.st_value, s.st_value + s.st_size, name};
  }
  qsort(f->syms, f->nsyms, sizeof *f->syms, sym_cmp);
}

/* Opens path if it is an ELF file whose build-id is want (or, when want is
** empty, one without a build-id). */
static int elf_open(ElfFile *f, const char *path, const char *want) {
  memset(f, 0, sizeof *f);
  /* The path comes from the spool: a FIFO or a device there must not block
  ** or be read, so open without blocking and accept regular files only. */
  f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f->fd < 0) return -1;
  struct stat st;
  if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(f->fd);
    f->fd = -1;
    return -1;
  }
  f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
  char have[2 * 64 + 1];
  GElf_Ehdr eh;
  if (!f->elf || elf_kind(f->elf) != ELF_K_ELF || !gelf_getehdr(f->elf, &eh)) goto no;
  build_id_hex(f->elf, have, sizeof have);
  if (strcmp(have, want)) goto no;
  f->is_exec = eh.e_type == ET_EXEC;
  load_syms(f);
  f->dw = dwarf_begin_elf(f->elf, DWARF_C_READ, NULL);
  return 0;
no:
  if (f->elf) elf_end(f->elf);
  close(f->fd);
  memset(f, 0, sizeof *f);
  return -1;
}

static void elf_close(ElfFile *f) {
  if (f->dw) dwarf_end(f->dw);
  if (f->elf) elf_end(f->elf);
  if (f->fd > 0) close(f->fd);
  free(f->syms);
  free(f->cus);
}

static const char *func_at(const ElfFile *f, uint64_t a) {
  size_t lo = 0, hi = f->nsyms;
  while (lo < hi) { /* first symbol starting after a */
    size_t mid = (lo + hi) / 2;
    if (f->syms[mid].lo <= a) lo = mid + 1;
    else hi = mid;
  }
  /* aliases share a start: look back over symbols starting at the same place */
  for (size_t i = lo; i-- > 0 && f->syms[i].lo == f->syms[lo - 1].lo;)
    if (a < f->syms[i].hi) return f->syms[i].name;
  return NULL;
}

static int cu_cmp(const void *a, const void *b) {
  const CuRange *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Every compile unit's address ranges, sorted. clang (and so the Android
** NDK) emits no .debug_aranges, which dwarf_addrdie relies on. */
static void build_cus(ElfFile *f) {
  f->cus_built = 1;
  size_t cap = 0;
  Dwarf_CU *cu = NULL;
  Dwarf_Die die;
  uint8_t type;
  while (dwarf_get_units(f->dw, cu, &cu, NULL, &type, &die, NULL) == 0) {
    if (type != DW_UT_compile && type != DW_UT_partial && type != DW_UT_skeleton) continue;
    Dwarf_Addr base, lo, hi;
    ptrdiff_t off = 0;
    while ((off = dwarf_ranges(&die, off, &base, &lo, &hi)) > 0) {
      if (hi <= lo) continue;
      if (f->ncus == cap) {
        size_t nc = cap ? cap * 2 : 64;
        CuRange *n = realloc(f->cus, nc * sizeof *n);
        if (!n) return;
        f->cus = n;
        cap = nc;
      }
      f->cus[f->ncus++] = (CuRange){lo, hi, die};
    }
  }
  qsort(f->cus, f->ncus, sizeof *f->cus, cu_cmp);
}

static int cu_at(ElfFile *f, uint64_t a, Dwarf_Die *cu) {
  if (dwarf_addrdie(f->dw, a, cu)) return 1;
  if (!f->cus_built) build_cus(f);
  size_t lo = 0, hi = f->ncus;
  while (lo < hi) { /* first range starting after a */
    size_t mid = (lo + hi) / 2;
    if (f->cus[mid].lo <= a) lo = mid + 1;
    else hi = mid;
  }
  if (lo && a < f->cus[lo - 1].hi) {
    *cu = f->cus[lo - 1].die;
    return 1;
  }
  return 0;
}

static int line_at(ElfFile *f, uint64_t a, const char **file, int *line) {
  if (!f->dw) return 0;
  Dwarf_Die cu;
  if (!cu_at(f, a, &cu)) return 0;
  Dwarf_Line *l = dwarf_getsrc_die(&cu, a);
  if (!l) return 0;
  const char *src = dwarf_linesrc(l, NULL, NULL);
  if (!src || dwarf_lineno(l, line) != 0 || *line <= 0) return 0;
  *file = src;
  return 1;
}

typedef char *(*CxaDemangle)(const char *, char *, size_t *, int *);

static CxaDemangle cxa_demangle;
static pthread_once_t cxa_once = PTHREAD_ONCE_INIT;

/* Invariant: runs once per process (pthread_once); the library it opens
** stays loaded, so cxa_demangle stays valid. */
static void cxa_find(void) {
  static const char *const libs[] = {"libstdc++.so.6", "libc++.so.1", "libc++_shared.so"};
  void *f = dlsym(RTLD_DEFAULT, "__cxa_demangle"); /* already in the process */
  for (size_t i = 0; !f && i < sizeof libs / sizeof *libs; i++) {
    void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
    if (h && !(f = dlsym(h, "__cxa_demangle"))) dlclose(h);
  }
  /* POSIX dlsym returns an object pointer; this conversion is the sanctioned way */
  memcpy(&cxa_demangle, &f, sizeof f);
}

char *lr_sym_demangle(const char *name) {
  /* Itanium ABI function names only: __cxa_demangle would also turn a
  ** plain C name such as "i" or "f" into a type ("int", "float"). */
  if (!name || strncmp(name, "_Z", 2) != 0 || strnlen(name, MAX_DEMANGLED + 1) > MAX_DEMANGLED)
    return NULL;
  pthread_once(&cxa_once, cxa_find);
  if (!cxa_demangle) return NULL;
  int status = -1;
  char *out = cxa_demangle(name, NULL, NULL, &status);
  if (status != 0 || !out || !*out || strnlen(out, MAX_DEMANGLED + 1) > MAX_DEMANGLED) {
    free(out);
    return NULL;
  }
  return out;
}

typedef struct Cands {
  char *path[MAX_CANDIDATES];
  int n;
} Cands;

static void add_cand(Cands *c, const char *p) {
  if (c->n < MAX_CANDIDATES && (c->path[c->n] = strdup(p))) c->n++;
}

/* Every regular file named `name` under dir (not following links to dirs). */
static void walk(Cands *c, const char *dir, const char *name, int depth) {
  if (depth > MAX_DEPTH || c->n >= MAX_CANDIDATES) return;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[PATH_MAX];
  while ((e = readdir(d)) && c->n < MAX_CANDIDATES) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
    struct stat st;
    if (lstat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) walk(c, p, name, depth + 1);
    else if (!strcmp(e->d_name, name) && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
      add_cand(c, p);
  }
  closedir(d);
}

static void name_module(sqlite3 *db, sqlite3_stmt *frames, sqlite3_stmt *upd, int64_t mod_id,
                        uint64_t base, const char *path, const char *build_id,
                        const char *dir, int use_path, LrSymStats *st) {
  Cands c = {{0}, 0};
  if (dir && *build_id && strlen(build_id) > 2) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/.build-id/%.2s/%s.debug", dir, build_id, build_id + 2);
    add_cand(&c, p);
  }
  const char *slash = strrchr(path, '/');
  const char *base_name = slash ? slash + 1 : path;
  if (dir && *base_name) walk(&c, dir, base_name, 0);
  if (use_path && *path) add_cand(&c, path);
  ElfFile files[MAX_CANDIDATES];
  int nf = 0;
  for (int i = 0; i < c.n; i++) {
    if (elf_open(&files[nf], c.path[i], build_id) == 0) nf++;
    free(c.path[i]);
  }
  st->modules++;
  if (!nf) return;
  st->modules_matched++;
  (void)db;
  sqlite3_bind_int64(frames, 1, mod_id);
  while (sqlite3_step(frames) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(frames, 0);
    uint64_t rel = (uint64_t)sqlite3_column_int64(frames, 1);
    const char *fn = NULL, *file = NULL;
    int line = 0;
    for (int i = 0; i < nf && (!fn || !file); i++) {
      /* a return address: the call is the byte before it */
      uint64_t a = (files[i].is_exec ? base + rel : rel) - (rel ? 1 : 0);
      if (!fn) fn = func_at(&files[i], a);
      if (!file) line_at(&files[i], a, &file, &line);
    }
    st->frames++;
    if (!fn && !file) continue;
    char *readable = lr_sym_demangle(fn);
    if (readable) fn = readable;
    if (fn) sqlite3_bind_text(upd, 1, fn, -1, SQLITE_TRANSIENT);
    if (file) {
      sqlite3_bind_text(upd, 2, file, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(upd, 3, line);
    }
    sqlite3_bind_int64(upd, 4, id);
    sqlite3_step(upd);
    sqlite3_reset(upd);
    sqlite3_clear_bindings(upd);
    free(readable);
  }
  sqlite3_reset(frames);
  for (int i = 0; i < nf; i++) elf_close(&files[i]);
}

int lr_sym_trace(sqlite3 *db, const char *trace_path, const char *symbols_dir,
                 int use_module_paths, LrSymStats *st, LrErr *err) {
  LrSymStats local;
  if (!st) st = &local;
  memset(st, 0, sizeof *st);
  elf_version(EV_CURRENT);
  sqlite3_stmt *mods = NULL, *frames = NULL, *upd = NULL;
  int rc = -1;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, base, path, coalesce(build_id, '') FROM modules m "
                         "WHERE EXISTS (SELECT 1 FROM frames f WHERE f.module_id = m.id)",
                         -1, &mods, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT id, rel_pc FROM frames WHERE module_id = ?", -1, &frames,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "UPDATE frames SET function = coalesce(?1, function), "
                         "file = coalesce(?2, file), line = coalesce(?3, line) WHERE id = ?4",
                         -1, &upd, NULL) != SQLITE_OK) {
    lr_err_set(err, "%s: %s", trace_path, sqlite3_errmsg(db));
    goto out;
  }
  while (sqlite3_step(mods) == SQLITE_ROW) {
    char path[PATH_MAX], bid[160];
    /* a damaged or hand-made trace may hold NULL despite the schema */
    const char *mp = (const char *)sqlite3_column_text(mods, 2);
    const char *mb = (const char *)sqlite3_column_text(mods, 3);
    snprintf(path, sizeof path, "%s", mp ? mp : "");
    snprintf(bid, sizeof bid, "%s", mb ? mb : "");
    name_module(db, frames, upd, sqlite3_column_int64(mods, 0),
                (uint64_t)sqlite3_column_int64(mods, 1), path, bid, symbols_dir,
                use_module_paths, st);
  }
  sqlite3_stmt *cnt = NULL;
  if (sqlite3_prepare_v2(db, "SELECT count(function), count(file) FROM frames", -1, &cnt,
                         NULL) == SQLITE_OK &&
      sqlite3_step(cnt) == SQLITE_ROW) {
    st->frames_named = (uint64_t)sqlite3_column_int64(cnt, 0);
    st->frames_lines = (uint64_t)sqlite3_column_int64(cnt, 1);
  }
  sqlite3_finalize(cnt);
  rc = 0;
out:
  sqlite3_finalize(mods);
  sqlite3_finalize(frames);
  sqlite3_finalize(upd);
  return rc;
}

int lr_sym_file(const char *trace_path, const char *symbols_dir, LrSymStats *st, LrErr *err) {
  LrTrace *t = lr_trace_open(trace_path, err); /* checks it is a lowram trace */
  if (!t) return -1;
  int complete = lr_trace_complete(t);
  lr_trace_close(t);
  if (!complete)
    return lr_err_set(err, "%s: unfinished trace (run `lowram recover` first)", trace_path);
  struct stat sb;
  if (symbols_dir && (stat(symbols_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
    return lr_err_set(err, "%s: not a directory", symbols_dir);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(trace_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    lr_err_set(err, "%s: cannot open for writing: %s", trace_path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return -1;
  }
  sqlite3_busy_timeout(db, 5000);
  int rc = -1;
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    lr_err_set(err, "%s: %s", trace_path, sqlite3_errmsg(db));
  } else if (lr_sym_trace(db, trace_path, symbols_dir, 1, st, err) != 0) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  } else if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    lr_err_set(err, "%s: %s", trace_path, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  } else {
    rc = 0;
  }
  sqlite3_close(db);
  return rc;
}
