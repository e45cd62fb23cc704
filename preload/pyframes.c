/*
** pyframes.c: see pyframes.h. Also the two records liblowram_python.so
** writes through the shim (PYCODE, PYEVAL: schemas/SPOOL.md, "Python
** frames").
*/
#include "pyframes.h"

#include <string.h>

#include "shim_internal.h"

lr_py_frames_fn lr_py_provider;

/* Registers (or, with NULL, removes) the Python frame provider. */
LR_EXPORT void lowram_shim_frames_v1(lr_py_frames_fn fn) {
  __atomic_store_n(&lr_py_provider, fn, __ATOMIC_RELEASE);
}

uint64_t lr_py_stack(LrSpoolWriter *w, uint64_t native) {
#if UINTPTR_MAX > 0xffffffffu
  lr_py_frames_fn fn = __atomic_load_n(&lr_py_provider, __ATOMIC_ACQUIRE);
  if (!fn || !native || native >= LR_PYREF_TAG) return native;
  uint64_t py[LR_PY_MAX_FRAMES];
  uint32_t n = fn(py, LR_PY_MAX_FRAMES);
  if (!n) return native;
  if (n > LR_PY_MAX_FRAMES) n = LR_PY_MAX_FRAMES;
  uintptr_t key[1 + LR_PY_MAX_FRAMES];
  key[0] = (uintptr_t)(LR_PYREF_TAG | native);
  for (uint32_t i = 0; i < n; i++) key[1 + i] = (uintptr_t)py[i];
  int is_new;
  uint32_t slot;
  uint64_t id = lr_stack_intern(g_shim.stacks, key, n + 1, &is_new, &slot);
  if (is_new) { /* the record first, then other threads may use the id */
    lr_sw_stack(w, id, key, n + 1);
    lr_stack_publish(g_shim.stacks, slot, id);
  }
  return id;
#else /* 32-bit pcs: no room for the tags */
  (void)w;
  return native;
#endif
}

/* Longest function or file name written (the reader takes 4096). */
#define LR_PY_NAME_MAX 1024u

/* A code object's names, once per process (a PYCODE record in the calling
** thread's chunk). 0 if written, -1 if the shim is not recording here. */
LR_EXPORT int lowram_shim_pycode_v1(uint64_t id, uint64_t first_line, const char *fn, size_t fn_len,
                                    const char *file, size_t file_len) {
  LrTls *t = lr_shim_enter();
  if (!t) return -1;
  int e = errno;
  if (!fn) fn_len = 0;
  if (!file) file_len = 0;
  if (fn_len > LR_PY_NAME_MAX) fn_len = LR_PY_NAME_MAX;
  if (file_len > LR_PY_NAME_MAX) file_len = LR_PY_NAME_MAX;
  LrSpoolWriter *w = lr_shim_writer(t);
  int rc = -1;
  uint8_t *p = lr_sw_begin(w, 1 + 20 + 2 * (10 + LR_PY_NAME_MAX));
  if (p) {
    *p++ = LR_REC_PYCODE;
    p = lr_put_uv(p, id);
    p = lr_put_uv(p, first_line);
    p = lr_sw_str(p, fn_len ? fn : "", fn_len);
    p = lr_sw_str(p, file_len ? file : "", file_len);
    lr_sw_commit(w, p);
    rc = 0;
  }
  lr_shim_leave(t, e);
  return rc;
}

/* Where CPython's frame evaluator lies in this process (a PYEVAL record). */
LR_EXPORT int lowram_shim_pyeval_v1(uint64_t lo, uint64_t hi) {
  LrTls *t = lr_shim_enter();
  if (!t) return -1;
  int e = errno;
  LrSpoolWriter *w = lr_shim_writer(t);
  int rc = -1;
  uint8_t *p = lr_sw_begin(w, 1 + 20);
  if (p) {
    *p++ = LR_REC_PYEVAL;
    p = lr_put_uv(p, lo);
    p = lr_put_uv(p, hi);
    lr_sw_commit(w, p);
    rc = 0;
  }
  lr_shim_leave(t, e);
  return rc;
}
