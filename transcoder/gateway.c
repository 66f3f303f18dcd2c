/* The gateway's request lifecycle on its own HTTP server: match a route, authenticate (bearer
 * token or API key), rate-limit, build the protobuf request, call the service through its
 * breaker, answer JSON (or raw HTTP for methods taking or answering metro.api.v1.HttpRequest). */
#include "transcoder/gateway.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pjson.h"
#include "common/redis.h"
#include "transcoder/edge_auth.h"
#include "transcoder/edge_keys.h"
#include "transcoder/edge_limits.h"
#include "transcoder/gateway_report.h"
#include "transcoder/http_server.h"
#include "transcoder/openapi.h"
#include "transcoder/raw_http.h"
#include "transcoder/routes.h"
#include "transcoder/transcode.h"

#define ALLOW_HEADERS "Authorization, Content-Type, X-Request-Id, Idempotency-Key, traceparent, X-API-Key"
#define EXPOSE_HEADERS "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
#define CLIENT_IP_TTL_S 60
#define MAX_ANSWER_HEADERS (RAW_HTTP_MAX_RESPONSE_HEADERS + 16)

/* What the gateway knows of each annotated method, resolved once at start-up. */
typedef struct method_binding {
  const descset_method *method;
  const ProtobufCMessageDescriptor *input, *output;
  backend_service *backend;
  bool raw_request, raw_response; /* metro.api.v1.HttpRequest in, HttpResponse out */
} method_binding;

typedef struct gw_request {
  arena *arena;
  http_exchange *ex;
  const http_request *req;
  double started;
  const char *route_label;  /* the matched template, or "unmatched" */
  const char *method_label; /* the request method, or "other" */
  const char *request_id;
  const char *origin;
  const method_binding *binding;
  backend_call call;
  rate_limit_result limit;
  bool limited;
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
  http_server *server;
  route_table *routes;
  method_binding *bindings;
  int n_bindings;
  char *openapi;
  size_t openapi_len;
  metric_family *m_requests, *m_latency;
} gw;

/* ---- small helpers ---- */

static bool printable_token(const char *s, size_t max) {
  size_t n = 0;
  for (; s[n]; n++)
    if (n >= max || s[n] < 0x21 || s[n] > 0x7e) return false;
  return n > 0;
}

/* A new W3C trace: "00-<32 hex trace id>-<16 hex parent id>-01". */
static const char *new_traceparent(arena *a) {
  unsigned char b[24];
  crypto_random_id_bytes(b, sizeof b);
  char *out = arena_alloc(a, 56);
  memcpy(out, "00-", 3);
  crypto_hex(b, 16, out + 3);
  out[35] = '-';
  crypto_hex(b + 16, 8, out + 36);
  memcpy(out + 52, "-01", 4);
  return out;
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

static bool listed(const char *const *list, const char *value) {
  if (!list || !value) return false;
  for (const char *const *o = list; *o; o++)
    if (strcmp(*o, "*") == 0 || strcmp(*o, value) == 0) return true;
  return false;
}

static bool origin_allowed(const char *origin) { return listed(gw.cfg.cors_origins, origin); }

/* Trusted proxies as address ranges ("127.0.0.1", "10.0.0.0/8", "fd00::/8"). */
typedef struct cidr {
  int family;
  unsigned char addr[16];
  int bits;
} cidr;

static cidr *proxies;
static int n_proxies;

static bool cidr_parse(const char *text, cidr *out) {
  char host[64];
  const char *slash = strchr(text, '/');
  size_t n = slash ? (size_t)(slash - text) : strlen(text);
  if (n == 0 || n >= sizeof host) return false;
  memcpy(host, text, n);
  host[n] = '\0';
  out->family = strchr(host, ':') ? AF_INET6 : AF_INET;
  int max_bits = out->family == AF_INET ? 32 : 128;
  if (inet_pton(out->family, host, out->addr) != 1) return false;
  out->bits = max_bits;
  if (slash) {
    char *end;
    long b = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end || b < 0 || b > max_bits) return false;
    out->bits = (int)b;
  }
  return true;
}

static bool cidr_contains(const cidr *c, const char *ip) {
  unsigned char a[16];
  if (inet_pton(c->family, ip, a) != 1) return false;
  int full = c->bits / 8, rest = c->bits % 8;
  if (memcmp(a, c->addr, (size_t)full) != 0) return false;
  if (!rest) return true;
  unsigned char mask = (unsigned char)(0xff << (8 - rest));
  return (a[full] & mask) == (c->addr[full] & mask);
}

