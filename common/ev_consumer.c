/* The consuming side of events.h: a thread per consumer that applies each event once (its
 * id recorded in processed_events with the effect), retries, and parks poison messages. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/ev_internal.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "common/redis.h"

#define MAX_TOPICS 32
#define POLL_MS 500              /* also bounds how long ev_consumer_stop waits for a poll */
#define ERROR_BACKOFF_MAX_MS 5000
#define RETRY_MAX_MS 60000
#define DEFAULT_MAX_ATTEMPTS 5
#define DEFAULT_RETRY_BASE_MS 200

/* The offset of an event this consumer skipped (a type it does not handle), waiting to be
 * committed. Redelivered, such an event is skipped again, so its commit can wait: the latest
 * per topic and partition is committed once the consumer is idle, after SKIPS_PER_COMMIT of
 * them, or not at all when an applied event's commit on the same partition covers it. */
#define MAX_PENDING_SKIPS 16
#define SKIPS_PER_COMMIT 256

typedef struct pending_skip {
  char *topic;
  int32_t partition;
  int64_t offset;
} pending_skip;

struct ev_consumer {
  ev_consumer_config cfg;
  pending_skip skips[MAX_PENDING_SKIPS];
  int n_skips, skips_since_commit;
  char *group;
  char *topics[MAX_TOPICS];
  size_t n_topics;
  ev_backend *backend;
  ev_backend_consumer *bc;
  pthread_t thread;
  atomic_bool stop;
  int wake[2]; /* ev_consumer_stop writes a byte: ends back-off sleeps at once */
};

typedef enum { OUTCOME_DONE, OUTCOME_PARK, OUTCOME_STOPPED } outcome;

/* Sleeps up to ms; false when the consumer is being stopped. */
static bool consumer_sleep(ev_consumer *c, int ms) {
  struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
  if (!atomic_load(&c->stop)) poll(&p, 1, ms);
  return !atomic_load(&c->stop);
}

static const ev_subscription *find_subscription(const ev_consumer *c, const char *type) {
  for (size_t i = 0; i < c->cfg.n_subs; i++)
    if (strcmp(c->cfg.subs[i].type, type) == 0) return &c->cfg.subs[i];
  return NULL;
}

/* The trace id of a W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>"), or NULL. */
static const char *trace_id(arena *a, const char *traceparent) {
  if (!traceparent || strlen(traceparent) != 55 || traceparent[2] != '-' || traceparent[35] != '-') return NULL;
  uint8_t raw[16];
  char hex[33];
  memcpy(hex, traceparent + 3, 32);
  hex[32] = '\0';
  return crypto_hex_decode(hex, raw, sizeof raw) ? arena_strdup(a, hex) : NULL;
}

/* One attempt: record the event id and run the handler in one transaction. *duplicate is
 * set when the id was recorded before (the effect is already there). */
static rpc_status apply_once(ev_consumer *c, arena *a, const ev_subscription *sub, const ev_event *ev,
                             bool *duplicate) {
  const Metro__Events__V1__EventEnvelope *env = ev->envelope;
  rpc_ctx ctx = {.arena = a, .alloc = arena_protobuf_allocator(a), .method = arena_printf(a, "event:%s", env->type),
                 .request_id = env->event_id, .traceparent = *env->traceparent ? env->traceparent : NULL,
                 .deadline_ms = INT64_MAX, .state = c->cfg.state};
  *duplicate = false;
  rpc_status st = pg_begin(a);
  PGresult *r;
  const char *params[2] = {env->event_id, env->type};
  if (rpc_ok(st))
    st = pg_exec(a, &r,
                 "INSERT INTO processed_events (event_id, event_type) VALUES ($1::uuid, $2) ON CONFLICT DO NOTHING", 2,
                 params);
  if (rpc_ok(st) && strcmp(PQcmdTuples(r), "0") == 0) {
    *duplicate = true;
    return pg_commit(a);
  }
  if (rpc_ok(st)) st = sub->handler(&ctx, ev);
  /* A handler that swallowed a failed statement would have COMMIT roll back in silence. */
  PGconn *conn = pg_conn();
  if (rpc_ok(st) && (!conn || PQtransactionStatus(conn) != PQTRANS_INTRANS))
    st = rpc_internal("the handler returned OK inside a failed transaction");
  if (rpc_ok(st)) st = pg_commit(a);
  if (!rpc_ok(st)) pg_rollback();
  return st;
}

