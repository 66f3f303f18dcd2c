/* Route table: turns google.api.http rules into routes, checks them against the request
 * messages, indexes them in a segment trie and matches request paths against it. */
#include "transcoder/routes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transcoder/raw_http.h"

#define RT_MAX_CANDIDATES 64
#define RT_MAX_VISITS 4096
#define RT_MAX_FIELD_DEPTH 16

typedef struct rt_node rt_node;

typedef struct rt_edge {
  const char *literal;
  rt_node *child;
} rt_edge;

struct rt_node {
  rt_edge *edges; /* sorted by literal */
  int n_edges, cap_edges;
  rt_node *wildcard; /* "*" */
  rt_node *deep;     /* "**": routes ending in it match any remainder */
  const route **routes;
  int n_routes, cap_routes;
};

struct route_table {
  arena *mem;
  route *routes;
  int n_routes;
  rt_node *root;
};

typedef struct rt_builder {
  route_table *t;
  const descset *d;
  int cap_routes;
  char *err;
  size_t errlen;
  bool failed;
} rt_builder;

static void rt_fail(rt_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rt_fail(rt_builder *b, const char *fmt, ...) {
  if (b->failed) return;
  b->failed = true;
  if (!b->err || !b->errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err, b->errlen, fmt, ap);
  va_end(ap);
}

/* ---- checking field paths against the request message ---- */

static const Google__Protobuf__FieldDescriptorProto *rt_field(const Google__Protobuf__DescriptorProto *m,
                                                              const char *name, size_t n) {
  for (size_t i = 0; i < m->n_field; i++)
    if (m->field[i]->name && strncmp(m->field[i]->name, name, n) == 0 && m->field[i]->name[n] == '\0')
      return m->field[i];
  return NULL;
}

/* NULL when `path` names a non-repeated field chain of `msg_name`, else why not. */
static const char *rt_check_field_path(const descset *d, const char *msg_name, const char *path) {
  const Google__Protobuf__DescriptorProto *m = descset_message(d, msg_name);
  if (!m) return NULL; /* message not described: nothing to check against */
  const char *p = path;
  for (int depth = 0; depth < RT_MAX_FIELD_DEPTH; depth++) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    const Google__Protobuf__FieldDescriptorProto *f = rt_field(m, p, n);
    if (!f) return "no such field";
    if (f->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED && dot)
      return "repeated field in the middle of a path";
    if (!dot) return NULL;
    if (f->type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE)
      return "non-message field in the middle of a path";
    m = descset_message(d, f->type_name);
    if (!m) return NULL;
    p = dot + 1;
  }
  return "field path too deep";
}

/* ---- the trie ---- */

static rt_node *rt_node_new(route_table *t) { return arena_alloc(t->mem, sizeof(rt_node)); }

static rt_node *rt_literal_child(route_table *t, rt_node *n, const char *literal) {
  int lo = 0, hi = n->n_edges;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    int c = strcmp(n->edges[mid].literal, literal);
    if (c == 0) return n->edges[mid].child;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  if (n->n_edges == n->cap_edges) {
    int cap = n->cap_edges ? n->cap_edges * 2 : 4;
    rt_edge *edges = arena_alloc(t->mem, (size_t)cap * sizeof(rt_edge));
    if (n->n_edges) memcpy(edges, n->edges, (size_t)n->n_edges * sizeof(rt_edge));
    n->edges = edges;
    n->cap_edges = cap;
  }
  memmove(&n->edges[lo + 1], &n->edges[lo], (size_t)(n->n_edges - lo) * sizeof(rt_edge));
  n->edges[lo].literal = literal;
  n->edges[lo].child = rt_node_new(t);
  n->n_edges++;
  return n->edges[lo].child;
}

