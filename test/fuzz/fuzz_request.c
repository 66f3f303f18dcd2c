/* libFuzzer target over the gateway's request path: route matching, path templates, query
 * decoding and JSON->proto on the real route table, with round-trip checks as the oracle. */
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/descset.h"
#include "common/pjson.h"
#include "common/proto_registry.h"
#include "common/text.h"
#include "transcoder/path_template.h"
#include "transcoder/raw_http.h"
#include "transcoder/routes.h"
#include "transcoder/transcode.h"

/* An input is "METHOD\nPATH\nQUERY\nBODY" (missing parts are empty; BODY runs to the end and may
 * hold any byte). The route table is the transcoder's: metro plus metro.testing. */
#define FZ_MAX_QUERY_PARAMS 64 /* the gateway's limit */

extern const unsigned char metro_descriptor_set[];
extern const size_t metro_descriptor_set_len;
extern const unsigned char metro_testing_descriptor_set[];
extern const size_t metro_testing_descriptor_set_len;

static const proto_registry *const fz_registries[] = {&metro_proto_registry, &metro_testing_registry, NULL};

static struct {
  descset *d;
  route_table *routes;
  const ProtobufCMessageDescriptor *everything; /* every field shape, for the body on its own */
} fz;

static void fz_init(void) {
  if (fz.routes) return;
  const uint8_t *sets[] = {metro_descriptor_set, metro_testing_descriptor_set};
  size_t lens[] = {metro_descriptor_set_len, metro_testing_descriptor_set_len};
  char err[512];
  fz.d = descset_load(sets, lens, 2, err, sizeof err);
  if (fz.d) fz.routes = route_table_build(fz.d, err, sizeof err);
  fz.everything = proto_registry_message(fz_registries, "metro.testing.v1.Everything");
  if (!fz.routes || !fz.everything) {
    fprintf(stderr, "fuzz_request: cannot build the route table: %s\n", err);
    abort();
  }
  pjson_set_registries(fz_registries);
}

/* A broken invariant is a crash: libFuzzer keeps the input, the replay test fails. */
static void fz_require(bool ok, const char *what, const ProtobufCMessage *msg, const char *detail) {
  if (ok) return;
  fprintf(stderr, "fuzz_request: %s (%s)%s%s\n", what, msg->descriptor->name, detail ? ": " : "",
          detail ? detail : "");
  abort();
}

static uint8_t *fz_pack(arena *a, const ProtobufCMessage *msg, size_t *len) {
  *len = protobuf_c_message_get_packed_size(msg);
  uint8_t *out = arena_alloc(a, *len + 1);
  fz_require(protobuf_c_message_pack(msg, out) == *len, "pack wrote another size than get_packed_size", msg,
             NULL);
  return out;
}

static void fz_same_bytes(arena *a, const ProtobufCMessage *x, const uint8_t *packed, size_t len, const char *what) {
  size_t len2;
  const uint8_t *packed2 = fz_pack(a, x, &len2);
  fz_require(len2 == len && memcmp(packed, packed2, len) == 0, what, x, NULL);
}

/* What the gateway would send packs, unpacks and packs again to the same bytes; its JSON form,
 * written by the tree encoder and by the streaming one, is the same document, and decodes back
 * to the same message. */
static void fz_round_trip(arena *a, const ProtobufCMessage *msg) {
  ProtobufCAllocator alloc = arena_protobuf_allocator(a);
  size_t len;
  const uint8_t *packed = fz_pack(a, msg, &len);
  ProtobufCMessage *back = protobuf_c_message_unpack(msg->descriptor, &alloc, len, packed);
  fz_require(back != NULL, "the packed request does not unpack", msg, NULL);
  fz_same_bytes(a, back, packed, len, "unpack then pack changes the bytes");

  pjson_error werr, terr;
  memset(&werr, 0, sizeof werr);
  memset(&terr, 0, sizeof terr);
  size_t jlen = 0;
  const char *text = pjson_write_arena(a, msg, PJSON_EMIT_DEFAULTS, &jlen, &werr);
  json_t *tree = pjson_encode_err(msg, PJSON_EMIT_DEFAULTS, &terr);
  fz_require((text != NULL) == (tree != NULL), "the two JSON encoders disagree on whether it can be written", msg,
             text ? terr.message : werr.message);
  if (!text) return; /* no JSON form (an Any of an unknown type, a Timestamp out of range...) */
  json_t *reread = json_loadb(text, jlen, JSON_DECODE_ANY, NULL);
  fz_require(reread != NULL, "the streaming encoder wrote invalid JSON", msg, text);
  bool same = json_equal(reread, tree);
  json_decref(reread);
  json_decref(tree);
  fz_require(same, "the two JSON encoders write different documents", msg, text);

  ProtobufCMessage *again = arena_alloc(a, msg->descriptor->sizeof_message);
  protobuf_c_message_init(msg->descriptor, again);
  pjson_error derr;
  memset(&derr, 0, sizeof derr);
  bool decoded = pjson_decode_text(text, jlen, again, &alloc, &derr);
  fz_require(decoded, "the JSON written does not decode", msg, arena_printf(a, "%s: %s", derr.message, text));
  fz_same_bytes(a, again, packed, len, "JSON encode then decode changes the message");
}

