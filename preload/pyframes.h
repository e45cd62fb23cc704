/*
** pyframes.h: Python frames beside native stacks, the shim's side (issue 13).
**
** liblowram_python.so (python/lowram_python.c), loaded into a Python
** process, registers a provider with lowram_shim_frames_v1: a function that
** writes the calling thread's Python frames, innermost first, as
** LR_PYFRAME_TAG values (lr_spool_format.h), and returns how many. The shim
** then names each stack it takes by the pair (native stack, Python frames):
** one more lookup in its stack table, keyed [LR_PYREF_TAG | native id,
** frames...], and that key is the STACK record (spool minor 2). The native
** id comes from whichever path found it (stack cache, frame-pointer check,
** unwinder), so the stack cache keeps working: a cached native id never
** hides different Python frames, since the Python frames are looked at for
** every event.
**
** Without a provider this costs one predictable branch per event. The
** provider runs inside the hook (guard set): it must not allocate or lock.
*/
#ifndef LR_PYFRAMES_H
#define LR_PYFRAMES_H

#include <stdint.h>

#include "spool_writer.h"

#define LR_PY_MAX_FRAMES 64u /* innermost Python frames kept per stack */

typedef uint32_t (*lr_py_frames_fn)(uint64_t *out, uint32_t max);

extern lr_py_frames_fn lr_py_provider __attribute__((visibility("hidden")));

/* The id of (native, the thread's Python frames), interned and written if
** new; native itself when the thread runs no Python code. */
uint64_t lr_py_stack(LrSpoolWriter *w, uint64_t native) __attribute__((visibility("hidden")));

static inline uint64_t lr_py_stack_maybe(LrSpoolWriter *w, uint64_t native) {
  if (__builtin_expect(__atomic_load_n(&lr_py_provider, __ATOMIC_RELAXED) != 0, 0))
    return lr_py_stack(w, native);
  return native;
}

#endif /* LR_PYFRAMES_H */
