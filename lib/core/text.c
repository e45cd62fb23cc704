/*
** text.c: escaping text from traces for terminals and files (text.h).
*/
#include "lowram/text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when s does not start
** one: overlong forms, surrogates and code points above U+10FFFF are
** invalid, as are C1 controls (U+0080-U+009F), which some terminals obey. */
static size_t utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (!n || c > 0xf4) return 0;
  uint32_t cp = c & (0x3f >> (n - 1));
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
    return 0;
  return n;
}

static int plain(unsigned char c) { return c >= 0x20 && c != 0x7f && c != '\\'; }

char *lr_text_escape(const char *s, char *buf, size_t len) {
  size_t o = 0;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    char tmp[8];
    size_t n = 1, w;
    if (*p == '\\') {
      w = 2;
      memcpy(tmp, "\\\\", 2);
    } else if (*p < 0x80 && plain(*p)) {
      w = 1;
      tmp[0] = (char)*p;
    } else if (*p >= 0x80 && (n = utf8_len(p)) > 0) {
      w = n;
      memcpy(tmp, p, n);
    } else {
      n = 1;
      w = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", *p);
    }
    if (o + w >= len) break; /* never half a character or half an escape */
    memcpy(buf + o, tmp, w);
    o += w;
    p += n;
  }
  if (len) buf[o < len ? o : len - 1] = '\0';
  return buf;
}

int lr_text_is_clean(const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    size_t n = *p < 0x80 ? (plain(*p) ? 1 : 0) : utf8_len(p);
    if (!n) return 0;
    p += n;
  }
  return 1;
}