/* The client's address: the TCP peer, unless the peer is a trusted proxy (the nginx edge),
 * whose X-Forwarded-For hop (the right-most entry, the one it appended) is then taken. */
static const char *client_ip(gw_request *r) {
  const char *peer = r->req->peer_ip;
  bool trusted = false;
  for (int i = 0; i < n_proxies && !trusted; i++) trusted = cidr_contains(&proxies[i], peer);
  if (!trusted) return peer;
  const char *xff = http_request_header(r->req, "X-Forwarded-For");
  if (!xff || strlen(xff) > 1024) return peer;
  const char *last = strrchr(xff, ',');
  last = last ? last + 1 : xff;
  while (*last == ' ' || *last == '\t') last++;
  char *hop = arena_strndup(r->arena, last, strcspn(last, " \t"));
  unsigned char buf[16];
  if (inet_pton(AF_INET, hop, buf) == 1 || inet_pton(AF_INET6, hop, buf) == 1) return hop;
  return peer;
}

/* ---- answers ---- */

static void answer_json(gw_request *r, int status, json_t *body) {
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  r->http_status = status;
  r->payload = arena_strdup(r->arena, text ? text : "{}");
  r->payload_len = strlen(r->payload);
  free(text);
}

/* A google.rpc.Status body with one ErrorInfo. */
static json_t *status_json(grpc_status_code code, const char *reason, const char *field, int64_t retry_after,
                           const char *message) {
  json_t *info = json_pack("{s:s, s:s, s:s}", "@type", "type.googleapis.com/google.rpc.ErrorInfo", "reason",
                           reason ? reason : rpc_code_name(code), "domain", METRO_ERROR_DOMAIN);
  json_t *meta = json_object();
  if (field) json_object_set_new(meta, "field", json_string(field));
  if (retry_after > 0) {
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)retry_after);
    json_object_set_new(meta, "retryAfter", json_string(buf));
  }
  if (json_object_size(meta)) json_object_set_new(info, "metadata", meta);
  else json_decref(meta);
  return json_pack("{s:i, s:s, s:[o]}", "code", (int)code, "message", message ? message : "", "details", info);
}

static void answer_status(gw_request *r, rpc_status st) {
  if (st.retry_after > 0) r->retry_after = st.retry_after;
  answer_json(r, rpc_http_status(st.code, st.reason),
              status_json(st.code, st.reason, st.field, st.retry_after, st.message));
}

static void answer_error(gw_request *r, grpc_status_code code, const char *reason, const char *field,
                         const char *message) {
  answer_status(r, (rpc_status){.code = code, .reason = reason, .field = field, .message = message});
}

/* The server's own refusals (malformed or oversized requests, deadlines) in the same format. */
static size_t error_body(char *buf, size_t cap, int status, const char *reason, const char *message) {
  grpc_status_code code = status == 413 || status == 429 ? GRPC_STATUS_RESOURCE_EXHAUSTED
                          : status == 408                ? GRPC_STATUS_DEADLINE_EXCEEDED
                          : status == 417                ? GRPC_STATUS_FAILED_PRECONDITION
                          : status == 505                ? GRPC_STATUS_UNIMPLEMENTED
                                                         : GRPC_STATUS_INVALID_ARGUMENT;
  json_t *body = status_json(code, reason, NULL, 0, message);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  size_t n = text ? strlen(text) : 0;
  if (n >= cap) n = 0;
  if (n) memcpy(buf, text, n);
  free(text);
  return n;
}

typedef struct header_list {
  const char *names[MAX_ANSWER_HEADERS], *values[MAX_ANSWER_HEADERS];
  int n;
} header_list;

static void add_header(header_list *h, const char *name, const char *value) {
  if (h->n < MAX_ANSWER_HEADERS) {
    h->names[h->n] = name;
    h->values[h->n++] = value;
  }
}

static void add_limit_headers(gw_request *r, header_list *h) {
  if (!r->limited) return;
  rate_limit_headers rl;
  rate_limit_headers_format(r->arena, &r->limit, &rl);
  for (int i = 0; i < rl.n; i++) {
    if (strcasecmp(rl.items[i].name, "Retry-After") == 0) {
      if (r->retry_after <= 0) r->retry_after = atoll(rl.items[i].value);
    } else {
      add_header(h, rl.items[i].name, rl.items[i].value);
    }
  }
}

