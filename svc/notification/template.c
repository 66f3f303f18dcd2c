/* Message templates: lookup in the table embedded from svc/notification/templates at build time
 * (cmake/templates2c.cmake) and {{name}} substitution, with HTML escaping for the HTML part. */
#include "svc/notification/notification.h"

#include <string.h>

typedef struct html_escape {
  char c;
  const char *entity;
} html_escape;

static const html_escape HTML_ESCAPES[] = {
    {'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&#39;"},
};

#define RENDER_FAILED ((size_t)-1)

const nt_template *nt_template_get(const char *name) {
  if (!name) return NULL;
  for (const nt_template *t = nt_templates; t->name; t++)
    if (strcmp(t->name, name) == 0) return t;
  return NULL;
}

static bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static const nt_var *find_var(const nt_var *vars, size_t n_vars, const char *name, size_t len) {
  for (size_t i = 0; i < n_vars; i++)
    if (vars[i].name && strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0) return &vars[i];
  return NULL;
}

/* Appends n bytes at *o when out is non-NULL; counts them either way. */
static void put(char *out, size_t *o, const char *s, size_t n) {
  if (out) memcpy(out + *o, s, n);
  *o += n;
}

static const char *html_entity(char c) {
  for (size_t i = 0; i < sizeof HTML_ESCAPES / sizeof HTML_ESCAPES[0]; i++)
    if (HTML_ESCAPES[i].c == c) return HTML_ESCAPES[i].entity;
  return NULL;
}

static void put_value(char *out, size_t *o, const char *v, bool html) {
  if (!html) {
    put(out, o, v, strlen(v));
    return;
  }
  for (; *v; v++) {
    const char *e = html_entity(*v);
    if (e)
      put(out, o, e, strlen(e));
    else
      put(out, o, v, 1);
  }
}

/* One pass over tmpl: with out NULL it only measures, else it writes (the NUL excluded).
 * Returns the length, or RENDER_FAILED on an unknown, malformed or unclosed placeholder. */
static size_t render_pass(const char *tmpl, const nt_var *vars, size_t n_vars, bool html, char *out) {
  size_t o = 0;
  const char *p = tmpl;
  for (;;) {
    const char *open = strstr(p, "{{");
    if (!open) break;
    put(out, &o, p, (size_t)(open - p));
    const char *name = open + 2, *end = name;
    while (is_name_char(*end)) end++;
    if (end == name || strncmp(end, "}}", 2) != 0) return RENDER_FAILED;
    const nt_var *v = find_var(vars, n_vars, name, (size_t)(end - name));
    if (!v) return RENDER_FAILED;
    put_value(out, &o, v->value ? v->value : "", html);
    p = end + 2;
  }
  put(out, &o, p, strlen(p));
  return o;
}

bool nt_render(arena *a, const char *tmpl, const nt_var *vars, size_t n_vars, bool html, char **out) {
  *out = NULL;
  if (!tmpl) return false;
  size_t len = render_pass(tmpl, vars, n_vars, html, NULL);
  if (len == RENDER_FAILED) return false;
  char *s = arena_alloc(a, len + 1);
  render_pass(tmpl, vars, n_vars, html, s);
  s[len] = '\0';
  *out = s;
  return true;
}
