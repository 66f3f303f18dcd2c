/* Path template parser (the google/api/http.proto grammar plus Metro's ".ext" suffix), request
 * path splitting and variable binding with the spec's percent-decoding rules. */
#include "transcoder/path_template.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pt_parser {
  const char *text;
  const char *p;
  path_template *t;
  char *out; /* next free byte of t->storage */
  char *err;
  size_t errlen;
  bool in_variable;
} pt_parser;

static bool pt_error(pt_parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool pt_error(pt_parser *ps, const char *fmt, ...) {
  if (ps->err && ps->errlen) {
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->errlen, "path template \"%.200s\": %s (at offset %d)", ps->text, why,
             (int)(ps->p - ps->text));
  }
  return false;
}

static const char *pt_store(pt_parser *ps, const char *s, size_t n) {
  char *dst = ps->out;
  memcpy(dst, s, n);
  dst[n] = '\0';
  ps->out += n + 1;
  return dst;
}

static bool pt_is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Characters a literal may hold: RFC 3986 pchar minus ':' (the verb marker) and '=' '*'. */
static bool pt_is_literal_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && strchr("-._~!$&'()+,;@%", c) != NULL;
}

/* Characters of a ".ext" suffix, in a template and in a request. */
static bool pt_is_suffix_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool pt_is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool pt_is_ident_char(char c) { return pt_is_ident_start(c) || (c >= '0' && c <= '9'); }

/* LITERAL at ps->p; returns its length (0 when none), validating %XX escapes. */
static bool pt_scan_literal(pt_parser *ps, size_t *len) {
  const char *s = ps->p;
  size_t n = 0;
  while (pt_is_literal_char(s[n])) {
    if (s[n] == '%') {
      if (!pt_is_hex(s[n + 1]) || !pt_is_hex(s[n + 2]))
        return pt_error(ps, "bad percent-escape in literal");
      n += 2;
    }
    n++;
  }
  *len = n;
  return true;
}

static bool pt_parse_segment(pt_parser *ps) {
  path_template *t = ps->t;
  if (t->n_segments > 0 && t->segments[t->n_segments - 1].kind == PT_DEEP_WILDCARD)
    return pt_error(ps, "'**' must be the last segment");
  if (t->n_segments == PT_MAX_SEGMENTS) return pt_error(ps, "more than %d segments", PT_MAX_SEGMENTS);
  pt_segment *seg = &t->segments[t->n_segments];
  if (ps->p[0] == '*' && ps->p[1] == '*') {
    seg->kind = PT_DEEP_WILDCARD;
    ps->p += 2;
  } else if (ps->p[0] == '*') {
    seg->kind = PT_WILDCARD;
    ps->p += 1;
  } else {
    size_t n;
    if (!pt_scan_literal(ps, &n)) return false;
    if (n == 0) {
      if (ps->p[0] == '/' || ps->p[0] == '\0' || ps->p[0] == '}' || ps->p[0] == ':')
        return pt_error(ps, "empty segment");
      if (ps->p[0] == '{')
        return pt_error(ps, ps->in_variable ? "nested variable" : "unexpected '{'");
      return pt_error(ps, "unexpected character '%c'", ps->p[0]);
    }
    seg->kind = PT_LITERAL;
    seg->literal = pt_store(ps, ps->p, n);
    ps->p += n;
  }
  if (ps->p[0] == '*') return pt_error(ps, "'*' mixed with other characters in a segment");
  t->n_segments++;
  return true;
}

/* Segments { "/" Segment }, up to (not including) a '}' when in a variable, or ':' / end. */
static bool pt_parse_segments(pt_parser *ps);

static bool pt_parse_variable(pt_parser *ps) {
  path_template *t = ps->t;
  if (ps->in_variable) return pt_error(ps, "nested variable");
  if (t->n_variables == PT_MAX_VARIABLES) return pt_error(ps, "more than %d variables", PT_MAX_VARIABLES);
  ps->p++; /* '{' */
  const char *start = ps->p;
  for (;;) {
    if (!pt_is_ident_start(*ps->p)) return pt_error(ps, "bad field path in variable");
    while (pt_is_ident_char(*ps->p)) ps->p++;
    if (*ps->p != '.') break;
    ps->p++;
  }
  pt_variable *v = &t->variables[t->n_variables];
  v->field_path = pt_store(ps, start, (size_t)(ps->p - start));
  for (int i = 0; i < t->n_variables; i++)
    if (strcmp(t->variables[i].field_path, v->field_path) == 0)
      return pt_error(ps, "variable '%s' bound twice", v->field_path);
  v->first = t->n_segments;
  if (*ps->p == '=') {
    ps->p++;
    ps->in_variable = true;
    if (!pt_parse_segments(ps)) return false;
    ps->in_variable = false;
  } else {
    if (t->n_segments == PT_MAX_SEGMENTS) return pt_error(ps, "more than %d segments", PT_MAX_SEGMENTS);
    if (t->n_segments > 0 && t->segments[t->n_segments - 1].kind == PT_DEEP_WILDCARD)
      return pt_error(ps, "'**' must be the last segment");
    t->segments[t->n_segments++].kind = PT_WILDCARD; /* {name} is {name=*} */
  }
  if (*ps->p != '}') return pt_error(ps, *ps->p ? "unexpected character '%c' in variable" : "unbalanced '{'", *ps->p);
  ps->p++;
  v->last = t->n_segments;
  t->n_variables++;
  return true;
}

