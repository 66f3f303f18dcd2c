/* The start-up every Metro gRPC service shares: common METRO_* settings, logging,
 * PostgreSQL and migrations, Redis, metrics endpoint, the gRPC server and draining. */
#ifndef METRO_SERVICE_H
#define METRO_SERVICE_H

#include "common/config.h"
#include "common/events.h"
#include "common/pg.h"
#include "common/rpc_server.h"

/* Settings every service reads (METRO_GRPC_ADDR, METRO_PG_URL, ...). */
typedef struct service_settings {
  char *grpc_addr;
  char *metrics_addr;
  int64_t metrics_port;
  char *pg_url;
  char *pg_schema;
  char *redis_host;
  int64_t redis_port;
  char *redis_password;
  char *identity_secret;
  char *log_level;
  int64_t workers;
  int64_t drain_timeout_ms;
  int64_t default_timeout_ms;
  char *kafka_brokers;  /* "" = the embedded PostgreSQL event log */
  int64_t kafka_partitions;
  int64_t kafka_replication;
} service_settings;

typedef struct service_def {
  const char *name;                 /* "auth": log field, default schema */
  const char *default_grpc_addr;    /* "127.0.0.1:50051" */
  int default_metrics_port;         /* 9101 */
  const pg_migration *migrations;   /* NULL when the service has no database */
  const rpc_service_impl *services;
  size_t n_services;
  const cfg_setting *settings;      /* the service's own settings */
  int n_settings;
  /* Runs after migrations and before serving (seed data, bootstrap); false aborts. */
  bool (*init)(void *state, const service_settings *common);
  /* Runs once the gRPC server has drained, before events stop (background threads end here). */
  void (*stop)(void *state);
  void *state;
  /* Events (common/events.h; needs a database): the relay runs when the service writes an
   * outbox, and each consumer config gets its own thread. Both start after init. */
  bool produces_events;
  const ev_consumer_config *consumers;
  size_t n_consumers;
} service_def;

/* Runs the service until SIGTERM; returns the process exit code. */
int service_run(const service_def *def);

#endif
