/* Report charts as standalone SVG 1.1 documents: a line chart and a bar chart sharing one layout
 * (round-number y axis, light grid, thinned x labels). Pure; every text is escaped; output in the arena. */
#include "svc/report/report.h"

#include <string.h>

#include "common/text.h"

#define SVG_W 800
#define SVG_H 400
#define MARGIN_TOP 56
#define MARGIN_RIGHT 36
#define MARGIN_BOTTOM_LINE 56
#define MARGIN_BOTTOM_BAR 108 /* room for rotated labels */
#define CHAR_W 7.0            /* average advance of a 12px sans-serif character */
#define SVG_FIRST_BLOCK 4096

#define COLOUR_SERIES "#2563eb"
#define COLOUR_GRID "#e5e7eb"
#define COLOUR_AXIS "#4b5563"
#define COLOUR_TEXT "#1f2937"
#define COLOUR_MUTED "#6b7280"

#define MAX_INTERVALS 5                  /* y axis: at most 6 ticks */
#define VALUE_LIMIT 1000000000000000000LL /* values are clamped to +-1e18 so axis arithmetic stays in int64 */
#define MAX_MARKERS 62                   /* line charts mark points (with a tooltip) up to this many */
#define MAX_BAR_W 56.0

#define TITLE_MAX_CP 90
#define CAPTION_MAX_CP 40
#define LINE_LABEL_MAX_CP 12
#define BAR_LABEL_MAX_CP 16

typedef enum chart_kind { CHART_LINE, CHART_BAR } chart_kind;

typedef struct y_axis {
  int64_t lo, hi, step; /* lo and hi are multiples of step, lo <= 0 <= hi, lo < hi */
} y_axis;

typedef struct chart {
  arena_buf *b;
  chart_kind kind;
  const rp_point *pts;
  size_t n;
  double left, top, right, bottom; /* the plot area */
  y_axis axis;
} chart;

/* ---- text: UTF-8 repair and XML escaping ---- */

/* Code points XML 1.0 cannot carry (and tabs/newlines, meaningless in a label) are dropped. */
static bool xml_dropped(unsigned cp) { return cp < 0x20 || cp == 0x7f || cp == 0xfffe || cp == 0xffff; }

/* Walks s as code points: invalid bytes read as U+FFFD, dropped ones skipped. With b, writes the
 * first `limit` of them escaped. Returns how many code points s holds (or were written). */
static size_t xml_walk(arena_buf *b, const char *s, size_t limit) {
  static const char REPLACEMENT[] = "\xef\xbf\xbd";
  const char *p = s;
  size_t count = 0;
  while (*p && count < limit) {
    unsigned cp = 0;
    size_t n = text_utf8_decode(p, &cp);
    const char *bytes = p;
    if (!n) bytes = REPLACEMENT, cp = 0xfffd;
    p += n ? n : 1;
    if (xml_dropped(cp)) continue;
    count++;
    if (!b) continue;
    switch (cp) {
    case '&': arena_buf_puts(b, "&amp;"); break;
    case '<': arena_buf_puts(b, "&lt;"); break;
    case '>': arena_buf_puts(b, "&gt;"); break;
    case '"': arena_buf_puts(b, "&quot;"); break;
    case '\'': arena_buf_puts(b, "&apos;"); break;
    default: arena_buf_append(b, bytes, n ? n : sizeof REPLACEMENT - 1);
    }
  }
  return count;
}

/* s escaped for XML, cut to max_cp code points with a trailing ellipsis when longer. */
static void put_text(arena_buf *b, const char *s, size_t max_cp) {
  if (!s) return;
  size_t total = xml_walk(NULL, s, (size_t)-1);
  if (total <= max_cp) {
    xml_walk(b, s, total);
    return;
  }
  xml_walk(b, s, max_cp - 1);
  arena_buf_puts(b, "\xe2\x80\xa6"); /* U+2026 */
}

/* ---- numbers ---- */

