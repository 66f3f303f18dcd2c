/* CSV as GTFS uses it (RFC 4180: quoted fields with "" escapes, CRLF or LF records, an
 * optional UTF-8 BOM): a bounded parser into an arena and a field writer. Pure code. */
#ifndef METRO_TRANSPORT_GTFS_CSV_H
#define METRO_TRANSPORT_GTFS_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "svc/transport/strbuf.h"

#define CSV_MAX_COLUMNS 64
#define CSV_MAX_FIELD 4096
#define CSV_MAX_ROWS 4000000

typedef struct csv_table {
  int n_columns;
  char **header;
  int n_rows;
  char ***rows; /* rows[i][c]; every row has n_columns fields */
} csv_table;

/* Parses data[0..len). False with a message naming the line on malformed input (an
 * unterminated quote, a row with the wrong field count, limits exceeded, NUL bytes). */
bool csv_parse(arena *a, const char *data, size_t len, csv_table *out, char *err, size_t errlen);
/* The index of a header column, -1 when absent. */
int csv_column(const csv_table *t, const char *name);
/* The field, or "" when the column is absent (col < 0). */
const char *csv_get(const csv_table *t, int row, int col);
/* Appends one field, quoted when it holds a comma, quote, CR or LF. */
void csv_put(strbuf *b, const char *field);

#endif