static void send_answer(gw_request *r) {
  header_list h = {.n = 0};
  add_header(&h, "X-Request-Id", r->request_id);
  if (!r->raw || !r->raw->has_cache_control) add_header(&h, "Cache-Control", "no-store");
  for (int i = 0; r->raw && i < r->raw->n_headers; i++) add_header(&h, r->raw->header_names[i], r->raw->header_values[i]);
  add_limit_headers(r, &h);
  if (r->retry_after > 0) add_header(&h, "Retry-After", arena_printf(r->arena, "%lld", (long long)r->retry_after));
  if (r->allow) add_header(&h, "Allow", r->allow);
  if (origin_allowed(r->origin)) {
    add_header(&h, "Access-Control-Allow-Origin", r->origin);
    add_header(&h, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
    add_header(&h, "Vary", "Origin");
  }
  http_response resp = {.status = r->http_status,
                        .content_type = r->raw ? r->raw->content_type : "application/json",
                        .body = r->payload,
                        .body_len = r->payload_len,
                        .header_names = h.names,
                        .header_values = h.values,
                        .n_headers = h.n};
  char code[8];
  snprintf(code, sizeof code, "%d", r->http_status);
  metrics_add_v(gw.m_requests, (const char *const[]){code, r->method_label, r->route_label}, 1);
  metrics_observe_v(gw.m_latency, (const char *const[]){r->method_label, r->route_label},
                    clock_mono_seconds() - r->started);
  http_respond(r->ex, &resp);
}

static void send_plain(http_exchange *ex, int status, const char *type, const char *body, size_t len) {
  http_response resp = {.status = status, .content_type = type, .body = body, .body_len = len};
  http_respond(ex, &resp);
}

/* ---- building the gRPC request ---- */

/* A raw request: the HTTP request as received, with the template variables as path_params. */
static ProtobufCMessage *build_raw_request(gw_request *r, const route_match *m, const char *method, const char *ip) {
  if (!m->route->body[0] && r->req->body_len > 0) {
    answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "UNEXPECTED_BODY", NULL, "this route takes no request body");
    return NULL;
  }
  raw_http_request *b = arena_alloc(r->arena, sizeof *b);
  raw_http_request_init(b, r->arena, method, r->req->path, r->req->query, ip);
  for (int i = 0; i < r->req->n_headers; i++)
    raw_http_request_add_header(b, r->req->headers[i].name, r->req->headers[i].value);
  for (int i = 0; i < m->n_bindings; i++)
    raw_http_request_add_path_param(b, m->bindings[i].field_path, m->bindings[i].value);
  raw_http_request_set_body(b, r->req->body, r->req->body_len);
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
    } else {
      size_t len = 0;
      pjson_error err;
      char *text = resp ? pjson_write_arena(r->arena, resp, PJSON_EMIT_DEFAULTS, &len, &err) : NULL;
      if (!text) {
        answer_error(r, GRPC_STATUS_INTERNAL, "INTERNAL", NULL, "the service sent a response JSON cannot carry");
      } else {
        r->http_status = 200;
        r->payload = text;
        r->payload_len = len;
      }
    }
  }
  send_answer(r);
}

