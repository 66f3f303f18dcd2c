/* Metro's event backbone (domain spec §13): events are written to the producing
 * service's outbox inside its transaction, a relay publishes them to Kafka (or, with no
 * Kafka configured, to an embedded log in PostgreSQL), and consumers apply each once. */
#ifndef METRO_EVENTS_H
#define METRO_EVENTS_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/rpc_server.h"
#include "common/status.h"
#include "metro/events/v1/envelope.pb-c.h"

/* ---- set-up (once per process, after pg_configure) ---- */

typedef struct ev_settings {
  const char *service;        /* the producer name in envelopes, e.g. "auth" */
  const char *kafka_brokers;  /* "host:port,..."; NULL or "" = the embedded PostgreSQL log */
  int kafka_partitions;       /* for topics this process creates; 0 = 3 */
  int kafka_replication;      /* 0 = 1 */
  const char *topic_prefix;   /* NULL = "metro": family "user" -> topic "metro.user" */
} ev_settings;

/* Opens the backend. False with a message when Kafka or PostgreSQL is unusable. */
bool ev_init(const ev_settings *s, char *err, size_t errlen);
void ev_shutdown(void);
/* "kafka" or "postgres". */
const char *ev_backend_name(void);
/* The topic of an event type: "<prefix>.<family>" ("user.created" -> "metro.user");
 * NULL when the type has no family (see ev_type_valid in ev_internal.h). */
const char *ev_topic_of(arena *a, const char *type);

/* ---- producing ---- */

/* Records one event in this service's `outbox` table; must run inside the caller's
 * transaction (pg_begin ... pg_commit) so it leaves exactly when the change commits.
 * subject = the aggregate id (partition key); traceparent may be NULL. */
rpc_status ev_publish(arena *a, const char *type, const char *subject, const ProtobufCMessage *data,
                      const char *traceparent);

/* Starts the relay thread: publishes this service's outbox in id order (so in order per
 * key), marks rows published only once the backend confirmed them, retries with
 * back-off, and survives backend restarts. One replica relays at a time (advisory lock). */
bool ev_relay_start(char *err, size_t errlen);
void ev_relay_stop(void);

/* ---- consuming ---- */

typedef struct ev_event {
  const Metro__Events__V1__EventEnvelope *envelope;
  const ProtobufCMessage *data;  /* unpacked as the subscription's data_type */
  const char *topic;
} ev_event;

/* Applies one event. It runs inside a transaction the consumer opened (do not commit or
 * roll back), on ctx->arena, with ctx->state = the consumer's state. An error status
 * rolls everything back and the event is retried; INVALID_ARGUMENT/FAILED_PRECONDITION
 * mean "will never succeed" and send it to the dead-letter topic at once; UNAVAILABLE and
 * DEADLINE_EXCEEDED (a dependency down) are retried until it is back, never parked. */
typedef rpc_status (*ev_handler_fn)(rpc_ctx *ctx, const ev_event *ev);

typedef struct ev_subscription {
  const char *type;                             /* "user.created" */
  const ProtobufCMessageDescriptor *data_type;  /* &metro__events__v1__user_created__descriptor */
  ev_handler_fn handler;
} ev_subscription;

typedef struct ev_consumer_config {
  const char *group;               /* consumer group, e.g. "user" */
  const ev_subscription *subs;
  size_t n_subs;
  void *state;
  int max_attempts;                /* before the dead-letter topic; 0 = 5 */
  int retry_base_ms;               /* back-off base, doubled per attempt; 0 = 200 */
} ev_consumer_config;

typedef struct ev_consumer ev_consumer;

/* Starts a consumer thread on the topics of its subscriptions. Each event is applied in
 * one transaction together with a row in the service's `processed_events` table (so a
 * redelivery changes nothing), and its offset is committed after that transaction. A
 * message that keeps failing (or cannot be decoded) goes to "<topic>.dlq" with its error,
 * and the next one is processed. Events of types with no subscription are skipped. */
ev_consumer *ev_consumer_start(const ev_consumer_config *cfg, char *err, size_t errlen);
void ev_consumer_stop(ev_consumer *c);

/* The SQL every producing service puts in a migration (outbox) and every consuming one
 * (processed_events): see sql/auth/ for the canonical text. */

#endif
