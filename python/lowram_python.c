/*
** lowram_python.c: liblowram_python.so, the Python frames of a CPython 3.x
** process recorded by liblowram.so (issue 13; schemas/SPOOL.md, "Python
** frames").
**
** python/lowram/__init__.py loads it with ctypes.PyDLL (calls keep the
** GIL) when the shim is preloaded. It does not link against libpython: the
** dozen C-API functions it needs are found with dlsym(RTLD_DEFAULT), so one
** build serves every CPython from 3.9 on (PyFrame_GetCode and
** PyFrame_GetBack are 3.9's), Debian's and pyenv's alike.
**
** How: a C profile function (PyEval_SetProfile, per thread) keeps a shadow
** stack of the thread's Python frames: a push on each PyTrace_CALL, a pop on
** PyTrace_RETURN (also sent when a frame ends by an exception, and when a
** generator yields). Each code object is given an id once (interned, its
** names written to the spool as a PYCODE record). When the shim takes a
** stack, it calls provide() on the allocating thread, which writes the
** shadow stack innermost first as LR_PYFRAME_TAG values; only then are
** line numbers read (PyFrame_GetLineNumber), and a caller's line is kept
** until it calls something else, so an allocation costs one line lookup
** plus one per frame entered since the last allocation.
**
** Invariants:
**   1. A shadow entry holds a reference to its frame (released at its pop),
**      so provide() never reads a freed frame, even when a frame's return
**      was missed (sys.setprofile replaced by the program).
**   2. Interned code objects are kept (a reference each): an address never
**      names two code objects.
**   3. The code table and the name arena change only under the GIL (in the
**      profile function and the start calls); provide() reads neither, only
**      the calling thread's own shadow stack, so it needs no GIL and no
**      lock and never allocates (it runs inside the shim's malloc hook).
**   4. A fork child writes its own spool: the PYCODE records a frame names
**      are written again, lazily, under a new generation (g.gen).
*/
#include <assert.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "lr_spool_format.h"

#define LR_EXPORT __attribute__((visibility("default")))

typedef struct _object PyObject;
typedef struct _frame PyFrameObject;
typedef int (*Py_tracefunc)(PyObject *, PyFrameObject *, int, PyObject *);
enum { PyTrace_CALL = 0, PyTrace_RETURN = 3 };

static struct {
  void (*SetProfile)(Py_tracefunc, PyObject *);
  PyFrameObject *(*GetFrame)(void);             /* borrowed */
  PyObject *(*FrameGetCode)(PyFrameObject *);   /* new reference */
  PyFrameObject *(*FrameGetBack)(PyFrameObject *); /* new reference */
  int (*FrameGetLineNumber)(PyFrameObject *);
  void (*IncRef)(PyObject *);
  void (*DecRef)(PyObject *);
  PyObject *(*GetAttrString)(PyObject *, const char *);
  const char *(*AsUTF8AndSize)(PyObject *, ssize_t *);
  long (*AsLong)(PyObject *);
  void (*ErrFetch)(PyObject **, PyObject **, PyObject **);
  void (*ErrRestore)(PyObject *, PyObject *, PyObject *);
  const char *(*GetVersion)(void);
} py;

typedef uint32_t (*frames_fn)(uint64_t *, uint32_t);
static struct {
  void (*frames)(frames_fn);
  int (*pycode)(uint64_t, uint64_t, const char *, size_t, const char *, size_t);
  int (*pyeval)(uint64_t, uint64_t);
} shim;

/* ---- per-thread shadow stacks ---- */

#define SHADOW_CAP 4096u /* deeper frames are counted, not kept */

typedef struct Ent {
  PyFrameObject *f;
  uint64_t code;  /* code id */
  uint32_t line;  /* the line it was at when it called the entry above */
  uint32_t line_ok;
} Ent;

typedef struct Shadow {
  uint32_t n; /* frames entered and not returned (may exceed SHADOW_CAP) */
  uint32_t gen;
  Ent e[SHADOW_CAP];
} Shadow;

/* ---- the code table (invariant 3) ---- */

typedef struct Code {
  PyObject *co; /* NULL: empty slot */
  uint64_t id;
  uint32_t gen; /* generation its PYCODE record was written in */
  uint32_t first_line;
  uint32_t name_off, name_len, file_off, file_len; /* in g.arena */
} Code;