/* A refusal the gateway can send: a code, a reason, and a message and field that are valid
 * UTF-8 (they go back inside a JSON google.rpc.Status). */
static void fz_error_sendable(const transcode_error *err, const ProtobufCMessageDescriptor *input) {
  if (err->code == GRPC_STATUS_OK || !err->reason || !err->message) {
    fprintf(stderr, "fuzz_request: a refusal without code, reason or message (%s)\n", input->name);
    abort();
  }
  if (text_utf8_length(err->message) < 0 || (err->field && text_utf8_length(err->field) < 0)) {
    fprintf(stderr, "fuzz_request: an error message or field that is not UTF-8 (%s): %s\n", input->name,
            err->message);
    abort();
  }
}

/* The path line as a template: parsed, and when it parses, matched against itself as a request. */
static void fz_template(arena *a, const char *text) {
  char err[256];
  path_template *t = path_template_parse(text, err, sizeof err);
  if (!t) return;
  for (int i = 0; i < t->n_variables; i++) (void)path_template_single_segment(t, &t->variables[i]);
  static const pt_tail_kind readings[] = {PT_TAIL_NONE, PT_TAIL_VERB, PT_TAIL_SUFFIX};
  for (size_t i = 0; i < sizeof readings / sizeof readings[0]; i++) {
    pt_request req;
    if (!pt_request_split(text, readings[i], &req) || !path_template_accepts(t, &req)) continue;
    pt_binding out[PT_MAX_VARIABLES];
    int n = 0;
    (void)path_template_bind(t, &req, a, out, &n);
  }
  path_template_free(t);
}

/* A raw method's request (metro.api.v1.HttpRequest), as the gateway builds it. */
static void fz_raw(arena *a, const route_match *m, const char *method, const char *path, const char *query,
                   const char *body, size_t body_len) {
  raw_http_request *b = arena_alloc(a, sizeof *b);
  raw_http_request_init(b, a, method, path, query, "192.0.2.1");
  raw_http_request_add_header(b, "Content-Type", "application/json");
  for (int i = 0; i < m->n_bindings; i++) raw_http_request_add_path_param(b, m->bindings[i].field_path, m->bindings[i].value);
  raw_http_request_set_body(b, body, body_len);
  if (!b->bad) fz_round_trip(a, &b->msg.base);
}

/* Cuts the next line off [*p, end) into a NUL-terminated string (stopping at a NUL, as C
 * strings from an HTTP server would). */
static const char *fz_line(arena *a, const char **p, const char *end) {
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  const char *stop = nl ? nl : end;
  const char *line = arena_strndup(a, *p, (size_t)(stop - *p));
  *p = nl ? nl + 1 : end;
  return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_init();
  arena *a = arena_create(16384);
  const char *p = (const char *)data, *end = p + size;
  const char *method = fz_line(a, &p, end);
  const char *path = fz_line(a, &p, end);
  const char *query = fz_line(a, &p, end);
  const char *body = p;
  size_t body_len = (size_t)(end - p);

  route_match m;
  route_result rr = route_table_match(fz.routes, a, method, path, &m);
  (void)route_table_allowed(fz.routes, a, path);
  if (rr == ROUTE_FOUND && m.route->raw_request) {
    fz_raw(a, &m, method, path, query, body, body_len);
  } else if (rr == ROUTE_FOUND) {
    const ProtobufCMessageDescriptor *input = proto_registry_message(fz_registries, m.route->method->input_type);
    if (!input) abort(); /* the gateway refuses to start without it */
    transcode_error err;
    ProtobufCMessage *msg =
        transcode_request(a, &m, input, body, body_len, query, FZ_MAX_QUERY_PARAMS, &err);
    if (msg) fz_round_trip(a, msg);
    else fz_error_sendable(&err, input);
  }
  /* the body on its own into the message with every field shape */
  ProtobufCAllocator alloc = arena_protobuf_allocator(a);
  ProtobufCMessage *all = arena_alloc(a, fz.everything->sizeof_message);
  protobuf_c_message_init(fz.everything, all);
  pjson_error perr;
  memset(&perr, 0, sizeof perr);
  if (pjson_decode_text(body, body_len, all, &alloc, &perr)) {
    fz_round_trip(a, all);
  } else if (text_utf8_length(perr.message) < 0 || text_utf8_length(perr.field) < 0) {
    fprintf(stderr, "fuzz_request: a JSON error message or field that is not UTF-8: %s\n", perr.message);
    abort();
  }
  fz_template(a, path);
  arena_destroy(a);
  return 0;
}
