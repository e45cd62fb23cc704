/*
** fixture.h: the small "app" trace most report tests share, with every
** number worked out by hand (see fixture.c for the arithmetic).
*/
#ifndef FIXTURE_H
#define FIXTURE_H

#include <sqlite3.h>
#include <stdint.h>

/* Stack ids of the fixture (the diff test renumbers them). */
enum { FX_LOAD = 1, FX_KV = 2, FX_TOK = 3, FX_TMP = 4 };

/* Writes the fixture trace to path; stack ids are offset by id_base and
** frame ids too, so two copies share names but not ids; kv_size is the
** size of block D (3000 gives the numbers below). 0 on success. */
int fx_write(const char *path, int id_base, int complete, int64_t kv_size);

/* Ground truth. */
#define FX_PEAK 69886
#define FX_PEAK_SEQ 11
#define FX_FILE_SIZE 1048576
#endif
