/*
** units.h: human units for bytes and durations, both ways. Shared by the
** report, export and suggest commands so "1.5 MiB" means one thing everywhere.
*/
#ifndef LR_UNITS_H
#define LR_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "512 B", "12.0 KiB", "1.50 MiB", "2.25 GiB" (3 significant digits);
** negative values get a '-'. Returns buf. */
char *lr_fmt_bytes(char *buf, size_t len, int64_t bytes);

/* "0.84 ms", "12.3 s"... from nanoseconds. Returns buf. */
char *lr_fmt_ns(char *buf, size_t len, int64_t ns);

/* Parses "512MiB", "1.5GiB", "300MB", "4096", "64k" (k/K/KiB = 1024,
** KB = 1000, likewise M and G). 0 on success, -1 on anything else,
** including overflow and trailing junk. */
int lr_parse_bytes(const char *s, uint64_t *out);

#endif
