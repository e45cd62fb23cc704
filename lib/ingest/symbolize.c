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
#include "store/allocvt.h"

#define MAX_CANDIDATES 16
#define MAX_WALK 8 /* of those, at most this many found by walking DIR */
#define MAX_DEPTH 12
#define MAX_INLINE 32 /* inlined functions kept per return address */
#ifndef LR_SYM_DEBUG_DIR
#define LR_SYM_DEBUG_DIR "/usr/lib/debug" /* the distribution's debug files */
#endif
/* Longer names, mangled or demangled, stay mangled: template-heavy code
** can demangle to many kilobytes that no report can show anyway. */
#define MAX_DEMANGLED 4096

typedef struct Sym {
  uint64_t lo, hi;
  const char *name;
  int rank; /* among aliases, the lowest names the function (sym_rank) */
} Sym;

/* Of several names for one address, the one a person knows: a plain name
** or a default version's ("dlopen@@GLIBC_2.34", stored as "dlopen")
** before an old version's ("memcpy@GLIBC_2.2.5"), before glibc's hidden
** "__GI_" ones and "..._alias_N" ones, a global before a local one, fewer leading underscores
** (malloc, not __libc_malloc). Debug files' .symtab holds them all. */
static int sym_rank(const char *name, int local) {
  int under = 0;
  while (name[under] == '_' && under < 7) under++;
  const char *at = strchr(name, '@');
  return (at ? at[1] == '@' ? 2 : 64 : 0) + (!strncmp(name, "__GI_", 5) ? 32 : 0) +
         (strstr(name, "_alias") ? 16 : 0) +
         (local ? 8 : 0) + under;
}

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
    f->syms[f->nsyms++] = (Sym){s.st_value, s.st_value + s.st_size, name,
                                sym_rank(name, GELF_ST_BIND(s.st_info) == STB_LOCAL)};
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
  const Sym *best = NULL;
  for (size_t i = lo; i-- > 0 && f->syms[i].lo == f->syms[lo - 1].lo;)
    if (a < f->syms[i].hi &&
        (!best || f->syms[i].rank < best->rank ||
         (f->syms[i].rank == best->rank && strcmp(f->syms[i].name, best->name) < 0)))
      best = &f->syms[i];
  return best ? best->name : NULL;
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

/* One function inlined at an address: its name and the file:line in it. */
typedef struct Inl {
  const char *function; /* from DWARF, maybe mangled */
  const char *file;
  int line;
} Inl;

/* A DIE's name through DW_AT_abstract_origin/specification: the linkage
** (mangled) name when there is one, so C++ names demangle as symbols do. */
static const char *die_name(Dwarf_Die *d) {
  Dwarf_Attribute at;
  const char *n = NULL;
  if (dwarf_attr_integrate(d, DW_AT_linkage_name, &at) ||
      dwarf_attr_integrate(d, DW_AT_MIPS_linkage_name, &at))
    n = dwarf_formstring(&at);
  if (!n && dwarf_attr_integrate(d, DW_AT_name, &at)) n = dwarf_formstring(&at);
  return n && *n ? n : NULL;
}

