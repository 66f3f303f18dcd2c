/* google.api.http path templates: parsing "/v1/{name=stations/ID}:verb" (or Metro's
 * "/v1/reports/{id}.csv") into segments and variables, splitting request paths, and binding
 * percent-decoded variable values. */
#ifndef METRO_PATH_TEMPLATE_H
#define METRO_PATH_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"

#define PT_MAX_TEMPLATE_LEN 1024
#define PT_MAX_SEGMENTS 32     /* per template */
#define PT_MAX_VARIABLES 16    /* per template */
#define PT_MAX_PATH_LEN 4096   /* request path, without query string */
#define PT_MAX_REQUEST_SEGMENTS 64
#define PT_MAX_SUFFIX_LEN 16   /* ".ext": 1 to 16 letters or digits */

typedef enum {
  PT_LITERAL,       /* exact text */
  PT_WILDCARD,      /* "*": one segment */
  PT_DEEP_WILDCARD, /* "**": zero or more segments; only last */
} pt_segment_kind;

typedef struct pt_segment {
  pt_segment_kind kind;
  const char *literal; /* PT_LITERAL only */
} pt_segment;

/* What may follow the last segment, after its separator: a google.api.http ":verb", or
 * Metro's extension, a file-name suffix ".ext" after a last single-segment variable
 * ("{name}.csv", "{name=*}.csv"; [A-Za-z0-9], 1 to PT_MAX_SUFFIX_LEN). Never both. */
typedef enum {
  PT_TAIL_NONE,   /* the last segment is plain */
  PT_TAIL_VERB,   /* ':' */
  PT_TAIL_SUFFIX, /* '.' */
} pt_tail_kind;

/* ':' for a verb, '.' for an extension, '\0' for none. */
char path_template_tail_separator(pt_tail_kind kind);

typedef struct pt_variable {
  const char *field_path; /* "inner.label" */
  int first, last;        /* the segments it captures: [first, last) */
} pt_variable;

typedef struct path_template {
  pt_segment segments[PT_MAX_SEGMENTS];
  int n_segments;
  pt_variable variables[PT_MAX_VARIABLES];
  int n_variables;
  pt_tail_kind tail_kind;
  const char *tail; /* the verb or extension without its separator; NULL with PT_TAIL_NONE */
  char *storage;    /* owns every string above */
} path_template;

/* Parses a template; NULL with a reason in err when malformed. */
path_template *path_template_parse(const char *text, char *err, size_t errlen);
void path_template_free(path_template *t);

/* True when the variable captures exactly one non-"**" segment (its value decodes fully). */
bool path_template_single_segment(const path_template *t, const pt_variable *v);

/* A request path cut into raw (still percent-encoded) segments. */
typedef struct pt_request {
  const char *segments[PT_MAX_REQUEST_SEGMENTS];
  size_t lengths[PT_MAX_REQUEST_SEGMENTS];
  int n_segments;
  size_t last_len;        /* the whole last segment's length, whichever reading is taken */
  pt_tail_kind tail_kind; /* PT_TAIL_NONE when not split */
  const char *tail;       /* the verb or extension, not NUL-terminated; NULL when not split */
  size_t tail_len;
} pt_request;

/* Splits "/a/b/c:verb" or "/a/b/c.ext" into segments. `tail` says which reading of the last
 * segment to take: PT_TAIL_VERB splits off ":verb" at its last ':', PT_TAIL_SUFFIX ".ext" at its
 * last '.' (when ext is 1 to PT_MAX_SUFFIX_LEN letters or digits); the part before must not be
 * empty, nor the verb, else nothing is split. Only a raw ':' or '.' separates (never %3A, %2E).
 * False for a path that is not absolute, too long, has too many or empty segments. */
bool pt_request_split(const char *path, pt_tail_kind tail, pt_request *out);
/* Reads the last segment of a split request again, as `tail` says (PT_TAIL_NONE: whole), without
 * splitting the path anew; true when it reads that way. */
bool pt_request_read_tail(pt_request *r, pt_tail_kind tail);

/* Whether the template's segment kinds and literals accept the request's segments and tail. */
bool path_template_accepts(const path_template *t, const pt_request *req);

typedef struct pt_binding {
  const char *field_path;
  char *value;
} pt_binding;

/* Writes the template's variables' decoded values (into the arena) for a request it accepts.
 * False on invalid percent-encoding (%zz, truncated, or %00). */
bool path_template_bind(const path_template *t, const pt_request *req, arena *a,
                        pt_binding out[PT_MAX_VARIABLES], int *n_out);

/* Percent-decodes n bytes; keep_slash leaves %2F/%2f as is. NULL when malformed. */
char *pt_percent_decode(arena *a, const char *s, size_t n, bool keep_slash);

#endif
