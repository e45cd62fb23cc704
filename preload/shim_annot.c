/*
** shim_annot.c: the entry points preload/lowram.h looks up with dlsym
** (lowram_mark, lowram_param, lowram_param_str). Each takes a fresh
** sequence number and writes one MARK or PARAM record in the calling
** thread's chunk. Names and values are cut to 255 bytes.
*/
#include <stdint.h>

#include "shim_internal.h"
#include "shim_rss.h"

static size_t cut255(const char *s) {
  size_t n = 0;
  if (s)
    while (n < 255 && s[n]) n++;
  return n;
}

LR_EXPORT void lowram_shim_mark_v1(const char *name) {
  LrTls *t = lr_shim_enter();
  if (!t) return;
  int e = errno;
  uint64_t seq = lr_shim_next_seq();
  LrSpoolWriter *w = lr_shim_writer(t);
  uint64_t ns = lr_shim_now();
  lr_sw_mark(w, seq, ns, name ? name : "", cut255(name));
  lr_rss_tick(w, ns); /* phase boundaries are worth a sample */
  lr_shim_leave(t, e);
}

LR_EXPORT void lowram_shim_param_v1(const char *name, int64_t value) {
  LrTls *t = lr_shim_enter();
  if (!t) return;
  int e = errno;
  uint64_t seq = lr_shim_next_seq();
  LrSpoolWriter *w = lr_shim_writer(t);
  lr_sw_param_int(w, seq, lr_shim_now(), name ? name : "", cut255(name), value);
  lr_shim_leave(t, e);
}

LR_EXPORT void lowram_shim_param_str_v1(const char *name, const char *value) {
  LrTls *t = lr_shim_enter();
  if (!t) return;
  int e = errno;
  uint64_t seq = lr_shim_next_seq();
  LrSpoolWriter *w = lr_shim_writer(t);
  lr_sw_param_str(w, seq, lr_shim_now(), name ? name : "", cut255(name),
                  value ? value : "", cut255(value));
  lr_shim_leave(t, e);
}
