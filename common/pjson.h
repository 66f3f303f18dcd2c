/* The proto3 JSON mapping (protobuf.dev/programming-guides/proto3/#json) in both directions,
 * driven only by protobuf-c descriptors, with jansson values: used by the REST transcoder. */
#ifndef METRO_PJSON_H
#define METRO_PJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/proto_registry.h"

/* Messages nested deeper than this (counting every message level, google.protobuf.Value
 * excepted, so a JSON document inside a Struct may nest about as deep) are refused. */
#define PJSON_MAX_DEPTH 32

/* What went wrong and where: `field` is the JSON path of the offending value as the input
 * spelled it, e.g. "payload.fInt32", "rInt32[2]", "mStringInner[k].label" ("" for the root). */
typedef struct pjson_error {
  char message[256];
  char field[128];
} pjson_error;

enum {
  PJSON_EMIT_DEFAULTS = 1 << 0,  /* also emit scalar, repeated and map fields at their default
                                    (unset sub-messages and oneof members stay omitted) */
  PJSON_ORIGINAL_NAMES = 1 << 1, /* proto field names instead of lowerCamelCase json names */
};

/* Registries (NULL-terminated, kept by reference) that resolve google.protobuf.Any type URLs.
 * Call once at start-up; until then the standard and production protos (metro_proto_registry)
 * are searched. */
void pjson_set_registries(const proto_registry *const *regs);

/* Decodes `in` into msg, which is already initialised (its INIT macro or init function); what
 * msg already holds is merged into, like protobuf's MergeFrom (repeated fields are appended to).
 * Accepts json names and proto names; an unknown field, a field given twice or two members of
 * one oneof are errors. JSON null leaves a field as it is (google.protobuf.Value: null_value).
 * Every allocation is made with `alloc` (NULL = malloc, protobuf-c's default) and hangs off msg
 * exactly as protobuf_c_message_unpack would leave it, so after success or failure msg is always
 * consistent: safe to pack, and to free. With an arena allocator nothing needs freeing; with
 * NULL, release it with protobuf_c_message_free_unpacked(msg, NULL) when msg itself was malloc'ed,
 * or with pjson_clear(msg, NULL) when it lives on the stack or inside something else.
 * On failure err (may be NULL) says why. */
bool pjson_decode(const json_t *in, ProtobufCMessage *msg, ProtobufCAllocator *alloc,
                  pjson_error *err);

/* Parses len bytes of text as JSON (duplicate keys and NUL characters refused; a syntax error
 * reports jansson's line and column), then decodes it as pjson_decode does. */
bool pjson_decode_text(const char *text, size_t len, ProtobufCMessage *msg,
                       ProtobufCAllocator *alloc, pjson_error *err);

/* The JSON form of msg (a new reference): an object, or a string/number/... for the well-known
 * types with such a form. NULL when msg cannot be expressed (a string that is not UTF-8, a
 * Timestamp or Duration out of range, an Any of an unknown type, nesting beyond
 * PJSON_MAX_DEPTH); pjson_encode_err then says why in err (may be NULL). */
json_t *pjson_encode(const ProtobufCMessage *msg, int flags);
json_t *pjson_encode_err(const ProtobufCMessage *msg, int flags, pjson_error *err);

/* ---- streaming encoder (pjson_write.c): the same JSON as json_dumps(pjson_encode(...)) in
 * meaning, written straight into bytes with no json_t tree. Doubles and floats take their
 * shortest round-tripping decimal form; an integral value keeps jansson's ".0" ("3.0"). ---- */

/* A growing malloc'd byte buffer; start it zeroed, release it with pjson_buf_free. */
typedef struct pjson_buf {
  char *data; /* NUL-terminated after a successful pjson_write */
  size_t len;
  size_t cap;
} pjson_buf;

void pjson_buf_free(pjson_buf *b);

/* Appends the JSON form of msg to out. On failure (the same cases as pjson_encode, or out of
 * memory) out is left as it was and err (may be NULL) says why. */
bool pjson_write(const ProtobufCMessage *msg, int flags, pjson_buf *out, pjson_error *err);

/* pjson_write into memory owned by arena a (freed with it); *len gets the length. NULL on
 * failure. */
char *pjson_write_arena(arena *a, const ProtobufCMessage *msg, int flags, size_t *len,
                        pjson_error *err);

/* The shortest decimal that reads back (strtod / strtof) as exactly v, in JSON number syntax
 * (jansson's ".0" kept for integral values; exponents as "1e-7"); at most PJSON_NUMBER_MAX - 1
 * characters, NUL-terminated, never longer than jansson's "%.17g" rendering. v must be
 * finite. Returns the length. */
#define PJSON_NUMBER_MAX 32
size_t pjson_format_double(double v, char *out);
size_t pjson_format_float(float v, char *out);

/* Sets the field at a dot-separated path of proto or json names ("inner.label") from its text,
 * as URL path variables and query parameters carry it: numbers (also "1e3", "NaN",
 * "Infinity"), "true"/"false", enums by name or number, bytes in base64 or base64url,
 * strings as they are, Timestamp/Duration/FieldMask/wrappers in their JSON string form. A
 * repeated field gets the value appended; missing intermediate messages are created. Errors:
 * an unknown field, a map, a message without a text form, a value that does not parse.
 * Allocation and consistency as for pjson_decode. */
bool pjson_set_path(ProtobufCMessage *msg, const char *path, const char *value,
                    ProtobufCAllocator *alloc, pjson_error *err);

/* Frees (through alloc, NULL = free) everything msg owns and re-initialises it; msg itself is
 * kept. For messages filled with the default allocator that do not live on the heap. */
void pjson_clear(ProtobufCMessage *msg, ProtobufCAllocator *alloc);

#endif
