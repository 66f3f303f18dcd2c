/* The gateway's request lifecycle on libmicrohttpd: read a bounded body, match a route,
 * authenticate, build the protobuf request, suspend during the gRPC call, answer JSON (or raw
 * HTTP for methods taking or answering metro.api.v1.HttpRequest / HttpResponse). */
#include "transcoder/gateway.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/pjson.h"
#include "transcoder/backend.h"
#include "transcoder/edge_auth.h"
#include "transcoder/openapi.h"
#include "transcoder/path_template.h"
#include "transcoder/raw_http.h"
#include "transcoder/routes.h"

#define MAX_QUERY_PARAMS 64
#define DISCARD_FACTOR 8 /* a refused body is drained up to 8x the body limit */
#define ALLOW_HEADERS "Authorization, Content-Type, X-Request-Id, Idempotency-Key, traceparent"

/* What the gateway knows of each annotated method, resolved once at start-up. */
typedef struct method_binding {
  const descset_method *method;
  const ProtobufCMessageDescriptor *input, *output;
  const char *target;
  bool raw_request, raw_response; /* metro.api.v1.HttpRequest in, HttpResponse out */
} method_binding;

typedef enum { REQ_READING, REQ_IN_FLIGHT, REQ_ANSWERED } request_state;

typedef struct gw_request {
  arena *arena;
  struct MHD_Connection *conn;
  bool begun;            /* the access handler has seen this request */
  const char *raw_query; /* the bytes after '?' as received, kept before MHD parses them */
  request_state state;
  char *body;
  size_t body_len, body_cap;
  size_t discarded; /* bytes of a refused body read and dropped */
  bool body_too_large;
  double started;
  const char *route_label;
  const char *request_id;
  const char *origin;
  const method_binding *binding;
  backend_call call;
  /* the answer */
  int http_status;
  char *payload;
  size_t payload_len;
  int64_t retry_after;
  const char *allow;
  const raw_http_answer *raw; /* a raw answer's content type and headers */
} gw_request;

static struct {
  gateway_config cfg;
  struct MHD_Daemon *daemon;
  route_table *routes;
  method_binding *bindings;
  int n_bindings;
  char *openapi;
  size_t openapi_len;
  int port;
  atomic_int in_flight; /* suspended connections; all must be resumed before stopping */
  metric_family *m_requests, *m_latency;
} gw;

/* ---- small helpers ---- */

static double mono_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool printable_token(const char *s, size_t max) {
  size_t n = 0;
  for (; s[n]; n++)
    if (n >= max || s[n] < 0x21 || s[n] > 0x7e) return false;
  return n > 0;
}

static const char *random_hex(arena *a, size_t bytes) {
  unsigned char b[32];
  if (bytes > sizeof b || RAND_bytes(b, (int)bytes) != 1) abort();
  char *out = arena_alloc(a, bytes * 2 + 1);
  for (size_t i = 0; i < bytes; i++) sprintf(out + 2 * i, "%02x", b[i]);
  return out;
}

static const char *new_request_id(arena *a) {
  const char *h = random_hex(a, 16);
  return arena_printf(a, "%.8s-%.4s-4%.3s-a%.3s-%.12s", h, h + 8, h + 13, h + 17, h + 20);
}

/* W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>"; a malformed one starts a new trace. */
static bool traceparent_ok(const char *s) {
  if (strlen(s) != 55 || s[2] != '-' || s[35] != '-' || s[52] != '-') return false;
  for (int i = 0; i < 55; i++) {
    if (i == 2 || i == 35 || i == 52) continue;
    if (!strchr("0123456789abcdef", s[i])) return false;
  }
  return strncmp(s, "ff", 2) != 0;
}

static const method_binding *binding_for(const descset_method *m) {
  for (int i = 0; i < gw.n_bindings; i++)
    if (gw.bindings[i].method == m) return &gw.bindings[i];
  return NULL;
}

static bool origin_allowed(const char *origin) {
  if (!origin || !gw.cfg.cors_origins) return false;
  for (const char *const *o = gw.cfg.cors_origins; *o; o++)
    if (strcmp(*o, "*") == 0 || strcmp(*o, origin) == 0) return true;
  return false;
}

