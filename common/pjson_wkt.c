/* The JSON forms of protobuf's well-known types for pjson: Timestamp, Duration, the wrappers,
 * FieldMask, Struct/Value/ListValue and Any (resolved through the registries). */
#include "common/pjson_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

#define TIMESTAMP_MIN (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TIMESTAMP_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */
#define DURATION_MAX 315576000000LL    /* about 10000 years */
#define NANOS_PER_SECOND 1000000000

static const struct {
  const char *name;
  pj_wkt kind;
} wkt_table[] = {
    {"Any", PJ_WKT_ANY},           {"Timestamp", PJ_WKT_TIMESTAMP},
    {"Duration", PJ_WKT_DURATION}, {"FieldMask", PJ_WKT_FIELD_MASK},
    {"Struct", PJ_WKT_STRUCT},     {"Value", PJ_WKT_VALUE},
    {"ListValue", PJ_WKT_LIST_VALUE}, {"DoubleValue", PJ_WKT_WRAPPER},
    {"FloatValue", PJ_WKT_WRAPPER}, {"Int64Value", PJ_WKT_WRAPPER},
    {"UInt64Value", PJ_WKT_WRAPPER}, {"Int32Value", PJ_WKT_WRAPPER},
    {"UInt32Value", PJ_WKT_WRAPPER}, {"BoolValue", PJ_WKT_WRAPPER},
    {"StringValue", PJ_WKT_WRAPPER}, {"BytesValue", PJ_WKT_WRAPPER},
};

pj_wkt pj_wkt_of(const ProtobufCMessageDescriptor *d) {
  static const char prefix[] = "google.protobuf.";
  if (strncmp(d->name, prefix, sizeof prefix - 1) != 0) return PJ_WKT_NONE;
  const char *shortname = d->name + sizeof prefix - 1;
  for (size_t i = 0; i < sizeof wkt_table / sizeof wkt_table[0]; i++)
    if (strcmp(wkt_table[i].name, shortname) == 0) return wkt_table[i].kind;
  return PJ_WKT_NONE;
}

/* ---- calendar arithmetic (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/* ---- fixed-width digits and fractions ---- */

static bool take_digits(const char *s, size_t n, size_t *i, int width, int64_t *out) {
  int64_t v = 0;
  for (int k = 0; k < width; k++, (*i)++) {
    if (*i >= n || s[*i] < '0' || s[*i] > '9') return false;
    v = v * 10 + (s[*i] - '0');
  }
  *out = v;
  return true;
}

/* An optional ".d{1,9}" as nanoseconds. */
static bool take_fraction(const char *s, size_t n, size_t *i, int32_t *nanos) {
  *nanos = 0;
  if (*i >= n || s[*i] != '.') return true;
  (*i)++;
  int count = 0;
  int32_t v = 0;
  while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
    if (++count > 9) return false;
    v = v * 10 + (s[(*i)++] - '0');
  }
  if (count == 0) return false;
  for (; count < 9; count++) v *= 10;
  *nanos = v;
  return true;
}

/* ".123", ".123456" or ".123456789" for nanos (none when 0). */
static void format_fraction(int32_t nanos, char *out, size_t cap) {
  if (nanos == 0)
    out[0] = '\0';
  else if (nanos % 1000000 == 0)
    snprintf(out, cap, ".%03" PRId32, nanos / 1000000);
  else if (nanos % 1000 == 0)
    snprintf(out, cap, ".%06" PRId32, nanos / 1000);
  else
    snprintf(out, cap, ".%09" PRId32, nanos);
}

static bool is_char(const char *s, size_t n, size_t i, const char *set) {
  return i < n && s[i] && strchr(set, s[i]);
}

/* ---- Timestamp ---- */

