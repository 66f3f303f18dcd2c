/* Report items as an RFC 4180 CSV file: CRLF records, quoting only where needed, UTF-8 repaired,
 * and a guard so that spreadsheets never run a text field as a formula. Pure; output in the arena. */
#include "svc/report/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CSV_HEADER "section,metric,dimension,dimension_name,value\r\n"
#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD */

/* A growable NUL-terminated byte string in the arena (old blocks die with it). */
typedef struct csv_buf {
  arena *a;
  char *data;
  size_t len, cap;
} csv_buf;

static void buf_reserve(csv_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *data = arena_alloc(b->a, cap);
  if (b->len) memcpy(data, b->data, b->len);
  b->data = data;
  b->cap = cap;
}

static void buf_append(csv_buf *b, const char *s, size_t n) {
  buf_reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_putc(csv_buf *b, char c) { buf_append(b, &c, 1); }

/* The length of the well-formed UTF-8 sequence at p (1-4), or 0 when the bytes there are not one
 * (stray continuation, overlong form, surrogate, beyond U+10FFFF or cut short by the NUL). */
static size_t utf8_sequence(const unsigned char *p) {
  unsigned c = p[0];
  size_t n;
  unsigned cp, min;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2, cp = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, cp = c & 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/* s as valid UTF-8: every byte that does not start a well-formed sequence becomes U+FFFD. */
static const char *utf8_repaired(arena *a, const char *s) {
  csv_buf b = {.a = a};
  const unsigned char *p = (const unsigned char *)s;
  buf_reserve(&b, strlen(s));
  while (*p) {
    size_t n = utf8_sequence(p);
    if (n) {
      buf_append(&b, (const char *)p, n);
      p += n;
    } else {
      buf_append(&b, REPLACEMENT_CHAR, sizeof REPLACEMENT_CHAR - 1);
      p++;
    }
  }
  return b.data;
}

/* One text field: repaired, guarded against formulas, then quoted if it holds , " CR or LF. */
static void put_text_field(csv_buf *b, const char *raw) {
  const char *s = utf8_repaired(b->a, raw ? raw : "");
  bool formula = s[0] && strchr("=+-@\t\r", s[0]);
  bool quote = strpbrk(s, ",\"\r\n") != NULL;
  if (quote) buf_putc(b, '"');
  if (formula) buf_putc(b, '\'');
  for (const char *p = s; *p; p++) {
    if (*p == '"') buf_putc(b, '"');
    buf_putc(b, *p);
  }
  if (quote) buf_putc(b, '"');
}

char *rp_csv(arena *a, Metro__Report__V1__ReportItem *const *items, size_t n, size_t *len) {
  csv_buf b = {.a = a};
  buf_append(&b, CSV_HEADER, sizeof CSV_HEADER - 1);
  for (size_t i = 0; i < n; i++) {
    const Metro__Report__V1__ReportItem *it = items[i];
    if (!it) continue;
    const char *texts[] = {it->section, it->metric, it->dimension, it->dimension_name};
    for (size_t f = 0; f < sizeof texts / sizeof texts[0]; f++) {
      put_text_field(&b, texts[f]);
      buf_putc(&b, ',');
    }
    char value[32];
    int vn = snprintf(value, sizeof value, "%" PRId64 "\r\n", it->value);
    buf_append(&b, value, (size_t)vn);
  }
  if (len) *len = b.len;
  return b.data;
}