/* ---- answers ---- */

static void answer_json(gw_request *r, int status, json_t *body) {
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  r->http_status = status;
  r->payload = arena_strdup(r->arena, text ? text : "{}");
  r->payload_len = strlen(r->payload);
  free(text);
  r->state = REQ_ANSWERED;
}

/* A google.rpc.Status JSON body with one ErrorInfo. */
static void answer_status(gw_request *r, rpc_status st) {
  json_t *info = json_pack("{s:s, s:s, s:s}", "@type", "type.googleapis.com/google.rpc.ErrorInfo", "reason",
                           st.reason ? st.reason : rpc_code_name(st.code), "domain", METRO_ERROR_DOMAIN);
  json_t *meta = json_object();
  if (st.field) json_object_set_new(meta, "field", json_string(st.field));
  if (st.retry_after > 0) {
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)st.retry_after);
    json_object_set_new(meta, "retryAfter", json_string(buf));
    r->retry_after = st.retry_after;
  }
  if (json_object_size(meta)) json_object_set_new(info, "metadata", meta);
  else json_decref(meta);
  json_t *body = json_pack("{s:i, s:s, s:[o]}", "code", (int)st.code, "message", st.message ? st.message : "",
                           "details", info);
  answer_json(r, rpc_http_status(st.code, st.reason), body);
}

static void answer_error(gw_request *r, grpc_status_code code, const char *reason, const char *field,
                         const char *message) {
  answer_status(r, (rpc_status){.code = code, .reason = reason, .field = field, .message = message});
}

static enum MHD_Result send_answer(gw_request *r) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(r->payload_len, r->payload, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(resp, "Content-Type", r->raw ? r->raw->content_type : "application/json");
  MHD_add_response_header(resp, "X-Request-Id", r->request_id);
  if (!r->raw || !r->raw->has_cache_control) MHD_add_response_header(resp, "Cache-Control", "no-store");
  for (int i = 0; r->raw && i < r->raw->n_headers; i++)
    MHD_add_response_header(resp, r->raw->header_names[i], r->raw->header_values[i]);
  if (r->retry_after > 0) {
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)r->retry_after);
    MHD_add_response_header(resp, "Retry-After", buf);
  }
  if (r->allow) MHD_add_response_header(resp, "Allow", r->allow);
  if (origin_allowed(r->origin)) {
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->origin);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
    MHD_add_response_header(resp, "Vary", "Origin");
  }
  enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->http_status, resp);
  MHD_destroy_response(resp);
  char status[8];
  snprintf(status, sizeof status, "%d", r->http_status);
  metrics_add(gw.m_requests, r->route_label, status, 1);
  metrics_observe(gw.m_latency, r->route_label, NULL, mono_seconds() - r->started);
  return ok;
}

static enum MHD_Result send_plain(struct MHD_Connection *conn, unsigned status, const char *type, const char *body,
                                  size_t len) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(resp, "Content-Type", type);
  enum MHD_Result ok = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return ok;
}

/* ---- building the gRPC request ---- */

typedef struct query_ctx {
  gw_request *r;
  ProtobufCMessage *msg;
  ProtobufCAllocator *alloc;
  int count;
  bool failed;
  pjson_error err;
} query_ctx;

/* Query keys and values arrive raw (see keep_escaped): "+" is a space, then %XX escapes
 * are decoded once; NULL for a malformed escape or a NUL byte. */
static const char *query_decode(arena *a, const char *s) {
  char *spaced = arena_strdup(a, s);
  for (char *p = spaced; *p; p++)
    if (*p == '+') *p = ' ';
  return pt_percent_decode(a, spaced, strlen(spaced), false);
}