/* v with thousands separators: 1250000 -> "1,250,000". */
static void format_thousands(int64_t v, char out[32]) {
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  size_t o = 0;
  if (v < 0) out[o++] = '-';
  for (int i = n - 1; i >= 0; i--) {
    out[o++] = digits[i];
    if (i > 0 && i % 3 == 0) out[o++] = ',';
  }
  out[o] = '\0';
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); }
static int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0 && a > 0); }

static int64_t clamp_value(int64_t v) { return v > VALUE_LIMIT ? VALUE_LIMIT : v < -VALUE_LIMIT ? -VALUE_LIMIT : v; }

/* The y axis: from min(0, min) to max(0, max) widened to the smallest "nice" step (1, 2, 2.5 or 5
 * times a power of ten, whole numbers only) that needs at most MAX_INTERVALS intervals. */
static y_axis axis_for(const rp_point *pts, size_t n) {
  int64_t lo = 0, hi = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t v = clamp_value(pts[i].value);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo == hi) hi = 1; /* no data or all zero */
  static const int TENTHS[] = {10, 20, 25, 50};
  for (int64_t mag = 1;; mag *= 10) {
    for (size_t k = 0; k < sizeof TENTHS / sizeof TENTHS[0]; k++) {
      if (mag == 1 && TENTHS[k] == 25) continue; /* 2.5 is not a whole number */
      int64_t step = mag / 10 ? mag / 10 * TENTHS[k] : TENTHS[k] / 10;
      if (ceil_div(hi, step) - floor_div(lo, step) <= MAX_INTERVALS)
        return (y_axis){floor_div(lo, step) * step, ceil_div(hi, step) * step, step};
    }
    if (mag == VALUE_LIMIT) break; /* not reached: a step of 1e18 covers |values| <= 1e18 in 2 intervals */
  }
  return (y_axis){-VALUE_LIMIT, VALUE_LIMIT, VALUE_LIMIT};
}

/* ---- geometry ---- */

static double y_of(const chart *c, int64_t v) {
  double span = (double)c->axis.hi - (double)c->axis.lo;
  return c->bottom - ((double)clamp_value(v) - (double)c->axis.lo) / span * (c->bottom - c->top);
}

/* Line points run edge to edge (inset a little); bars sit in the middle of equal slots. */
static double x_of(const chart *c, size_t i) {
  double w = c->right - c->left;
  if (c->kind == CHART_BAR) return c->left + ((double)i + 0.5) * w / (double)c->n;
  if (c->n == 1) return c->left + w / 2;
  double inset = 12;
  return c->left + inset + (double)i * (w - 2 * inset) / (double)(c->n - 1);
}

/* Every how many points an x label is written so that labels do not overlap. */
static size_t label_every(const chart *c) {
  double room = c->kind == CHART_BAR ? 22 : (LINE_LABEL_MAX_CP * CHAR_W + 8);
  size_t fit = (size_t)((c->right - c->left) / room);
  if (fit < 1) fit = 1;
  return (c->n + fit - 1) / fit;
}

/* ---- drawing ---- */

static void put_line(arena_buf *b, double x1, double y1, double x2, double y2, const char *colour) {
  arena_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", x1, y1, x2, y2,
                   colour);
}

static void draw_header(const chart *c, const char *title) {
  arena_buf *b = c->b;
  arena_buf_printf(b,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
                   "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n<title>",
                   SVG_W, SVG_H, SVG_W, SVG_H);
  put_text(b, title, TITLE_MAX_CP);
  arena_buf_printf(b, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_W, SVG_H);
  arena_buf_printf(b,
                   "<text x=\"%d\" y=\"30\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\" fill=\"%s\">",
                   SVG_W / 2, COLOUR_TEXT);
  put_text(b, title, TITLE_MAX_CP);
  arena_buf_puts(b, "</text>\n");
}

