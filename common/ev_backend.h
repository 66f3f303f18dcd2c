/* The transport behind common/events.h, as a table of operations: the embedded
 * PostgreSQL log (ev_pglog.c) and Kafka through librdkafka (ev_kafka.c) both provide it. */
#ifndef METRO_EV_BACKEND_H
#define METRO_EV_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ev_message {
  const char *topic;
  const char *key;        /* partition key: the envelope's subject */
  const uint8_t *value;   /* a packed EventEnvelope */
  size_t len;
  const char *error;      /* dead-letter messages only: why it was parked */
  /* set by consumer_poll, for consumer_commit */
  int32_t partition;
  int64_t offset;
} ev_message;

typedef struct ev_backend ev_backend;
typedef struct ev_backend_consumer ev_backend_consumer;

typedef struct ev_backend_ops {
  const char *name; /* "postgres" or "kafka" */
  /* Publishes messages in order and returns only once the backend has durably accepted
   * all of them (Kafka: idempotent producer, acks=all, delivery reports; PostgreSQL:
   * committed). False with a message when any was not accepted: the caller retries the
   * whole batch later (duplicates are then possible; consumers deduplicate by event id).
   * Creates missing topics as needed. */
  bool (*publish)(ev_backend *b, const ev_message *msgs, size_t n, char *err, size_t errlen);
  /* Joins `group` on `topics`. Messages of one key arrive in publish order. */
  ev_backend_consumer *(*consumer_open)(ev_backend *b, const char *group, const char *const *topics, size_t n_topics,
                                        char *err, size_t errlen);
  /* Waits up to timeout_ms for the next message. 1 = *out filled (valid until the next
   * poll), 0 = nothing yet, -1 = error (message in err; the caller backs off and polls again). */
  int (*consumer_poll)(ev_backend_consumer *c, ev_message *out, int timeout_ms, char *err, size_t errlen);
  /* Records that `m` and everything before it on its partition are done. */
  bool (*consumer_commit)(ev_backend_consumer *c, const ev_message *m, char *err, size_t errlen);
  void (*consumer_close)(ev_backend_consumer *c);
  void (*close)(ev_backend *b);
} ev_backend_ops;

struct ev_backend {
  const ev_backend_ops *ops;
};

/* Constructors. partitions/replication apply to topics the backend creates. */
ev_backend *ev_pglog_open(char *err, size_t errlen); /* uses pg.c's configured database */
ev_backend *ev_kafka_open(const char *brokers, int partitions, int replication, char *err, size_t errlen);

#endif
