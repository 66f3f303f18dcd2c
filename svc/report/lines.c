/* Text arrays (sections, recipients) carried to and from SQL as newline-joined text:
 * string_to_array($n, E'\n') in, array_to_string(col, E'\n') out; elements never hold a newline. */
#include <string.h>

#include "svc/report/report.h"

char *rp_lines_join(arena *a, char *const *v, size_t n) {
  size_t len = 1;
  for (size_t i = 0; i < n; i++) len += strlen(v[i]) + 1;
  char *out = arena_alloc(a, len), *p = out;
  for (size_t i = 0; i < n; i++) {
    if (i) *p++ = '\n';
    size_t k = strlen(v[i]);
    memcpy(p, v[i], k);
    p += k;
  }
  *p = '\0';
  return out;
}

char **rp_lines_split(arena *a, const char *s, size_t *n) {
  *n = 0;
  if (!s || !*s) return NULL;
  size_t cap = 1;
  for (const char *p = s; *p; p++) cap += *p == '\n';
  char **out = arena_alloc(a, cap * sizeof *out);
  const char *start = s;
  for (const char *p = s;; p++)
    if (*p == '\n' || *p == '\0') {
      out[(*n)++] = arena_strndup(a, start, (size_t)(p - start));
      if (!*p) break;
      start = p + 1;
    }
  return out;
}