#define ARENA_BYTES (64u << 20) /* names; reserved, touched as used */

static struct {
  int started;
  const char *note; /* why Python frames are off, or NULL */
  pthread_key_t key;
  Code *tab;
  size_t cap, n;
  char *arena;
  size_t arena_used;
  uint64_t next_id;
  uint32_t gen;      /* bumped in a fork child (invariant 4) */
  uint32_t eval_gen; /* generation the PYEVAL record was written in */
  uint64_t eval_lo, eval_hi;
} g;

/* The profiler's own memory, mapped past the shim's hooks (raw syscalls):
** it is not the program's, and must not show in its trace. */
static void *map(size_t bytes) {
  void *p = (void *)syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}
static void unmap(void *p, size_t bytes) { syscall(SYS_munmap, p, bytes); }

static size_t hash_ptr(const void *p) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
  return (size_t)(h >> 29);
}

static int grow(void) {
  size_t nc = g.cap ? g.cap * 2 : 4096;
  Code *t = map(nc * sizeof *t);
  if (!t) return -1;
  for (size_t i = 0; i < g.cap; i++) {
    if (!g.tab[i].co) continue;
    size_t j = hash_ptr(g.tab[i].co) & (nc - 1);
    while (t[j].co) j = (j + 1) & (nc - 1);
    t[j] = g.tab[i];
  }
  if (g.tab) unmap(g.tab, g.cap * sizeof *g.tab);
  g.tab = t;
  g.cap = nc;
  return 0;
}

/* Copies s[0..n) into the arena; its offset, or the length cut to 0. */
static uint32_t keep(const char *s, ssize_t n, uint32_t *len) {
  *len = 0;
  if (!s || n <= 0) return 0;
  if (n > 1024) n = 1024;
  if (g.arena_used + (size_t)n > ARENA_BYTES) return 0;
  uint32_t off = (uint32_t)g.arena_used;
  memcpy(g.arena + off, s, (size_t)n);
  g.arena_used += (size_t)n;
  *len = (uint32_t)n;
  return off;
}

static uint32_t keep_attr(PyObject *co, const char *attr, const char *alt, uint32_t *len) {
  PyObject *o = py.GetAttrString(co, attr);
  if (!o && alt) {
    PyObject *t, *v, *tb;
    py.ErrFetch(&t, &v, &tb); /* no co_qualname before 3.11 */
    if (t) py.DecRef(t);
    if (v) py.DecRef(v);
    if (tb) py.DecRef(tb);
    o = py.GetAttrString(co, alt);
  }
  ssize_t n = 0;
  const char *s = o ? py.AsUTF8AndSize(o, &n) : NULL;
  uint32_t off = keep(s, s ? n : 0, len);
  if (o) py.DecRef(o);
  return off;
}

/* Writes the records this generation still lacks for c (and PYEVAL). */
static void emit(Code *c) {
  if (g.eval_gen != g.gen && g.eval_hi) {
    g.eval_gen = g.gen;
    shim.pyeval(g.eval_lo, g.eval_hi);
  }
  if (c->gen == g.gen) return;
  c->gen = g.gen;
  shim.pycode(c->id, c->first_line, g.arena + c->name_off, c->name_len, g.arena + c->file_off,
              c->file_len);
}

/* The table's entry for co, or NULL. */
static Code *find(PyObject *co) {
  for (size_t j = hash_ptr(co) & (g.cap - 1); g.tab[j].co; j = (j + 1) & (g.cap - 1))
    if (g.tab[j].co == co) return &g.tab[j];
  return NULL;
}

