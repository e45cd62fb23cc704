/*
** memmodel.h: reads the memory model that `lowram suggest --emit FILE`
** writes, and answers "what is the largest batch that fits this memory
** limit" for qrun --max-memory. Standalone (libc only), so it builds for
** phones without the analyzer.
**
** The file is UTF-8 text, one directive a line; '#' starts a comment line
** and blank lines are ignored:
**     lowram-memmodel 1          first directive: format and version
**     program NAME               optional: the program that was profiled
**     params NAME...             1..4 parameter names (identifiers)
**     range NAME MIN MAX         optional: the values the sweep covered
**     margin FRACTION            optional: share of the limit kept free
**                                (0 <= f < 1; default 0.1)
**     phase NAME...              opens a phase (1..64 phases)
**     term TERM COEF             TERM is "1" or NAMEs, each optionally
**                                "^2", joined by '*' ("seq^2*batch");
**                                COEF is bytes (a finite number)
**     end                        closes the phase
** The predicted peak (heap + anonymous mmap bytes) at parameter values x is
** the largest over phases of the sum of that phase's terms (each term
** evaluated at x, times COEF). A configuration fits a memory limit L when
** that peak is <= L * (1 - margin).
*/
#ifndef QR_MEMMODEL_H
#define QR_MEMMODEL_H

#include <stddef.h>

#define QR_MEMMODEL_MAX_PARAMS 4
#define QR_MEMMODEL_MAX_PHASES 64
#define QR_MEMMODEL_MAX_TERMS 64 /* per phase */

/* Invariants: (1) 1..4 distinct parameter names; (2) every term names only
** those, each with exponent 1 or 2; (3) every phase is closed by `end`. */
typedef struct QrMemModel QrMemModel;

/* NULL with "PATH:LINE: reason" in err on any defect. */
QrMemModel *qr_memmodel_load(const char *path, char *err, size_t errlen);
void qr_memmodel_free(QrMemModel *m);

int qr_memmodel_nparams(const QrMemModel *m);
const char *qr_memmodel_param_name(const QrMemModel *m, int p);
/* Index of the parameter with this name, -1 if none. */
int qr_memmodel_param(const QrMemModel *m, const char *name);
/* Index of the sequence ("seq", "seq_len", "ctx"...) or batch ("batch",
** "batch_size", "bs"...) parameter; -1 if the model has none. */
int qr_memmodel_seq_param(const QrMemModel *m);
int qr_memmodel_batch_param(const QrMemModel *m);
double qr_memmodel_margin(const QrMemModel *m);
int qr_memmodel_nphases(const QrMemModel *m);
const char *qr_memmodel_phase_name(const QrMemModel *m, int ph);

/* Predicted peak bytes at x (one value per parameter); *phase (if not
** NULL) gets the phase that sets it. */
double qr_memmodel_peak(const QrMemModel *m, const double *x, int *phase);

/* Largest integer v in [1, cap] for parameter p (other values from x) whose
** peak fits `limit` with the model's margin. Returns 1 and *out, or 0 when
** even v = 1 does not fit. Doubles from 1 until it does not fit, then
** bisects: the first crossing is the answer. */
int qr_memmodel_largest(const QrMemModel *m, const double *x, int p, double limit, long cap,
                        long *out);

/* The batch for a run at sequence length `seq` (and prefill chunk `ubatch`,
** for a model with such a parameter): the largest b <= cap that fits
** `limit` with the margin. Returns b >= 1, 0 when even batch 1 does not fit
** (then *need gets its predicted peak), or -1 when the model has no batch
** parameter or one qrun cannot set (reason in err). */
long qr_memmodel_pick_batch(const QrMemModel *m, long seq, long ubatch, double limit, long cap,
                            double *need, char *err, size_t errlen);

/* "512MiB", "1.5GiB", "300MB", "4096", "64k" (k/KiB = 1024, KB = 1000;
** likewise M, G). 0 on success, -1 on junk, overflow, or 0 bytes. */
int qr_memmodel_parse_bytes(const char *s, double *out);

#endif
