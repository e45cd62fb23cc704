/*
** shim_config.c: see shim_config.h. Written against fixed buffers because
** it runs inside the target before (and while) malloc is hooked.
*/
#include "shim_config.h"

#include <string.h>

#include "unwind.h"

/* Decimal digits of v into out (no NUL); returns the count. */
static size_t put_dec(char *out, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

/* Parses a whole decimal string; -1 if it is not one or exceeds max. */
static int parse_u(const char *s, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (!s || !*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > max) return -1;
  }
  *out = v;
  return 0;
}

static void set_err(char *err, size_t len, const char *name, const char *why) {
  if (!err || !len || err[0]) return;
  size_t n = 0;
  const char *parts[] = {"lowram: ignoring ", name, ": ", why};
  for (size_t i = 0; i < 4; i++)
    for (const char *p = parts[i]; *p && n + 1 < len; p++) err[n++] = *p;
  err[n] = 0;
}

static void num(LrEnvGet get, void *ctx, const char *name, uint64_t lo, uint64_t hi,
                uint32_t *dst, char *err, size_t errlen) {
  const char *v = get(name, ctx);
  uint64_t x;
  if (!v) return;
  if (parse_u(v, hi, &x) || x < lo) {
    set_err(err, errlen, name, "not a number in the allowed range");
    return;
  }
  *dst = (uint32_t)x;
}

void lr_config_parse(LrShimConfig *c, LrEnvGet get, void *ctx, uint32_t default_unwinder,
                     int fp_only, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  c->depth = 64;
  c->rss_interval_ms = 10;
  c->rss_thread = 0;
  c->unwinder = fp_only && default_unwinder == LR_UNWIND_LIBUNWIND ? LR_UNWIND_FP : default_unwinder;
  c->chunk_size = 256 * 1024;
  c->fp_check = 1;
  c->stack_cache = 1;
  c->stats = 0;
  c->out_template = LR_DEFAULT_OUT;
  num(get, ctx, "LOWRAM_DEPTH", 1, 256, &c->depth, err, errlen);
  num(get, ctx, "LOWRAM_RSS_INTERVAL", 0, 60000, &c->rss_interval_ms, err, errlen);
  num(get, ctx, "LOWRAM_RSS_THREAD", 0, 1, &c->rss_thread, err, errlen);
  num(get, ctx, "LOWRAM_STACK_CACHE", 0, 2, &c->stack_cache, err, errlen);
  num(get, ctx, "LOWRAM_STATS", 0, 1, &c->stats, err, errlen);
  uint32_t kb = 0;
  num(get, ctx, "LOWRAM_CHUNK_KB", 64, 65536, &kb, err, errlen);
  if (kb) c->chunk_size = kb * 1024;
  const char *u = get("LOWRAM_UNWIND", ctx);
  if (u) {
    if (!strcmp(u, "fp"))
      c->unwinder = LR_UNWIND_FP;
    else if (!strcmp(u, "eh") && lr_unwind_available_eh())
      c->unwinder = LR_UNWIND_EH;
    else if (!strcmp(u, "libunwind") && !fp_only)
      c->unwinder = LR_UNWIND_LIBUNWIND;
    else if (!strcmp(u, "libunwind-strict") && !fp_only) {
      c->unwinder = LR_UNWIND_LIBUNWIND;
      c->fp_check = 0;
    }
    else
      set_err(err, errlen, "LOWRAM_UNWIND",
              fp_only ? "only \"eh\" and \"fp\" are built in" : "expected \"libunwind\", \"libunwind-strict\", \"eh\" or \"fp\"");
  }
  const char *o = get("LOWRAM_OUT", ctx);
  if (o && *o) c->out_template = o;
}

int lr_config_expand(char *out, size_t cap, const char *tmpl, long pid) {
  size_t n = 0;
  for (const char *p = tmpl; *p; p++) {
    char buf[24];
    const char *s = buf;
    size_t len;
    if (*p != '%') {
      buf[0] = *p;
      len = 1;
    } else if (p[1] == 'p') {
      len = put_dec(buf, (uint64_t)pid);
      p++;
    } else if (p[1] == '%') {
      buf[0] = '%';
      len = 1;
      p++;
    } else {
      return -1;
    }
    if (n + len >= cap) return -1;
    memcpy(out + n, s, len);
    n += len;
  }
  if (n == 0 || n >= cap) return -1;
  out[n] = 0;
  return 0;
}

int lr_config_candidate(char *out, size_t cap, const char *trace, long pid, unsigned k) {
  size_t tl = strlen(trace);
  if (k == 0) {
    if (tl + 1 > cap) return -1;
    memcpy(out, trace, tl + 1);
    return 0;
  }
  size_t stem = tl;
  if (tl > 3 && !strcmp(trace + tl - 3, ".db")) stem = tl - 3;
  char mid[48];
  size_t m = 0;
  mid[m++] = '.';
  m += put_dec(mid + m, (uint64_t)pid);
  if (k > 1) {
    mid[m++] = '.';
    m += put_dec(mid + m, k - 1);
  }
  if (tl + m + 1 > cap) return -1;
  memcpy(out, trace, stem);
  memcpy(out + stem, mid, m);
  memcpy(out + stem + m, trace + stem, tl - stem + 1);
  return 0;
}

uint64_t lr_config_exec_index(const char *v, long pid, char *prev, size_t cap) {
  if (cap) prev[0] = 0;
  if (!v) return 0;
  const char *c1 = strchr(v, ':');
  if (!c1) return 0;
  const char *c2 = strchr(c1 + 1, ':');
  if (!c2) return 0;
  char a[24], b[24];
  size_t la = (size_t)(c1 - v), lb = (size_t)(c2 - c1 - 1);
  if (la == 0 || la >= sizeof a || lb == 0 || lb >= sizeof b) return 0;
  memcpy(a, v, la);
  a[la] = 0;
  memcpy(b, c1 + 1, lb);
  b[lb] = 0;
  uint64_t p, n;
  if (parse_u(a, UINT32_MAX, &p) || parse_u(b, 1u << 30, &n)) return 0;
  if ((long)p != pid) return 0;
  size_t ls = strlen(c2 + 1);
  if (ls < cap) memcpy(prev, c2 + 1, ls + 1);
  return n + 1;
}

int lr_config_exec_env(char *out, size_t cap, long pid, uint64_t index, const char *spool) {
  char head[64];
  size_t n = 0;
  const char *name = LR_EXEC_ENV "=";
  size_t nl = strlen(name);
  memcpy(head, name, nl);
  n = nl;
  n += put_dec(head + n, (uint64_t)pid);
  head[n++] = ':';
  n += put_dec(head + n, index);
  head[n++] = ':';
  size_t sl = strlen(spool);
  if (n + sl + 1 > cap) return -1;
  memcpy(out, head, n);
  memcpy(out + n, spool, sl + 1);
  return 0;
}