/* The id of f's code object, interned (and its record written) if new; 0
** if the table cannot grow. Under the GIL; keeps any pending exception. */
static uint64_t intern(PyFrameObject *f) {
  PyObject *co = py.FrameGetCode(f);
  if (!co) return 0;
  if ((g.n + 1) * 4 > g.cap * 3 && grow() != 0) {
    py.DecRef(co);
    return 0;
  }
  Code *old = find(co);
  if (old) {
    py.DecRef(co); /* the table holds its own reference */
    emit(old);
    return old->id;
  }
  size_t j = hash_ptr(co) & (g.cap - 1);
  while (g.tab[j].co) j = (j + 1) & (g.cap - 1);
  if (g.next_id >= LR_PYCODE_MAX) {
    py.DecRef(co);
    return 0;
  }
  Code *c = &g.tab[j];
  assert(!c->co && g.n < g.cap);
  memset(c, 0, sizeof *c);
  c->co = co; /* invariant 2: FrameGetCode's reference is kept */
  c->id = ++g.next_id;
  c->gen = g.gen - 1;
  g.n++;
  PyObject *et, *ev, *etb;
  py.ErrFetch(&et, &ev, &etb);
  c->name_off = keep_attr(co, "co_qualname", "co_name", &c->name_len);
  c->file_off = keep_attr(co, "co_filename", NULL, &c->file_len);
  PyObject *fl = py.GetAttrString(co, "co_firstlineno");
  if (fl) {
    long v = py.AsLong(fl);
    c->first_line = v > 0 && v < (long)UINT32_MAX ? (uint32_t)v : 0;
    py.DecRef(fl);
  }
  PyObject *t2, *v2, *tb2; /* whatever the lookups raised goes */
  py.ErrFetch(&t2, &v2, &tb2);
  if (t2) py.DecRef(t2);
  if (v2) py.DecRef(v2);
  if (tb2) py.DecRef(tb2);
  py.ErrRestore(et, ev, etb);
  emit(c);
  return c->id;
}

static Shadow *shadow_of_thread(void) { return pthread_getspecific(g.key); }

static void push(Shadow *s, PyFrameObject *f, uint64_t code) {
  if (s->n < SHADOW_CAP) {
    if (s->n) s->e[s->n - 1].line_ok = 0; /* the caller is at a new call */
    s->e[s->n] = (Ent){f, code, 0, 0};
    py.IncRef((PyObject *)f); /* invariant 1 */
  }
  /* the entry is whole before provide() (maybe in a signal handler) sees it */
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  s->n++;
}

/* Pops f and whatever is above it; a frame not on the stack (entered
** before the profiler was installed) is ignored. */
static void pop(Shadow *s, PyFrameObject *f) {
  if (s->n > SHADOW_CAP) {
    s->n--;
    return;
  }
  for (uint32_t i = s->n; i-- > 0;) {
    if (s->e[i].f != f) continue;
    uint32_t n = s->n;
    assert(i < n && n <= SHADOW_CAP);
    s->n = i; /* provide() sees the smaller stack before any decref */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    for (uint32_t k = i; k < n; k++) py.DecRef((PyObject *)s->e[k].f);
    return;
  }
}

static int profile(PyObject *obj, PyFrameObject *f, int what, PyObject *arg) {
  (void)obj;
  (void)arg;
  if (what != PyTrace_CALL && what != PyTrace_RETURN) return 0;
  Shadow *s = shadow_of_thread();
  if (!s || !f) return 0;
  if (what == PyTrace_RETURN) {
    pop(s, f);
    return 0;
  }
  if (s->gen != g.gen) { /* a fork child: the frames' codes are named again */
    s->gen = g.gen;
    for (uint32_t i = 0; i < s->n && i < SHADOW_CAP; i++) {
      PyObject *co = py.FrameGetCode(s->e[i].f);
      Code *c = co ? find(co) : NULL;
      if (c) emit(c);
      if (co) py.DecRef(co);
    }
  }
  uint64_t code = intern(f);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  push(s, f, code);
  return 0;
}

/* The provider (pyframes.h): the calling thread's frames, innermost first.
** Runs inside the shim's hook: no allocation, no lock, no GIL needed
** (invariant 3). */
static uint32_t provide(uint64_t *out, uint32_t max) {
  if (!g.started) return 0;
  Shadow *s = shadow_of_thread();
  if (!s || !s->n || s->n > SHADOW_CAP) return 0;
  uint32_t k = 0;
  for (uint32_t i = s->n; i-- > 0 && k < max;) {
    Ent *e = &s->e[i];
    uint32_t line;
    if (i + 1 == s->n || !e->line_ok) {
      int l = py.FrameGetLineNumber(e->f);
      line = l > 0 ? (uint32_t)l : 0;
      if (i + 1 < s->n) { /* a caller stays at its call until it calls again */
        e->line = line;
        e->line_ok = 1;
      }
    } else {
      line = e->line;
    }
    out[k++] = lr_pyframe(e->code, line);
  }
  return k;
}

static void shadow_free(void *p) { unmap(p, sizeof(Shadow)); }