static bool timestamp_parse(const char *s, size_t n, int64_t *seconds, int32_t *nanos) {
  int64_t y, mo, d, h, mi, se, oh = 0, om = 0;
  size_t i = 0;
  if (!take_digits(s, n, &i, 4, &y) || !is_char(s, n, i++, "-") || !take_digits(s, n, &i, 2, &mo) ||
      !is_char(s, n, i++, "-") || !take_digits(s, n, &i, 2, &d) || !is_char(s, n, i++, "Tt") ||
      !take_digits(s, n, &i, 2, &h) || !is_char(s, n, i++, ":") || !take_digits(s, n, &i, 2, &mi) ||
      !is_char(s, n, i++, ":") || !take_digits(s, n, &i, 2, &se) || !take_fraction(s, n, &i, nanos))
    return false;
  int sign = 0;
  if (is_char(s, n, i, "Zz")) {
    i++;
  } else if (is_char(s, n, i, "+-")) {
    sign = s[i++] == '+' ? 1 : -1;
    if (!take_digits(s, n, &i, 2, &oh) || !is_char(s, n, i++, ":") ||
        !take_digits(s, n, &i, 2, &om))
      return false;
  } else {
    return false;
  }
  if (i != n || y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month((int)y, (int)mo) ||
      h > 23 || mi > 59 || se > 59 || oh > 23 || om > 59)
    return false;
  *seconds = days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + se -
             sign * (oh * 3600 + om * 60);
  return *seconds >= TIMESTAMP_MIN && *seconds <= TIMESTAMP_MAX;
}

static bool timestamp_decode(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  Google__Protobuf__Timestamp *ts = (Google__Protobuf__Timestamp *)m;
  if (!json_is_string(in)) return pj_fail(c, "expected an RFC 3339 string for Timestamp");
  int64_t seconds;
  int32_t nanos;
  if (!timestamp_parse(json_string_value(in), json_string_length(in), &seconds, &nanos))
    return pj_fail(c, "invalid Timestamp \"%.64s\" (RFC 3339, 0001-01-01 to 9999-12-31)",
                   json_string_value(in));
  ts->seconds = seconds;
  ts->nanos = nanos;
  return true;
}

static json_t *timestamp_encode(pj_ctx *c, const ProtobufCMessage *m) {
  const Google__Protobuf__Timestamp *ts = (const Google__Protobuf__Timestamp *)m;
  if (ts->seconds < TIMESTAMP_MIN || ts->seconds > TIMESTAMP_MAX || ts->nanos < 0 ||
      ts->nanos >= NANOS_PER_SECOND)
    return pj_fail(c, "Timestamp out of range"), NULL;
  int64_t days = ts->seconds / 86400, rem = ts->seconds % 86400;
  if (rem < 0) rem += 86400, days--;
  int y, mo, d;
  civil_from_days(days, &y, &mo, &d);
  char frac[16], buf[128]; /* sized for any int the format could print */
  format_fraction(ts->nanos, frac, sizeof frac);
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", y, mo, d, (int)(rem / 3600),
           (int)(rem / 60 % 60), (int)(rem % 60), frac);
  return json_string(buf);
}

/* ---- Duration ---- */

static bool duration_decode(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  Google__Protobuf__Duration *du = (Google__Protobuf__Duration *)m;
  if (!json_is_string(in)) return pj_fail(c, "expected a string such as \"1.5s\" for Duration");
  const char *s = json_string_value(in);
  size_t n = json_string_length(in), i = 0;
  bool neg = n > 0 && s[0] == '-';
  i += neg;
  int64_t seconds = 0;
  size_t start = i;
  while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 13) /* 13 digits cannot overflow */
    seconds = seconds * 10 + (s[i++] - '0');
  int32_t nanos;
  if (i == start || !take_fraction(s, n, &i, &nanos) || i + 1 != n || s[i] != 's')
    return pj_fail(c, "invalid Duration \"%.64s\"", s);
  if (seconds > DURATION_MAX) return pj_fail(c, "Duration out of range");
  du->seconds = neg ? -seconds : seconds;
  du->nanos = neg ? -nanos : nanos;
  return true;
}