/* JSON routes take JSON bodies: "application/json" or any "+json" type, parameters allowed. */
static bool json_content_type(const char *ct) {
  if (!ct) return false;
  while (*ct == ' ') ct++;
  size_t n = strcspn(ct, "; \t");
  if (n == 16 && strncasecmp(ct, "application/json", 16) == 0) return true;
  return n > 5 && strncasecmp(ct, "application/", 12) == 0 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* Bearer token or API key: true with the identity to forward (or none on a public route). */
static bool authenticate(gw_request *r, const descset_method *dm, const char *path, rpc_identity *who,
                         const char **identity, const char **identity_sig, edge_subject *subject) {
  const char *api_key = http_request_header(r->req, "X-API-Key");
  const char *authz = http_request_header(r->req, "Authorization");
  const char *why = NULL;
  bool ok = false;
  if (api_key && authz) {
    answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "AMBIGUOUS_CREDENTIALS", NULL,
                 "send either Authorization or X-API-Key, not both");
    return false;
  }
  if (api_key) {
    edge_key_identity k;
    edge_key_result kr = edge_keys_check(r->arena, api_key, path, &k, &why);
    if (kr == EDGE_KEY_UNAVAILABLE) {
      answer_error(r, GRPC_STATUS_UNAVAILABLE, "UNAVAILABLE", NULL, why);
      return false;
    }
    if (kr == EDGE_KEY_OUT_OF_SCOPE) {
      answer_error(r, GRPC_STATUS_PERMISSION_DENIED, "API_KEY_OUT_OF_SCOPE", NULL, why);
      return false;
    }
    if (kr != EDGE_KEY_OK) {
      answer_error(r, GRPC_STATUS_UNAUTHENTICATED, "INVALID_API_KEY", NULL, why);
      return false;
    }
    *who = k.who;
    *identity = k.identity;
    *identity_sig = k.identity_sig;
    subject->api_key_id = k.key_id;
    subject->api_key_per_minute = k.per_minute;
    ok = true;
  } else {
    edge_auth_result auth = edge_auth_check(r->arena, authz, who, identity, identity_sig, &why);
    ok = auth == EDGE_AUTH_OK;
    if (!ok && !dm->access_public) {
      answer_error(r, GRPC_STATUS_UNAUTHENTICATED, "UNAUTHENTICATED", NULL,
                   auth == EDGE_AUTH_NONE ? "this route needs an access token (Authorization: Bearer ...)" : why);
      return false;
    }
  }
  if (!ok) {
    *identity = *identity_sig = NULL; /* public route: an unusable token is simply not forwarded */
    return true;
  }
  subject->user_id = who->user_id;
  if (dm->access_public) return true;
  bool allowed = dm->n_roles == 0;
  for (int i = 0; i < dm->n_roles && !allowed; i++)
    for (int k = 0; k < who->n_roles; k++)
      if (strcmp(who->roles[k], dm->roles[i]) == 0 || strcmp(who->roles[k], "admin") == 0) allowed = true;
  if (!allowed) {
    answer_error(r, GRPC_STATUS_PERMISSION_DENIED, "PERMISSION_DENIED", NULL, "this route needs another role");
    return false;
  }
  return true;
}

/* Routes, authenticates, limits and starts the call; or answers right away (false). */
static bool dispatch(gw_request *r, const char *method, const char *path) {
  route_match m;
  route_result rr = route_table_match(gw.routes, r->arena, method, path, &m);
  if (rr == ROUTE_NOT_FOUND) {
    answer_error(r, GRPC_STATUS_NOT_FOUND, "ROUTE_NOT_FOUND", NULL, "no such route");
    return false;
  }
  if (rr == ROUTE_METHOD_NOT_ALLOWED) {
    r->allow = route_table_allowed(gw.routes, r->arena, path);
    answer_error(r, GRPC_STATUS_UNIMPLEMENTED, "METHOD_NOT_ALLOWED", NULL,
                 arena_printf(r->arena, "%s is not allowed on this route", method));
    return false;
  }
  r->route_label = m.route->template_text;
  r->binding = binding_for(m.route->method);
  const descset_method *dm = m.route->method;
  if (!r->binding->raw_request && r->req->body_len > 0 &&
      !json_content_type(http_request_header(r->req, "Content-Type"))) {
    answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "UNSUPPORTED_MEDIA_TYPE", "Content-Type",
                 "the request body must be JSON (Content-Type: application/json)");
    return false;
  }
  const char *ip = client_ip(r);
  edge_subject subject = {.ip = ip};
  rpc_identity who;
  memset(&who, 0, sizeof who);
  const char *identity = NULL, *identity_sig = NULL;
  if (!authenticate(r, dm, path, &who, &identity, &identity_sig, &subject)) return false;
  edge_limits_check(r->arena, method, path, &subject, &r->limit, &r->limited);
  if (!r->limit.allowed) {
    answer_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED, "RATE_LIMITED", NULL, "too many requests; retry later");
    return false;
  }
  /* Idempotency-Key travels as gRPC metadata, which takes printable ASCII only. */
  const char *idem = http_request_header(r->req, "Idempotency-Key");
  if (idem && !printable_token(idem, 128)) {
    answer_error(r, GRPC_STATUS_INVALID_ARGUMENT, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key",
                 "Idempotency-Key must be 1-128 printable ASCII characters without spaces");
    return false;
  }
  ProtobufCMessage *msg = NULL;
  if (r->binding->raw_request) {
    msg = build_raw_request(r, &m, method, ip);
  } else {
    transcode_error terr;
    msg = transcode_request(r->arena, &m, r->binding->input, r->req->body, r->req->body_len, r->req->query,
                            gw.cfg.max_query_params, &terr);
    if (!msg) answer_error(r, terr.code, terr.reason, terr.field, terr.message);
  }
  if (!msg) return false;
  size_t len = protobuf_c_message_get_packed_size(msg);
  uint8_t *packed = arena_alloc(r->arena, len ? len : 1);
  protobuf_c_message_pack(msg, packed);

  const char *tp = http_request_header(r->req, "traceparent");
  if (!tp || !traceparent_ok(tp))
    tp = new_traceparent(r->arena);
  rpc_call_meta meta = {.request_id = r->request_id, .traceparent = tp, .identity_raw = identity,
                        .identity_sig = identity_sig, .idempotency_key = idem};
  client_ip_sign(r->arena, gw.cfg.identity_secret, ip, (int64_t)time(NULL) + CLIENT_IP_TTL_S, &meta.client_ip_value,
                 &meta.client_ip_sig);
  int64_t retry_after_ms = 0;
  backend_start_result br = backend_start(&r->call, r->arena, r->binding->backend, dm->path, &meta, packed, len,
                                          gw.cfg.backend_timeout_ms, dm->idempotent, &retry_after_ms, call_done, r);
  if (br == BACKEND_STARTED) return true;
  if (br == BACKEND_CIRCUIT_OPEN) {
    r->retry_after = retry_after_ms > 0 ? (retry_after_ms + 999) / 1000 : 1;
    answer_error(r, GRPC_STATUS_UNAVAILABLE, "CIRCUIT_OPEN", NULL,
                 arena_printf(r->arena, "the %s service is failing; retry later", r->binding->backend->key));
  } else {
    answer_error(r, GRPC_STATUS_UNAVAILABLE, "UNAVAILABLE", NULL, "the service is unavailable");
  }
  return false;
}