static enum MHD_Result apply_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  query_ctx *q = cls;
  if (++q->count > MAX_QUERY_PARAMS) {
    q->failed = true;
    snprintf(q->err.message, sizeof q->err.message, "too many query parameters");
    q->err.field[0] = '\0';
    return MHD_NO;
  }
  const char *k = query_decode(q->r->arena, key), *v = query_decode(q->r->arena, value ? value : "");
  if (!k || !v) {
    q->failed = true;
    snprintf(q->err.message, sizeof q->err.message, "malformed percent-encoding in the query string");
    q->err.field[0] = '\0';
    return MHD_NO;
  }
  if (!pjson_set_path(q->msg, k, v, q->alloc, &q->err)) {
    q->failed = true;
    return MHD_NO;
  }
  return MHD_YES;
}

static void reject_input(gw_request *r, const pjson_error *err) {
  answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "INVALID_ARGUMENT", err->field[0] ? err->field : NULL,
               arena_strdup(r->arena, err->message));
}

/* Body, then path variables (which win), then query parameters (unless body is "*"). */
static ProtobufCMessage *build_request(gw_request *r, const route_match *m, ProtobufCAllocator *alloc) {
  const method_binding *b = r->binding;
  ProtobufCMessage *msg = arena_alloc(r->arena, b->input->sizeof_message);
  protobuf_c_message_init(b->input, msg);
  pjson_error err;
  memset(&err, 0, sizeof err);
  const char *body_rule = m->route->body ? m->route->body : "";
  if (!body_rule[0]) {
    if (r->body_len > 0) {
      answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "UNEXPECTED_BODY", NULL, "this route takes no request body");
      return NULL;
    }
  } else if (r->body_len > 0) {
    json_error_t jerr;
    json_t *parsed = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK * 0, &jerr);
    if (!parsed) {
      answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "MALFORMED_JSON", NULL,
                   arena_printf(r->arena, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                                jerr.text));
      return NULL;
    }
    json_t *doc = parsed;
    if (strcmp(body_rule, "*") != 0) doc = json_pack("{s:o}", body_rule, parsed);
    bool ok = json_is_object(doc) && pjson_decode(doc, msg, alloc, &err);
    if (!json_is_object(doc)) snprintf(err.message, sizeof err.message, "the request body must be a JSON object");
    json_decref(doc);
    if (!ok) {
      reject_input(r, &err);
      return NULL;
    }
  }
  for (int i = 0; i < m->n_bindings; i++)
    if (!pjson_set_path(msg, m->bindings[i].field_path, m->bindings[i].value, alloc, &err)) {
      reject_input(r, &err);
      return NULL;
    }
  if (strcmp(body_rule, "*") != 0) {
    query_ctx q = {.r = r, .msg = msg, .alloc = alloc};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, apply_query, &q);
    if (q.failed) {
      reject_input(r, &q.err);
      return NULL;
    }
  }
  return msg;
}

static enum MHD_Result add_raw_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  raw_http_request_add_header(cls, key, value ? value : "");
  return MHD_YES;
}

/* A raw request: the HTTP request as received, with the template variables as path_params. */
static ProtobufCMessage *build_raw_request(gw_request *r, const route_match *m, const char *method, const char *url,
                                           const char *ip) {
  if (!m->route->body[0] && r->body_len > 0) {
    answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "UNEXPECTED_BODY", NULL, "this route takes no request body");
    return NULL;
  }
  raw_http_request *b = arena_alloc(r->arena, sizeof *b);
  raw_http_request_init(b, r->arena, method, url, r->raw_query, ip);
  MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_raw_header, b);
  for (int i = 0; i < m->n_bindings; i++)
    raw_http_request_add_path_param(b, m->bindings[i].field_path, m->bindings[i].value);
  raw_http_request_set_body(b, r->body, r->body_len);
  if (b->bad) {
    answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "INVALID_ARGUMENT", NULL,
                 arena_printf(r->arena, "%s is not valid UTF-8", b->bad));
    return NULL;
  }
  return &b->msg.base;
}

/* A raw answer the gateway cannot write is the service's fault: 502, details in the log only. */
static void answer_raw(gw_request *r, const ProtobufCMessage *resp) {
  raw_http_answer *ans = arena_alloc(r->arena, sizeof *ans);
  const char *why = resp ? raw_http_response_check(r->arena, (const Metro__Api__V1__HttpResponse *)resp, ans)
                         : "the response does not parse";
  if (why) {
    log_warn("%s: invalid HTTP answer: %s", r->binding->method->path, why);
    answer_error(r, GRPC_STATUS_INTERNAL, "BAD_HTTP_ANSWER", NULL, "the service sent an invalid HTTP answer");
    r->http_status = 502;
    return;
  }
  r->raw = ans;
  r->http_status = ans->status;
  r->payload = (char *)ans->body;
  r->payload_len = ans->body_len;
  r->state = REQ_ANSWERED;
}

