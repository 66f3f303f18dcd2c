/* Shared between pjson_write.c (buffer, scalars, messages) and pjson_write_wkt.c (well-known
 * types) of the streaming proto3 JSON encoder. */
#ifndef METRO_PJSON_WRITE_INTERNAL_H
#define METRO_PJSON_WRITE_INTERNAL_H

#include "common/pjson_internal.h"

typedef struct pjw {
  pj_ctx c; /* flags, depth, error and path, as the tree encoder keeps them */
  pjson_buf *b;
} pjw;

/* Appending; false (and an error recorded) when memory runs out. */
bool pjw_put(pjw *w, const char *s, size_t n);
bool pjw_putc(pjw *w, char ch);
/* A JSON string literal of n bytes of UTF-8 (false when they are not UTF-8). */
bool pjw_string(pjw *w, const char *s, size_t n);
/* A message in its JSON form (counts one nesting level unless it is a google.protobuf.Value). */
bool pjw_message(pjw *w, const ProtobufCMessage *m);
/* The ordinary fields of m as `"name":value` members, each preceded by a comma unless *first. */
bool pjw_fields(pjw *w, const ProtobufCMessage *m, bool *first);
/* One field's value: a scalar, an array or a map object. */
bool pjw_field(pjw *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);
bool pjw_scalar(pjw *w, const ProtobufCFieldDescriptor *f, const void *slot);
/* The JSON form of a well-known type other than PJ_WKT_NONE. */
bool pjw_wkt(pjw *w, pj_wkt kind, const ProtobufCMessage *m);

#endif
