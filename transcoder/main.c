/* metro-transcoder: reads METRO_* settings, loads the descriptor sets, starts edge
 * authentication and the REST gateway, and drains on SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "transcoder/edge_auth.h"
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
static const gateway_backend default_backends[] = {
    {"auth", "127.0.0.1:50051"},         {"user", "127.0.0.1:50052"},      {"transport", "127.0.0.1:50053"},
    {"ticket", "127.0.0.1:50054"},       {"public", "127.0.0.1:50055"},    {"payment", "127.0.0.1:50056"},
    {"webhook", "127.0.0.1:50057"},      {"notification", "127.0.0.1:50058"}, {"report", "127.0.0.1:50059"},
    {"control", "127.0.0.1:50060"},      {"scheduler", "127.0.0.1:50061"}, {"management", "127.0.0.1:50062"},
};
#define N_DEFAULT_BACKENDS ((int)(sizeof default_backends / sizeof default_backends[0]))
#define MAX_BACKENDS 32

/* METRO_BACKENDS="auth=host:port,testing=host:port" overrides or adds entries. */
static bool parse_backends(char *spec, gateway_backend *out, int *n) {
  memcpy(out, default_backends, sizeof default_backends);
  *n = N_DEFAULT_BACKENDS;
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
      if (strcmp(out[i].service_key, item) == 0) slot = i;
    if (slot == *n) {
      if (*n >= MAX_BACKENDS) return false;
      (*n)++;
    }
    out[slot].service_key = item;
    out[slot].target = eq + 1;
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
  char *addr, *backends_spec, *cors, *secret, *issuer, *audience, *level_name;
  int64_t port, threads, max_body, max_conns, timeout_s, max_headers, backend_timeout, jwks_refresh;
  bool trust_xff;
  const cfg_setting settings[] = {
      {"METRO_HTTP_ADDR", CFG_STRING, "127.0.0.1", false, 0, 0, &addr, "REST listen address (IPv4)"},
      {"METRO_HTTP_PORT", CFG_INT, "8080", false, 0, 65535, &port, "REST port"},
      {"METRO_HTTP_THREADS", CFG_INT, "2", false, 1, 256, &threads, "HTTP event-loop threads"},
      {"METRO_HTTP_MAX_BODY_BYTES", CFG_INT, "1048576", false, 1024, 67108864, &max_body, "largest request body"},
      {"METRO_HTTP_MAX_CONNECTIONS", CFG_INT, "4096", false, 1, 1000000, &max_conns, "open connections"},
      {"METRO_HTTP_TIMEOUT_S", CFG_INT, "30", false, 1, 3600, &timeout_s, "idle connection timeout"},
      {"METRO_HTTP_MAX_HEADERS", CFG_INT, "64", false, 8, 1000, &max_headers, "request headers"},
      {"METRO_BACKEND_TIMEOUT_MS", CFG_INT, "15000", false, 100, 600000, &backend_timeout, "gRPC deadline"},
      {"METRO_TRUST_FORWARDED_FOR", CFG_BOOL, "false", false, 0, 0, &trust_xff, "behind a trusted proxy"},
      {"METRO_CORS_ORIGINS", CFG_STRING, "", false, 0, 0, &cors, "allowed origins, comma-separated"},
      {"METRO_BACKENDS", CFG_STRING, "", false, 0, 0, &backends_spec, "service=host:port overrides"},
      {"METRO_IDENTITY_SECRET", CFG_SECRET, NULL, true, 0, 0, &secret, "HMAC key shared with the services"},
      {"METRO_JWT_ISSUER", CFG_STRING, "metro-auth", false, 0, 0, &issuer, "expected iss"},
      {"METRO_JWT_AUDIENCE", CFG_STRING, "metro", false, 0, 0, &audience, "expected aud"},
      {"METRO_JWKS_REFRESH_S", CFG_INT, "300", false, 5, 86400, &jwks_refresh, "JWKS refresh period"},
      {"METRO_LOG_LEVEL", CFG_STRING, "info", false, 0, 0, &level_name, "debug, info, warn or error"},
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
  gateway_backend backends[MAX_BACKENDS];
  int n_backends;
  if (!parse_backends(backends_spec, backends, &n_backends)) return 2;

  const uint8_t *sets[2] = {metro_descriptor_set};
  size_t lens[2] = {metro_descriptor_set_len};
  int n_sets = 1;
#ifdef METRO_TRANSCODER_TESTING
  sets[n_sets] = metro_testing_descriptor_set;
  lens[n_sets++] = metro_testing_descriptor_set_len;
#endif
  char err[512];
  descset *desc = descset_load(sets, lens, n_sets, err, sizeof err);
  if (!desc) {
    log_error("descriptor sets: %s", err);
    return 1;
  }
  const char *auth_target = NULL;
  for (int i = 0; i < n_backends; i++)
    if (strcmp(backends[i].service_key, "auth") == 0) auth_target = backends[i].target;
  edge_auth_config auth = {.auth_target = auth_target, .issuer = issuer, .audience = audience,
                           .identity_secret = secret, .refresh_s = (int)jwks_refresh};
  edge_auth_start(&auth);
  const char **origins = split_list(cors);
  gateway_config gc = {.listen_addr = addr, .port = (int)port, .threads = (int)threads,
                       .max_body_bytes = (size_t)max_body, .max_connections = (int)max_conns,
                       .connection_timeout_s = (int)timeout_s, .backend_timeout_ms = (int)backend_timeout,
                       .max_header_count = (int)max_headers, .trust_forwarded_for = trust_xff,
                       .cors_origins = origins, .backends = backends, .n_backends = n_backends,
                       .descriptors = desc, .registries = registries};
  if (!gateway_start(&gc, err, sizeof err)) {
    log_error("gateway: %s", err);
    edge_auth_stop();
    return 1;
  }
  rpc_wait_for_signal();
  gateway_stop();
  edge_auth_stop();
  rpc_client_shutdown();
  descset_free(desc);
  free(origins);
  log_info("stopped");
  return 0;
}
