/* The proto3 JSON mapping for ordinary messages: field names, scalars, repeated fields, maps,
 * oneofs, nesting, and the public entry points; well-known types live in pjson_wkt.c. */
#include "common/pjson_internal.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/text.h"

/* ---- context: errors, paths, allocation ---- */

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong form, no surrogate,
 * nothing above U+10FFFF, as text_utf8_length checks), or 0 when there is none. */
static int utf8_sequence(const unsigned char *p) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  /* the range the second byte must fall in, by lead byte */
  unsigned lo = 0x80, hi = 0xbf;
  int len;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c >= 0xe0 && c <= 0xef) len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (int i = 2; i < len; i++)
    if ((p[i] & 0xc0) != 0x80) return 0;
  return len;
}

/* An error goes back to clients inside JSON, which must be UTF-8: user text quoted in it may be
 * anything, and truncating it ("%.64s", a full buffer) can split a sequence; every byte that
 * starts no well-formed sequence becomes '?'. */
static void utf8_repair(char *s) {
  unsigned char *p = (unsigned char *)s;
  while (*p) {
    int len = utf8_sequence(p);
    if (len == 0) *p++ = '?';
    else p += len;
  }
}

bool pj_fail(pj_ctx *c, const char *fmt, ...) {
  if (c->failed) return false;
  c->failed = true;
  if (!c->err) return false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
  va_end(ap);
  size_t n = c->path_len < sizeof c->err->field ? c->path_len : sizeof c->err->field - 1;
  memcpy(c->err->field, c->path, n);
  c->err->field[n] = '\0';
  utf8_repair(c->err->message);
  utf8_repair(c->err->field);
  return false;
}

size_t pj_path_push(pj_ctx *c, const char *seg, size_t len, bool index) {
  size_t mark = c->path_len;
  size_t room = sizeof c->path - 1 - c->path_len;
  const char *open = index ? "[" : (c->path_len ? "." : "");
  const char *close = index ? "]" : "";
  int n = snprintf(c->path + c->path_len, room + 1, "%s%.*s%s", open, (int)(len > 200 ? 200 : len),
                   seg, close);
  if (n > 0) c->path_len += (size_t)n > room ? room : (size_t)n;
  return mark;
}

void pj_path_pop(pj_ctx *c, size_t mark) {
  c->path_len = mark;
  c->path[mark] = '\0';
}

void *pj_alloc(pj_ctx *c, size_t n) {
  if (n == 0) n = 1;
  void *p = c->alloc ? c->alloc->alloc(c->alloc->allocator_data, n) : malloc(n);
  if (!p) {
    pj_fail(c, "out of memory");
    return NULL;
  }
  memset(p, 0, n);
  return p;
}

void pj_free(pj_ctx *c, void *p) {
  if (!p) return;
  if (c->alloc)
    c->alloc->free(c->alloc->allocator_data, p);
  else
    free(p);
}

char *pj_strndup(pj_ctx *c, const char *s, size_t n) {
  if (n == SIZE_MAX) {
    pj_fail(c, "out of memory");
    return NULL;
  }
  char *d = pj_alloc(c, n + 1);
  if (d) memcpy(d, s, n);
  return d;
}

static void ctx_init(pj_ctx *c, ProtobufCAllocator *alloc, pjson_error *err, int flags) {
  memset(c, 0, sizeof *c);
  c->alloc = alloc;
  c->err = err;
  c->flags = flags;
  if (err) err->message[0] = err->field[0] = '\0';
}

/* ---- registries ---- */

static const proto_registry *const *registries;
static const proto_registry *const default_registries[] = {&metro_proto_registry, NULL};

void pjson_set_registries(const proto_registry *const *regs) { registries = regs; }

const proto_registry *const *pj_registries(void) {
  return registries ? registries : default_registries;
}

/* ---- names ---- */

/* protoc's json_name: underscores dropped, the letter after one upper-cased. */
static size_t json_name(const char *proto, char *out, size_t cap) {
  size_t o = 0;
  bool upper = false;
  for (const char *p = proto; *p && o + 1 < cap; p++) {
    if (*p == '_') {
      upper = true;
      continue;
    }
    out[o++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
    upper = false;
  }
  out[o] = '\0';
  return o;
}

static bool json_name_equals(const char *proto, const char *key, size_t len) {
  char buf[256];
  if (strlen(proto) >= sizeof buf) return false;
  size_t n = json_name(proto, buf, sizeof buf);
  return n == len && memcmp(buf, key, len) == 0;
}

const ProtobufCFieldDescriptor *pj_field_by_name(const ProtobufCMessageDescriptor *d,
                                                 const char *name, size_t len) {
  for (unsigned i = 0; i < d->n_fields; i++) {
    const char *p = d->fields[i].name;
    if (strlen(p) == len && memcmp(p, name, len) == 0) return &d->fields[i];
  }
  for (unsigned i = 0; i < d->n_fields; i++)
    if (json_name_equals(d->fields[i].name, name, len)) return &d->fields[i];
  return NULL;
}

/* ---- field shapes ---- */

size_t pj_slot_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: return sizeof(int64_t);
  case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
  default: return sizeof(int32_t); /* 32-bit integers, enums, float */
  }
}

