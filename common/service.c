/* service_run: the one start-up and shutdown sequence of every gRPC service, so a
 * service's main.c only declares its settings, state and handler tables. */
#include "common/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/periodic.h"
#include "common/redis.h"
#include "common/rpc_client.h"

extern const unsigned char metro_descriptor_set[];
extern const size_t metro_descriptor_set_len;

static bool ready_always(void) { return true; }

static void release_thread_connections(void) {
  pg_disconnect();
  redis_disconnect();
}

/* Starts the relay and the consumers of a service; on failure stops what started. */
static ev_consumer **events_start(const service_def *def) {
  char err[512];
  ev_consumer **consumers = calloc(def->n_consumers + 1, sizeof *consumers);
  if (def->produces_events && !ev_relay_start(err, sizeof err)) {
    log_error("events: %s", err);
    free(consumers);
    return NULL;
  }
  for (size_t i = 0; i < def->n_consumers; i++) {
    consumers[i] = ev_consumer_start(&def->consumers[i], err, sizeof err);
    if (!consumers[i]) {
      log_error("events: %s", err);
      while (i > 0) ev_consumer_stop(consumers[--i]);
      ev_relay_stop();
      free(consumers);
      return NULL;
    }
  }
  return consumers;
}

/* Consumers first: their handlers may still write outbox rows. The relay last: its final
 * round publishes what the drained calls and the consumers committed, so those events
 * leave now rather than at the next start. Then the backend (Kafka flushes). */
static void events_stop(const service_def *def, ev_consumer **consumers) {
  for (size_t i = 0; consumers && i < def->n_consumers; i++) ev_consumer_stop(consumers[i]);
  free(consumers);
  ev_relay_stop();
  ev_shutdown();
}

