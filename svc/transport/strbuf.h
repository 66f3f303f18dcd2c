/* A growable byte string in an arena: the SQL array literals, CSV files and zip entries
 * the transport service assembles. Memory dies with the arena. */
#ifndef METRO_TRANSPORT_STRBUF_H
#define METRO_TRANSPORT_STRBUF_H

#include <stddef.h>

#include "common/arena.h"

typedef struct strbuf {
  arena *a;
  char *data; /* NUL-terminated */
  size_t len, cap;
} strbuf;

void sb_init(strbuf *b, arena *a, size_t initial);
void sb_append(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_putc(strbuf *b, char c);

#endif