static const char *type_name(ProtobufCType t) {
  static const char *const names[] = {
      [PROTOBUF_C_TYPE_INT32] = "int32",       [PROTOBUF_C_TYPE_SINT32] = "sint32",
      [PROTOBUF_C_TYPE_SFIXED32] = "sfixed32", [PROTOBUF_C_TYPE_INT64] = "int64",
      [PROTOBUF_C_TYPE_SINT64] = "sint64",     [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
      [PROTOBUF_C_TYPE_UINT32] = "uint32",     [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
      [PROTOBUF_C_TYPE_UINT64] = "uint64",     [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
      [PROTOBUF_C_TYPE_FLOAT] = "float",       [PROTOBUF_C_TYPE_DOUBLE] = "double",
      [PROTOBUF_C_TYPE_BOOL] = "bool",         [PROTOBUF_C_TYPE_ENUM] = "enum",
      [PROTOBUF_C_TYPE_STRING] = "string",     [PROTOBUF_C_TYPE_BYTES] = "bytes",
      [PROTOBUF_C_TYPE_MESSAGE] = "message",
  };
  return (unsigned)t < sizeof names / sizeof names[0] && names[t] ? names[t] : "?";
}

static const char *json_type_name(const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER:
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

bool pj_is_map_entry(const ProtobufCFieldDescriptor *f) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) return false;
  const ProtobufCMessageDescriptor *e = f->descriptor;
  if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2) return false;
  if (strcmp(e->fields[0].name, "key") != 0 || strcmp(e->fields[1].name, "value") != 0)
    return false;
  /* protoc names the entry <FieldInCamelCase>Entry */
  size_t n = strlen(e->short_name);
  return n > 5 && strcmp(e->short_name + n - 5, "Entry") == 0;
}

static bool is_message_type(const ProtobufCFieldDescriptor *f, const char *full_name) {
  return f->type == PROTOBUF_C_TYPE_MESSAGE &&
         strcmp(((const ProtobufCMessageDescriptor *)f->descriptor)->name, full_name) == 0;
}

static bool is_null_value_enum(const ProtobufCFieldDescriptor *f) {
  return f->type == PROTOBUF_C_TYPE_ENUM &&
         strcmp(((const ProtobufCEnumDescriptor *)f->descriptor)->name,
                "google.protobuf.NullValue") == 0;
}

/* ---- releasing what a slot holds ---- */

static void release_value(pj_ctx *c, const ProtobufCFieldDescriptor *f, void *slot) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_STRING: {
    char *s = *(char **)slot;
    if (s && s != (const char *)f->default_value && s != protobuf_c_empty_string) pj_free(c, s);
    *(char **)slot = NULL;
    break;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    ProtobufCBinaryData *b = slot;
    const ProtobufCBinaryData *def = f->default_value;
    if (b->data && (!def || def->data != b->data)) pj_free(c, b->data);
    b->data = NULL;
    b->len = 0;
    break;
  }
  case PROTOBUF_C_TYPE_MESSAGE: {
    ProtobufCMessage *sub = *(ProtobufCMessage **)slot;
    if (sub) protobuf_c_message_free_unpacked(sub, c->alloc);
    *(ProtobufCMessage **)slot = NULL;
    break;
  }
  default: break;
  }
}

/* The value a field has when nothing was set. */
static void write_default(const ProtobufCFieldDescriptor *f, void *slot) {
  memset(slot, 0, pj_slot_size(f->type));
  if (f->type == PROTOBUF_C_TYPE_STRING)
    *(const char **)slot = f->default_value ? f->default_value : protobuf_c_empty_string;
}

static void release_field(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  void *slot = pj_slot(m, f);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    size_t *n = (size_t *)((char *)m + f->quantifier_offset);
    char *arr = *(char **)slot;
    size_t es = pj_slot_size(f->type);
    for (size_t i = 0; arr && i < *n; i++) release_value(c, f, arr + i * es);
    pj_free(c, arr);
    *(void **)slot = NULL;
    *n = 0;
    return;
  }
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    uint32_t *which = (uint32_t *)((char *)m + f->quantifier_offset);
    if (*which != f->id) return;
  }
  release_value(c, f, slot);
  write_default(f, slot);
}

void pjson_clear(ProtobufCMessage *m, ProtobufCAllocator *alloc) {
  if (!m) return;
  pj_ctx c;
  ctx_init(&c, alloc, NULL, 0);
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) release_field(&c, m, &d->fields[i]);
  for (unsigned i = 0; i < m->n_unknown_fields; i++) pj_free(&c, m->unknown_fields[i].data);
  pj_free(&c, m->unknown_fields);
  protobuf_c_message_init(d, m);
}

/* Makes f the member of its oneof, releasing the member set before. */
static void oneof_select(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  uint32_t *which = (uint32_t *)((char *)m + f->quantifier_offset);
  if (*which == f->id) return;
  if (*which != 0) {
    const ProtobufCFieldDescriptor *old =
        protobuf_c_message_descriptor_get_field(m->descriptor, (unsigned)*which);
    if (old) release_value(c, old, pj_slot(m, old));
  }
  write_default(f, pj_slot(m, f));
  *which = f->id;
}