int service_run(const service_def *def) {
  rpc_block_signals();
  periodic_set_thread_exit(release_thread_connections);
  service_settings s;
  memset(&s, 0, sizeof s);
  char metrics_port[16];
  snprintf(metrics_port, sizeof metrics_port, "%d", def->default_metrics_port);
  const cfg_setting common[] = {
      {"METRO_GRPC_ADDR", CFG_STRING, def->default_grpc_addr, false, 0, 0, &s.grpc_addr, "gRPC listen address"},
      {"METRO_METRICS_ADDR", CFG_STRING, "127.0.0.1", false, 0, 0, &s.metrics_addr, "metrics listen address"},
      {"METRO_METRICS_PORT", CFG_INT, metrics_port, false, 0, 65535, &s.metrics_port, "metrics port (0 = off)"},
      {"METRO_PG_URL", CFG_SECRET, NULL, def->migrations != NULL, 0, 0, &s.pg_url, "PostgreSQL connection URI"},
      {"METRO_PG_SCHEMA", CFG_STRING, def->name, false, 0, 0, &s.pg_schema, "the service's schema"},
      {"METRO_REDIS_HOST", CFG_STRING, "127.0.0.1", false, 0, 0, &s.redis_host, "Redis host"},
      {"METRO_REDIS_PORT", CFG_INT, "6379", false, 1, 65535, &s.redis_port, "Redis port"},
      {"METRO_REDIS_PASSWORD", CFG_SECRET, "", false, 0, 0, &s.redis_password, "Redis password"},
      {"METRO_IDENTITY_SECRET", CFG_SECRET, NULL, true, 0, 0, &s.identity_secret,
       "HMAC key shared with the gateway (at least 32 characters)"},
      {"METRO_LOG_LEVEL", CFG_STRING, "info", false, 0, 0, &s.log_level, "debug, info, warn or error"},
      {"METRO_WORKERS", CFG_INT, "0", false, 0, 256, &s.workers, "worker threads (0 = 2 per core)"},
      {"METRO_DRAIN_TIMEOUT_MS", CFG_INT, "10000", false, 0, 600000, &s.drain_timeout_ms, "SIGTERM drain bound"},
      {"METRO_DEFAULT_TIMEOUT_MS", CFG_INT, "15000", false, 100, 600000, &s.default_timeout_ms,
       "deadline for calls that set none"},
      {"METRO_KAFKA_BROKERS", CFG_STRING, "", false, 0, 0, &s.kafka_brokers,
       "Kafka bootstrap servers; empty = the embedded PostgreSQL log"},
      {"METRO_KAFKA_PARTITIONS", CFG_INT, "3", false, 1, 1000, &s.kafka_partitions,
       "partitions of the topics this service creates on Kafka"},
      {"METRO_KAFKA_REPLICATION", CFG_INT, "1", false, 1, 16, &s.kafka_replication,
       "replication factor of the topics this service creates on Kafka"},
  };
  bool ok = cfg_load(common, (int)(sizeof common / sizeof common[0]));
  ok = cfg_load(def->settings, def->n_settings) && ok;
  if (ok && strlen(s.identity_secret) < 32) {
    fprintf(stderr, "METRO_IDENTITY_SECRET: must be at least 32 characters\n");
    ok = false;
  }
  int level = ok ? log_level_parse(s.log_level) : 0;
  if (ok && level < 0) {
    fprintf(stderr, "METRO_LOG_LEVEL: expected debug, info, warn or error, got \"%s\"\n", s.log_level);
    ok = false;
  }
  if (ok && !def->migrations && (def->produces_events || def->n_consumers > 0)) {
    fprintf(stderr, "%s: events need a database (service_def.migrations)\n", def->name);
    ok = false;
  }
  if (!ok) return 2;
  log_init(def->name, (log_level)level);

  if (def->migrations) {
    pg_configure(s.pg_url, s.pg_schema);
    char err[512];
    if (!pg_migrate(def->migrations, err, sizeof err)) {
      log_error("migrations failed: %s", err);
      return 1;
    }
    ev_settings events = {.service = def->name, .kafka_brokers = s.kafka_brokers,
                          .kafka_partitions = (int)s.kafka_partitions, .kafka_replication = (int)s.kafka_replication};
    if (!ev_init(&events, err, sizeof err)) {
      log_error("events: %s", err);
      return 1;
    }
  }
  redis_configure(s.redis_host, (int)s.redis_port, s.redis_password);
  if (def->init && !def->init(def->state, &s)) return 1;
  /* Started after init (which may publish, e.g. the bootstrap admin's user.created). */
  ev_consumer **consumers = events_start(def);
  if (!consumers) return 1;

  char err[256];
  if (s.metrics_port > 0 && !metrics_serve(s.metrics_addr, (int)s.metrics_port, ready_always, err, sizeof err)) {
    log_error("metrics endpoint: %s", err);
    events_stop(def, consumers);
    return 1;
  }
  rpc_client_set_identity_secret(s.identity_secret);
  rpc_server_config cfg = {
      .service_name = def->name,
      .listen_addr = s.grpc_addr,
      .workers = (int)s.workers,
      .services = def->services,
      .n_services = def->n_services,
      .descriptor_set = metro_descriptor_set,
      .descriptor_set_len = metro_descriptor_set_len,
      .identity_secret = s.identity_secret,
      .default_timeout_ms = (int)s.default_timeout_ms,
      .drain_timeout_ms = (int)s.drain_timeout_ms,
      .state = def->state,
      .on_worker_exit = release_thread_connections,
  };
  rpc_server *server = rpc_server_start(&cfg, err, sizeof err);
  if (!server) {
    log_error("cannot start the gRPC server: %s", err);
    metrics_stop();
    events_stop(def, consumers);
    return 1;
  }
  rpc_server_wait(server); /* SIGTERM: stops accepting and drains the calls in flight */
  rpc_server_destroy(server);
  if (def->stop) def->stop(def->state);
  events_stop(def, consumers);
  metrics_stop();
  release_thread_connections();
  return 0;
}