/* Grid lines, tick marks and the round-number labels of the y axis, then its caption. */
static void draw_y_axis(const chart *c, const char *y_label) {
  arena_buf *b = c->b;
  arena_buf_puts(b, "<g class=\"grid\" stroke-width=\"1\">\n");
  for (int64_t t = c->axis.lo; t <= c->axis.hi; t += c->axis.step)
    put_line(b, c->left, y_of(c, t), c->right, y_of(c, t), COLOUR_GRID);
  arena_buf_puts(b, "</g>\n<g class=\"y-labels\" text-anchor=\"end\" fill=\"" COLOUR_TEXT "\">\n");
  for (int64_t t = c->axis.lo; t <= c->axis.hi; t += c->axis.step) {
    char num[32];
    format_thousands(t, num);
    arena_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", c->left - 8, y_of(c, t) + 4, num);
  }
  arena_buf_puts(b, "</g>\n");
  double mid = (c->top + c->bottom) / 2;
  arena_buf_printf(b,
                   "<text class=\"caption\" x=\"18\" y=\"%.1f\" transform=\"rotate(-90 18 %.1f)\" "
                   "text-anchor=\"middle\" fill=\"%s\">",
                   mid, mid, COLOUR_MUTED);
  put_text(b, y_label, CAPTION_MAX_CP);
  arena_buf_puts(b, "</text>\n");
}

/* Both axes, the zero line when values go below zero, and the x ticks. */
static void draw_axes(const chart *c) {
  arena_buf *b = c->b;
  arena_buf_puts(b, "<g class=\"axes\" stroke-width=\"1\">\n");
  put_line(b, c->left, c->top, c->left, c->bottom, COLOUR_AXIS);
  put_line(b, c->left, c->bottom, c->right, c->bottom, COLOUR_AXIS);
  if (c->axis.lo < 0) put_line(b, c->left, y_of(c, 0), c->right, y_of(c, 0), COLOUR_AXIS);
  for (int64_t t = c->axis.lo; t <= c->axis.hi; t += c->axis.step)
    put_line(b, c->left - 4, y_of(c, t), c->left, y_of(c, t), COLOUR_AXIS);
  size_t every = label_every(c);
  for (size_t i = 0; i < c->n; i += every) put_line(b, x_of(c, i), c->bottom, x_of(c, i), c->bottom + 4, COLOUR_AXIS);
  arena_buf_puts(b, "</g>\n");
}

/* The x labels, thinned: centred under line points, rotated under bars. */
static void draw_x_labels(const chart *c) {
  arena_buf *b = c->b;
  arena_buf_puts(b, "<g class=\"x-labels\" fill=\"" COLOUR_TEXT "\">\n");
  size_t every = label_every(c);
  for (size_t i = 0; i < c->n; i += every) {
    double x = x_of(c, i);
    if (c->kind == CHART_BAR) {
      double y = c->bottom + 14;
      arena_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(-45 %.1f %.1f)\" text-anchor=\"end\">", x, y,
                       x, y);
      put_text(b, c->pts[i].label, BAR_LABEL_MAX_CP);
    } else {
      arena_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, c->bottom + 20);
      put_text(b, c->pts[i].label, LINE_LABEL_MAX_CP);
    }
    arena_buf_puts(b, "</text>\n");
  }
  arena_buf_puts(b, "</g>\n");
}

/* A hover text for one point: "label: 1,250,000". */
static void put_tooltip(arena_buf *b, const rp_point *p) {
  char num[32];
  format_thousands(p->value, num);
  arena_buf_puts(b, "<title>");
  put_text(b, p->label, TITLE_MAX_CP);
  arena_buf_printf(b, ": %s</title>", num);
}