ProtobufCMessage *pj_singular_message(pj_ctx *c, ProtobufCMessage *m,
                                      const ProtobufCFieldDescriptor *f) {
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) oneof_select(c, m, f);
  ProtobufCMessage **slot = pj_slot(m, f);
  if (!*slot) {
    const ProtobufCMessageDescriptor *d = f->descriptor;
    ProtobufCMessage *sub = pj_alloc(c, d->sizeof_message);
    if (!sub) return NULL;
    protobuf_c_message_init(d, sub);
    *slot = sub;
  }
  return *slot;
}

void pj_store_scalar(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                     const pj_scalar *v) {
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) oneof_select(c, m, f);
  void *slot = pj_slot(m, f);
  release_value(c, f, slot);
  memcpy(slot, v, pj_slot_size(f->type));
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
      f->type != PROTOBUF_C_TYPE_MESSAGE && f->quantifier_offset)
    *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
}

char *pj_repeated_reserve(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                          size_t extra) {
  size_t *n = (size_t *)((char *)m + f->quantifier_offset);
  char **arr = pj_slot(m, f);
  size_t es = pj_slot_size(f->type);
  if (extra == 0) return *arr;
  if (*n > SIZE_MAX / es - extra) {
    pj_fail(c, "too many elements");
    return NULL;
  }
  char *grown = pj_alloc(c, (*n + extra) * es);
  if (!grown) return NULL;
  if (*n) memcpy(grown, *arr, *n * es);
  pj_free(c, *arr);
  *arr = grown;
  return grown;
}

/* ---- scalars from JSON and text ---- */

/* A JSON-style number: -?digits(.digits)?([eE][+-]?digits)?; *plain when only -?digits. */
static bool number_syntax(const char *s, size_t n, bool *plain) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  size_t start = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  if (i == start) return false;
  *plain = i == n;
  if (i < n && s[i] == '.') {
    size_t f = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == f) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t e = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == e) return false;
  }
  return i == n;
}

static bool is_signed_int(ProtobufCType t) {
  return t == PROTOBUF_C_TYPE_INT32 || t == PROTOBUF_C_TYPE_SINT32 ||
         t == PROTOBUF_C_TYPE_SFIXED32 || t == PROTOBUF_C_TYPE_INT64 ||
         t == PROTOBUF_C_TYPE_SINT64 || t == PROTOBUF_C_TYPE_SFIXED64 ||
         t == PROTOBUF_C_TYPE_ENUM;
}

static bool is_integer_type(ProtobufCType t) {
  return is_signed_int(t) || t == PROTOBUF_C_TYPE_UINT32 || t == PROTOBUF_C_TYPE_FIXED32 ||
         t == PROTOBUF_C_TYPE_UINT64 || t == PROTOBUF_C_TYPE_FIXED64;
}

/* Range-checks the integer -mag (neg) or mag for type t and stores it. */
static bool int_from_parts(pj_ctx *c, ProtobufCType t, bool neg, uint64_t mag, pj_scalar *out) {
  bool wide = pj_slot_size(t) == 8;
  if (is_signed_int(t)) {
    uint64_t max_pos = wide ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
    if (neg ? mag > max_pos + 1 : mag > max_pos)
      return pj_fail(c, "value out of range for %s", type_name(t));
    int64_t v = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    if (wide)
      out->i64 = v;
    else
      out->i32 = (int32_t)v;
  } else {
    if ((neg && mag != 0) || (!wide && mag > UINT32_MAX))
      return pj_fail(c, "value out of range for %s", type_name(t));
    if (wide)
      out->u64 = mag;
    else
      out->u32 = (uint32_t)mag;
  }
  return true;
}

static bool int_from_double(pj_ctx *c, ProtobufCType t, double d, pj_scalar *out) {
  if (!isfinite(d) || floor(d) != d)
    return pj_fail(c, "%s value must be an integer", type_name(t));
  if (fabs(d) >= 18446744073709551616.0) /* 2^64 */
    return pj_fail(c, "value out of range for %s", type_name(t));
  return int_from_parts(c, t, d < 0, (uint64_t)fabs(d), out);
}

static bool int_from_text(pj_ctx *c, ProtobufCType t, const char *s, size_t n, pj_scalar *out) {
  bool plain;
  if (n == 0 || n > 64 || !number_syntax(s, n, &plain))
    return pj_fail(c, "invalid %s value \"%.*s\"", type_name(t), (int)(n > 64 ? 64 : n), s);
  bool neg = s[0] == '-';
  if (!plain) {
    char buf[65];
    memcpy(buf, s, n);
    buf[n] = '\0';
    return int_from_double(c, t, strtod(buf, NULL), out);
  }
  uint64_t mag = 0;
  for (size_t i = neg; i < n; i++) {
    unsigned digit = (unsigned)(s[i] - '0');
    if (mag > (UINT64_MAX - digit) / 10)
      return pj_fail(c, "value out of range for %s", type_name(t));
    mag = mag * 10 + digit;
  }
  return int_from_parts(c, t, neg, mag, out);
}

static bool store_floating(pj_ctx *c, ProtobufCType t, double d, pj_scalar *out) {
  if (t == PROTOBUF_C_TYPE_FLOAT) {
    /* In range when it rounds to a finite float: below FLT_MAX plus half its last unit, so
     * FLT_MAX written with 9 digits (3.4028235e38, a little above it) reads back. */
    if (isfinite(d) && fabs(d) >= 0x1.ffffffp+127) return pj_fail(c, "value out of range for float");
    out->f = (float)d;
  } else {
    out->d = d;
  }
  return true;
}

