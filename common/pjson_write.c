/* Streaming proto3 JSON encoder: writes a protobuf-c message's JSON straight into a byte buffer
 * (no json_t tree), with shortest round-trip doubles; well-known types in pjson_write_wkt.c. */
#include "common/pjson_write_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

/* ---- the buffer ---- */

void pjson_buf_free(pjson_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static bool reserve(pjw *w, size_t n) {
  pjson_buf *b = w->b;
  if (b->cap - b->len > n) return true; /* always room for a NUL as well */
  if (n > SIZE_MAX / 4 - b->len) return pj_fail(&w->c, "out of memory");
  size_t cap = b->cap ? b->cap : 1024;
  while (cap - b->len <= n) cap *= 2;
  char *d = realloc(b->data, cap);
  if (!d) return pj_fail(&w->c, "out of memory");
  b->data = d;
  b->cap = cap;
  return true;
}

bool pjw_put(pjw *w, const char *s, size_t n) {
  if (!reserve(w, n)) return false;
  memcpy(w->b->data + w->b->len, s, n);
  w->b->len += n;
  return true;
}

bool pjw_putc(pjw *w, char ch) {
  if (!reserve(w, 1)) return false;
  w->b->data[w->b->len++] = ch;
  return true;
}

/* ---- numbers ---- */

static const double pow10_table[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
#define EXACT_INT_LIMIT 9007199254740992.0 /* 2^53 */

/* Decimal digits of m into out; returns their count. */
static size_t u64_digits(uint64_t m, char *out) {
  char tmp[24];
  size_t n = 0;
  do tmp[n++] = (char)('0' + m % 10), m /= 10;
  while (m);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

/* m / 10^k written out ("3.0", "0.0001", "10.7769"). */
static size_t fixed_point(uint64_t m, int k, char *out) {
  char d[24];
  size_t nd = u64_digits(m, d), o = 0;
  if (k == 0) {
    memcpy(out, d, nd);
    memcpy(out + nd, ".0", 2);
    return nd + 2;
  }
  size_t frac = (size_t)k;
  if (nd > frac) {
    memcpy(out, d, nd - frac);
    o = nd - frac;
    out[o++] = '.';
    memcpy(out + o, d + nd - frac, frac);
    return o + frac;
  }
  out[o++] = '0';
  out[o++] = '.';
  for (size_t i = nd; i < frac; i++) out[o++] = '0';
  memcpy(out + o, d, nd);
  return o + nd;
}

/* printf's %g output in jansson's spelling: ".0" on integers, no '+' or leading zeros in the
 * exponent. */
static size_t normalize_g(char *s) {
  size_t n = strlen(s);
  char *e = strchr(s, 'e');
  if (!e) {
    if (!strchr(s, '.')) memcpy(s + n, ".0", 3), n += 2;
    return n;
  }
  char *p = e + 1;
  bool minus = *p == '-';
  if (*p == '+' || *p == '-') p++;
  while (*p == '0' && p[1]) p++;
  memmove(e + 1 + minus, p, strlen(p) + 1);
  return strlen(s);
}

/* The first of %.{lo..hi}g that reads back as v (parse() compares in the right precision). */
static size_t shortest_g(double v, int lo, int hi, bool (*reads_back)(const char *, double),
                         char *out) {
  char tmp[48]; /* %.17g takes at most 24 characters; normalize_g may add ".0" */
  for (int p = lo; p <= hi; p++) {
    snprintf(tmp, sizeof tmp - 2, "%.*g", p, v);
    if (p == hi || reads_back(tmp, v)) break;
  }
  size_t n = normalize_g(tmp);
  memcpy(out, tmp, n + 1);
  return n;
}

static bool double_reads_back(const char *s, double v) { return strtod(s, NULL) == v; }
static bool float_reads_back(const char *s, double v) { return strtof(s, NULL) == (float)v; }

static size_t with_sign(bool neg, char *out, size_t n) {
  if (!neg) return n;
  memmove(out + 1, out, n + 1);
  out[0] = '-';
  return n + 1;
}

size_t pjson_format_double(double v, char *out) {
  bool neg = signbit(v);
  double a = fabs(v);
  size_t n;
  if (a == 0) {
    n = (size_t)snprintf(out, PJSON_NUMBER_MAX, "0.0");
    return with_sign(neg, out, n);
  }
  if (a < 1e15) {
    for (int k = 0; k < 10; k++) {
      double x = a * pow10_table[k];
      if (x >= EXACT_INT_LIMIT) break;
      long long m = llround(x);
      if ((double)m / pow10_table[k] == a) {
        n = fixed_point((uint64_t)m, k, out);
        out[n] = '\0';
        return with_sign(neg, out, n);
      }
    }
  }
  n = shortest_g(a, 15, 17, double_reads_back, out);
  if (a >= 1e15 && a < 1e17 && strchr(out, 'e')) { /* "1.00000000000001e15" vs "1000000000000010.0" */
    char alt[PJSON_NUMBER_MAX];
    size_t an = shortest_g(a, 17, 17, double_reads_back, alt);
    if (an < n) memcpy(out, alt, (n = an) + 1);
  }
  return with_sign(neg, out, n);
}

/* Whether the decimal whose correctly rounded double is q reads back (strtof) as f: the double
 * rounding through q goes wrong only when q lands exactly on a midpoint between two floats. */
static bool float_decimal_matches(double q, float f) {
  float g = (float)q;
  if (g != f) return false;
  if ((double)g == q) return true;
  float other = nextafterf(g, q > (double)g ? INFINITY : -INFINITY);
  return q != ((double)g + (double)other) / 2;
}

size_t pjson_format_float(float v, char *out) {
  bool neg = signbit(v);
  float a = fabsf(v);
  size_t n;
  if (a == 0) {
    n = (size_t)snprintf(out, PJSON_NUMBER_MAX, "0.0");
    return with_sign(neg, out, n);
  }
  /* Below 1e6 the fewest fractional digits give the number pjson_encode's "%.6g".."%.9g" gives;
   * above it that may round into the integer digits (966042496 -> 9.660425e+08) */
  if (a < 1e6f) {
    for (int k = 0; k < 10; k++) {
      double x = (double)a * pow10_table[k]; /* exact: 24 + 21 significant bits */
      if (x >= EXACT_INT_LIMIT) break;
      double m = nearbyint(x); /* ties to even, as printf rounds */
      if (float_decimal_matches(m / pow10_table[k], a)) {
        n = fixed_point((uint64_t)m, k, out);
        out[n] = '\0';
        return with_sign(neg, out, n);
      }
    }
  }
  n = shortest_g(a, 6, 9, float_reads_back, out);
  return with_sign(neg, out, n);
}

static bool put_number_or_special(pjw *w, double v, bool is_float) {
  if (isnan(v)) return pjw_put(w, "\"NaN\"", 5);
  if (isinf(v)) return v > 0 ? pjw_put(w, "\"Infinity\"", 10) : pjw_put(w, "\"-Infinity\"", 11);
  char buf[PJSON_NUMBER_MAX];
  size_t n = is_float ? pjson_format_float((float)v, buf) : pjson_format_double(v, buf);
  return pjw_put(w, buf, n);
}

static bool put_i64(pjw *w, int64_t v, bool quoted) {
  char buf[24];
  size_t o = 0;
  if (quoted) buf[o++] = '"';
  if (v < 0) buf[o++] = '-';
  o += u64_digits(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, buf + o);
  if (quoted) buf[o++] = '"';
  return pjw_put(w, buf, o);
}

static bool put_u64(pjw *w, uint64_t v, bool quoted) {
  char buf[24];
  size_t o = 0;
  if (quoted) buf[o++] = '"';
  o += u64_digits(v, buf + o);
  if (quoted) buf[o++] = '"';
  return pjw_put(w, buf, o);
}

/* ---- strings ---- */

/* Length of the valid UTF-8 sequence at s (0 when invalid): no overlong forms, no surrogates,
 * nothing above U+10FFFF, as jansson checks. */
static size_t utf8_sequence(const unsigned char *s, size_t avail) {
  unsigned char c = s[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else
    return 0;
  if (avail < n || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  return n;
}

bool pjw_string(pjw *w, const char *str, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str;
  /* worst case every byte becomes \u00XX */
  if (n > SIZE_MAX / 8 || !reserve(w, 6 * n + 2)) return pj_fail(&w->c, "out of memory");
  char *o = w->b->data + w->b->len;
  *o++ = '"';
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t k = utf8_sequence(s + i, n - i);
      if (!k) return pj_fail(&w->c, "string is not valid UTF-8");
      memcpy(o, s + i, k);
      o += k, i += k;
      continue;
    }
    i++;
    if (c >= 0x20 && c != '"' && c != '\\') {
      *o++ = (char)c;
      continue;
    }
    *o++ = '\\';
    switch (c) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    case '\b': *o++ = 'b'; break;
    case '\f': *o++ = 'f'; break;
    default:
      memcpy(o, "u00", 3);
      o[3] = hex[c >> 4];
      o[4] = hex[c & 15];
      o += 5;
    }
  }
  *o++ = '"';
  w->b->len = (size_t)(o - w->b->data);
  return true;
}

static bool put_cstring(pjw *w, const char *s) { return pjw_string(w, s ? s : "", s ? strlen(s) : 0); }

static bool put_bytes(pjw *w, const ProtobufCBinaryData *b) {
  size_t n = b64_encoded_len(B64_STD, b->len);
  if (!reserve(w, n + 3)) return false;
  char *o = w->b->data + w->b->len;
  *o = '"';
  if (!b64_encode(B64_STD, b->data ? b->data : (const uint8_t *)"", b->len, o + 1, n + 1))
    return pj_fail(&w->c, "out of memory");
  o[n + 1] = '"';
  w->b->len += n + 2;
  return true;
}

/* ---- field shapes: pj_slot_size, pj_is_map_entry, pj_field_emitted (pjson.c) ---- */

static bool is_null_value_enum(const ProtobufCFieldDescriptor *f) {
  return strcmp(((const ProtobufCEnumDescriptor *)f->descriptor)->name,
                "google.protobuf.NullValue") == 0;
}

/* `"jsonName":` (or the proto name with PJSON_ORIGINAL_NAMES); names are identifiers. */
static bool put_key(pjw *w, const char *name) {
  size_t n = strlen(name);
  if (!reserve(w, n + 3)) return false;
  char *o = w->b->data + w->b->len;
  *o++ = '"';
  bool original = w->c.flags & PJSON_ORIGINAL_NAMES, upper = false;
  for (const char *p = name; *p; p++) {
    if (!original && *p == '_') {
      upper = true;
      continue;
    }
    *o++ = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
    upper = false;
  }
  *o++ = '"';
  *o++ = ':';
  w->b->len = (size_t)(o - w->b->data);
  return true;
}

/* Appends ".name" to the error path with no formatting (this runs for every field). */
static size_t path_push(pjw *w, const char *name, size_t n) {
  pj_ctx *c = &w->c;
  size_t mark = c->path_len, room = sizeof c->path - 1 - c->path_len;
  size_t dot = c->path_len > 0;
  if (n + dot > room) n = room > dot ? room - dot : 0, dot = dot && room > 0;
  if (dot) c->path[c->path_len++] = '.';
  memcpy(c->path + c->path_len, name, n);
  c->path_len += n;
  c->path[c->path_len] = '\0';
  return mark;
}

/* ---- values ---- */

static bool put_default_message(pjw *w, const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *tmp = calloc(1, d->sizeof_message);
  if (!tmp) return pj_fail(&w->c, "out of memory");
  protobuf_c_message_init(d, tmp);
  bool ok = pjw_message(w, tmp);
  free(tmp);
  return ok;
}

bool pjw_scalar(pjw *w, const ProtobufCFieldDescriptor *f, const void *slot) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32: return put_i64(w, *(const int32_t *)slot, false);
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: return put_u64(w, *(const uint32_t *)slot, false);
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: return put_i64(w, *(const int64_t *)slot, true);
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: return put_u64(w, *(const uint64_t *)slot, true);
  case PROTOBUF_C_TYPE_FLOAT: return put_number_or_special(w, *(const float *)slot, true);
  case PROTOBUF_C_TYPE_DOUBLE: return put_number_or_special(w, *(const double *)slot, false);
  case PROTOBUF_C_TYPE_BOOL:
    return *(const protobuf_c_boolean *)slot ? pjw_put(w, "true", 4) : pjw_put(w, "false", 5);
  case PROTOBUF_C_TYPE_ENUM: {
    if (is_null_value_enum(f)) return pjw_put(w, "null", 4);
    int32_t v = *(const int32_t *)slot;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
    return ev ? put_cstring(w, ev->name) : put_i64(w, v, false);
  }
  case PROTOBUF_C_TYPE_STRING: return put_cstring(w, *(char *const *)slot);
  case PROTOBUF_C_TYPE_BYTES: return put_bytes(w, slot);
  case PROTOBUF_C_TYPE_MESSAGE: {
    const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;
    /* an unset element: its default, as protobuf-c packs it */
    return sub ? pjw_message(w, sub) : put_default_message(w, f->descriptor);
  }
  }
  return pj_fail(&w->c, "unsupported field type");
}