static json_t *duration_encode(pj_ctx *c, const ProtobufCMessage *m) {
  const Google__Protobuf__Duration *du = (const Google__Protobuf__Duration *)m;
  int64_t s = du->seconds;
  int32_t ns = du->nanos;
  if (s < -DURATION_MAX || s > DURATION_MAX || ns <= -NANOS_PER_SECOND || ns >= NANOS_PER_SECOND ||
      (s > 0 && ns < 0) || (s < 0 && ns > 0))
    return pj_fail(c, "Duration out of range"), NULL;
  char frac[16], buf[48];
  format_fraction(ns < 0 ? -ns : ns, frac, sizeof frac);
  snprintf(buf, sizeof buf, "%s%" PRId64 "%ss", s < 0 || ns < 0 ? "-" : "", s < 0 ? -s : s, frac);
  return json_string(buf);
}

/* ---- FieldMask: "fooBar.baz,qux" <-> ["foo_bar.baz", "qux"] ---- */

static bool field_mask_decode(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  Google__Protobuf__FieldMask *fm = (Google__Protobuf__FieldMask *)m;
  if (!json_is_string(in)) return pj_fail(c, "expected a string for FieldMask");
  const char *s = json_string_value(in);
  size_t n = json_string_length(in);
  if (n == 0) return true;
  size_t count = 1;
  for (size_t i = 0; i < n; i++) count += s[i] == ',';
  if (!pj_repeated_reserve(c, m, &m->descriptor->fields[0], count)) return false;
  for (size_t i = 0; i <= n;) {
    size_t end = i;
    while (end < n && s[end] != ',') end++;
    if (end == i) return pj_fail(c, "empty path in FieldMask");
    char *path = pj_alloc(c, 2 * (end - i) + 1);
    if (!path) return false;
    size_t o = 0;
    for (size_t k = i; k < end; k++) {
      char ch = s[k];
      if (ch >= 'A' && ch <= 'Z') {
        path[o++] = '_';
        path[o++] = (char)(ch - 'A' + 'a');
      } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_') {
        path[o++] = ch;
      } else {
        pj_free(c, path);
        return pj_fail(c, "invalid character in FieldMask path");
      }
    }
    fm->paths[fm->n_paths++] = path;
    i = end + 1;
  }
  return true;
}

/* Appends the lowerCamelCase form of a snake_case path; false when it has none. */
static bool camel_path(const char *p, char *out, size_t *o) {
  for (; *p; p++) {
    if (*p >= 'A' && *p <= 'Z') return false;
    if (*p == '_') {
      if (p[1] < 'a' || p[1] > 'z') return false;
      out[(*o)++] = (char)(*++p - 'a' + 'A');
    } else {
      out[(*o)++] = *p;
    }
  }
  return true;
}

static json_t *field_mask_encode(pj_ctx *c, const ProtobufCMessage *m) {
  const Google__Protobuf__FieldMask *fm = (const Google__Protobuf__FieldMask *)m;
  size_t total = 1;
  for (size_t i = 0; i < fm->n_paths; i++) total += strlen(fm->paths[i]) + 1;
  char *out = malloc(total);
  if (!out) return pj_fail(c, "out of memory"), NULL;
  size_t o = 0;
  for (size_t i = 0; i < fm->n_paths; i++) {
    if (i) out[o++] = ',';
    if (!camel_path(fm->paths[i], out, &o)) {
      free(out);
      return pj_fail(c, "FieldMask path \"%.64s\" has no lowerCamelCase form", fm->paths[i]), NULL;
    }
  }
  out[o] = '\0';
  json_t *j = json_string(out);
  free(out);
  if (!j) pj_fail(c, "FieldMask path is not valid UTF-8");
  return j;
}

/* ---- wrappers: the plain value of their field 1 ---- */

static bool wrapper_decode(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  return pj_decode_field(c, m, &m->descriptor->fields[0], in);
}

static json_t *wrapper_encode(pj_ctx *c, const ProtobufCMessage *m) {
  const ProtobufCFieldDescriptor *f = &m->descriptor->fields[0];
  return pj_encode_scalar(c, f, pj_slot(m, f));
}

/* ---- Struct, ListValue, Value: arbitrary JSON ---- */

static const ProtobufCFieldDescriptor *field_named(const ProtobufCMessage *m, const char *name) {
  return pj_field_by_name(m->descriptor, name, strlen(name));
}