static bool float_from_text(pj_ctx *c, ProtobufCType t, const char *s, size_t n, pj_scalar *out) {
  static const struct {
    const char *text;
    double value;
  } specials[] = {{"NaN", NAN}, {"Infinity", INFINITY}, {"-Infinity", -INFINITY}};
  for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
    if (strlen(specials[i].text) == n && memcmp(specials[i].text, s, n) == 0)
      return store_floating(c, t, specials[i].value, out);
  bool plain;
  if (n == 0 || n > 64 || !number_syntax(s, n, &plain))
    return pj_fail(c, "invalid %s value \"%.*s\"", type_name(t), (int)(n > 64 ? 64 : n), s);
  char buf[65];
  memcpy(buf, s, n);
  buf[n] = '\0';
  errno = 0;
  double d = strtod(buf, NULL);
  if (errno == ERANGE && isinf(d)) return pj_fail(c, "value out of range for %s", type_name(t));
  return store_floating(c, t, d, out);
}

static bool string_from_text(pj_ctx *c, const char *s, size_t n, pj_scalar *out) {
  if (memchr(s, '\0', n)) return pj_fail(c, "string contains a NUL character");
  char *copy = pj_strndup(c, s, n);
  if (!copy) return false;
  if (text_utf8_length(copy) < 0) {
    pj_free(c, copy);
    return pj_fail(c, "string is not valid UTF-8");
  }
  out->s = copy;
  return true;
}

/* Standard or URL-safe alphabet, padded or not. */
static bool bytes_from_text(pj_ctx *c, const char *s, size_t n, pj_scalar *out) {
  size_t data = n;
  while (data > 0 && n - data < 2 && s[data - 1] == '=') data--;
  if (data < n && n % 4 != 0) return pj_fail(c, "invalid base64: bad padding");
  b64_variant v = memchr(s, '-', data) || memchr(s, '_', data) ? B64_URL_NOPAD : B64_STD_NOPAD;
  out->bytes.len = 0;
  out->bytes.data = NULL;
  if (data == 0) return true;
  uint8_t *buf = pj_alloc(c, b64_decoded_max(data));
  if (!buf) return false;
  size_t len;
  if (!b64_decode(v, s, data, buf, b64_decoded_max(data), &len)) {
    pj_free(c, buf);
    return pj_fail(c, "invalid base64");
  }
  out->bytes.data = buf;
  out->bytes.len = len;
  return true;
}

static bool enum_from_text(pj_ctx *c, const ProtobufCFieldDescriptor *f, const char *s, size_t n,
                           bool lenient, pj_scalar *out) {
  const ProtobufCEnumDescriptor *e = f->descriptor;
  char name[128];
  if (n < sizeof name && !memchr(s, '\0', n)) {
    memcpy(name, s, n);
    name[n] = '\0';
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(e, name);
    if (v) {
      out->i32 = v->value;
      return true;
    }
  }
  bool plain;
  if (lenient && n > 0 && number_syntax(s, n, &plain)) return int_from_text(c, f->type, s, n, out);
  return pj_fail(c, "unknown value \"%.*s\" for enum %s", (int)(n > 64 ? 64 : n), s, e->name);
}

bool pj_decode_text(pj_ctx *c, const ProtobufCFieldDescriptor *f, const char *s, size_t n,
                    bool lenient, pj_scalar *out) {
  memset(out, 0, sizeof *out);
  ProtobufCType t = f->type;
  if (t == PROTOBUF_C_TYPE_ENUM) return enum_from_text(c, f, s, n, lenient, out);
  if (is_integer_type(t)) return int_from_text(c, t, s, n, out);
  switch (t) {
  case PROTOBUF_C_TYPE_FLOAT:
  case PROTOBUF_C_TYPE_DOUBLE: return float_from_text(c, t, s, n, out);
  case PROTOBUF_C_TYPE_BOOL:
    if (lenient && n == 4 && memcmp(s, "true", 4) == 0) return out->b = 1, true;
    if (lenient && n == 5 && memcmp(s, "false", 5) == 0) return out->b = 0, true;
    return pj_fail(c, "expected true or false for bool");
  case PROTOBUF_C_TYPE_STRING: return string_from_text(c, s, n, out);
  case PROTOBUF_C_TYPE_BYTES: return bytes_from_text(c, s, n, out);
  default: return pj_fail(c, "a %s field has no text form", type_name(t));
  }
}

static bool decode_scalar(pj_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *in,
                          pj_scalar *out) {
  ProtobufCType t = f->type;
  memset(out, 0, sizeof *out);
  if (json_is_string(in) && t != PROTOBUF_C_TYPE_BOOL)
    return pj_decode_text(c, f, json_string_value(in), json_string_length(in), false, out);
  if (t == PROTOBUF_C_TYPE_ENUM && json_is_null(in) && is_null_value_enum(f)) return true;
  if (is_integer_type(t)) {
    if (json_is_integer(in)) {
      json_int_t v = json_integer_value(in);
      uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
      return int_from_parts(c, t, v < 0, mag, out);
    }
    if (json_is_real(in)) return int_from_double(c, t, json_real_value(in), out);
  } else if (t == PROTOBUF_C_TYPE_FLOAT || t == PROTOBUF_C_TYPE_DOUBLE) {
    if (json_is_number(in)) return store_floating(c, t, json_number_value(in), out);
  } else if (t == PROTOBUF_C_TYPE_BOOL) {
    if (json_is_boolean(in)) return out->b = json_is_true(in), true;
  }
  const char *want = t == PROTOBUF_C_TYPE_STRING || t == PROTOBUF_C_TYPE_BYTES ? "a string"
                     : t == PROTOBUF_C_TYPE_BOOL                             ? "true or false"
                     : t == PROTOBUF_C_TYPE_ENUM                              ? "a name or number"
                                                                              : "a number";
  return pj_fail(c, "expected %s for %s field, got %s", want, type_name(t), json_type_name(in));
}