/* Map keys are always strings: integers and bools spelled as text. */
static bool put_map_key(pjw *w, const ProtobufCFieldDescriptor *kf, const void *slot) {
  switch (kf->type) {
  case PROTOBUF_C_TYPE_STRING: return put_cstring(w, *(char *const *)slot);
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: return pjw_scalar(w, kf, slot); /* already quoted */
  case PROTOBUF_C_TYPE_BOOL:
    return *(const protobuf_c_boolean *)slot ? pjw_put(w, "\"true\"", 6)
                                              : pjw_put(w, "\"false\"", 7);
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: return put_u64(w, *(const uint32_t *)slot, true);
  default: return put_i64(w, *(const int32_t *)slot, true);
  }
}

static bool put_map(pjw *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
  ProtobufCMessage *const *entries = *(ProtobufCMessage *const *const *)pj_slot(m, f);
  if (!pjw_putc(w, '{')) return false;
  bool first = true;
  for (size_t i = 0; i < n; i++) {
    const ProtobufCMessage *e = entries[i];
    if (!e) continue;
    if (!first && !pjw_putc(w, ',')) return false;
    first = false;
    if (!put_map_key(w, &ed->fields[0], pj_slot(e, &ed->fields[0])) || !pjw_putc(w, ':') ||
        !pjw_scalar(w, &ed->fields[1], pj_slot(e, &ed->fields[1])))
      return false;
  }
  return pjw_putc(w, '}');
}

