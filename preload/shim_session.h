/*
** shim_session.h: the spool session of a process image (shim_session.c).
** Not a public interface.
*/
#ifndef LR_SHIM_SESSION_H
#define LR_SHIM_SESSION_H

#include <stdint.h>

#include "shim_internal.h"

int lr_session_start(long ppid, uint64_t exec_index) LR_HIDDEN;
void lr_session_before_fork(void) LR_HIDDEN;
void lr_session_after_fork(void) LR_HIDDEN;
void lr_session_end(uint32_t reason, int64_t code) LR_HIDDEN;
void lr_session_mark_prev_exec(const char *prev_spool) LR_HIDDEN;
void lr_session_exec_env(void) LR_HIDDEN;
/* "LOWRAM_EXEC_INDEX=PID:N:SPOOL" as exported now ("" before start). */
const char *lr_session_exec_env_entry(void) LR_HIDDEN;

#endif /* LR_SHIM_SESSION_H */