static bool struct_decode(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  if (!json_is_object(in)) return pj_fail(c, "expected an object for Struct");
  return pj_decode_field(c, m, field_named(m, "fields"), in);
}

static bool list_value_decode(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  if (!json_is_array(in)) return pj_fail(c, "expected an array for ListValue");
  return pj_decode_field(c, m, field_named(m, "values"), in);
}

static bool value_decode(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  static const char *const kind_field[] = {
      [JSON_OBJECT] = "struct_value", [JSON_ARRAY] = "list_value",  [JSON_STRING] = "string_value",
      [JSON_INTEGER] = "number_value", [JSON_REAL] = "number_value", [JSON_TRUE] = "bool_value",
      [JSON_FALSE] = "bool_value",     [JSON_NULL] = "null_value",
  };
  const ProtobufCFieldDescriptor *f = field_named(m, kind_field[json_typeof(in)]);
  if (json_is_null(in)) {
    pj_scalar zero = {0};
    pj_store_scalar(c, m, f, &zero);
    return true;
  }
  return pj_decode_field(c, m, f, in);
}

static json_t *value_encode(pj_ctx *c, const ProtobufCMessage *m) {
  const ProtobufCFieldDescriptor *any_member = field_named(m, "null_value");
  uint32_t which = *(const uint32_t *)((const char *)m + any_member->quantifier_offset);
  const ProtobufCFieldDescriptor *f =
      which ? protobuf_c_message_descriptor_get_field(m->descriptor, which) : NULL;
  if (!f) return pj_fail(c, "google.protobuf.Value has no kind set"), NULL;
  if (f->type == PROTOBUF_C_TYPE_DOUBLE && !isfinite(*(const double *)pj_slot(m, f)))
    return pj_fail(c, "google.protobuf.Value cannot hold NaN or Infinity"), NULL;
  return pj_encode_field(c, m, f);
}

static json_t *repeated_or_map_encode(pj_ctx *c, const ProtobufCMessage *m) {
  return pj_encode_field(c, m, &m->descriptor->fields[0]);
}

/* ---- Any: {"@type": url, ...fields} or {"@type": url, "value": <well-known JSON>} ---- */

static bool has_value_form(pj_wkt kind) { return kind != PJ_WKT_NONE; }

static const ProtobufCMessageDescriptor *any_type(pj_ctx *c, const char *url) {
  const char *slash = strrchr(url, '/');
  if (!slash || !slash[1]) return pj_fail(c, "invalid Any type URL \"%.100s\"", url), NULL;
  const ProtobufCMessageDescriptor *d = proto_registry_message(pj_registries(), slash + 1);
  if (!d) pj_fail(c, "unknown Any type \"%.100s\"", slash + 1);
  return d;
}

/* Decodes the Any's payload JSON into a new message of type d and packs it into out. */
static bool any_pack(pj_ctx *c, const ProtobufCMessageDescriptor *d, const json_t *payload,
                     ProtobufCBinaryData *out) {
  ProtobufCMessage *tmp = pj_alloc(c, d->sizeof_message);
  if (!tmp) return false;
  protobuf_c_message_init(d, tmp);
  bool ok = pj_decode_message(c, payload, tmp);
  if (ok) {
    size_t size = protobuf_c_message_get_packed_size(tmp);
    out->data = size ? pj_alloc(c, size) : NULL;
    ok = !size || out->data;
    if (ok) out->len = protobuf_c_message_pack(tmp, out->data);
  }
  protobuf_c_message_free_unpacked(tmp, c->alloc);
  return ok;
}