static void call_done(backend_call *call, void *user) {
  gw_request *r = user;
  if (!rpc_ok(call->status)) {
    answer_status(r, call->status);
  } else {
    ProtobufCAllocator alloc = arena_protobuf_allocator(r->arena);
    ProtobufCMessage *resp = protobuf_c_message_unpack(r->binding->output, &alloc, call->response_len, call->response);
    if (r->binding->raw_response) {
      answer_raw(r, resp);
      MHD_resume_connection(r->conn);
      atomic_fetch_sub(&gw.in_flight, 1);
      return;
    }
    size_t len = 0;
    pjson_error err;
    char *text = resp ? pjson_write_arena(r->arena, resp, PJSON_EMIT_DEFAULTS, &len, &err) : NULL;
    if (!text) {
      answer_error(r, GRPC_STATUS_INTERNAL, "INTERNAL", NULL, "the service sent a response JSON cannot carry");
    } else {
      r->http_status = 200;
      r->payload = text;
      r->payload_len = len;
      r->state = REQ_ANSWERED;
    }
  }
  MHD_resume_connection(r->conn);
  atomic_fetch_sub(&gw.in_flight, 1);
}

static const char *client_ip(gw_request *r) {
  if (gw.cfg.trust_forwarded_for) {
    /* The right-most hop is the one our trusted proxy appended; anything left of it
     * came from the client and could be forged. */
    const char *xff = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-For");
    if (xff && strlen(xff) <= 1024) {
      const char *last = strrchr(xff, ',');
      last = last ? last + 1 : xff;
      while (*last == ' ') last++;
      size_t n = strcspn(last, " ");
      char *hop = arena_strndup(r->arena, last, n);
      if (printable_token(hop, 64)) return hop;
    }
  }
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  char buf[INET6_ADDRSTRLEN] = "";
  if (info && info->client_addr) {
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
      inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, sizeof buf);
  }
  return arena_strdup(r->arena, buf);
}

