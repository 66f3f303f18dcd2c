/* A growable byte string in an arena (see strbuf.h): doubling growth, old blocks are
 * simply left to the arena. */
#include "svc/transport/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sb_init(strbuf *b, arena *a, size_t initial) {
  b->a = a;
  b->cap = initial < 64 ? 64 : initial;
  b->data = arena_alloc(a, b->cap);
  b->len = 0;
}

static void reserve(strbuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap;
  while (b->len + extra + 1 > cap) cap *= 2;
  char *data = arena_alloc(b->a, cap);
  memcpy(data, b->data, b->len);
  b->data = data;
  b->cap = cap;
}

void sb_append(strbuf *b, const char *s, size_t n) {
  reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void sb_puts(strbuf *b, const char *s) { sb_append(b, s, strlen(s)); }

void sb_putc(strbuf *b, char c) { sb_append(b, &c, 1); }

void sb_printf(strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    sb_append(b, small, (size_t)n);
    return;
  }
  reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}
