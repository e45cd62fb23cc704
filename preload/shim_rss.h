/*
** shim_rss.h: RSS samples from inside the process (shim_rss.c). Not a
** public interface.
*/
#ifndef LR_SHIM_RSS_H
#define LR_SHIM_RSS_H

#include <stddef.h>
#include <stdint.h>

#include "shim_internal.h"

/* Writes one RSS record (from /proc/self/status) into w; returns its time. */
uint64_t lr_rss_sample(LrSpoolWriter *w) LR_HIDDEN;
/* An RSS sample now, in the calling thread's chunk (guard set); nothing
** when no spool is open. */
void lr_rss_sample_now(void) LR_HIDDEN;
/* Takes this interval's RSS sample into w if it is due at ns and no other
** thread took it (slow path of lr_rss_tick). */
void lr_rss_due(LrSpoolWriter *w, uint64_t ns) LR_HIDDEN;
/* The recording path's RSS sample: one relaxed load when none is due. */
static inline void lr_rss_tick(LrSpoolWriter *w, uint64_t ns) {
  if (__builtin_expect(ns >= __atomic_load_n(&g_shim.next_rss_ns, __ATOMIC_RELAXED), 0))
    lr_rss_due(w, ns);
}
/* Sets when the first on-path sample is due, and starts the sampler
** thread if the configuration asks for one; -1 if it could not start. */
int lr_rss_start(void) LR_HIDDEN;
/* The value of "Key:  123 kB" in a /proc status-like text, in bytes (0 if
** the key is absent). */
uint64_t lr_proc_kb(const char *buf, size_t len, const char *key) LR_HIDDEN;

#endif /* LR_SHIM_RSS_H */