/* ---- built-in endpoints ---- */

static bool builtin_endpoint(http_exchange *ex, const http_request *req, const char *method) {
  if (strcmp(method, "GET") != 0) return false;
  if (strcmp(req->path, "/healthz") == 0) {
    send_plain(ex, 200, "application/json", "{\"status\":\"ok\"}", 15);
  } else if (strcmp(req->path, "/readyz") == 0) {
    bool ready = edge_auth_ready();
    if (ready) send_plain(ex, 200, "application/json", "{\"status\":\"ready\"}", 18);
    else send_plain(ex, 503, "application/json", "{\"status\":\"starting\"}", 21);
  } else if (strcmp(req->path, "/openapi.json") == 0) {
    send_plain(ex, 200, "application/json", gw.openapi, gw.openapi_len);
  } else {
    return false;
  }
  return true;
}

static void preflight(http_exchange *ex, const http_request *req) {
  const char *origin = http_request_header(req, "Origin");
  header_list h = {.n = 0};
  if (origin_allowed(origin)) {
    const char *allow = route_table_allowed(gw.routes, req->arena, req->path);
    add_header(&h, "Access-Control-Allow-Origin", origin);
    add_header(&h, "Access-Control-Allow-Methods", allow && *allow ? allow : "GET, POST");
    add_header(&h, "Access-Control-Allow-Headers", ALLOW_HEADERS);
    add_header(&h, "Access-Control-Max-Age", "600");
    add_header(&h, "Vary", "Origin");
  }
  http_response resp = {.status = 204, .header_names = h.names, .header_values = h.values, .n_headers = h.n};
  http_respond(ex, &resp);
}

/* ---- the server's handler ---- */

/* The method label of http_requests_total: the standard methods, anything else "other". */
static const char *metric_method(const char *method) {
  static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(method, known[i]) == 0) return known[i];
  return "other";
}