static bool pt_parse_segments(pt_parser *ps) {
  for (;;) {
    bool ok = (*ps->p == '{') ? pt_parse_variable(ps) : pt_parse_segment(ps);
    if (!ok) return false;
    if (*ps->p != '/') return true;
    ps->p++;
  }
}

/* Whether a ".ext" may follow what was parsed: a last variable of one "*" segment, just closed. */
static bool pt_suffix_may_follow(const pt_parser *ps) {
  const path_template *t = ps->t;
  if (ps->p == ps->text || ps->p[-1] != '}' || t->n_variables == 0) return false;
  const pt_variable *v = &t->variables[t->n_variables - 1];
  return v->last == t->n_segments && v->last - v->first == 1 && t->segments[v->first].kind == PT_WILDCARD;
}

/* The ":verb" or ".ext" ending a template, ps->p at its separator. */
static bool pt_parse_tail(pt_parser *ps) {
  path_template *t = ps->t;
  bool suffix = *ps->p == '.';
  if (suffix && !pt_suffix_may_follow(ps))
    return pt_error(ps, "an extension \".ext\" may only follow a last variable {name} or {name=*}");
  ps->p++;
  size_t n = 0;
  if (suffix) {
    while (pt_is_suffix_char(ps->p[n])) n++;
    if (ps->p[n] == ':') {
      ps->p += n;
      return pt_error(ps, "a verb and an extension together");
    }
    if (n == 0 || n > PT_MAX_SUFFIX_LEN || ps->p[n] != '\0')
      return pt_error(ps, "bad extension (1 to %d letters or digits, ending the template)", PT_MAX_SUFFIX_LEN);
  } else {
    if (!pt_scan_literal(ps, &n)) return false;
    if (n == 0 || ps->p[n] != '\0') return pt_error(ps, "bad verb");
  }
  t->tail_kind = suffix ? PT_TAIL_SUFFIX : PT_TAIL_VERB;
  t->tail = pt_store(ps, ps->p, n);
  ps->p += n;
  return true;
}

path_template *path_template_parse(const char *text, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  path_template *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  pt_parser ps = {.text = text ? text : "", .p = text ? text : "", .t = t, .err = err, .errlen = errlen};
  size_t len = strlen(ps.text);
  bool ok = false;
  if (len > PT_MAX_TEMPLATE_LEN) {
    pt_error(&ps, "longer than %d bytes", PT_MAX_TEMPLATE_LEN);
    goto done;
  }
  t->storage = malloc(2 * len + 2);
  if (!t->storage) goto done;
  ps.out = t->storage;
  if (*ps.p != '/') {
    pt_error(&ps, "must start with '/'");
    goto done;
  }
  ps.p++;
  if (!pt_parse_segments(&ps)) goto done;
  if ((*ps.p == ':' || *ps.p == '.') && !pt_parse_tail(&ps)) goto done;
  if (*ps.p == '}') {
    pt_error(&ps, "unbalanced '}'");
    goto done;
  }
  if (*ps.p != '\0') {
    pt_error(&ps, "unexpected character '%c'", *ps.p);
    goto done;
  }
  ok = true;
done:
  if (!ok) {
    path_template_free(t);
    return NULL;
  }
  return t;
}

void path_template_free(path_template *t) {
  if (!t) return;
  free(t->storage);
  free(t);
}

bool path_template_single_segment(const path_template *t, const pt_variable *v) {
  return v->last - v->first == 1 && t->segments[v->first].kind != PT_DEEP_WILDCARD;
}

char path_template_tail_separator(pt_tail_kind kind) {
  return kind == PT_TAIL_VERB ? ':' : kind == PT_TAIL_SUFFIX ? '.' : '\0';
}

