/*
** fuzz_util.h: what the harnesses share: putting the fuzzer's bytes in a
** file the readers can open by path (a memfd, no disk), and a scratch
** directory for the traces the import harness writes.
*/
#ifndef LR_FUZZ_UTIL_H
#define LR_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A memfd holding data; path gets "/proc/self/fd/N". The fd, or -1. */
int fz_memfd(const uint8_t *data, size_t size, char *path, size_t len);

/* A directory for this process's scratch files, made on first use under
** /dev/shm (or $TMPDIR, or /tmp), removed at exit if empty. NULL on error. */
const char *fz_scratch(void);

/* Recomputes the checksum of every sealed chunk of the spool in buf that
** the reader would check, so that mutated payloads get decoded instead of
** being dropped as corrupt chunks. 1 if anything changed. */
int fz_fix_sums(uint8_t *buf, size_t len);

/* The libFuzzer entry point each harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