static void after_fork_child(void) { g.gen++; }

#define NEED(field, name)                                                      \
  do {                                                                         \
    *(void **)&py.field = dlsym(RTLD_DEFAULT, name);                           \
    if (!py.field) return "CPython symbol " name " not found";                 \
  } while (0)

/* Resolves everything once; NULL, or why not. */
static const char *setup(void) {
  *(void **)&shim.frames = dlsym(RTLD_DEFAULT, "lowram_shim_frames_v1");
  *(void **)&shim.pycode = dlsym(RTLD_DEFAULT, "lowram_shim_pycode_v1");
  *(void **)&shim.pyeval = dlsym(RTLD_DEFAULT, "lowram_shim_pyeval_v1");
  if (!shim.frames || !shim.pycode || !shim.pyeval)
    return "liblowram.so (with Python frames) is not preloaded";
  NEED(GetVersion, "Py_GetVersion");
  const char *v = py.GetVersion();
  int maj = 0, min = 0;
  if (!v || sscanf(v, "%d.%d", &maj, &min) != 2 || maj != 3 || min < 9)
    return "Python frames need CPython 3.9 or later";
  NEED(SetProfile, "PyEval_SetProfile");
  NEED(GetFrame, "PyEval_GetFrame");
  NEED(FrameGetCode, "PyFrame_GetCode");
  NEED(FrameGetBack, "PyFrame_GetBack");
  NEED(FrameGetLineNumber, "PyFrame_GetLineNumber");
  NEED(IncRef, "Py_IncRef");
  NEED(DecRef, "Py_DecRef");
  NEED(GetAttrString, "PyObject_GetAttrString");
  NEED(AsUTF8AndSize, "PyUnicode_AsUTF8AndSize");
  NEED(AsLong, "PyLong_AsLong");
  NEED(ErrFetch, "PyErr_Fetch");
  NEED(ErrRestore, "PyErr_Restore");
  /* where Python frames join the native ones (SPOOL.md) */
#ifdef __GLIBC__ /* dladdr1 is glibc's; elsewhere Python frames follow the native ones */
  void *ev = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (ev && dladdr1(ev, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size) {
    g.eval_lo = (uint64_t)(uintptr_t)ev;
    g.eval_hi = g.eval_lo + sym->st_size;
  }
#endif
  if (pthread_key_create(&g.key, shadow_free) != 0) return "no thread key";
  if (!(g.arena = map(ARENA_BYTES)) || grow() != 0) return "out of memory";
  g.gen = 1;
  pthread_atfork(NULL, NULL, after_fork_child);
  return NULL;
}

/* Installs the profiler in the calling thread. seed >= 0: the frames
** already running are pushed, less the `seed` innermost (the caller's own
** hook); -1: none (they end before the program's code starts). */
static int thread_start(int seed) {
  if (shadow_of_thread()) return 0;
  Shadow *s = map(sizeof(Shadow));
  if (!s) return -1;
  s->gen = g.gen;
  if (pthread_setspecific(g.key, s) != 0) {
    unmap(s, sizeof(Shadow));
    return -1;
  }
  if (seed >= 0) {
    PyFrameObject *chain[256];
    int n = 0;
    PyFrameObject *f = py.GetFrame();
    if (f) py.IncRef((PyObject *)f);
    while (f && n < 256) {
      chain[n++] = f;
      f = py.FrameGetBack(f);
    }
    if (f) py.DecRef((PyObject *)f);
    for (int i = n; i-- > 0;) {
      if (i >= seed) push(s, chain[i], intern(chain[i]));
      py.DecRef((PyObject *)chain[i]); /* push took its own reference */
    }
  }
  py.SetProfile(profile, NULL);
  return 0;
}

/* Called from lowram/__init__.py (ctypes.PyDLL: the GIL is held). 0 when
** Python frames are on in this thread; else lowram_py_note() says why. */
LR_EXPORT int lowram_py_start(int seed) {
  if (!g.started) {
    if (g.note) return -1;
    if ((g.note = setup()) != NULL) return -1;
    g.started = 1;
    shim.frames(provide);
  }
  return thread_start(seed);
}

LR_EXPORT const char *lowram_py_note(void) { return g.note ? g.note : ""; }

/* Code objects interned so far (tests). */
LR_EXPORT uint64_t lowram_py_codes(void) { return g.n; }