/* Routes, authenticates and starts the call; or answers right away. */
static void dispatch(gw_request *r, const char *method, const char *url) {
  route_match m;
  route_result rr = route_table_match(gw.routes, r->arena, method, url, &m);
  if (rr == ROUTE_NOT_FOUND) {
    answer_error(r, GRPC_STATUS_NOT_FOUND, "ROUTE_NOT_FOUND", NULL, "no such route");
    return;
  }
  if (rr == ROUTE_METHOD_NOT_ALLOWED) {
    r->allow = route_table_allowed(gw.routes, r->arena, url);
    answer_error(r, GRPC_STATUS_UNIMPLEMENTED, "METHOD_NOT_ALLOWED", NULL,
                 arena_printf(r->arena, "%s is not allowed on this route", method));
    return;
  }
  r->route_label = m.route->template_text;
  r->binding = binding_for(m.route->method);
  if (r->body_too_large) {
    answer_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE", NULL,
                 arena_printf(r->arena, "the request body exceeds %zu bytes", gw.cfg.max_body_bytes));
    return;
  }
  const descset_method *dm = m.route->method;
  rpc_identity who;
  const char *identity = NULL, *identity_sig = NULL, *why = NULL;
  const char *authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
  edge_auth_result auth = edge_auth_check(r->arena, authz, &who, &identity, &identity_sig, &why);
  if (!dm->access_public) {
    if (auth != EDGE_AUTH_OK) {
      answer_error(r, GRPC_STATUS_UNAUTHENTICATED, "UNAUTHENTICATED", NULL,
                   auth == EDGE_AUTH_NONE ? "this route needs an access token (Authorization: Bearer ...)" : why);
      return;
    }
    bool allowed = dm->n_roles == 0;
    for (int i = 0; i < dm->n_roles && !allowed; i++)
      for (int k = 0; k < who.n_roles; k++)
        if (strcmp(who.roles[k], dm->roles[i]) == 0 || strcmp(who.roles[k], "admin") == 0) allowed = true;
    if (!allowed) {
      answer_error(r, GRPC_STATUS_PERMISSION_DENIED, "PERMISSION_DENIED", NULL, "this route needs another role");
      return;
    }
  } else if (auth != EDGE_AUTH_OK) {
    identity = identity_sig = NULL; /* public route: an unusable token is simply not forwarded */
  }
  /* Idempotency-Key travels as gRPC metadata, which takes printable ASCII only. */
  const char *idem = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
  if (idem && !printable_token(idem, 128)) {
    answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key",
                 "Idempotency-Key must be 1-128 printable ASCII characters without spaces");
    return;
  }
  ProtobufCAllocator alloc = arena_protobuf_allocator(r->arena);
  const char *ip = client_ip(r);
  ProtobufCMessage *msg = r->binding->raw_request ? build_raw_request(r, &m, method, url, ip)
                                                  : build_request(r, &m, &alloc);
  if (!msg) return;
  size_t len = protobuf_c_message_get_packed_size(msg);
  uint8_t *packed = arena_alloc(r->arena, len ? len : 1);
  protobuf_c_message_pack(msg, packed);

  const char *tp = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "traceparent");
  if (!tp || !traceparent_ok(tp))
    tp = arena_printf(r->arena, "00-%s-%s-01", random_hex(r->arena, 16), random_hex(r->arena, 8));
  rpc_call_meta meta = {.request_id = r->request_id, .traceparent = tp, .identity_raw = identity,
                        .identity_sig = identity_sig, .client_ip = ip,
                        .idempotency_key = idem};
  r->state = REQ_IN_FLIGHT;
  atomic_fetch_add(&gw.in_flight, 1);
  MHD_suspend_connection(r->conn);
  if (!backend_start(&r->call, r->arena, r->binding->target, dm->path, &meta, packed, len, gw.cfg.backend_timeout_ms,
                     call_done, r)) {
    answer_error(r, GRPC_STATUS_UNAVAILABLE, "UNAVAILABLE", NULL, "the service is unavailable");
    MHD_resume_connection(r->conn);
    atomic_fetch_sub(&gw.in_flight, 1);
  }
}

/* ---- built-in endpoints ---- */

static bool builtin_endpoint(struct MHD_Connection *conn, const char *method, const char *url,
                             enum MHD_Result *result) {
  if (strcmp(method, "GET") != 0) return false;
  if (strcmp(url, "/healthz") == 0) {
    *result = send_plain(conn, 200, "application/json", "{\"status\":\"ok\"}", 15);
  } else if (strcmp(url, "/readyz") == 0) {
    bool ready = edge_auth_ready();
    *result = ready ? send_plain(conn, 200, "application/json", "{\"status\":\"ready\"}", 18)
                    : send_plain(conn, 503, "application/json", "{\"status\":\"starting\"}", 21);
  } else if (strcmp(url, "/metrics") == 0) {
    char *text = metrics_render();
    *result = send_plain(conn, 200, "text/plain; version=0.0.4", text, strlen(text));
    free(text);
  } else if (strcmp(url, "/openapi.json") == 0) {
    *result = send_plain(conn, 200, "application/json", gw.openapi, gw.openapi_len);
  } else {
    return false;
  }
  return true;
}

static enum MHD_Result preflight(struct MHD_Connection *conn, const char *url) {
  const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
  struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
  if (origin_allowed(origin)) {
    arena *a = arena_create(1024);
    const char *allow = route_table_allowed(gw.routes, a, url);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow && *allow ? allow : "GET, POST");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers", ALLOW_HEADERS);
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    MHD_add_response_header(resp, "Vary", "Origin");
    arena_destroy(a);
  }
  enum MHD_Result ok = MHD_queue_response(conn, 204, resp);
  MHD_destroy_response(resp);
  return ok;
}