static bool never_succeeds(rpc_status st) {
  return st.code == GRPC_STATUS_INVALID_ARGUMENT || st.code == GRPC_STATUS_FAILED_PRECONDITION;
}

/* A dependency that is down (another service, the database, a provider) or too slow: the event
 * waits for it, in order, however long that takes, instead of being parked after
 * max_attempts; only other failures count toward that limit. */
static bool waits_for_a_dependency(rpc_status st) {
  return st.code == GRPC_STATUS_UNAVAILABLE || st.code == GRPC_STATUS_DEADLINE_EXCEEDED;
}

static const char *describe(arena *a, rpc_status st) {
  return arena_printf(a, "%s%s%s: %s", rpc_code_name(st.code), st.reason ? " " : "", st.reason ? st.reason : "",
                      st.message ? st.message : "");
}

/* Applies with retries; OUTCOME_PARK sets *error. */
static outcome apply(ev_consumer *c, arena *msg_arena, const ev_subscription *sub, const ev_event *ev,
                     const char **error) {
  int max_attempts = c->cfg.max_attempts > 0 ? c->cfg.max_attempts : DEFAULT_MAX_ATTEMPTS;
  int64_t delay = c->cfg.retry_base_ms > 0 ? c->cfg.retry_base_ms : DEFAULT_RETRY_BASE_MS;
  for (int attempt = 1, counted = 0;; attempt++) {
    arena *a = arena_create(16 * 1024);
    bool duplicate;
    rpc_status st = apply_once(c, a, sub, ev, &duplicate);
    if (duplicate && rpc_ok(st)) log_info("event %s applied before; skipped", ev->envelope->event_id);
    const char *what = rpc_ok(st) ? NULL : describe(msg_arena, st); /* st's strings die with a */
    arena_destroy(a);
    if (!what) return OUTCOME_DONE;
    if (!waits_for_a_dependency(st)) counted++;
    if (never_succeeds(st) || counted >= max_attempts) {
      *error = never_succeeds(st) ? what : arena_printf(msg_arena, "after %d attempts: %s", attempt, what);
      return OUTCOME_PARK;
    }
    log_warn("event %s (%s): attempt %d failed (%d of %d counted), retrying in %lld ms: %s", ev->envelope->event_id,
             ev->envelope->type, attempt, counted, max_attempts, (long long)delay, what);
    if (!consumer_sleep(c, (int)delay)) return OUTCOME_STOPPED;
    delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
  }
}

/* metro_events_dead_lettered_total{topic}: registered by the first consumer, before the metrics
 * endpoint serves (service.c starts consumers first). */
static metric_family *dead_lettered(void) {
  static metric_family *f;
  if (!f)
    f = metrics_counter("metro_events_dead_lettered_total",
                        "Events this process's consumers parked on <topic>.dlq, by the topic they came from", "topic",
                        NULL);
  return f;
}

/* Publishes the message unchanged to "<topic>.dlq" with its error, retrying while the
 * backend is down; false only when stopped first. */
