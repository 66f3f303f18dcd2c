/* Shared between pjson.c (fields, scalars, messages) and pjson_wkt.c (well-known types):
 * the per-call context, error reporting, allocation and the field-level codec entry points. */
#ifndef METRO_PJSON_INTERNAL_H
#define METRO_PJSON_INTERNAL_H

#include "common/pjson.h"

#define PJ_PATH_MAX 512

typedef struct pj_ctx {
  ProtobufCAllocator *alloc; /* NULL = malloc/free */
  pjson_error *err;          /* may be NULL */
  int flags;                 /* PJSON_* encode flags */
  int depth;                 /* message levels entered */
  bool failed;               /* the first error wins */
  size_t path_len;
  char path[PJ_PATH_MAX];
} pj_ctx;

/* A decoded scalar before it is stored into its slot. */
typedef union pj_scalar {
  int32_t i32;
  uint32_t u32;
  int64_t i64;
  uint64_t u64;
  float f;
  double d;
  protobuf_c_boolean b;
  char *s;
  ProtobufCBinaryData bytes;
} pj_scalar;

typedef enum pj_wkt {
  PJ_WKT_NONE, /* an ordinary message, Empty included */
  PJ_WKT_ANY,
  PJ_WKT_TIMESTAMP,
  PJ_WKT_DURATION,
  PJ_WKT_FIELD_MASK,
  PJ_WKT_STRUCT,
  PJ_WKT_VALUE,
  PJ_WKT_LIST_VALUE,
  PJ_WKT_WRAPPER,
} pj_wkt;

/* Records the first error (printf-style) with the current path; always returns false. */
bool pj_fail(pj_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a path segment (".name" or "[index]" when index) and returns the mark to pop to. */
size_t pj_path_push(pj_ctx *c, const char *seg, size_t len, bool index);
void pj_path_pop(pj_ctx *c, size_t mark);

void *pj_alloc(pj_ctx *c, size_t n); /* NULL (and an error recorded) on OOM */
void pj_free(pj_ctx *c, void *p);
char *pj_strndup(pj_ctx *c, const char *s, size_t n);

/* Field shapes, shared by the tree codec (pjson.c) and the streaming writer (pjson_write.c):
 * the size of one value of a type in its slot; whether a repeated field is a map's entries;
 * whether an encoder emits f (set, or defaults wanted through flags). */
size_t pj_slot_size(ProtobufCType t);
bool pj_is_map_entry(const ProtobufCFieldDescriptor *f);
bool pj_field_emitted(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int flags);

/* The registries Any type URLs are resolved against. */
const proto_registry *const *pj_registries(void);

/* Where a field lives in its message. */
static inline void *pj_slot(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  return (char *)m + f->offset;
}

const ProtobufCFieldDescriptor *pj_field_by_name(const ProtobufCMessageDescriptor *d,
                                                 const char *name, size_t len);
/* Field f of m, the sub-message created (and f made its oneof's member) when absent. */
ProtobufCMessage *pj_singular_message(pj_ctx *c, ProtobufCMessage *m,
                                      const ProtobufCFieldDescriptor *f);
/* Grows repeated field f of m by room for `extra` more elements and returns the array; the
 * count stays as it was, so m remains consistent while new elements are added one by one. */
char *pj_repeated_reserve(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                          size_t extra);
/* Stores a decoded scalar into singular field f of m, releasing what it replaces. */
void pj_store_scalar(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                     const pj_scalar *v);

bool pj_decode_message(pj_ctx *c, const json_t *in, ProtobufCMessage *m);
bool pj_decode_field(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                     const json_t *in);
/* A scalar from text (JSON string contents, a map key, a URL parameter). `lenient` accepts
 * what only URL text may say: "true"/"false" for bools, enum numbers. */
bool pj_decode_text(pj_ctx *c, const ProtobufCFieldDescriptor *f, const char *s, size_t n,
                    bool lenient, pj_scalar *out);

json_t *pj_encode_message(pj_ctx *c, const ProtobufCMessage *m);
json_t *pj_encode_field(pj_ctx *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);
json_t *pj_encode_scalar(pj_ctx *c, const ProtobufCFieldDescriptor *f, const void *slot);

pj_wkt pj_wkt_of(const ProtobufCMessageDescriptor *d);
/* JSON forms of the well-known types other than PJ_WKT_NONE (pjson_wkt.c). */
bool pj_wkt_decode(pj_ctx *c, pj_wkt kind, const json_t *in, ProtobufCMessage *m);
json_t *pj_wkt_encode(pj_ctx *c, pj_wkt kind, const ProtobufCMessage *m);

#endif
