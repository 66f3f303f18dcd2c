/* Streaming JSON forms of the well-known types (Timestamp, Duration, FieldMask, wrappers,
 * Struct/Value/ListValue, Any) for pjson_write, matching pjson_wkt.c's encoder. */
#include "common/pjson_write_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

#define TIMESTAMP_MIN (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TIMESTAMP_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */
#define DURATION_MAX 315576000000LL
#define NANOS_PER_SECOND 1000000000

/* ".123", ".123456" or ".123456789" for nanos (nothing when 0); returns the length. */
static int fraction(int32_t nanos, char *out, size_t cap) {
  if (nanos == 0) return out[0] = '\0', 0;
  if (nanos % 1000000 == 0) return snprintf(out, cap, ".%03" PRId32, nanos / 1000000);
  if (nanos % 1000 == 0) return snprintf(out, cap, ".%06" PRId32, nanos / 1000);
  return snprintf(out, cap, ".%09" PRId32, nanos);
}

static bool timestamp_write(pjw *w, const ProtobufCMessage *m) {
  const Google__Protobuf__Timestamp *ts = (const Google__Protobuf__Timestamp *)m;
  if (ts->seconds < TIMESTAMP_MIN || ts->seconds > TIMESTAMP_MAX || ts->nanos < 0 ||
      ts->nanos >= NANOS_PER_SECOND)
    return pj_fail(&w->c, "Timestamp out of range");
  time_t t = (time_t)ts->seconds;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return pj_fail(&w->c, "Timestamp out of range");
  char frac[16], buf[96];
  fraction(ts->nanos, frac, sizeof frac);
  int n = snprintf(buf, sizeof buf, "\"%04d-%02d-%02dT%02d:%02d:%02d%sZ\"", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return pjw_put(w, buf, (size_t)n);
}

static bool duration_write(pjw *w, const ProtobufCMessage *m) {
  const Google__Protobuf__Duration *du = (const Google__Protobuf__Duration *)m;
  int64_t s = du->seconds;
  int32_t ns = du->nanos;
  if (s < -DURATION_MAX || s > DURATION_MAX || ns <= -NANOS_PER_SECOND || ns >= NANOS_PER_SECOND ||
      (s > 0 && ns < 0) || (s < 0 && ns > 0))
    return pj_fail(&w->c, "Duration out of range");
  char frac[16], buf[64];
  fraction(ns < 0 ? -ns : ns, frac, sizeof frac);
  int n = snprintf(buf, sizeof buf, "\"%s%" PRId64 "%ss\"", s < 0 || ns < 0 ? "-" : "",
                   s < 0 ? -s : s, frac);
  return pjw_put(w, buf, (size_t)n);
}

/* "f_int32,f_message.label" -> "fInt32,fMessage.label"; a path with an upper-case letter or an
 * underscore not followed by a lower-case letter has no such form. */
static bool field_mask_write(pjw *w, const ProtobufCMessage *m) {
  const Google__Protobuf__FieldMask *fm = (const Google__Protobuf__FieldMask *)m;
  size_t total = 1;
  for (size_t i = 0; i < fm->n_paths; i++) total += strlen(fm->paths[i]) + 1;
  char *out = malloc(total);
  if (!out) return pj_fail(&w->c, "out of memory");
  size_t o = 0;
  for (size_t i = 0; i < fm->n_paths; i++) {
    if (i) out[o++] = ',';
    for (const char *p = fm->paths[i]; *p; p++) {
      bool ok = !(*p >= 'A' && *p <= 'Z') && (*p != '_' || (p[1] >= 'a' && p[1] <= 'z'));
      if (!ok) {
        free(out);
        return pj_fail(&w->c, "FieldMask path \"%.64s\" has no lowerCamelCase form", fm->paths[i]);
      }
      out[o++] = *p == '_' ? (char)(*++p - 'a' + 'A') : *p;
    }
  }
  bool ok = pjw_string(w, out, o);
  free(out);
  return ok;
}

static bool wrapper_write(pjw *w, const ProtobufCMessage *m) {
  const ProtobufCFieldDescriptor *f = &m->descriptor->fields[0];
  return pjw_scalar(w, f, pj_slot(m, f));
}

static bool value_write(pjw *w, const ProtobufCMessage *m) {
  const ProtobufCFieldDescriptor *member = pj_field_by_name(m->descriptor, "null_value", 10);
  uint32_t which = *(const uint32_t *)((const char *)m + member->quantifier_offset);
  const ProtobufCFieldDescriptor *f =
      which ? protobuf_c_message_descriptor_get_field(m->descriptor, which) : NULL;
  if (!f) return pj_fail(&w->c, "google.protobuf.Value has no kind set");
  if (f->type == PROTOBUF_C_TYPE_DOUBLE && !isfinite(*(const double *)pj_slot(m, f)))
    return pj_fail(&w->c, "google.protobuf.Value cannot hold NaN or Infinity");
  return pjw_field(w, m, f);
}

static bool struct_or_list_write(pjw *w, const ProtobufCMessage *m) {
  return pjw_field(w, m, &m->descriptor->fields[0]);
}

/* {"@type": url, ...fields of the payload} or {"@type": url, "value": <its JSON>} when the
 * payload is itself a well-known type. */
static bool any_write(pjw *w, const ProtobufCMessage *m) {
  const Google__Protobuf__Any *any = (const Google__Protobuf__Any *)m;
  const char *url = any->type_url ? any->type_url : "";
  if (!url[0]) {
    if (any->value.len == 0) return pjw_put(w, "{}", 2);
    return pj_fail(&w->c, "Any with a value but no type URL");
  }
  const char *slash = strrchr(url, '/');
  if (!slash || !slash[1]) return pj_fail(&w->c, "invalid Any type URL \"%.100s\"", url);
  const ProtobufCMessageDescriptor *d = proto_registry_message(pj_registries(), slash + 1);
  if (!d) return pj_fail(&w->c, "unknown Any type \"%.100s\"", slash + 1);
  ProtobufCMessage *inner = protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data);
  if (!inner) return pj_fail(&w->c, "Any value does not parse as %s", d->name);
  bool ok = pjw_put(w, "{\"@type\":", 9) && pjw_string(w, url, strlen(url));
  if (ok && pj_wkt_of(d) != PJ_WKT_NONE) {
    ok = pjw_put(w, ",\"value\":", 9) && pjw_message(w, inner);
  } else if (ok) {
    /* the payload's own fields, one nesting level deeper, as pjson_encode counts it */
    if (++w->c.depth > PJSON_MAX_DEPTH) {
      ok = pj_fail(&w->c, "messages nested deeper than %d levels", PJSON_MAX_DEPTH);
    } else {
      bool first = false;
      ok = pjw_fields(w, inner, &first);
    }
    w->c.depth--;
  }
  protobuf_c_message_free_unpacked(inner, NULL);
  return ok && pjw_putc(w, '}');
}

typedef bool (*wkt_writer)(pjw *, const ProtobufCMessage *);

static const wkt_writer wkt_writers[] = {
    [PJ_WKT_ANY] = any_write,
    [PJ_WKT_TIMESTAMP] = timestamp_write,
    [PJ_WKT_DURATION] = duration_write,
    [PJ_WKT_FIELD_MASK] = field_mask_write,
    [PJ_WKT_STRUCT] = struct_or_list_write,
    [PJ_WKT_VALUE] = value_write,
    [PJ_WKT_LIST_VALUE] = struct_or_list_write,
    [PJ_WKT_WRAPPER] = wrapper_write,
};

bool pjw_wkt(pjw *w, pj_wkt kind, const ProtobufCMessage *m) { return wkt_writers[kind](w, m); }