static bool park(ev_consumer *c, arena *a, const ev_message *m, const Metro__Events__V1__EventEnvelope *env,
                 const char *error) {
  ev_message dlq = {.topic = ev_dlq_topic(a, m->topic), .key = m->key ? m->key : "", .value = m->value,
                    .len = m->len, .error = error};
  char err[512];
  int backoff = 100;
  while (!c->backend->ops->publish(c->backend, &dlq, 1, err, sizeof err)) {
    log_warn("consumer %s: cannot park on %s yet: %s", c->group, dlq.topic, err);
    if (!consumer_sleep(c, backoff)) return false;
    backoff = backoff * 2 > ERROR_BACKOFF_MAX_MS ? ERROR_BACKOFF_MAX_MS : backoff * 2;
  }
  log_error("event %s (%s) parked on %s: %s", env ? env->event_id : "(undecodable)", env ? env->type : "?", dlq.topic,
            error);
  metrics_add(dead_lettered(), m->topic, NULL, 1);
  return true;
}

static void commit_skips(ev_consumer *c) {
  for (int i = 0; i < c->n_skips; i++) {
    ev_message m = {.topic = c->skips[i].topic, .partition = c->skips[i].partition, .offset = c->skips[i].offset};
    char err[512];
    if (!c->backend->ops->consumer_commit(c->bc, &m, err, sizeof err))
      log_warn("consumer %s: offset of skipped events not committed (they will be skipped again): %s", c->group, err);
    free(c->skips[i].topic);
  }
  c->n_skips = c->skips_since_commit = 0;
}

/* Remembers a skipped event's offset (the latest per topic and partition). */
static void defer_skip(ev_consumer *c, const ev_message *m) {
  int i = 0;
  while (i < c->n_skips && (strcmp(c->skips[i].topic, m->topic) != 0 || c->skips[i].partition != m->partition)) i++;
  if (i == c->n_skips) {
    if (c->n_skips == MAX_PENDING_SKIPS) commit_skips(c), i = 0;
    c->skips[i].topic = strdup(m->topic);
    c->skips[i].partition = m->partition;
    c->n_skips = i + 1;
  }
  c->skips[i].offset = m->offset;
  if (++c->skips_since_commit >= SKIPS_PER_COMMIT) commit_skips(c);
}

/* An applied event's commit covers the skips before it on its partition. */
static void drop_covered_skips(ev_consumer *c, const ev_message *m) {
  for (int i = 0; i < c->n_skips; i++)
    if (strcmp(c->skips[i].topic, m->topic) == 0 && c->skips[i].partition == m->partition &&
        c->skips[i].offset <= m->offset) {
      free(c->skips[i].topic);
      c->skips[i--] = c->skips[--c->n_skips];
    }
}

static void process(ev_consumer *c, const ev_message *m) {
  arena *a = arena_create(16 * 1024);
  const char *error = NULL;
  outcome result = OUTCOME_DONE;
  Metro__Events__V1__EventEnvelope *env = ev_envelope_unpack(a, m->value, m->len);
  const ev_subscription *sub = NULL;
  if (!env) {
    error = "not a decodable metro.events.v1.EventEnvelope";
  } else if (!crypto_uuid_valid(env->event_id)) {
    error = "event_id is not a UUID v4";
  } else if ((sub = find_subscription(c, env->type))) {
    log_set_context(env->event_id, trace_id(a, env->traceparent));
    ev_event ev = {.envelope = env, .topic = m->topic};
    const char *why = NULL;
    ev.data = ev_envelope_data(a, env, sub->data_type, &why);
    if (!ev.data) error = why;
    else result = apply(c, a, sub, &ev, &error);
  } /* else: a type this consumer does not handle; skipped */
  if (error) result = park(c, a, m, env, error) ? OUTCOME_DONE : OUTCOME_STOPPED;
  char err[512];
  if (result == OUTCOME_DONE && env && !sub && !error) {
    defer_skip(c, m);
  } else if (result == OUTCOME_DONE) {
    if (!c->backend->ops->consumer_commit(c->bc, m, err, sizeof err))
      log_warn("consumer %s: offset not committed (the event will be redelivered and skipped): %s", c->group, err);
    else
      drop_covered_skips(c, m);
  }
  log_set_context(NULL, NULL);
  arena_destroy(a);
}