/* The inlined functions whose code is at a, innermost first, into inl (at
** most MAX_INLINE); *n is how many. inl[0] takes the line table's file:line
** at a, inl[k] the call site of inl[k-1]; *outer_file and *outer_line become
** the call site of the outermost one, the line in the function the code
** was compiled into. 0 when a has no inlined function. */
static int inline_at(Dwarf_Die *cu, uint64_t a, const char *file, int line, Inl *inl, int *n,
                     const char **outer_file, int *outer_line, const char **outer_fn) {
  *n = 0;
  *outer_fn = NULL;
  Dwarf_Files *files = NULL;
  size_t nfiles = 0;
  if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0) files = NULL;
  /* dwarf_getscopes finds the innermost inlined instance at a; its
  ** callers are its enclosing scopes (dwarf_getscopes_die), as
  ** eu-addr2line -i walks them */
  Dwarf_Die *scopes = NULL, cur;
  int ns = dwarf_getscopes(cu, a, &scopes), found = 0;
  for (int i = 0; i < ns; i++) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_subprogram) {
      *outer_fn = die_name(&scopes[i]);
      break;
    }
    if (tag == DW_TAG_inlined_subroutine) {
      cur = scopes[i];
      found = 1;
      break;
    }
  }
  free(scopes);
  if (!found) return 0;
  while (found && *n < MAX_INLINE) {
    Dwarf_Attribute at;
    Dwarf_Word cf = 0, cl = 0;
    const char *cfile = NULL;
    if (dwarf_attr(&cur, DW_AT_call_file, &at)) dwarf_formudata(&at, &cf);
    if (dwarf_attr(&cur, DW_AT_call_line, &at)) dwarf_formudata(&at, &cl);
    if (files && cf < nfiles) cfile = dwarf_filesrc(files, cf, NULL, NULL);
    inl[*n] = (Inl){die_name(&cur), file, line};
    (*n)++;
    file = cfile;
    line = (int)cl;
    found = 0;
    ns = dwarf_getscopes_die(&cur, &scopes); /* scopes[0] is cur itself */
    for (int i = 1; i < ns; i++) {
      int tag = dwarf_tag(&scopes[i]);
      if (tag == DW_TAG_subprogram) {
        *outer_fn = die_name(&scopes[i]);
        break;
      }
      if (tag == DW_TAG_inlined_subroutine) {
        cur = scopes[i];
        found = 1;
        break;
      }
    }
    free(scopes);
  }
  /* gcc's partial inlining (foo.part.0) and nested inlined blocks show one
  ** function as inlined into itself: shown once, at the innermost line */
  int k = 0;
  for (int j = 0; j < *n; j++)
    if (!k || !inl[j].function || !inl[k - 1].function ||
        strcmp(inl[j].function, inl[k - 1].function))
      inl[k++] = inl[j];
  *n = k;
  while (*n && *outer_fn && inl[*n - 1].function && !strcmp(inl[*n - 1].function, *outer_fn)) {
    (*n)--;
    file = inl[*n].file;
    line = inl[*n].line;
  }
  *outer_file = file;
  *outer_line = file && line > 0 ? line : 0;
  return 1;
}

