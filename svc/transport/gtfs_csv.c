/* The CSV dialect of GTFS files (see gtfs_csv.h): a one-pass state machine that copies
 * fields into the arena, with every size bounded. */
#include "svc/transport/gtfs_csv.h"

#include <stdio.h>
#include <string.h>

typedef struct csv_row {
  char **fields;
  int n, cap;
} csv_row;

static void row_push(arena *a, csv_row *r, const char *s, size_t n) {
  if (r->n == r->cap) {
    int cap = r->cap ? r->cap * 2 : 8;
    char **f = arena_alloc(a, sizeof(char *) * (size_t)cap);
    if (r->n) memcpy(f, r->fields, sizeof(char *) * (size_t)r->n);
    r->fields = f;
    r->cap = cap;
  }
  r->fields[r->n++] = arena_strndup(a, s, n);
}

bool csv_parse(arena *a, const char *data, size_t len, csv_table *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) data += 3, len -= 3;
  if (memchr(data, '\0', len)) return snprintf(err, errlen, "NUL byte in the file"), false;
  int rows_cap = 0, line = 1;
  char field[CSV_MAX_FIELD + 1];
  size_t i = 0;
  while (i < len) {
    csv_row row = {0};
    bool end_of_record = false;
    /* Blank lines (including a final newline) hold no record. */
    if (data[i] == '\n' || data[i] == '\r') {
      i += (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
      line++;
      continue;
    }
    while (!end_of_record) {
      size_t n = 0;
      if (i < len && data[i] == '"') {
        i++;
        for (;;) {
          if (i >= len) return snprintf(err, errlen, "line %d: unterminated quoted field", line), false;
          if (data[i] == '"') {
            if (i + 1 < len && data[i + 1] == '"') {
              i++;
            } else {
              i++;
              break;
            }
          }
          if (data[i] == '\n') line++;
          if (n >= CSV_MAX_FIELD) return snprintf(err, errlen, "line %d: field too long", line), false;
          field[n++] = data[i++];
        }
        if (i < len && data[i] != ',' && data[i] != '\n' && data[i] != '\r')
          return snprintf(err, errlen, "line %d: text after a closing quote", line), false;
      } else {
        while (i < len && data[i] != ',' && data[i] != '\n' && data[i] != '\r') {
          if (data[i] == '"') return snprintf(err, errlen, "line %d: quote inside an unquoted field", line), false;
          if (n >= CSV_MAX_FIELD) return snprintf(err, errlen, "line %d: field too long", line), false;
          field[n++] = data[i++];
        }
      }
      if (row.n >= CSV_MAX_COLUMNS) return snprintf(err, errlen, "line %d: too many fields", line), false;
      row_push(a, &row, field, n);
      if (i < len && data[i] == ',') {
        i++;
        continue;
      }
      if (i < len && data[i] == '\r') i++;
      if (i < len && data[i] == '\n') i++;
      end_of_record = true;
    }
    if (!out->header) {
      out->header = row.fields;
      out->n_columns = row.n;
      for (int c = 0; c < row.n; c++) {
        char *h = out->header[c];
        size_t hl = strlen(h);
        while (hl > 0 && (h[hl - 1] == ' ')) h[--hl] = '\0'; /* tolerate padded headers */
      }
    } else {
      if (row.n != out->n_columns)
        return snprintf(err, errlen, "line %d: %d fields where the header has %d", line, row.n, out->n_columns), false;
      if (out->n_rows >= CSV_MAX_ROWS) return snprintf(err, errlen, "too many rows"), false;
      if (out->n_rows == rows_cap) {
        rows_cap = rows_cap ? rows_cap * 2 : 64;
        char ***rows = arena_alloc(a, sizeof(char **) * (size_t)rows_cap);
        if (out->n_rows) memcpy(rows, out->rows, sizeof(char **) * (size_t)out->n_rows);
        out->rows = rows;
      }
      out->rows[out->n_rows++] = row.fields;
    }
    line++;
  }
  if (!out->header) return snprintf(err, errlen, "empty file: no header"), false;
  return true;
}

int csv_column(const csv_table *t, const char *name) {
  for (int c = 0; c < t->n_columns; c++)
    if (strcmp(t->header[c], name) == 0) return c;
  return -1;
}

const char *csv_get(const csv_table *t, int row, int col) {
  return col < 0 || row < 0 || row >= t->n_rows ? "" : t->rows[row][col];
}

void csv_put(strbuf *b, const char *field) {
  if (!strpbrk(field, ",\"\r\n")) {
    sb_puts(b, field);
    return;
  }
  sb_putc(b, '"');
  for (const char *p = field; *p; p++) {
    if (*p == '"') sb_putc(b, '"');
    sb_putc(b, *p);
  }
  sb_putc(b, '"');
}
