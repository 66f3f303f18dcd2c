/* Report items as an RFC 4180 CSV file: CRLF records, quoting only where needed, UTF-8 repaired,
 * and a guard so that spreadsheets never run a text field as a formula. Pure; output in the arena. */
#include "svc/report/report.h"

#include <inttypes.h>
#include <string.h>

#include "common/text.h"

#define CSV_HEADER "section,metric,dimension,dimension_name,value\r\n"
#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD */

/* s as valid UTF-8: every byte that does not start a well-formed sequence becomes U+FFFD. */
static const char *utf8_repaired(arena *a, const char *s) {
  arena_buf b = {.a = a};
  arena_buf_reserve(&b, strlen(s));
  while (*s) {
    size_t n = text_utf8_decode(s, NULL);
    if (n) {
      arena_buf_append(&b, s, n);
      s += n;
    } else {
      arena_buf_append(&b, REPLACEMENT_CHAR, sizeof REPLACEMENT_CHAR - 1);
      s++;
    }
  }
  return arena_buf_str(&b);
}

/* One text field: repaired, guarded against formulas, then quoted if it holds , " CR or LF. */
static void put_text_field(arena_buf *b, const char *raw) {
  const char *s = utf8_repaired(b->a, raw ? raw : "");
  bool formula = s[0] && strchr("=+-@\t\r", s[0]);
  bool quote = strpbrk(s, ",\"\r\n") != NULL;
  if (quote) arena_buf_putc(b, '"');
  if (formula) arena_buf_putc(b, '\'');
  for (const char *p = s; *p; p++) {
    if (*p == '"') arena_buf_putc(b, '"');
    arena_buf_putc(b, *p);
  }
  if (quote) arena_buf_putc(b, '"');
}

char *rp_csv(arena *a, Metro__Report__V1__ReportItem *const *items, size_t n, size_t *len) {
  arena_buf b = {.a = a};
  arena_buf_append(&b, CSV_HEADER, sizeof CSV_HEADER - 1);
  for (size_t i = 0; i < n; i++) {
    const Metro__Report__V1__ReportItem *it = items[i];
    if (!it) continue;
    const char *texts[] = {it->section, it->metric, it->dimension, it->dimension_name};
    for (size_t f = 0; f < sizeof texts / sizeof texts[0]; f++) {
      put_text_field(&b, texts[f]);
      arena_buf_putc(&b, ',');
    }
    arena_buf_printf(&b, "%" PRId64 "\r\n", it->value);
  }
  if (len) *len = b.len;
  return arena_buf_str(&b);
}