/* Cuts the last segment's ":verb" / ".ext" off when it reads as one. */
static void pt_split_tail(pt_request *r, pt_tail_kind kind) {
  int last = r->n_segments - 1;
  const char *seg = r->segments[last];
  size_t n = r->lengths[last];
  const char *sep = memrchr(seg, path_template_tail_separator(kind), n);
  if (!sep || sep == seg || sep == seg + n - 1) return; /* no separator, empty name or empty tail */
  const char *tail = sep + 1;
  size_t tail_len = (size_t)(seg + n - tail);
  if (kind == PT_TAIL_SUFFIX) {
    if (tail_len > PT_MAX_SUFFIX_LEN) return;
    for (size_t i = 0; i < tail_len; i++)
      if (!pt_is_suffix_char(tail[i])) return;
  }
  r->tail_kind = kind;
  r->tail = tail;
  r->tail_len = tail_len;
  r->lengths[last] = (size_t)(sep - seg);
}

bool pt_request_split(const char *path, pt_tail_kind tail, pt_request *out) {
  memset(out, 0, sizeof(*out));
  if (!path || path[0] != '/') return false;
  size_t len = strnlen(path, PT_MAX_PATH_LEN + 1);
  if (len > PT_MAX_PATH_LEN || len < 2) return false;
  const char *p = path + 1;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || out->n_segments == PT_MAX_REQUEST_SEGMENTS) return false;
    out->segments[out->n_segments] = p;
    out->lengths[out->n_segments] = n;
    out->n_segments++;
    if (!slash) break;
    p = slash + 1;
  }
  out->last_len = out->lengths[out->n_segments - 1];
  pt_request_read_tail(out, tail);
  return true;
}

bool pt_request_read_tail(pt_request *r, pt_tail_kind tail) {
  r->lengths[r->n_segments - 1] = r->last_len;
  r->tail_kind = PT_TAIL_NONE;
  r->tail = NULL;
  r->tail_len = 0;
  if (tail == PT_TAIL_VERB || tail == PT_TAIL_SUFFIX) pt_split_tail(r, tail);
  return r->tail_kind == tail;
}

static bool pt_literal_equals(const char *lit, const char *s, size_t n) {
  return strncmp(lit, s, n) == 0 && lit[n] == '\0';
}

bool path_template_accepts(const path_template *t, const pt_request *req) {
  if (t->tail_kind != req->tail_kind) return false;
  if (t->tail && !pt_literal_equals(t->tail, req->tail, req->tail_len)) return false;
  int i = 0;
  for (; i < t->n_segments; i++) {
    const pt_segment *seg = &t->segments[i];
    if (seg->kind == PT_DEEP_WILDCARD) return true; /* last by construction */
    if (i >= req->n_segments) return false;
    if (seg->kind == PT_LITERAL && !pt_literal_equals(seg->literal, req->segments[i], req->lengths[i]))
      return false;
  }
  return i == req->n_segments;
}

static int pt_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *pt_percent_decode(arena *a, const char *s, size_t n, bool keep_slash) {
  char *out = arena_alloc(a, n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      if (s[i] == '\0') return NULL;
      out[o++] = s[i];
      continue;
    }
    if (n - i < 3) return NULL;
    int hi = pt_hex_value(s[i + 1]), lo = pt_hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return NULL;
    int c = hi * 16 + lo;
    if (c == 0) return NULL;
    if (keep_slash && c == '/') {
      memcpy(out + o, s + i, 3);
      o += 3;
    } else {
      out[o++] = (char)c;
    }
    i += 2;
  }
  out[o] = '\0';
  return out;
}

bool path_template_bind(const path_template *t, const pt_request *req, arena *a,
                        pt_binding out[PT_MAX_VARIABLES], int *n_out) {
  *n_out = 0;
  for (int k = 0; k < t->n_variables; k++) {
    const pt_variable *v = &t->variables[k];
    /* request segments captured: a trailing "**" takes everything left */
    int first = v->first;
    int last = (v->last == t->n_segments && t->segments[v->last - 1].kind == PT_DEEP_WILDCARD)
                   ? req->n_segments
                   : v->last;
    if (first > req->n_segments) first = req->n_segments;
    const char *start = first < req->n_segments ? req->segments[first] : "";
    size_t len = 0;
    if (last > first) {
      const char *end = req->segments[last - 1] + req->lengths[last - 1];
      len = (size_t)(end - start);
    }
    char *value = pt_percent_decode(a, start, len, !path_template_single_segment(t, v));
    if (!value) return false;
    out[*n_out].field_path = v->field_path;
    out[*n_out].value = value;
    (*n_out)++;
  }
  return true;
}
