/* metro-transcoder: reads METRO_* settings, loads the descriptor sets, starts edge
 * authentication (tokens and API keys), rate limits, the admin port (/metrics) and the REST
 * gateway, and drains on SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/heap_trim.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "common/redis.h"
#include "transcoder/admin_http.h"
#include "transcoder/edge_auth.h"
#include "transcoder/edge_keys.h"
#include "transcoder/edge_limits.h"
#include "transcoder/gateway.h"

extern const unsigned char metro_descriptor_set[];
extern const size_t metro_descriptor_set_len;
#ifdef METRO_TRANSCODER_TESTING
extern const unsigned char metro_testing_descriptor_set[];
extern const size_t metro_testing_descriptor_set_len;
static const proto_registry *const registries[] = {&metro_proto_registry, &metro_testing_registry, NULL};
#else
static const proto_registry *const registries[] = {&metro_proto_registry, NULL};
#endif

/* Default gRPC address of each service, keyed by the second segment of its package. */
static const struct {
  const char *key, *target;
} default_backends[] = {
    {"auth", "127.0.0.1:50051"},         {"user", "127.0.0.1:50052"},      {"transport", "127.0.0.1:50053"},
    {"ticket", "127.0.0.1:50054"},       {"public", "127.0.0.1:50055"},    {"payment", "127.0.0.1:50056"},
    {"webhook", "127.0.0.1:50057"},      {"notification", "127.0.0.1:50058"}, {"report", "127.0.0.1:50059"},
    {"control", "127.0.0.1:50060"},      {"scheduler", "127.0.0.1:50061"}, {"management", "127.0.0.1:50062"},
};
#define N_DEFAULT_BACKENDS ((int)(sizeof default_backends / sizeof default_backends[0]))
#define MAX_BACKENDS 32

/* "a:1|b:2" (several instances) becomes the gRPC target "ipv4:a:1,b:2" (or ipv6:), balanced
 * round robin by the channel; a single address or a "dns:///" name is used as it is. */
static const char *grpc_target_for(const char *spec) {
  if (!strchr(spec, '|')) return spec;
  size_t n = strlen(spec);
  char *out = malloc(n + 6);
  if (!out) abort();
  snprintf(out, n + 6, "%s:%s", strchr(spec, '[') ? "ipv6" : "ipv4", spec);
  for (char *p = out; *p; p++)
    if (*p == '|') *p = ',';
  return out;
}

/* METRO_BACKENDS="auth=host:port,transport=a:p|b:p,testing=host:port" overrides or adds entries. */
static bool parse_backends(char *spec, backend_service *out, int *n, const breaker_config *bc) {
  *n = 0;
  for (int i = 0; i < N_DEFAULT_BACKENDS; i++) {
    out[i] = (backend_service){.key = default_backends[i].key, .target = default_backends[i].target};
    (*n)++;
  }
  char *save = NULL;
  for (char *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq || eq == item || !eq[1]) {
      fprintf(stderr, "METRO_BACKENDS: expected key=host:port, got \"%s\"\n", item);
      return false;
    }
    *eq = '\0';
    int slot = *n;
    for (int i = 0; i < *n; i++)
      if (strcmp(out[i].key, item) == 0) slot = i;
    if (slot == *n) {
      if (*n >= MAX_BACKENDS) return false;
      (*n)++;
    }
    out[slot] = (backend_service){.key = item, .target = eq + 1};
  }
  for (int i = 0; i < *n; i++) {
    out[i].grpc_target = grpc_target_for(out[i].target);
    breaker_init(&out[i].breaker, bc);
  }
  return true;
}

static const char **split_list(char *spec) {
  int count = 1;
  for (const char *p = spec; *p; p++) count += *p == ',';
  const char **out = calloc((size_t)count + 1, sizeof(char *));
  int n = 0;
  char *save = NULL;
  for (char *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) out[n++] = item;
  return out;
}