/* file:line at a, and the inlined functions there; *fn becomes the name
** DWARF gives the function the code was compiled into (NULL if none). */
static int line_at(ElfFile *f, uint64_t a, const char **file, int *line, Inl *inl, int *ninl,
                   const char **fn) {
  *ninl = 0;
  *fn = NULL;
  if (!f->dw) return 0;
  Dwarf_Die cu;
  if (!cu_at(f, a, &cu)) return 0;
  Dwarf_Line *l = dwarf_getsrc_die(&cu, a);
  if (!l) return 0;
  const char *src = dwarf_linesrc(l, NULL, NULL);
  if (!src || dwarf_lineno(l, line) != 0 || *line <= 0) return 0;
  *file = src;
  const char *of;
  int ol;
  if (inline_at(&cu, a, src, *line, inl, ninl, &of, &ol, fn) && of) {
    *file = of;
    *line = ol;
  }
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

/* Every regular file named `name` under dir (not following links to dirs),
** until c holds `limit` candidates. */
static void walk(Cands *c, const char *dir, const char *name, int depth, int limit) {
  if (depth > MAX_DEPTH || c->n >= limit) return;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[PATH_MAX];
  while ((e = readdir(d)) && c->n < limit) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
    struct stat st;
    if (lstat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) walk(c, p, name, depth + 1, limit);
    else if (!strcmp(e->d_name, name) && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
      add_cand(c, p);
  }
  closedir(d);
}

static void add_build_id(Cands *c, const char *dir, const char *build_id) {
  char p[PATH_MAX];
  if (!*build_id || strlen(build_id) <= 2) return;
  if (snprintf(p, sizeof p, "%s/.build-id/%.2s/%s.debug", dir, build_id, build_id + 2) <
      (int)sizeof p)
    add_cand(c, p);
}

/* The debug files this machine holds for a module, without any network:
** the distribution's /usr/lib/debug (by build-id, then by the module's
** .gnu_debuglink name beside its path, as gdb looks) and debuginfod's
** local cache ($DEBUGINFOD_CACHE_PATH, else $XDG_CACHE_HOME or
** ~/.cache/debuginfod_client: <build-id>/debuginfo). */
static void add_system_debug(Cands *c, const char *path, const char *build_id) {
  char p[PATH_MAX];
  add_build_id(c, LR_SYM_DEBUG_DIR, build_id);
  if (*build_id) {
    const char *cache = getenv("DEBUGINFOD_CACHE_PATH"), *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int w = -1;
    if (cache && *cache) w = snprintf(p, sizeof p, "%s/%s/debuginfo", cache, build_id);
    else if (xdg && *xdg)
      w = snprintf(p, sizeof p, "%s/debuginfod_client/%s/debuginfo", xdg, build_id);
    else if (home && *home)
      w = snprintf(p, sizeof p, "%s/.cache/debuginfod_client/%s/debuginfo", home, build_id);
    if (w > 0 && w < (int)sizeof p && access(p, R_OK) == 0) add_cand(c, p);
  }
  if (!*path) return;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return;
  struct stat st;
  Elf *elf = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? elf_begin(fd, ELF_C_READ_MMAP, NULL)
                                                        : NULL;
  GElf_Word crc;
  const char *link = elf ? dwelf_elf_gnu_debuglink(elf, &crc) : NULL;
  if (link && *link && !strchr(link, '/')) {
    char dir[PATH_MAX], real[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", realpath(path, real) ? real : path);
    char *slash = strrchr(dir, '/');
    if (slash) {
      *slash = 0;
      if (snprintf(p, sizeof p, "%s%s/%s", LR_SYM_DEBUG_DIR, dir, link) < (int)sizeof p)
        add_cand(c, p);
      if (snprintf(p, sizeof p, "%s/.debug/%s", dir, link) < (int)sizeof p) add_cand(c, p);
    }
  }
  if (elf) elf_end(elf);
  close(fd);
}

/* The statements a naming pass uses (lr_sym_trace prepares them), and the
** files of the last module named: the same library in every process of a
** run is opened once (a debug file's compressed DWARF is inflated once). */
typedef struct SymStmts {
  sqlite3_stmt *frames, *upd, *inl_del, *inl_add;
  char key[PATH_MAX + 200];
  ElfFile files[MAX_CANDIDATES];
  int nf;
} SymStmts;

static void close_files(SymStmts *q) {
  for (int i = 0; i < q->nf; i++) elf_close(&q->files[i]);
  q->nf = 0;
  q->key[0] = 0;
}

static void name_module(SymStmts *q, int64_t mod_id, uint64_t base, const char *path,
                        const char *build_id, const char *dir, int use_path, LrSymStats *st) {
  char key[sizeof q->key];
  snprintf(key, sizeof key, "%s\n%s", build_id, path);
  /* no build-id: a file of that name could have changed between runs */
  if (!*build_id || strcmp(key, q->key)) {
    close_files(q);
    Cands c = {{0}, 0};
    if (dir) add_build_id(&c, dir, build_id);
    const char *slash = strrchr(path, '/');
    const char *base_name = slash ? slash + 1 : path;
    if (dir && *base_name) walk(&c, dir, base_name, 0, c.n + MAX_WALK);
    if (use_path) add_system_debug(&c, path, build_id);
    if (use_path && *path) add_cand(&c, path);
    for (int i = 0; i < c.n; i++) {
      if (elf_open(&q->files[q->nf], c.path[i], build_id) == 0) q->nf++;
      free(c.path[i]);
    }
    snprintf(q->key, sizeof q->key, "%s", key);
  }
  ElfFile *files = q->files;
  int nf = q->nf;
  st->modules++;
  if (!nf) return;
  st->modules_matched++;
  sqlite3_bind_int64(q->frames, 1, mod_id);
  while (sqlite3_step(q->frames) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(q->frames, 0);
    uint64_t rel = (uint64_t)sqlite3_column_int64(q->frames, 1);
    const char *fn = NULL, *file = NULL;
    int line = 0, ninl = 0;
    Inl inl[MAX_INLINE];
    const char *dwfn = NULL;
    for (int i = 0; i < nf && (!fn || !file); i++) {
      /* a return address: the call is the byte before it */
      uint64_t a = (files[i].is_exec ? base + rel : rel) - (rel ? 1 : 0);
      if (!fn) fn = func_at(&files[i], a);
      if (!file) line_at(&files[i], a, &file, &line, inl, &ninl, &dwfn);
    }
    st->frames++;
    if (!fn && !file) continue;
    char plain[512];
    const char *at = fn ? strchr(fn, '@') : NULL;
    if (at && at > fn && (size_t)(at - fn) < sizeof plain) { /* the version goes */
      memcpy(plain, fn, (size_t)(at - fn));
      plain[at - fn] = 0;
      fn = plain;
    }
    /* a compiler's clone (foo.constprop.0, foo.isra.0, foo.part.0,
    ** foo.cold): DWARF names the source function */
    if (dwfn && fn && strchr(fn, '.') && !strchr(dwfn, '.')) fn = dwfn;
    char *readable = lr_sym_demangle(fn);
    if (readable) fn = readable;
    if (fn) sqlite3_bind_text(q->upd, 1, fn, -1, SQLITE_TRANSIENT);
    if (file) {
      sqlite3_bind_text(q->upd, 2, file, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(q->upd, 3, line);
    }
    sqlite3_bind_int64(q->upd, 4, id);
    sqlite3_step(q->upd);
    sqlite3_reset(q->upd);
    sqlite3_clear_bindings(q->upd);
    free(readable);
    if (!file || !q->inl_del) continue;
    /* DWARF described this address: its inlined functions replace any
    ** an earlier pass stored */
    sqlite3_bind_int64(q->inl_del, 1, id);
    sqlite3_step(q->inl_del);
    sqlite3_reset(q->inl_del);
    for (int k = 0; k < ninl; k++) {
      char *dn = lr_sym_demangle(inl[k].function);
      const char *name = dn ? dn : inl[k].function;
      sqlite3_bind_int64(q->inl_add, 1, id);
      sqlite3_bind_int(q->inl_add, 2, k);
      if (name) sqlite3_bind_text(q->inl_add, 3, name, -1, SQLITE_TRANSIENT);
      if (inl[k].file) {
        sqlite3_bind_text(q->inl_add, 4, inl[k].file, -1, SQLITE_TRANSIENT);
        if (inl[k].line > 0) sqlite3_bind_int(q->inl_add, 5, inl[k].line);
      }
      sqlite3_step(q->inl_add);
      sqlite3_reset(q->inl_add);
      sqlite3_clear_bindings(q->inl_add);
      free(dn);
    }
    if (ninl) st->frames_inlined++;
  }
  sqlite3_reset(q->frames);
}

/* Frames whose pc was in no module known when their stack was recorded
** but that a module of the same process covers: code of a library whose
** constructors (or IFUNC resolvers) run inside dlopen, before dlopen
** returns and the shim registers the library. Such a frame is given to
** the covering module loaded during the run first (load_seq > 0, the
** smallest), its rel_pc made relative, unless that (module, rel_pc) frame
** already exists, in which case it takes that frame's names after the
** naming pass (adopt_names). Within one process: modules and frames of a
** process are contiguous id ranges (processes.*_first/_last); a stage
** file holds one process and has no processes table. */
static int adopt_modules(sqlite3 *db) {
  int multi = sqlite3_exec(db, "SELECT frame_first, module_first FROM processes LIMIT 0", NULL,
                           NULL, NULL) == SQLITE_OK;
  const char *sql =
      multi ? "SELECT f.id, (SELECT m.id FROM modules m, processes p WHERE f.id BETWEEN "
              "p.frame_first AND p.frame_last AND m.id BETWEEN p.module_first AND "
              "p.module_last AND f.rel_pc >= m.base AND f.rel_pc - m.base < m.size AND "
              "m.load_seq > 0 ORDER BY m.load_seq, m.id LIMIT 1) AS mid FROM frames f "
              "WHERE f.module_id IS NULL AND mid IS NOT NULL"
            : "SELECT f.id, (SELECT m.id FROM modules m WHERE f.rel_pc >= m.base AND "
              "f.rel_pc - m.base < m.size AND m.load_seq > 0 ORDER BY m.load_seq, m.id "
              "LIMIT 1) AS mid FROM frames f WHERE f.module_id IS NULL AND mid IS NOT NULL";
  sqlite3_stmt *sel = NULL, *upd = NULL;
  int rc = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &sel, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "UPDATE frames SET module_id = ?2, rel_pc = rel_pc - (SELECT base FROM "
                         "modules WHERE id = ?2) WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM "
                         "frames g WHERE g.module_id = ?2 AND g.rel_pc = frames.rel_pc - "
                         "(SELECT base FROM modules WHERE id = ?2))",
                         -1, &upd, NULL) != SQLITE_OK)
    goto out;
  /* collect first: the updates change the rows the select walks */
  int64_t *v = NULL;
  size_t n = 0, cap = 0;
  while (sqlite3_step(sel) == SQLITE_ROW) {
    if (n + 2 > cap) {
      cap = cap ? cap * 2 : 64;
      int64_t *nv = realloc(v, cap * sizeof *nv);
      if (!nv) break;
      v = nv;
    }
    v[n++] = sqlite3_column_int64(sel, 0);
    v[n++] = sqlite3_column_int64(sel, 1);
  }
  for (size_t i = 0; i + 1 < n; i += 2) {
    sqlite3_bind_int64(upd, 1, v[i]);
    sqlite3_bind_int64(upd, 2, v[i + 1]);
    sqlite3_step(upd);
    sqlite3_reset(upd);
  }
  free(v);
  rc = 0;
out:
  sqlite3_finalize(sel);
  sqlite3_finalize(upd);
  return rc;
}

/* After naming: frames still without a module whose pc a twin frame
** (same module, same relative pc) covers take the twin's names. */
static void adopt_names(sqlite3 *db) {
  sqlite3_exec(db,
               "UPDATE frames SET (function, file, line) = (SELECT g.function, g.file, g.line "
               "FROM modules m JOIN frames g ON g.module_id = m.id AND g.rel_pc = frames.rel_pc "
               "- m.base WHERE frames.rel_pc >= m.base AND frames.rel_pc - m.base < m.size AND "
               "m.load_seq > 0 AND g.function IS NOT NULL ORDER BY m.load_seq, m.id LIMIT 1) "
               "WHERE module_id IS NULL AND function IS NULL AND EXISTS (SELECT 1 FROM modules m "
               "JOIN frames g ON g.module_id = m.id AND g.rel_pc = frames.rel_pc - m.base WHERE "
               "frames.rel_pc >= m.base AND frames.rel_pc - m.base < m.size AND m.load_seq > 0 "
               "AND g.function IS NOT NULL)",
               NULL, NULL, NULL);
}

/* Its text is schemas/trace.sql's: traces made before the table existed,
** and the importer's stage files, gain it on their first naming pass. */
static const char inline_frames_sql[] =
    "CREATE TABLE IF NOT EXISTS inline_frames (\n"
    "  frame_id INTEGER NOT NULL REFERENCES frames(id),\n"
    "  depth    INTEGER NOT NULL, -- 0 = innermost inlined function\n"
    "  function TEXT,\n"
    "  file     TEXT,\n"
    "  line     INTEGER,\n"
    "  PRIMARY KEY (frame_id, depth)\n"
    ") WITHOUT ROWID";

int lr_sym_trace(sqlite3 *db, const char *trace_path, const char *symbols_dir,
                 int use_module_paths, LrSymStats *st, LrErr *err) {
  LrSymStats local;
  if (!st) st = &local;
  memset(st, 0, sizeof *st);
  elf_version(EV_CURRENT);
  sqlite3_stmt *mods = NULL;
  SymStmts *q = calloc(1, sizeof *q); /* big: its file cache */
  if (!q) return lr_err_set(err, "%s: out of memory", trace_path);
  int rc = -1;
  if (sqlite3_exec(db, inline_frames_sql, NULL, NULL, NULL) != SQLITE_OK ||
      adopt_modules(db) != 0 ||
      sqlite3_prepare_v2(db,
                         "SELECT id, base, path, coalesce(build_id, '') FROM modules m "
                         "WHERE EXISTS (SELECT 1 FROM frames f WHERE f.module_id = m.id) "
                         "AND path <> '[python]' " /* named at import (pyframes.h) */
                         "ORDER BY build_id, path, id",
                         -1, &mods, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT id, rel_pc FROM frames WHERE module_id = ?", -1, &q->frames,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "UPDATE frames SET function = coalesce(?1, function), "
                         "file = coalesce(?2, file), line = coalesce(?3, line) WHERE id = ?4",
                         -1, &q->upd, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "DELETE FROM inline_frames WHERE frame_id = ?1", -1, &q->inl_del,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "INSERT INTO inline_frames(frame_id, depth, function, file, line) "
                         "VALUES(?1, ?2, ?3, ?4, ?5)",
                         -1, &q->inl_add, NULL) != SQLITE_OK) {
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
    name_module(q, sqlite3_column_int64(mods, 0), (uint64_t)sqlite3_column_int64(mods, 1), path,
                bid, symbols_dir, use_module_paths, st);
  }
  adopt_names(db);
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
  sqlite3_finalize(q->frames);
  sqlite3_finalize(q->upd);
  sqlite3_finalize(q->inl_del);
  sqlite3_finalize(q->inl_add);
  close_files(q);
  free(q);
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
  if (lr_allocvt_open(trace_path, SQLITE_OPEN_READWRITE, &db) != SQLITE_OK) {
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