/* ---- fields ---- */

/* Decodes one element of a repeated field or a map value into a fresh slot of the array. */
static bool decode_element(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                           const json_t *in) {
  size_t *n = (size_t *)((char *)m + f->quantifier_offset);
  char *arr = *(char **)pj_slot(m, f);
  void *slot = arr + *n * pj_slot_size(f->type);
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
    if (json_is_null(in) && !is_message_type(f, "google.protobuf.Value"))
      return pj_fail(c, "null is not allowed here");
    const ProtobufCMessageDescriptor *d = f->descriptor;
    ProtobufCMessage *sub = pj_alloc(c, d->sizeof_message);
    if (!sub) return false;
    protobuf_c_message_init(d, sub);
    *(ProtobufCMessage **)slot = sub;
    (*n)++;
    return pj_decode_message(c, in, sub);
  }
  if (json_is_null(in)) return pj_fail(c, "null is not allowed here");
  pj_scalar v;
  if (!decode_scalar(c, f, in, &v)) return false;
  memcpy(slot, &v, pj_slot_size(f->type));
  (*n)++;
  return true;
}

static bool decode_repeated(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                            const json_t *in) {
  if (!json_is_array(in)) return pj_fail(c, "expected an array, got %s", json_type_name(in));
  if (json_array_size(in) && !pj_repeated_reserve(c, m, f, json_array_size(in))) return false;
  for (size_t i = 0; i < json_array_size(in); i++) {
    char idx[24];
    int len = snprintf(idx, sizeof idx, "%zu", i);
    size_t mark = pj_path_push(c, idx, (size_t)len, true);
    if (!decode_element(c, m, f, json_array_get(in, i))) return false;
    pj_path_pop(c, mark);
  }
  return true;
}

/* The canonical text of a decoded integer or bool map key: "1", "1.0" and "1e0" all name key 1. */
static void map_key_text(ProtobufCType t, const pj_scalar *k, char *buf, size_t cap) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32: snprintf(buf, cap, "%" PRId32, k->i32); break;
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: snprintf(buf, cap, "%" PRIu32, k->u32); break;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: snprintf(buf, cap, "%" PRId64, k->i64); break;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: snprintf(buf, cap, "%" PRIu64, k->u64); break;
  default: snprintf(buf, cap, "%s", k->b ? "true" : "false"); break;
  }
}

/* One map entry from a JSON member; `seen` (NULL for string keys, which JSON already keeps
 * unique) collects the canonical keys so that a key spelled twice is refused. */
static bool decode_map_entry(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                             const char *key, size_t key_len, const json_t *val, json_t *seen) {
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
  size_t *n = (size_t *)((char *)m + f->quantifier_offset);
  ProtobufCMessage *entry = pj_alloc(c, ed->sizeof_message);
  if (!entry) return false;
  protobuf_c_message_init(ed, entry);
  (*(ProtobufCMessage ***)pj_slot(m, f))[*n] = entry;
  (*n)++;
  pj_scalar k;
  if (!pj_decode_text(c, kf, key, key_len, true, &k)) return false;
  pj_store_scalar(c, entry, kf, &k);
  if (seen) {
    char canon[32];
    map_key_text(kf->type, &k, canon, sizeof canon);
    if (json_object_get(seen, canon)) return pj_fail(c, "map key %s given twice", canon);
    if (json_object_set_new(seen, canon, json_null()) != 0) return pj_fail(c, "out of memory");
  }
  if (json_is_null(val) && !is_message_type(vf, "google.protobuf.Value"))
    return pj_fail(c, "null is not allowed as a map value");
  return pj_decode_field(c, entry, vf, val);
}

static bool decode_map(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                       const json_t *in) {
  if (!json_is_object(in)) return pj_fail(c, "expected an object, got %s", json_type_name(in));
  if (json_object_size(in) && !pj_repeated_reserve(c, m, f, json_object_size(in)))
    return false;
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  json_t *seen = NULL;
  if (ed->fields[0].type != PROTOBUF_C_TYPE_STRING && !(seen = json_object())) return pj_fail(c, "out of memory");
  const char *key;
  size_t key_len;
  json_t *val;
  bool ok = true;
  json_object_keylen_foreach((json_t *)in, key, key_len, val) {
    size_t mark = pj_path_push(c, key, key_len, true);
    if (!(ok = decode_map_entry(c, m, f, key, key_len, val, seen))) break;
    pj_path_pop(c, mark);
  }
  json_decref(seen);
  return ok;
}

