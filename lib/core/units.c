/*
** units.c: formatting and parsing of byte counts and durations (units.h).
*/
#include "lowram/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *lr_fmt_bytes(char *buf, size_t len, int64_t bytes) {
  static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
  const char *sign = bytes < 0 ? "-" : "";
  double v = bytes < 0 ? -(double)bytes : (double)bytes;
  if (v < 1024) {
    snprintf(buf, len, "%s%.0f B", sign, v);
    return buf;
  }
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    u++;
  }
  snprintf(buf, len, "%s%.*f %s", sign, v >= 100 ? 0 : v >= 10 ? 1 : 2, v, unit[u]);
  return buf;
}

char *lr_fmt_ns(char *buf, size_t len, int64_t ns) {
  double v = (double)ns;
  if (ns < 1000) snprintf(buf, len, "%lld ns", (long long)ns);
  else if (ns < 1000000) snprintf(buf, len, "%.1f us", v / 1e3);
  else if (ns < 1000000000) snprintf(buf, len, "%.1f ms", v / 1e6);
  else snprintf(buf, len, "%.2f s", v / 1e9);
  return buf;
}

int lr_parse_bytes(const char *s, uint64_t *out) {
  if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+') return -1;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (end == s || errno || !(v >= 0) || isinf(v)) return -1;
  while (*end == ' ') end++;
  static const struct { const char *suffix; double mult; } units[] = {
    {"", 1}, {"b", 1},
    {"k", 1024.0}, {"kib", 1024.0}, {"kb", 1e3},
    {"m", 1048576.0}, {"mib", 1048576.0}, {"mb", 1e6},
    {"g", 1073741824.0}, {"gib", 1073741824.0}, {"gb", 1e9},
    {"t", 1099511627776.0}, {"tib", 1099511627776.0}, {"tb", 1e12},
  };
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(end, units[i].suffix) != 0) continue;
    /* "KB" is 1000 but "kb" typed in lower case is read the same way. */
    double r = v * units[i].mult;
    if (r >= 18446744073709551615.0) return -1;
    *out = (uint64_t)(r + 0.5);
    return 0;
  }
  return -1;
}