static void *consumer_main(void *arg) {
  ev_consumer *c = arg;
  int backoff = 0;
  while (!atomic_load(&c->stop)) {
    ev_message m;
    char err[512];
    int r = c->backend->ops->consumer_poll(c->bc, &m, POLL_MS, err, sizeof err);
    if (r < 0) {
      backoff = backoff ? (backoff * 2 > ERROR_BACKOFF_MAX_MS ? ERROR_BACKOFF_MAX_MS : backoff * 2) : 100;
      log_warn("consumer %s: %s (retry in %d ms)", c->group, err, backoff);
      consumer_sleep(c, backoff);
      continue;
    }
    backoff = 0;
    if (r == 1) process(c, &m);
    else if (c->n_skips) commit_skips(c); /* idle */
  }
  commit_skips(c);
  c->backend->ops->consumer_close(c->bc);
  pg_disconnect();
  redis_disconnect(); /* handlers may use Redis (cache invalidation) */
  return NULL;
}

static bool config_ok(const ev_consumer_config *cfg, char *err, size_t errlen) {
  if (!cfg->group || !*cfg->group || strlen(cfg->group) > 200 || !cfg->subs || cfg->n_subs == 0) {
    snprintf(err, errlen, "consumer: a group and at least one subscription are needed");
    return false;
  }
  for (size_t i = 0; i < cfg->n_subs; i++)
    if (!ev_type_valid(cfg->subs[i].type) || !cfg->subs[i].data_type || !cfg->subs[i].handler) {
      snprintf(err, errlen, "consumer %s: subscription %zu needs a type, a data type and a handler", cfg->group, i);
      return false;
    }
  return true;
}

static void consumer_free(ev_consumer *c) {
  for (size_t i = 0; i < c->n_topics; i++) free(c->topics[i]);
  free(c->group);
  free(c);
}

ev_consumer *ev_consumer_start(const ev_consumer_config *cfg, char *err, size_t errlen) {
  ev_backend *b = ev_backend_current();
  if (!b) {
    snprintf(err, errlen, "consumer: ev_init has not run");
    return NULL;
  }
  if (!config_ok(cfg, err, errlen)) return NULL;
  ev_consumer *c = calloc(1, sizeof *c);
  c->cfg = *cfg;
  c->group = strdup(cfg->group);
  c->cfg.group = c->group;
  c->backend = b;
  arena *a = arena_create(1024);
  for (size_t i = 0; i < cfg->n_subs; i++) {
    const char *topic = ev_topic_of(a, cfg->subs[i].type);
    bool seen = false;
    for (size_t t = 0; t < c->n_topics; t++) seen = seen || strcmp(c->topics[t], topic) == 0;
    if (!seen && c->n_topics < MAX_TOPICS) {
      c->topics[c->n_topics++] = strdup(topic);
      metrics_add(dead_lettered(), topic, NULL, 0); /* the series exists from the start, at 0 */
    }
  }
  arena_destroy(a);
  c->bc = b->ops->consumer_open(b, c->group, (const char *const *)c->topics, c->n_topics, err, errlen);
  if (!c->bc) {
    consumer_free(c);
    return NULL;
  }
  if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    snprintf(err, errlen, "consumer: pipe: %m");
    b->ops->consumer_close(c->bc);
    consumer_free(c);
    return NULL;
  }
  if (pthread_create(&c->thread, NULL, consumer_main, c) != 0) {
    snprintf(err, errlen, "consumer: cannot start its thread");
    b->ops->consumer_close(c->bc);
    close(c->wake[0]);
    close(c->wake[1]);
    consumer_free(c);
    return NULL;
  }
  return c;
}

void ev_consumer_stop(ev_consumer *c) {
  if (!c) return;
  atomic_store(&c->stop, true);
  ssize_t w = write(c->wake[1], "x", 1);
  (void)w;
  pthread_join(c->thread, NULL);
  close(c->wake[0]);
  close(c->wake[1]);
  consumer_free(c);
}