/* libmicrohttpd would percent-decode the path (and query) before routing, so an escaped
 * "/" or "%" inside a variable could not be told apart; keep them escaped instead. */
static size_t keep_escaped(void *cls, struct MHD_Connection *conn, char *s) {
  (void)cls;
  (void)conn;
  return strlen(s);
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  (void)key;
  (void)value;
  (*(int *)cls)++;
  return MHD_YES;
}

/* ---- libmicrohttpd callbacks ---- */

/* Called with the request target before libmicrohttpd splits off and parses the query string:
 * the only place the raw query exists. The request object starts here (it becomes *con_cls);
 * on_completed frees it even when the request never reaches the access handler. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
  (void)cls;
  arena *a = arena_create(16384);
  gw_request *r = arena_alloc(a, sizeof *r);
  r->arena = a;
  r->conn = conn;
  const char *q = uri ? strchr(uri, '?') : NULL;
  r->raw_query = arena_strdup(a, q ? q + 1 : "");
  return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  (void)cls;
  (void)version;
  gw_request *r = *con_cls;
  if (!r || !r->begun) {
    /* Never answer on this first call: libmicrohttpd would then close the connection
     * instead of keeping it alive. Everything is answered from a later call. */
    if (!r) r = on_uri(NULL, NULL, conn);
    arena *a = r->arena;
    r->begun = true;
    r->started = mono_seconds();
    r->route_label = "unmatched";
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    r->request_id = rid && printable_token(rid, 128) ? arena_strdup(a, rid) : new_request_id(a);
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    r->origin = origin ? arena_strdup(a, origin) : NULL;
    *con_cls = r;
    int headers = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &headers);
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    /* Refusals decided from the headers alone. A client that waits for 100-continue is
     * answered now (it never sends the body); any other is answered once its body has
     * been read and discarded, so it can read the answer instead of a reset. */
    if (headers > gw.cfg.max_header_count)
      answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "TOO_MANY_HEADERS", NULL, "too many request headers");
    else if (cl && strtoull(cl, NULL, 10) > gw.cfg.max_body_bytes)
      answer_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE", NULL,
                   arena_printf(a, "the request body exceeds %zu bytes", gw.cfg.max_body_bytes));
    const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
    if (r->state == REQ_ANSWERED && expect && strcasecmp(expect, "100-continue") == 0) return send_answer(r);
    return MHD_YES;
  }
  if (r->state == REQ_ANSWERED) {
    if (*upload_data_size == 0) return send_answer(r);
    r->discarded += *upload_data_size;
    *upload_data_size = 0;
    /* Discard a refused body, but not forever: past a bound the connection is cut. */
    return r->discarded > DISCARD_FACTOR * gw.cfg.max_body_bytes ? MHD_NO : MHD_YES;
  }
  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    if (!r->body_too_large && r->body_len + n <= gw.cfg.max_body_bytes) {
      if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
        while (cap < r->body_len + n) cap *= 2;
        char *grown = arena_alloc(r->arena, cap);
        if (r->body_len) memcpy(grown, r->body, r->body_len);
        r->body = grown;
        r->body_cap = cap;
      }
      memcpy(r->body + r->body_len, upload_data, n);
      r->body_len += n;
    } else {
      r->body_too_large = true;
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (r->state == REQ_READING) {
    enum MHD_Result result;
    if (builtin_endpoint(conn, method, url, &result)) return result;
    if (strcmp(method, "OPTIONS") == 0) return preflight(conn, url);
    dispatch(r, method, url);
    if (r->state == REQ_ANSWERED) return send_answer(r);
  }
  return MHD_YES; /* in flight: resumed by call_done */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)conn;
  (void)toe;
  gw_request *r = *con_cls;
  if (r) arena_destroy(r->arena);
  *con_cls = NULL;
}

/* ---- start and stop ---- */

static const char *service_key(arena *a, const char *full_name) {
  /* "metro.auth.v1.AuthService" -> "auth" */
  const char *p = strchr(full_name, '.');
  if (!p) return "";
  const char *q = strchr(p + 1, '.');
  return q ? arena_strndup(a, p + 1, (size_t)(q - p - 1)) : "";
}