static void on_request(http_exchange *ex, const http_request *req, void *user) {
  (void)user;
  /* HEAD is GET without the body (the server drops it). */
  const char *method = req->head ? "GET" : req->method;
  if (builtin_endpoint(ex, req, method)) return;
  if (strcmp(method, "OPTIONS") == 0) {
    preflight(ex, req);
    return;
  }
  gw_request *r = arena_alloc(req->arena, sizeof *r);
  memset(r, 0, sizeof *r);
  r->arena = req->arena;
  r->ex = ex;
  r->req = req;
  r->started = clock_mono_seconds();
  r->route_label = "unmatched";
  r->method_label = metric_method(req->method);
  const char *rid = http_request_header(req, "X-Request-Id");
  r->request_id = rid && printable_token(rid, 128) ? rid : rpc_new_request_id(req->arena);
  r->origin = http_request_header(req, "Origin");
  if (!dispatch(r, method, req->path)) send_answer(r);
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
    backend_service *backend = NULL;
    for (int k = 0; k < gw.cfg.n_backends; k++)
      if (strcmp(gw.cfg.backends[k].key, key) == 0) backend = &gw.cfg.backends[k];
    for (int j = 0; j < svc->n_methods; j++) {
      const descset_method *m = &svc->methods[j];
      if (!m->http) continue;
      if (!backend) {
        snprintf(err, errlen, "no backend address for service %s (METRO_BACKENDS key \"%s\")", svc->full_name, key);
        return false;
      }
      method_binding *b = &gw.bindings[gw.n_bindings++];
      b->method = m;
      b->backend = backend;
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
  n_proxies = 0;
  for (const char *const *p = cfg->trusted_proxies; p && *p; p++) n_proxies++;
  proxies = arena_alloc(g_arena, sizeof(cidr) * (size_t)(n_proxies ? n_proxies : 1));
  for (int i = 0; i < n_proxies; i++)
    if (!cidr_parse(cfg->trusted_proxies[i], &proxies[i])) {
      snprintf(err, errlen, "METRO_TRUSTED_PROXIES: not an address or range: \"%s\"", cfg->trusted_proxies[i]);
      return false;
    }
  gw.routes = route_table_build(cfg->descriptors, err, errlen);
  if (!gw.routes || !bind_methods(err, errlen)) return false;
  json_t *doc = openapi_build(cfg->descriptors, gw.routes, "Metro HCMC API", "v1");
  char *text = json_dumps(doc, JSON_INDENT(1));
  json_decref(doc);
  gw.openapi = arena_strdup(g_arena, text ? text : "{}");
  gw.openapi_len = strlen(gw.openapi);
  free(text);
  /* route: the matched template ("/v1/stations/{station_id}"), "unmatched" otherwise (bounded). */
  gw.m_requests = metrics_counter_v("http_requests_total", "REST requests answered, by status code, method and route.",
                                    (const char *const[]){"code", "method", "route"}, 3);
  gw.m_latency = metrics_histogram_v("http_request_duration_seconds",
                                     "Time from a REST request's arrival to its answer, in seconds.",
                                     (const char *const[]){"method", "route"}, 2);
  if (!backend_init()) {
    snprintf(err, errlen, "cannot start the gRPC completion thread");
    return false;
  }
  http_server_config sc = {
      .addr = cfg->listen_addr,
      .port = cfg->port,
      .threads = cfg->threads,
      .max_connections = cfg->max_connections,
      .max_body = cfg->max_body_bytes,
      .limits = {.max_target = cfg->max_target_bytes, .max_header_line = cfg->max_header_bytes,
                 .max_head = 2 * cfg->max_header_bytes, .max_headers = cfg->max_header_count},
      .request_deadline_ms = cfg->request_deadline_ms,
      .idle_timeout_ms = cfg->idle_timeout_ms,
      .handler = on_request,
      .error_body = error_body,
      .error_content_type = "application/json",
      .thread_exit = redis_disconnect, /* the rate limits' per-thread connection */
  };
  gw.server = http_server_start(&sc, err, errlen);
  if (!gw.server) return false;
  log_info("REST gateway listening on %s:%d with %d routes", cfg->listen_addr, http_server_port(gw.server),
           gw.n_bindings);
  const char *management = NULL;
  for (int i = 0; i < cfg->n_backends; i++)
    if (strcmp(cfg->backends[i].key, "management") == 0) management = cfg->backends[i].grpc_target;
  gateway_report_config rc = {.routes = gw.routes, .backends = cfg->backends, .n_backends = cfg->n_backends,
                              .management_target = management,
                              .listen_addr = cfg->listen_addr, .port = http_server_port(gw.server),
                              .report_ms = cfg->report_ms};
  gateway_report_start(&rc);
  return true;
}

int gateway_port(void) { return gw.server ? http_server_port(gw.server) : 0; }

void gateway_stop(void) {
  gateway_report_stop();
  /* Requests in flight finish within their backend deadline; wait for them. */
  http_server_stop(gw.server, gw.cfg.backend_timeout_ms + 2000);
  gw.server = NULL;
  backend_shutdown();
  if (gw.routes) route_table_free(gw.routes);
  gw.routes = NULL;
  arena_destroy(g_arena);
  g_arena = NULL;
}