bool pj_decode_field(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                     const json_t *in) {
  if (pj_is_map_entry(f)) return json_is_null(in) || decode_map(c, m, f, in);
  if (f->label == PROTOBUF_C_LABEL_REPEATED)
    return json_is_null(in) || decode_repeated(c, m, f, in);
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
    if (json_is_null(in) && !is_message_type(f, "google.protobuf.Value")) return true;
    ProtobufCMessage *sub = pj_singular_message(c, m, f);
    return sub && pj_decode_message(c, in, sub);
  }
  if (json_is_null(in)) return true;
  pj_scalar v;
  if (!decode_scalar(c, f, in, &v)) return false;
  pj_store_scalar(c, m, f, &v);
  return true;
}

/* Index of field f in its message's field table, for the "already seen" bitmap. */
static size_t field_index(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f) {
  return (size_t)(f - d->fields);
}

#define SEEN_BITS 512

static bool seen_test_and_set(uint8_t *seen, size_t i) {
  if (i >= SEEN_BITS) return false;
  bool was = seen[i / 8] >> (i % 8) & 1;
  seen[i / 8] |= (uint8_t)(1u << (i % 8));
  return was;
}

static bool seen_test(const uint8_t *seen, size_t i) {
  return i < SEEN_BITS && (seen[i / 8] >> (i % 8) & 1);
}

/* Refuses a second member of f's oneof named in the same JSON object. */
static bool oneof_check(pj_ctx *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                        const uint8_t *seen) {
  uint32_t which = *(const uint32_t *)((const char *)m + f->quantifier_offset);
  if (which == 0 || which == f->id) return true;
  const ProtobufCFieldDescriptor *other =
      protobuf_c_message_descriptor_get_field(m->descriptor, which);
  if (other && seen_test(seen, field_index(m->descriptor, other)))
    return pj_fail(c, "oneof members \"%s\" and \"%s\" are both set", other->name, f->name);
  return true;
}

static bool decode_fields(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  if (!json_is_object(in))
    return pj_fail(c, "expected an object for %s, got %s", d->name, json_type_name(in));
  uint8_t seen[SEEN_BITS / 8] = {0};
  const char *key;
  size_t key_len;
  json_t *val;
  json_object_keylen_foreach((json_t *)in, key, key_len, val) {
    size_t mark = pj_path_push(c, key, key_len, false);
    const ProtobufCFieldDescriptor *f = pj_field_by_name(d, key, key_len);
    if (!f)
      return pj_fail(c, "unknown field \"%.*s\" in %s", (int)(key_len > 100 ? 100 : key_len),
                     key, d->name);
    bool present = !json_is_null(val) || is_message_type(f, "google.protobuf.Value");
    if (seen_test_and_set(seen, field_index(d, f)))
      return pj_fail(c, "field \"%s\" given more than once", f->name);
    if (present && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && !oneof_check(c, m, f, seen))
      return false;
    if (!pj_decode_field(c, m, f, val)) return false;
    pj_path_pop(c, mark);
  }
  return true;
}

bool pj_decode_message(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  pj_wkt kind = pj_wkt_of(m->descriptor);
  bool counts = kind != PJ_WKT_VALUE;
  if (counts && ++c->depth > PJSON_MAX_DEPTH)
    return pj_fail(c, "messages nested deeper than %d levels", PJSON_MAX_DEPTH);
  bool ok = kind == PJ_WKT_NONE ? decode_fields(c, in, m) : pj_wkt_decode(c, kind, in, m);
  if (counts) c->depth--;
  return ok;
}

/* ---- encoding ---- */

/* float -> the double with the shortest decimal form that reads back as the same float. */
static double float_to_double(float f) {
  char buf[32];
  for (int prec = 6; prec <= 9; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
    if (strtof(buf, NULL) == f) return strtod(buf, NULL);
  }
  return (double)f;
}

static json_t *encode_floating(double d) {
  if (isnan(d)) return json_string("NaN");
  if (isinf(d)) return json_string(d > 0 ? "Infinity" : "-Infinity");
  return json_real(d);
}

static json_t *encode_enum(pj_ctx *c, const ProtobufCFieldDescriptor *f, int32_t v) {
  (void)c;
  if (is_null_value_enum(f)) return json_null();
  const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
  return ev ? json_string(ev->name) : json_integer(v);
}

static json_t *encode_string(pj_ctx *c, const char *s) {
  json_t *j = json_string(s ? s : "");
  if (!j) pj_fail(c, "string is not valid UTF-8");
  return j;
}

static json_t *encode_bytes(pj_ctx *c, const ProtobufCBinaryData *b) {
  char *s = b64_encode_alloc(B64_STD, b->data ? b->data : (const uint8_t *)"", b->len);
  if (!s) {
    pj_fail(c, "out of memory");
    return NULL;
  }
  json_t *j = json_string(s);
  free(s);
  return j;
}

static json_t *encode_u64(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  return json_string(buf);
}

static json_t *encode_i64(int64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  return json_string(buf);
}

