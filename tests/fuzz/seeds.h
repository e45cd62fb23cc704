/*
** seeds.h: the spools the fuzzers start from and the replay tests always
** run: a few valid ones that use every record type (so mutations reach
** deep into the reader, the lifetime model and the importer) and a few
** damaged ones (cut short, bad checksum, bad header, bad chunk header).
** Built in memory with tests/import/spoolgen.c, so no binary is committed
** for them; `fuzz_mkseeds DIR` writes them out as a libFuzzer corpus.
*/
#ifndef LR_FUZZ_SEEDS_H
#define LR_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdint.h>

/* How many seeds there are. */
size_t fz_seed_count(void);
/* Seed i as a malloc'd buffer (caller frees) and its name; NULL if i is
** out of range or out of memory. */
uint8_t *fz_seed(size_t i, size_t *len, const char **name);

#endif