static bool put_repeated(pjw *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
  const char *arr = *(const char *const *)pj_slot(m, f);
  size_t es = pj_slot_size(f->type);
  if (!pjw_putc(w, '[')) return false;
  for (size_t i = 0; i < n; i++) {
    if (i && !pjw_putc(w, ',')) return false;
    if (!pjw_scalar(w, f, arr + i * es)) return false;
  }
  return pjw_putc(w, ']');
}

bool pjw_field(pjw *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  if (pj_is_map_entry(f)) return put_map(w, m, f);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) return put_repeated(w, m, f);
  return pjw_scalar(w, f, pj_slot(m, f));
}

bool pjw_fields(pjw *w, const ProtobufCMessage *m, bool *first) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (!pj_field_emitted(m, f, w->c.flags)) continue;
    if (!*first && !pjw_putc(w, ',')) return false;
    *first = false;
    size_t at = w->b->len;
    if (!put_key(w, f->name)) return false;
    size_t mark = path_push(w, w->b->data + at + 1, w->b->len - at - 3);
    if (!pjw_field(w, m, f)) return false;
    pj_path_pop(&w->c, mark);
  }
  return true;
}

bool pjw_message(pjw *w, const ProtobufCMessage *m) {
  pj_wkt kind = pj_wkt_of(m->descriptor);
  bool counts = kind != PJ_WKT_VALUE;
  if (counts && ++w->c.depth > PJSON_MAX_DEPTH)
    return pj_fail(&w->c, "messages nested deeper than %d levels", PJSON_MAX_DEPTH);
  bool ok;
  if (kind == PJ_WKT_NONE) {
    bool first = true;
    ok = pjw_putc(w, '{') && pjw_fields(w, m, &first) && pjw_putc(w, '}');
  } else {
    ok = pjw_wkt(w, kind, m);
  }
  if (counts) w->c.depth--;
  return ok;
}

/* ---- public entry points ---- */

bool pjson_write(const ProtobufCMessage *msg, int flags, pjson_buf *out, pjson_error *err) {
  pjw w;
  memset(&w, 0, sizeof w);
  w.c.err = err;
  w.c.flags = flags;
  w.b = out;
  if (err) err->message[0] = err->field[0] = '\0';
  if (!msg) return pj_fail(&w.c, "no message");
  size_t start = out->len;
  if (!pjw_message(&w, msg) || !reserve(&w, 0)) {
    pj_fail(&w.c, "cannot encode %s", msg->descriptor->name);
    out->len = start;
    if (out->data) out->data[start] = '\0';
    return false;
  }
  out->data[out->len] = '\0';
  return true;
}

static void free_void(void *p) { free(p); }

char *pjson_write_arena(arena *a, const ProtobufCMessage *msg, int flags, size_t *len,
                        pjson_error *err) {
  pjson_buf b = {0};
  if (!pjson_write(msg, flags, &b, err)) {
    pjson_buf_free(&b);
    return NULL;
  }
  arena_defer(a, free_void, b.data);
  if (len) *len = b.len;
  return b.data;
}