json_t *pj_encode_scalar(pj_ctx *c, const ProtobufCFieldDescriptor *f, const void *slot) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)slot);
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)slot);
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: return encode_i64(*(const int64_t *)slot);
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: return encode_u64(*(const uint64_t *)slot);
  case PROTOBUF_C_TYPE_FLOAT: {
    float v = *(const float *)slot;
    return isfinite(v) ? json_real(float_to_double(v)) : encode_floating(v);
  }
  case PROTOBUF_C_TYPE_DOUBLE: return encode_floating(*(const double *)slot);
  case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)slot);
  case PROTOBUF_C_TYPE_ENUM: return encode_enum(c, f, *(const int32_t *)slot);
  case PROTOBUF_C_TYPE_STRING: return encode_string(c, *(char *const *)slot);
  case PROTOBUF_C_TYPE_BYTES: return encode_bytes(c, slot);
  case PROTOBUF_C_TYPE_MESSAGE: {
    const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;
    if (sub) return pj_encode_message(c, sub);
    /* an unset element: its default, as protobuf-c packs it */
    const ProtobufCMessageDescriptor *d = f->descriptor;
    ProtobufCMessage *tmp = calloc(1, d->sizeof_message);
    if (!tmp) return pj_fail(c, "out of memory"), NULL;
    protobuf_c_message_init(d, tmp);
    json_t *j = pj_encode_message(c, tmp);
    free(tmp);
    return j;
  }
  }
  pj_fail(c, "unsupported field type");
  return NULL;
}

static json_t *encode_map_key(pj_ctx *c, const ProtobufCFieldDescriptor *kf, const void *slot,
                              char *buf, size_t cap) {
  json_t *k = pj_encode_scalar(c, kf, slot);
  if (!k) return NULL;
  if (json_is_string(k))
    snprintf(buf, cap, "%s", json_string_value(k));
  else if (json_is_integer(k))
    snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
  else
    snprintf(buf, cap, "%s", json_is_true(k) ? "true" : "false");
  return k;
}

static json_t *encode_map(pj_ctx *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
  ProtobufCMessage *const *entries = *(ProtobufCMessage *const *const *)pj_slot(m, f);
  json_t *obj = json_object();
  for (size_t i = 0; obj && i < n; i++) {
    const ProtobufCMessage *e = entries[i];
    if (!e) continue;
    char key[64];
    json_t *k = encode_map_key(c, &ed->fields[0], pj_slot(e, &ed->fields[0]), key, sizeof key);
    json_t *v = k ? pj_encode_scalar(c, &ed->fields[1], pj_slot(e, &ed->fields[1])) : NULL;
    const char *kstr = json_is_string(k) ? json_string_value(k) : key;
    if (!v || json_object_set_new(obj, kstr, v) != 0) {
      json_decref(k);
      json_decref(obj);
      return NULL;
    }
    json_decref(k);
  }
  return obj;
}

static json_t *encode_repeated(pj_ctx *c, const ProtobufCMessage *m,
                               const ProtobufCFieldDescriptor *f) {
  size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
  const char *arr = *(const char *const *)pj_slot(m, f);
  size_t es = pj_slot_size(f->type);
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    json_t *v = pj_encode_scalar(c, f, arr + i * es);
    if (!v || json_array_append_new(a, v) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

json_t *pj_encode_field(pj_ctx *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  if (pj_is_map_entry(f)) return encode_map(c, m, f);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) return encode_repeated(c, m, f);
  return pj_encode_scalar(c, f, pj_slot(m, f));
}

static bool is_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return false;
  return true;
}

bool pj_field_emitted(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int flags) {
  const void *slot = pj_slot(m, f);
  const char *q = (const char *)m + f->quantifier_offset;
  bool defaults = flags & PJSON_EMIT_DEFAULTS;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) return defaults || *(const size_t *)q > 0;
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) return *(const uint32_t *)q == f->id;
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) return *(ProtobufCMessage *const *)slot != NULL;
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
      f->quantifier_offset)
    return *(const protobuf_c_boolean *)q;
  if (defaults) return true;
  switch (f->type) {
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(char *const *)slot;
    return s && s[0];
  }
  case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)slot)->len > 0;
  default: return !is_zero(slot, pj_slot_size(f->type)); /* -0.0 counts as set, as in protobuf */
  }
}

static json_t *encode_fields(pj_ctx *c, const ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  json_t *obj = json_object();
  if (!obj) return pj_fail(c, "out of memory"), NULL;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (!pj_field_emitted(m, f, c->flags)) continue;
    char jname[256];
    const char *name = f->name;
    if (!(c->flags & PJSON_ORIGINAL_NAMES) && strlen(f->name) < sizeof jname) {
      json_name(f->name, jname, sizeof jname);
      name = jname;
    }
    size_t mark = pj_path_push(c, name, strlen(name), false);
    json_t *v = pj_encode_field(c, m, f);
    if (!v || json_object_set_new(obj, name, v) != 0) {
      json_decref(obj);
      return pj_fail(c, "cannot encode field"), NULL;
    }
    pj_path_pop(c, mark);
  }
  return obj;
}

json_t *pj_encode_message(pj_ctx *c, const ProtobufCMessage *m) {
  pj_wkt kind = pj_wkt_of(m->descriptor);
  bool counts = kind != PJ_WKT_VALUE;
  if (counts && ++c->depth > PJSON_MAX_DEPTH) {
    pj_fail(c, "messages nested deeper than %d levels", PJSON_MAX_DEPTH);
    return NULL;
  }
  json_t *j = kind == PJ_WKT_NONE ? encode_fields(c, m) : pj_wkt_encode(c, kind, m);
  if (counts) c->depth--;
  return j;
}

/* ---- public entry points ---- */