static void draw_bars(const chart *c) {
  arena_buf *b = c->b;
  double width = (c->right - c->left) / (double)c->n * 0.7, zero = y_of(c, 0);
  if (width > MAX_BAR_W) width = MAX_BAR_W;
  arena_buf_puts(b, "<g class=\"series\" fill=\"" COLOUR_SERIES "\">\n");
  for (size_t i = 0; i < c->n; i++) {
    double y = y_of(c, c->pts[i].value);
    double top = y < zero ? y : zero, height = y < zero ? zero - y : y - zero;
    arena_buf_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\">", x_of(c, i) - width / 2, top,
                     width, height);
    put_tooltip(b, &c->pts[i]);
    arena_buf_puts(b, "</rect>\n");
  }
  arena_buf_puts(b, "</g>\n");
}

static void draw_line(const chart *c) {
  arena_buf *b = c->b;
  arena_buf_puts(b, "<g class=\"series\">\n");
  if (c->n > 1) {
    arena_buf_puts(b, "<polyline fill=\"none\" stroke=\"" COLOUR_SERIES
                      "\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"");
    for (size_t i = 0; i < c->n; i++)
      arena_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", x_of(c, i), y_of(c, c->pts[i].value));
    arena_buf_puts(b, "\"/>\n");
  }
  if (c->n <= MAX_MARKERS) {
    for (size_t i = 0; i < c->n; i++) {
      arena_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"" COLOUR_SERIES "\">", x_of(c, i),
                       y_of(c, c->pts[i].value));
      put_tooltip(b, &c->pts[i]);
      arena_buf_puts(b, "</circle>\n");
    }
  }
  arena_buf_puts(b, "</g>\n");
}

static void draw_no_data(const chart *c) {
  arena_buf_printf(c->b,
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"14\" fill=\"%s\">No data</text>\n",
                   (c->left + c->right) / 2, (c->top + c->bottom) / 2, COLOUR_MUTED);
}

/* The left margin fits the longest y label and the rotated caption (and, under bars, the first
 * rotated x label). */
static double left_margin(chart_kind kind, const y_axis *axis) {
  size_t longest = 0;
  for (int64_t t = axis->lo; t <= axis->hi; t += axis->step) {
    char num[32];
    format_thousands(t, num);
    if (strlen(num) > longest) longest = strlen(num);
  }
  double margin = 40 + (double)longest * CHAR_W;
  double rotated = BAR_LABEL_MAX_CP * CHAR_W * 0.7; /* 45 degrees */
  return kind == CHART_BAR && margin < rotated ? rotated : margin;
}

static char *render(arena *a, chart_kind kind, const char *title, const char *y_label, const rp_point *pts, size_t n,
                    size_t *len) {
  arena_buf b = {.a = a};
  arena_buf_reserve(&b, SVG_FIRST_BLOCK - 1); /* a chart is a few kilobytes */
  if (!pts) n = 0;
  if (n > RP_SVG_MAX_POINTS) n = RP_SVG_MAX_POINTS;
  chart c = {.b = &b, .kind = kind, .pts = pts, .n = n, .axis = axis_for(pts, n)};
  c.left = left_margin(kind, &c.axis);
  c.top = MARGIN_TOP;
  c.right = SVG_W - MARGIN_RIGHT;
  c.bottom = SVG_H - (kind == CHART_BAR ? MARGIN_BOTTOM_BAR : MARGIN_BOTTOM_LINE);

  draw_header(&c, title);
  draw_y_axis(&c, y_label);
  draw_axes(&c);
  if (n == 0) {
    draw_no_data(&c);
  } else {
    draw_x_labels(&c);
    if (kind == CHART_BAR)
      draw_bars(&c);
    else
      draw_line(&c);
  }
  arena_buf_puts(&b, "</svg>\n");
  if (len) *len = b.len;
  return arena_buf_str(&b);
}

char *rp_svg_line_chart(arena *a, const char *title, const char *y_label, const rp_point *pts, size_t n,
                        size_t *len) {
  return render(a, CHART_LINE, title, y_label, pts, n, len);
}

char *rp_svg_bar_chart(arena *a, const char *title, const char *y_label, const rp_point *pts, size_t n,
                       size_t *len) {
  return render(a, CHART_BAR, title, y_label, pts, n, len);
}
