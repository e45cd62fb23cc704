/*
** shim_signals.h: the shim's fatal-signal and SIGTERM/SIGHUP handlers, and
** the hooks of sigaction and the signal() family that hide them
** (shim_signals.c). Not a public interface.
*/
#ifndef LR_SHIM_SIGNALS_H
#define LR_SHIM_SIGNALS_H

#include "shim_internal.h"

/* Looks the real sigaction and signal() family up (from the constructor:
** a hook then never calls dlsym, which is not async-signal-safe). */
void lr_signals_resolve(void) LR_HIDDEN;
/* Installs the handlers on the signals left at their default action. */
void lr_signals_install(void) LR_HIDDEN;

#endif /* LR_SHIM_SIGNALS_H */