static arena *g_arena;

static bool bind_methods(char *err, size_t errlen) {
  const descset_service *services;
  int n = descset_services(gw.cfg.descriptors, &services);
  int total = 0;
  for (int i = 0; i < n; i++) total += services[i].n_methods;
  gw.bindings = arena_alloc(g_arena, sizeof(method_binding) * (size_t)(total ? total : 1));
  for (int i = 0; i < n; i++) {
    const descset_service *svc = &services[i];
    const char *key = service_key(g_arena, svc->full_name);
    const char *target = NULL;
    for (int k = 0; k < gw.cfg.n_backends; k++)
      if (strcmp(gw.cfg.backends[k].service_key, key) == 0) target = gw.cfg.backends[k].target;
    for (int j = 0; j < svc->n_methods; j++) {
      const descset_method *m = &svc->methods[j];
      if (!m->http) continue;
      if (!target) {
        snprintf(err, errlen, "no backend address for service %s (METRO_BACKENDS key \"%s\")", svc->full_name, key);
        return false;
      }
      method_binding *b = &gw.bindings[gw.n_bindings++];
      b->method = m;
      b->target = target;
      b->input = proto_registry_message(gw.cfg.registries, m->input_type);
      b->output = proto_registry_message(gw.cfg.registries, m->output_type);
      b->raw_request = raw_http_is_request_type(m->input_type);
      b->raw_response = raw_http_is_response_type(m->output_type);
      if (!b->input || !b->output) {
        snprintf(err, errlen, "%s: message types not compiled into the gateway", m->path);
        return false;
      }
    }
  }
  return true;
}

bool gateway_start(const gateway_config *cfg, char *err, size_t errlen) {
  gw.cfg = *cfg;
  g_arena = arena_create(65536);
  gw.routes = route_table_build(cfg->descriptors, err, errlen);
  if (!gw.routes || !bind_methods(err, errlen)) return false;
  json_t *doc = openapi_build(cfg->descriptors, gw.routes, "Metro HCMC API", "v1");
  char *text = json_dumps(doc, JSON_INDENT(1));
  json_decref(doc);
  gw.openapi = arena_strdup(g_arena, text ? text : "{}");
  gw.openapi_len = strlen(gw.openapi);
  free(text);
  gw.m_requests = metrics_counter("metro_http_requests_total", "REST requests, by route template and HTTP status.",
                                  "route", "status");
  gw.m_latency = metrics_histogram("metro_http_request_seconds", "REST request latency, by route template.", "route",
                                   NULL);
  if (!backend_init()) {
    snprintf(err, errlen, "cannot start the gRPC completion thread");
    return false;
  }
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)cfg->port);
  if (inet_pton(AF_INET, cfg->listen_addr, &addr.sin_addr) != 1) {
    snprintf(err, errlen, "METRO_HTTP_ADDR: not an IPv4 address: %s", cfg->listen_addr);
    return false;
  }
  gw.daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
      on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
      (unsigned)cfg->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)65536, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped,
      NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_END);
  if (!gw.daemon) {
    snprintf(err, errlen, "cannot listen on %s:%d", cfg->listen_addr, cfg->port);
    return false;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(gw.daemon, MHD_DAEMON_INFO_BIND_PORT);
  gw.port = info ? info->port : cfg->port;
  log_info("REST gateway listening on %s:%d with %d routes", cfg->listen_addr, gw.port, gw.n_bindings);
  return true;
}

int gateway_port(void) { return gw.port; }

void gateway_stop(void) {
  if (gw.daemon) {
    MHD_quiesce_daemon(gw.daemon);
    /* Suspended requests finish within their backend deadline; wait for them. */
    for (int waited_ms = 0; atomic_load(&gw.in_flight) > 0 && waited_ms < gw.cfg.backend_timeout_ms + 2000;
         waited_ms += 10)
      nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    MHD_stop_daemon(gw.daemon);
    gw.daemon = NULL;
  }
  backend_shutdown();
  if (gw.routes) route_table_free(gw.routes);
  gw.routes = NULL;
  arena_destroy(g_arena);
  g_arena = NULL;
}