static bool any_decode(pj_ctx *c, const json_t *in, ProtobufCMessage *m) {
  if (!json_is_object(in)) return pj_fail(c, "expected an object for Any");
  json_t *type = json_object_get(in, "@type");
  if (!type) {
    if (json_object_size(in) == 0) return true;
    return pj_fail(c, "Any without \"@type\"");
  }
  size_t mark = pj_path_push(c, "@type", 5, false);
  if (!json_is_string(type)) return pj_fail(c, "\"@type\" must be a string");
  const ProtobufCMessageDescriptor *d = any_type(c, json_string_value(type));
  if (!d) return false;
  pj_path_pop(c, mark);

  json_t *payload;
  if (has_value_form(pj_wkt_of(d))) {
    payload = json_incref(json_object_get(in, "value"));
    if (!payload) return pj_fail(c, "Any of %s needs a \"value\"", d->name);
    if (json_object_size(in) != 2) {
      json_decref(payload);
      return pj_fail(c, "Any of %s takes only \"@type\" and \"value\"", d->name);
    }
  } else {
    payload = json_copy((json_t *)in);
    if (!payload) return pj_fail(c, "out of memory");
    json_object_del(payload, "@type");
  }
  pj_scalar url = {0}, value = {0};
  bool ok = any_pack(c, d, payload, &value.bytes);
  json_decref(payload);
  if (!ok) return false;
  url.s = pj_strndup(c, json_string_value(type), json_string_length(type));
  if (!url.s) {
    pj_free(c, value.bytes.data);
    return false;
  }
  pj_store_scalar(c, m, field_named(m, "type_url"), &url);
  pj_store_scalar(c, m, field_named(m, "value"), &value);
  return true;
}

static json_t *any_encode(pj_ctx *c, const ProtobufCMessage *m) {
  const Google__Protobuf__Any *any = (const Google__Protobuf__Any *)m;
  const char *url = any->type_url ? any->type_url : "";
  if (!url[0]) {
    if (any->value.len == 0) return json_object();
    return pj_fail(c, "Any with a value but no type URL"), NULL;
  }
  const ProtobufCMessageDescriptor *d = any_type(c, url);
  if (!d) return NULL;
  ProtobufCMessage *inner = protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data);
  if (!inner) return pj_fail(c, "Any value does not parse as %s", d->name), NULL;
  json_t *payload = pj_encode_message(c, inner);
  protobuf_c_message_free_unpacked(inner, NULL);
  if (!payload) return NULL;
  json_t *obj = json_object();
  json_t *type = json_string(url);
  if (!obj || !type || json_object_set_new(obj, "@type", type) != 0) {
    json_decref(obj);
    json_decref(payload);
    return pj_fail(c, "Any type URL is not valid UTF-8"), NULL;
  }
  int rc;
  if (has_value_form(pj_wkt_of(d))) {
    rc = json_object_set_new(obj, "value", payload);
  } else {
    rc = json_object_update(obj, payload);
    json_decref(payload);
  }
  if (rc != 0) {
    json_decref(obj);
    return pj_fail(c, "out of memory"), NULL;
  }
  return obj;
}

/* ---- dispatch ---- */

typedef bool (*wkt_decoder)(pj_ctx *, const json_t *, ProtobufCMessage *);
typedef json_t *(*wkt_encoder)(pj_ctx *, const ProtobufCMessage *);

static const struct {
  wkt_decoder decode;
  wkt_encoder encode;
} wkt_codecs[] = {
    [PJ_WKT_ANY] = {any_decode, any_encode},
    [PJ_WKT_TIMESTAMP] = {timestamp_decode, timestamp_encode},
    [PJ_WKT_DURATION] = {duration_decode, duration_encode},
    [PJ_WKT_FIELD_MASK] = {field_mask_decode, field_mask_encode},
    [PJ_WKT_STRUCT] = {struct_decode, repeated_or_map_encode},
    [PJ_WKT_VALUE] = {value_decode, value_encode},
    [PJ_WKT_LIST_VALUE] = {list_value_decode, repeated_or_map_encode},
    [PJ_WKT_WRAPPER] = {wrapper_decode, wrapper_encode},
};

bool pj_wkt_decode(pj_ctx *c, pj_wkt kind, const json_t *in, ProtobufCMessage *m) {
  return wkt_codecs[kind].decode(c, in, m);
}

json_t *pj_wkt_encode(pj_ctx *c, pj_wkt kind, const ProtobufCMessage *m) {
  return wkt_codecs[kind].encode(c, m);
}
