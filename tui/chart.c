/*
** chart.c: live heap+anon bytes (bars) and RSS (dots) over the run, one
** column per LtTick of the model, with an axis line that marks the peak,
** the markers and the time cursor, and a line of marker names under it.
** UTF-8 terminals get eighth-block bars; ASCII terminals get '#'.
*/
#include <string.h>

#include "screen.h"
#include "lowram/units.h"

static const char *const eighths[9] = {" ", "\u2581", "\u2582", "\u2583", "\u2584",
                                       "\u2585", "\u2586", "\u2587", "\u2588"};

void lt_chart_draw(const LtScreen *sc, const LtModel *m, int y, int h, int cols) {
  size_t n = m->nticks < (size_t)cols ? m->nticks : (size_t)cols;
  int64_t scale = 1;
  /* scaled to live bytes: RSS is often many times the heap (code, libraries),
     and a shared scale would flatten the bars; RSS above the top shows as
     an arrow in the top row */
  for (size_t i = 0; i < n; i++)
    if (m->ticks[i].max_live > scale) scale = m->ticks[i].max_live;
  for (size_t c = 0; c < n; c++) {
    const LtTick *k = &m->ticks[c];
    /* heights in eighths of a row, so a UTF-8 bar shows small changes */
    int64_t e = (int64_t)((double)k->max_live * h * 8 / (double)scale + 0.5);
    if (k->max_live > 0 && e == 0) e = 1; /* something live never looks empty */
    int rss_row = k->rss >= 0 ? (int)((double)k->rss * h / (double)scale) : -1;
    int rss_over = rss_row >= h;
    if (rss_over) rss_row = h - 1;
    int cur = c == m->tick;
    for (int r = 0; r < h; r++) {
      int64_t fill = e - (int64_t)r * 8;
      fill = fill < 0 ? 0 : fill > 8 ? 8 : fill;
      const char *ch;
      int pair = LT_PAIR_BAR;
      if (r == rss_row && fill < 8) {
        ch = rss_over ? (sc->ascii ? "^" : "\u2191") : sc->ascii ? "+" : "\u2022";
        pair = LT_PAIR_RSS;
      } else if (sc->ascii) {
        ch = fill >= 4 ? "#" : fill > 0 && r == 0 ? "_" : " ";
      } else {
        ch = eighths[fill];
      }
      attr_t a = sc->color ? COLOR_PAIR(pair) : A_NORMAL;
      if (k->has_peak && fill > 0) a = sc->color ? COLOR_PAIR(LT_PAIR_PEAK) : A_BOLD;
      if (cur) a |= A_REVERSE;
      attron(a);
      mvaddstr(y + h - 1 - r, (int)c, ch);
      attroff(a);
    }
  }
  /* the axis: cursor over peak over marker */
  for (size_t c = 0; c < n; c++) {
    const LtTick *k = &m->ticks[c];
    const char *ch = "-";
    attr_t a = A_NORMAL;
    if (c == m->tick) ch = "^", a = A_BOLD;
    else if (k->has_peak) ch = "P", a = sc->color ? COLOR_PAIR(LT_PAIR_PEAK) | A_BOLD : A_BOLD;
    else if (k->marker) ch = "|", a = sc->color ? COLOR_PAIR(LT_PAIR_MARK) : A_NORMAL;
    attron(a);
    mvaddstr(y + h, (int)c, ch);
    attroff(a);
  }
  /* marker names where they fit, each up to the next marker's column */
  move(y + h + 1, 0);
  clrtoeol();
  char name[96], scale_txt[48], b[32];
  snprintf(scale_txt, sizeof scale_txt, " top %s%s", lr_fmt_bytes(b, sizeof b, scale),
           sc->ascii ? " +rss" : " \u2022rss");
  int right = cols - (int)strlen(scale_txt) + (sc->ascii ? 0 : 2);
  int x = 0;
  for (size_t c = 0; c < n; c++) {
    if (!m->ticks[c].marker || (int)c < x) continue;
    size_t next = c + 1;
    while (next < n && !m->ticks[next].marker) next++;
    int room = (int)(next < n ? next : (size_t)right) - (int)c - 1;
    if (room > right - (int)c - 1) room = right - (int)c - 1;
    if (room < 1) continue;
    lt_escape(m->ticks[c].marker, name, sizeof name, sc->ascii);
    if (sc->color) attron(COLOR_PAIR(LT_PAIR_MARK));
    x = (int)c + lt_put(y + h + 1, (int)c, name, room) + 1;
    if (sc->color) attroff(COLOR_PAIR(LT_PAIR_MARK));
  }
  if (right > x) lt_put(y + h + 1, right, scale_txt, cols - right);
}