bool pjson_decode(const json_t *in, ProtobufCMessage *msg, ProtobufCAllocator *alloc,
                  pjson_error *err) {
  pj_ctx c;
  ctx_init(&c, alloc, err, 0);
  if (!in || !msg) return pj_fail(&c, "no input");
  return pj_decode_message(&c, in, msg);
}

bool pjson_decode_text(const char *text, size_t len, ProtobufCMessage *msg,
                       ProtobufCAllocator *alloc, pjson_error *err) {
  pj_ctx c;
  ctx_init(&c, alloc, err, 0);
  json_error_t jerr;
  json_t *in = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (!in)
    return pj_fail(&c, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
  bool ok = pj_decode_message(&c, in, msg);
  json_decref(in);
  return ok;
}

json_t *pjson_encode_err(const ProtobufCMessage *msg, int flags, pjson_error *err) {
  pj_ctx c;
  ctx_init(&c, NULL, err, flags);
  if (!msg) return pj_fail(&c, "no message"), NULL;
  json_t *j = pj_encode_message(&c, msg);
  if (!j) pj_fail(&c, "cannot encode %s", msg->descriptor->name);
  return j;
}

json_t *pjson_encode(const ProtobufCMessage *msg, int flags) {
  return pjson_encode_err(msg, flags, NULL);
}

/* ---- field paths from URL text ---- */

/* The message a text value lands in: f itself when singular, a new element when repeated. */
static ProtobufCMessage *path_target_message(pj_ctx *c, ProtobufCMessage *m,
                                             const ProtobufCFieldDescriptor *f) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED) return pj_singular_message(c, m, f);
  if (!pj_repeated_reserve(c, m, f, 1)) return NULL;
  const ProtobufCMessageDescriptor *d = f->descriptor;
  ProtobufCMessage *sub = pj_alloc(c, d->sizeof_message);
  if (!sub) return NULL;
  protobuf_c_message_init(d, sub);
  size_t *n = (size_t *)((char *)m + f->quantifier_offset);
  (*(ProtobufCMessage ***)pj_slot(m, f))[(*n)++] = sub;
  return sub;
}

static bool set_message_text(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                             const char *value) {
  pj_wkt kind = pj_wkt_of(f->descriptor);
  if (kind != PJ_WKT_WRAPPER && kind != PJ_WKT_TIMESTAMP && kind != PJ_WKT_DURATION &&
      kind != PJ_WKT_FIELD_MASK)
    return pj_fail(c, "message field \"%s\" cannot be set from text", f->name);
  ProtobufCMessage *sub = path_target_message(c, m, f);
  if (!sub) return false;
  if (kind == PJ_WKT_WRAPPER) {
    const ProtobufCFieldDescriptor *vf = &sub->descriptor->fields[0];
    pj_scalar v;
    if (!pj_decode_text(c, vf, value, strlen(value), true, &v)) return false;
    pj_store_scalar(c, sub, vf, &v);
    return true;
  }
  json_t *j = json_string(value);
  if (!j) return pj_fail(c, "value is not valid UTF-8");
  bool ok = pj_decode_message(c, j, sub);
  json_decref(j);
  return ok;
}

static bool set_scalar_text(pj_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                            const char *value) {
  pj_scalar v;
  if (!pj_decode_text(c, f, value, strlen(value), true, &v)) return false;
  if (f->label != PROTOBUF_C_LABEL_REPEATED) {
    pj_store_scalar(c, m, f, &v);
    return true;
  }
  char *arr = pj_repeated_reserve(c, m, f, 1);
  if (!arr) {
    release_value(c, f, &v);
    return false;
  }
  size_t *n = (size_t *)((char *)m + f->quantifier_offset);
  memcpy(arr + *n * pj_slot_size(f->type), &v, pj_slot_size(f->type));
  (*n)++;
  return true;
}

bool pjson_set_path(ProtobufCMessage *msg, const char *path, const char *value,
                    ProtobufCAllocator *alloc, pjson_error *err) {
  pj_ctx c;
  ctx_init(&c, alloc, err, 0);
  if (!msg || !path || !value) return pj_fail(&c, "no path or value");
  ProtobufCMessage *m = msg;
  const char *seg = path;
  for (int level = 0;; level++) {
    const char *dot = strchr(seg, '.');
    size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
    pj_path_push(&c, seg, len, false);
    if (level >= PJSON_MAX_DEPTH) return pj_fail(&c, "field path too deep");
    const ProtobufCFieldDescriptor *f = pj_field_by_name(m->descriptor, seg, len);
    if (!f)
      return pj_fail(&c, "unknown field \"%.*s\" in %s", (int)(len > 100 ? 100 : len), seg,
                     m->descriptor->name);
    if (pj_is_map_entry(f)) return pj_fail(&c, "map field \"%s\" cannot be set from text", f->name);
    if (!dot) {
      return f->type == PROTOBUF_C_TYPE_MESSAGE ? set_message_text(&c, m, f, value)
                                                : set_scalar_text(&c, m, f, value);
    }
    if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED ||
        pj_wkt_of(f->descriptor) != PJ_WKT_NONE)
      return pj_fail(&c, "field \"%s\" is not a singular message", f->name);
    m = pj_singular_message(&c, m, f);
    if (!m) return false;
    seg = dot + 1;
  }
}
