/* The REST route table: every google.api.http binding of a descriptor set, in a segment trie
 * matched per request (literal before "*" before "**"), with 404/405 and the Allow list. */
#ifndef METRO_ROUTES_H
#define METRO_ROUTES_H

#include "common/arena.h"
#include "common/descset.h"
#include "transcoder/path_template.h"

typedef struct route {
  const descset_method *method;
  const char *http_method;   /* "GET", "POST", ... or a custom kind */
  const char *template_text; /* as written: "/v1/{name}:verb" */
  const char *body;          /* "" none, "*" all, else a field path */
  const char *response_body; /* "" the whole response, else a field path */
  const path_template *tpl;
  int binding_index; /* 0 the main rule, i > 0 additional_bindings[i - 1] */
  bool raw_request;  /* takes metro.api.v1.HttpRequest: variables fill path_params by name */
  bool raw_response; /* answers metro.api.v1.HttpResponse */
} route;

typedef pt_binding route_binding;

typedef struct route_match {
  const route *route;
  route_binding bindings[PT_MAX_VARIABLES];
  int n_bindings;
} route_match;

typedef struct route_table route_table;

/* Builds from every annotated method. Two bindings claiming one (HTTP method, template up to
 * variable names) fail with an error naming both; so do malformed templates, field paths the
 * request message lacks, and rules without a pattern (naming the method). A raw request
 * (metro.api.v1.HttpRequest) takes any variable names and a body of "*" or none; a raw
 * response takes no response_body. */
route_table *route_table_build(const descset *d, char *err, size_t errlen);
void route_table_free(route_table *t);

/* Every route, in declaration order. */
int route_table_routes(const route_table *t, const route **out);

typedef enum { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_METHOD_NOT_ALLOWED } route_result;

/* Matches a path (no query string). Values are decoded into the arena. A path whose variables
 * carry invalid percent-escapes is not found. */
route_result route_table_match(const route_table *t, arena *a, const char *http_method,
                               const char *path, route_match *out);

/* The Allow header value for a path ("GET, POST"), or "" when nothing matches it. */
const char *route_table_allowed(const route_table *t, arena *a, const char *path);

#endif