static const rt_node *rt_find_literal(const rt_node *n, const char *s, size_t len) {
  int lo = 0, hi = n->n_edges;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    const char *lit = n->edges[mid].literal;
    int c = strncmp(lit, s, len);
    if (c == 0 && lit[len] != '\0') c = 1;
    if (c == 0) return n->edges[mid].child;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* Whether two templates end alike: no tail, or the same ":verb", or the same ".ext". */
static bool rt_same_tail(const path_template *a, const path_template *b) {
  if (a->tail_kind != b->tail_kind) return false;
  return !a->tail || strcmp(a->tail, b->tail) == 0;
}

static void rt_insert(rt_builder *b, const route *r) {
  route_table *t = b->t;
  rt_node *n = t->root;
  for (int i = 0; i < r->tpl->n_segments; i++) {
    const pt_segment *seg = &r->tpl->segments[i];
    rt_node **slot = seg->kind == PT_WILDCARD ? &n->wildcard : seg->kind == PT_DEEP_WILDCARD ? &n->deep : NULL;
    if (!slot) {
      n = rt_literal_child(t, n, seg->literal);
      continue;
    }
    if (!*slot) *slot = rt_node_new(t);
    n = *slot;
  }
  for (int i = 0; i < n->n_routes; i++) {
    const route *o = n->routes[i];
    if (strcmp(o->http_method, r->http_method) == 0 && rt_same_tail(o->tpl, r->tpl)) {
      rt_fail(b, "route %s %s of %s clashes with %s %s of %s", r->http_method, r->template_text,
              r->method->path, o->http_method, o->template_text, o->method->path);
      return;
    }
  }
  if (n->n_routes == n->cap_routes) {
    int cap = n->cap_routes ? n->cap_routes * 2 : 2;
    const route **routes = arena_alloc(t->mem, (size_t)cap * sizeof(*routes));
    if (n->n_routes) memcpy(routes, n->routes, (size_t)n->n_routes * sizeof(*routes));
    n->routes = routes;
    n->cap_routes = cap;
  }
  n->routes[n->n_routes++] = r;
}

/* ---- building ---- */

static void rt_destroy_template(void *p) { path_template_free(p); }

static void rt_add_rule(rt_builder *b, const descset_method *m, const Google__Api__HttpRule *rule,
                        int index) {
  const char *verb = NULL, *text = NULL;
  switch (rule->pattern_case) {
    case GOOGLE__API__HTTP_RULE__PATTERN_GET: verb = "GET"; text = rule->get; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_PUT: verb = "PUT"; text = rule->put; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_POST: verb = "POST"; text = rule->post; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_DELETE: verb = "DELETE"; text = rule->delete_; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_PATCH: verb = "PATCH"; text = rule->patch; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM:
      if (rule->custom) {
        verb = rule->custom->kind;
        text = rule->custom->path;
      }
      break;
    default: break;
  }
  if (!verb || !verb[0] || !text) {
    rt_fail(b, "%s: google.api.http binding %d has no pattern", m->path, index);
    return;
  }
  char why[512];
  path_template *tpl = path_template_parse(text, why, sizeof why);
  if (!tpl) {
    rt_fail(b, "%s: %s", m->path, why);
    return;
  }
  arena_defer(b->t->mem, rt_destroy_template, tpl);
  bool raw_in = raw_http_is_request_type(m->input_type), raw_out = raw_http_is_response_type(m->output_type);
  for (int i = 0; i < tpl->n_variables && !raw_in; i++) {
    const char *bad = rt_check_field_path(b->d, m->input_type, tpl->variables[i].field_path);
    if (bad) {
      rt_fail(b, "%s: %s %s: variable %s: %s in %s", m->path, verb, text,
              tpl->variables[i].field_path, bad, m->input_type);
      return;
    }
  }
  const char *body = rule->body ? rule->body : "";
  if (raw_in && body[0] && strcmp(body, "*") != 0) {
    rt_fail(b, "%s: a raw request (%s) takes body \"*\" or none, not \"%s\"", m->path, m->input_type, body);
    return;
  }
  if (body[0] && strcmp(body, "*") != 0) {
    const Google__Protobuf__DescriptorProto *in = descset_message(b->d, m->input_type);
    if (in && !rt_field(in, body, strlen(body))) {
      rt_fail(b, "%s: body \"%s\" is not a field of %s", m->path, body, m->input_type);
      return;
    }
  }
  const char *response_body = rule->response_body ? rule->response_body : "";
  if (raw_out && response_body[0]) {
    rt_fail(b, "%s: a raw response (%s) takes no response_body", m->path, m->output_type);
    return;
  }
  if (response_body[0]) {
    const Google__Protobuf__DescriptorProto *out = descset_message(b->d, m->output_type);
    if (out && !rt_field(out, response_body, strlen(response_body))) {
      rt_fail(b, "%s: response_body \"%s\" is not a field of %s", m->path, response_body, m->output_type);
      return;
    }
  }
  route *r = &b->t->routes[b->t->n_routes++];
  r->method = m;
  r->http_method = verb;
  r->template_text = text;
  r->body = body;
  r->response_body = response_body;
  r->tpl = tpl;
  r->binding_index = index;
  r->raw_request = raw_in;
  r->raw_response = raw_out;
}

route_table *route_table_build(const descset *d, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  route_table *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->mem = arena_create(16 * 1024);
  t->root = rt_node_new(t);
  rt_builder b = {.t = t, .d = d, .err = err, .errlen = errlen};

  const descset_service *services;
  int n_services = descset_services(d, &services);
  int total = 0;
  for (int s = 0; s < n_services; s++)
    for (int k = 0; k < services[s].n_methods; k++) {
      const Google__Api__HttpRule *rule = services[s].methods[k].http;
      if (rule) total += 1 + (int)rule->n_additional_bindings;
    }
  t->routes = arena_alloc(t->mem, (size_t)(total + 1) * sizeof(route));
  for (int s = 0; s < n_services && !b.failed; s++)
    for (int k = 0; k < services[s].n_methods && !b.failed; k++) {
      const descset_method *m = &services[s].methods[k];
      if (!m->http) continue;
      rt_add_rule(&b, m, m->http, 0);
      /* additional bindings may not nest further (google/api/http.proto); deeper ones are ignored */
      for (size_t i = 0; i < m->http->n_additional_bindings && !b.failed; i++)
        rt_add_rule(&b, m, m->http->additional_bindings[i], (int)i + 1);
    }
  for (int i = 0; i < t->n_routes && !b.failed; i++) rt_insert(&b, &t->routes[i]);
  if (b.failed) {
    route_table_free(t);
    return NULL;
  }
  return t;
}

void route_table_free(route_table *t) {
  if (!t) return;
  arena_destroy(t->mem);
  free(t);
}

int route_table_routes(const route_table *t, const route **out) {
  *out = t->routes;
  return t->n_routes;
}

/* ---- matching ---- */

typedef struct rt_search {
  const pt_request *req;
  const route *found[RT_MAX_CANDIDATES];
  int n_found;
  int visits;
} rt_search;

static bool rt_tail_accepts(const route *r, const pt_request *req) {
  const path_template *t = r->tpl;
  if (t->tail_kind != req->tail_kind) return false;
  return !t->tail || (strncmp(t->tail, req->tail, req->tail_len) == 0 && t->tail[req->tail_len] == '\0');
}

static void rt_take(rt_search *s, const rt_node *n) {
  for (int i = 0; i < n->n_routes && s->n_found < RT_MAX_CANDIDATES; i++)
    if (rt_tail_accepts(n->routes[i], s->req)) s->found[s->n_found++] = n->routes[i];
}

/* Collects the routes accepting req's segments from index i, most specific first. */
static void rt_collect(const rt_node *n, int i, rt_search *s) {
  if (++s->visits > RT_MAX_VISITS) return;
  const pt_request *req = s->req;
  if (i == req->n_segments) {
    rt_take(s, n);
  } else {
    const rt_node *lit = rt_find_literal(n, req->segments[i], req->lengths[i]);
    if (lit) rt_collect(lit, i + 1, s);
    if (n->wildcard) rt_collect(n->wildcard, i + 1, s);
  }
  if (n->deep) rt_take(s, n->deep);
}

/* Candidates for a path. The last segment is read as "name:verb", then as "name.ext": the first
 * reading some route takes decides; otherwise the whole last segment is a plain segment. False
 * for an unusable path. */
static bool rt_candidates(const route_table *t, const char *path, pt_request *req, rt_search *s) {
  static const pt_tail_kind readings[] = {PT_TAIL_VERB, PT_TAIL_SUFFIX, PT_TAIL_NONE};
  memset(s, 0, sizeof(*s));
  s->req = req;
  if (!pt_request_split(path, PT_TAIL_NONE, req)) return false; /* once: the readings only cut the last segment */
  for (size_t i = 0; i < sizeof readings / sizeof readings[0]; i++) {
    if (!pt_request_read_tail(req, readings[i])) continue; /* the last segment does not read that way */
    s->visits = 0;
    rt_collect(t->root, 0, s);
    if (s->n_found) return true;
  }
  return true;
}

route_result route_table_match(const route_table *t, arena *a, const char *http_method,
                               const char *path, route_match *out) {
  memset(out, 0, sizeof(*out));
  pt_request req;
  rt_search s;
  if (!t || !http_method || !rt_candidates(t, path, &req, &s) || s.n_found == 0)
    return ROUTE_NOT_FOUND;
  for (int i = 0; i < s.n_found; i++) {
    const route *r = s.found[i];
    if (strcmp(r->http_method, http_method) != 0) continue;
    if (!path_template_bind(r->tpl, &req, a, out->bindings, &out->n_bindings)) {
      out->n_bindings = 0;
      return ROUTE_NOT_FOUND;
    }
    out->route = r;
    return ROUTE_FOUND;
  }
  return ROUTE_METHOD_NOT_ALLOWED;
}

static int rt_method_rank(const char *m) {
  static const char *const order[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
    if (strcmp(order[i], m) == 0) return i;
  return (int)(sizeof order / sizeof order[0]);
}

static int rt_cmp_method(const void *x, const void *y) {
  const char *a = *(const char *const *)x, *b = *(const char *const *)y;
  int ra = rt_method_rank(a), rb = rt_method_rank(b);
  if (ra != rb) return ra - rb;
  return strcmp(a, b);
}

const char *route_table_allowed(const route_table *t, arena *a, const char *path) {
  pt_request req;
  rt_search s;
  if (!t || !rt_candidates(t, path, &req, &s) || s.n_found == 0) return "";
  const char *methods[RT_MAX_CANDIDATES];
  int n = 0;
  size_t len = 1;
  for (int i = 0; i < s.n_found; i++) {
    bool seen = false;
    for (int k = 0; k < n && !seen; k++) seen = strcmp(methods[k], s.found[i]->http_method) == 0;
    if (seen) continue;
    methods[n++] = s.found[i]->http_method;
    len += strlen(s.found[i]->http_method) + 2;
  }
  qsort(methods, (size_t)n, sizeof(methods[0]), rt_cmp_method);
  char *out = arena_alloc(a, len);
  for (int i = 0; i < n; i++) {
    if (i) strcat(out, ", ");
    strcat(out, methods[i]);
  }
  return out;
}
