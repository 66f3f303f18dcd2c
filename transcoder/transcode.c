/* Request transcoding: JSON body, path variables and query parameters into the protobuf request
 * of a matched route, in the order and with the errors the REST contract promises (pure code). */
#include "transcoder/transcode.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/pjson.h"
#include "transcoder/path_template.h"

static ProtobufCMessage *tc_fail(transcode_error *err, const char *reason, const char *field,
                                 const char *message) {
  err->code = GRPC_STATUS_INVALID_ARGUMENT;
  err->reason = reason;
  err->field = field;
  err->message = message;
  return NULL;
}

/* A pjson failure: INVALID_ARGUMENT naming the field pjson blamed. */
static ProtobufCMessage *tc_fail_pjson(arena *a, transcode_error *err, const pjson_error *pe) {
  return tc_fail(err, "INVALID_ARGUMENT", pe->field[0] ? arena_strdup(a, pe->field) : NULL,
                 arena_strdup(a, pe->message));
}

/* The body by the route's rule: "*" the whole message, else the named field. */
static bool tc_apply_body(arena *a, const char *rule, const char *body, size_t body_len, ProtobufCMessage *msg,
                          ProtobufCAllocator *alloc, transcode_error *err) {
  json_error_t jerr;
  json_t *parsed = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
  if (!parsed) {
    /* jansson's excerpt of the input ("near '...'") can end inside a UTF-8 sequence, and the
     * message goes back inside JSON: bytes outside ASCII become '?' */
    for (char *p = jerr.text; *p; p++)
      if ((unsigned char)*p >= 0x80) *p = '?';
    tc_fail(err, "MALFORMED_JSON", NULL,
            arena_printf(a, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text));
    return false;
  }
  /* json_pack takes the reference to parsed, also when it fails */
  json_t *doc = strcmp(rule, "*") == 0 ? parsed : json_pack("{s:o}", rule, parsed);
  pjson_error pe;
  memset(&pe, 0, sizeof pe);
  bool ok = false;
  if (!json_is_object(doc))
    tc_fail(err, "INVALID_ARGUMENT", NULL, "the request body must be a JSON object");
  else if (!(ok = pjson_decode(doc, msg, alloc, &pe)))
    tc_fail_pjson(a, err, &pe);
  json_decref(doc);
  return ok;
}

/* One query key or value: '+' is a space, then %XX escapes are decoded once; NULL for a
 * malformed escape or a NUL byte. */
static const char *tc_query_decode(arena *a, const char *s, size_t n) {
  char *spaced = arena_strndup(a, s, n);
  if (strlen(spaced) != n) return NULL; /* a NUL inside */
  for (char *p = spaced; *p; p++)
    if (*p == '+') *p = ' ';
  return pt_percent_decode(a, spaced, n, false);
}

static bool tc_apply_query(arena *a, const char *q, size_t len, int max_params, ProtobufCMessage *msg,
                           ProtobufCAllocator *alloc, transcode_error *err) {
  const char *end = q + len;
  int count = 0;
  for (const char *p = q; p < end;) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    count += stop > p;
    p = stop + 1;
  }
  if (count > max_params) {
    tc_fail(err, "TOO_MANY_QUERY_PARAMETERS", NULL,
            arena_printf(a, "too many query parameters: %d, at most %d", count, max_params));
    return false;
  }
  for (const char *p = q; p < end;) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    if (stop > p) {
      const char *eq = memchr(p, '=', (size_t)(stop - p));
      const char *k = tc_query_decode(a, p, (size_t)((eq ? eq : stop) - p));
      const char *v = eq ? tc_query_decode(a, eq + 1, (size_t)(stop - eq - 1)) : "";
      if (!k || !v) {
        tc_fail(err, "INVALID_ARGUMENT", NULL, "malformed percent-encoding in the query string");
        return false;
      }
      pjson_error pe;
      memset(&pe, 0, sizeof pe);
      if (!pjson_set_path(msg, k, v, alloc, &pe)) {
        tc_fail_pjson(a, err, &pe);
        return false;
      }
    }
    p = stop + 1;
  }
  return true;
}

ProtobufCMessage *transcode_request(arena *a, const route_match *m, const ProtobufCMessageDescriptor *input,
                                    const char *body, size_t body_len, const char *raw_query,
                                    int max_query_params, transcode_error *err) {
  memset(err, 0, sizeof *err);
  err->code = GRPC_STATUS_OK;
  ProtobufCAllocator alloc = arena_protobuf_allocator(a);
  ProtobufCMessage *msg = arena_alloc(a, input->sizeof_message);
  protobuf_c_message_init(input, msg);
  const char *rule = m->route->body ? m->route->body : "";
  if (!rule[0]) {
    if (body_len > 0) return tc_fail(err, "UNEXPECTED_BODY", NULL, "this route takes no request body");
  } else if (body_len > 0 && !tc_apply_body(a, rule, body, body_len, msg, &alloc, err)) {
    return NULL;
  }
  if (strcmp(rule, "*") != 0 && raw_query &&
      !tc_apply_query(a, raw_query, strlen(raw_query), max_query_params, msg, &alloc, err))
    return NULL;
  /* last, so that a path variable wins over the same field given in the body or the query */
  for (int i = 0; i < m->n_bindings; i++) {
    pjson_error pe;
    memset(&pe, 0, sizeof pe);
    if (!pjson_set_path(msg, m->bindings[i].field_path, m->bindings[i].value, &alloc, &pe))
      return tc_fail_pjson(a, err, &pe);
  }
  return msg;
}