int main(void) {
  rpc_block_signals();
  char err[512];
  char *metrics_addr;
  int64_t metrics_port;
  char *addr, *backends_spec, *cors, *secret, *issuer, *audience, *level_name, *proxies_spec, *limits_spec, *redis_host,
      *redis_password;
  int64_t port, threads, max_body, max_conns, timeout_s, max_headers, backend_timeout, jwks_refresh, deadline_ms,
      max_target, max_header_bytes, max_query, key_cache_ms, breaker_failures, breaker_open_ms, breaker_slow_ms, redis_port, report_ms,
      heap_trim_ms;
  const cfg_setting settings[] = {
      {"METRO_HTTP_ADDR", CFG_STRING, "127.0.0.1", false, 0, 0, &addr, "REST listen address (IPv4)"},
      {"METRO_HTTP_PORT", CFG_INT, "8080", false, 0, 65535, &port, "REST port"},
      {"METRO_METRICS_ADDR", CFG_STRING, "127.0.0.1", false, 0, 0, &metrics_addr,
       "admin listen address: /metrics, /healthz, /readyz (never on the REST port)"},
      {"METRO_METRICS_PORT", CFG_INT, "9100", false, 0, 65535, &metrics_port, "admin port (0 = off)"},
      {"METRO_HTTP_THREADS", CFG_INT, "2", false, 1, 256, &threads, "HTTP event-loop threads"},
      {"METRO_HEAP_TRIM_MS", CFG_INT, "10000", false, 0, 3600000, &heap_trim_ms,
       "how often freed heap memory goes back to the system (0 = never)"},
      {"METRO_HTTP_MAX_BODY_BYTES", CFG_INT, "1048576", false, 1024, 67108864, &max_body, "largest request body"},
      {"METRO_HTTP_MAX_CONNECTIONS", CFG_INT, "10000", false, 1, 1000000, &max_conns, "open connections"},
      {"METRO_HTTP_TIMEOUT_S", CFG_INT, "30", false, 1, 3600, &timeout_s, "idle keep-alive connection timeout"},
      {"METRO_HTTP_REQUEST_DEADLINE_MS", CFG_INT, "10000", false, 100, 600000, &deadline_ms,
       "a request's head and body must arrive within this"},
      {"METRO_HTTP_MAX_HEADERS", CFG_INT, "64", false, 8, 250, &max_headers, "request header fields (more: 431)"},
      {"METRO_HTTP_MAX_HEADER_BYTES", CFG_INT, "8192", false, 1024, 65536, &max_header_bytes,
       "one header field line (more: 431; the whole head: twice this)"},
      {"METRO_HTTP_MAX_TARGET_BYTES", CFG_INT, "8192", false, 256, 65536, &max_target, "request target (more: 414)"},
      {"METRO_HTTP_MAX_QUERY_PARAMS", CFG_INT, "64", false, 1, 1000, &max_query, "query parameters (more: 414)"},
      {"METRO_BACKEND_TIMEOUT_MS", CFG_INT, "15000", false, 100, 600000, &backend_timeout, "gRPC deadline"},
      {"METRO_TRUSTED_PROXIES", CFG_STRING, "", false, 0, 0, &proxies_spec,
       "addresses or ranges of proxies whose X-Forwarded-For is believed"},
      {"METRO_RATE_LIMITS", CFG_STRING, "", false, 0, 0, &limits_spec, "rate-limit overrides: name=limit/period[/burst]"},
      {"METRO_API_KEY_CACHE_MS", CFG_INT, "3000", false, 0, 600000, &key_cache_ms,
       "how long an API key record is trusted (revocation delay)"},
      {"METRO_BREAKER_FAILURES", CFG_INT, "5", false, 1, 1000, &breaker_failures,
       "consecutive failures that open a service's circuit"},
      {"METRO_BREAKER_OPEN_MS", CFG_INT, "5000", false, 100, 600000, &breaker_open_ms, "how long a circuit stays open"},
      {"METRO_GATEWAY_REPORT_MS", CFG_INT, "5000", false, 0, 3600000, &report_ms,
       "how often the route table and breakers go to the management service (0: never)"},
      {"METRO_BREAKER_SLOW_MS", CFG_INT, "0", false, 0, 600000, &breaker_slow_ms,
       "a call slower than this counts as a failure (0: off)"},
      {"METRO_CORS_ORIGINS", CFG_STRING, "", false, 0, 0, &cors, "allowed origins, comma-separated"},
      {"METRO_BACKENDS", CFG_STRING, "", false, 0, 0, &backends_spec, "service=host:port overrides"},
      {"METRO_IDENTITY_SECRET", CFG_SECRET, NULL, true, 0, 0, &secret, "HMAC key shared with the services"},
      {"METRO_JWT_ISSUER", CFG_STRING, "metro-auth", false, 0, 0, &issuer, "expected iss"},
      {"METRO_JWT_AUDIENCE", CFG_STRING, "metro", false, 0, 0, &audience, "expected aud"},
      {"METRO_JWKS_REFRESH_S", CFG_INT, "300", false, 5, 86400, &jwks_refresh, "JWKS refresh period"},
      {"METRO_LOG_LEVEL", CFG_STRING, "info", false, 0, 0, &level_name, "debug, info, warn or error"},
      {"METRO_REDIS_HOST", CFG_STRING, "127.0.0.1", false, 0, 0, &redis_host, "Redis host (rate limits)"},
      {"METRO_REDIS_PORT", CFG_INT, "6379", false, 1, 65535, &redis_port, "Redis port"},
      {"METRO_REDIS_PASSWORD", CFG_SECRET, "", false, 0, 0, &redis_password, "Redis password"},
  };
  if (!cfg_load(settings, (int)(sizeof settings / sizeof settings[0]))) return 2;
  if (strlen(secret) < 32) {
    fprintf(stderr, "METRO_IDENTITY_SECRET: must be at least 32 characters\n");
    return 2;
  }
  int level = log_level_parse(level_name);
  if (level < 0) {
    fprintf(stderr, "METRO_LOG_LEVEL: expected debug, info, warn or error, got \"%s\"\n", level_name);
    return 2;
  }
  log_init("transcoder", (log_level)level);
  rpc_client_set_identity_secret(secret); /* the gateway's own calls: key lookups, reports */
  breaker_config breakers = {.failure_threshold = (int)breaker_failures, .open_ms = (int)breaker_open_ms,
                             .slow_call_ms = (int)breaker_slow_ms};
  static backend_service backends[MAX_BACKENDS];
  int n_backends;
  if (!parse_backends(backends_spec, backends, &n_backends, &breakers)) return 2;
  if (!edge_limits_configure(limits_spec, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }

  const uint8_t *sets[2] = {metro_descriptor_set};
  size_t lens[2] = {metro_descriptor_set_len};
  int n_sets = 1;
#ifdef METRO_TRANSCODER_TESTING
  sets[n_sets] = metro_testing_descriptor_set;
  lens[n_sets++] = metro_testing_descriptor_set_len;
#endif
  descset *desc = descset_load(sets, lens, n_sets, err, sizeof err);
  if (!desc) {
    log_error("descriptor sets: %s", err);
    return 1;
  }
  const char *auth_target = NULL;
  for (int i = 0; i < n_backends; i++)
    if (strcmp(backends[i].key, "auth") == 0) auth_target = backends[i].grpc_target;
  edge_auth_config auth = {.auth_target = auth_target, .issuer = issuer, .audience = audience,
                           .identity_secret = secret, .refresh_s = (int)jwks_refresh};
  edge_auth_start(&auth);
  edge_keys_config keys = {.auth_target = auth_target, .identity_secret = secret, .cache_ms = (int)key_cache_ms};
  edge_keys_start(&keys);
  redis_configure(redis_host, (int)redis_port, redis_password[0] ? redis_password : NULL);
  const char **origins = split_list(cors);
  const char **proxies = split_list(proxies_spec);
  gateway_config gc = {.listen_addr = addr, .port = (int)port, .threads = (int)threads,
                       .max_body_bytes = (size_t)max_body, .max_connections = (int)max_conns,
                       .idle_timeout_ms = (int)timeout_s * 1000, .request_deadline_ms = (int)deadline_ms,
                       .backend_timeout_ms = (int)backend_timeout, .max_header_count = (int)max_headers,
                       .max_target_bytes = (size_t)max_target, .max_query_params = (int)max_query,
                       .max_header_bytes = (size_t)max_header_bytes, .trusted_proxies = proxies,
                       .cors_origins = origins, .identity_secret = secret, .report_ms = (int)report_ms, .backends = backends,
                       .n_backends = n_backends, .descriptors = desc, .registries = registries};
  if (metrics_port > 0 && !admin_http_start(metrics_addr, (int)metrics_port, edge_auth_ready, err, sizeof err)) {
    log_error("metrics endpoint: %s", err);
    edge_auth_stop();
    return 1;
  }
  if (!gateway_start(&gc, err, sizeof err)) {
    log_error("gateway: %s", err);
    admin_http_stop();
    edge_auth_stop();
    return 1;
  }
  heap_trim_start(heap_trim_ms);
  rpc_wait_for_signal();
  heap_trim_stop();
  gateway_stop();
  admin_http_stop();
  edge_auth_stop();
  edge_keys_stop();
  rpc_client_shutdown();
  descset_free(desc);
  free(origins);
  free(proxies);
  log_info("stopped");
  return 0;
}
