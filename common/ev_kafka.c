/* The Kafka transport of common/events.h (ev_backend_ops) through librdkafka: an idempotent
 * acks=all producer, topics created on first use, consumer groups with bounded commits. */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ev_backend.h"
#include "common/log.h"

/* Every blocking step is bounded so that a missing broker makes calls fail, not hang. */
enum {
  KAFKA_PUBLISH_TIMEOUT_MS = 10000, /* topic creation + delivery of one batch */
  KAFKA_ADMIN_TIMEOUT_MS = 10000,   /* CreateTopics on consumer_open */
  KAFKA_COMMIT_TIMEOUT_MS = 10000,
  KAFKA_CLOSE_TIMEOUT_MS = 10000,
  KAFKA_PURGE_DRAIN_MS = 2000,      /* serving the reports of purged messages */
  KAFKA_TOPIC_NAME_MAX = 249,       /* the broker's limit */
  KAFKA_GROUP_NAME_MAX = 255,
  KAFKA_MAX_PARTITIONS = 1000,
  KAFKA_MAX_REPLICATION = 16,
};

#define KAFKA_ERROR_HEADER "metro-error"

typedef struct kafka_backend {
  ev_backend base; /* first: the ev_backend * handed out points here */
  char *brokers;
  int partitions;
  int replication;

  /* One batch at a time: guards the producer handle and the batch counters, which the
   * delivery-report callback (served by the publishing thread) updates. */
  pthread_mutex_t publish_lock;
  rd_kafka_t *producer;
  uint64_t batch_id; /* reports carrying another id belong to an abandoned batch */
  size_t batch_pending;
  size_t batch_failed;
  char batch_error[256];

  /* Topics known to exist (created or found by this process). */
  pthread_mutex_t topics_lock;
  char **topics;
  size_t n_topics;
  size_t cap_topics;
} kafka_backend;

typedef struct kafka_consumer {
  rd_kafka_t *rk;
  rd_kafka_queue_t *commit_queue;
  uint64_t commit_seq;
  rd_kafka_message_t *current; /* the last polled message, alive until the next poll */
  char *key;                   /* NUL-terminated copies of the current message's key and */
  size_t key_cap;              /* dead-letter error header */
  char *error;
  size_t error_cap;
} kafka_consumer;

static const uint8_t KAFKA_EMPTY_VALUE[1];

static int64_t kafka_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int kafka_remaining_ms(int64_t deadline) {
  int64_t left = deadline - kafka_now_ms();
  return left > 0 ? (int)left : 0;
}

__attribute__((format(printf, 3, 4))) static void kafka_set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Kafka's legal topic names: 1..249 of [a-zA-Z0-9._-]. */
static bool kafka_topic_valid(const char *t) {
  if (!t || !*t) return false;
  size_t n = 0;
  for (const char *p = t; *p; p++, n++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok || n >= KAFKA_TOPIC_NAME_MAX) return false;
  }
  return strcmp(t, ".") != 0 && strcmp(t, "..") != 0;
}

/* ---- logging: librdkafka's errors and warnings go to common/log.h (no secrets are
 * configured, so its texts carry only broker addresses and codes) ---- */

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)opaque;
  log_level level = err == RD_KAFKA_RESP_ERR__FATAL ? LOG_ERROR : LOG_WARN;
  log_write(level, "kafka %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name((rd_kafka_resp_err_t)err),
            reason ? reason : "");
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  /* syslog levels: up to 4 (warning) is worth a line; connection failures ("FAIL") also
   * reach kafka_error_cb, so they are only debug here. */
  if (level > 4) return;
  bool repeated = fac && strcmp(fac, "FAIL") == 0;
  log_write(repeated ? LOG_DEBUG : LOG_WARN, "kafka %s: %s: %s", rd_kafka_name(rk), fac ? fac : "", buf ? buf : "");
}

/* ---- configuration ---- */

typedef struct kafka_setting {
  const char *name;
  const char *value;
} kafka_setting;

/* Shared by the producer and the consumers: reconnect quickly after a broker restart. */
static const kafka_setting KAFKA_COMMON_SETTINGS[] = {
    {"reconnect.backoff.ms", "100"},
    {"reconnect.backoff.max.ms", "1000"},
    {"log.connection.close", "false"},
    {"socket.keepalive.enable", "true"},
};

static const kafka_setting KAFKA_PRODUCER_SETTINGS[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"max.in.flight.requests.per.connection", "5"},
    {"linger.ms", "5"},
    {"compression.codec", "none"},
    {"message.timeout.ms", "10000"}, /* = KAFKA_PUBLISH_TIMEOUT_MS */
    {"retry.backoff.ms", "100"},
};

static const kafka_setting KAFKA_CONSUMER_SETTINGS[] = {
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "earliest"},
    {"enable.partition.eof", "false"},
    /* A consumer that died is noticed in seconds and its partitions move on. */
    {"session.timeout.ms", "6000"},
    {"heartbeat.interval.ms", "2000"},
};

static bool kafka_conf_apply(rd_kafka_conf_t *conf, const kafka_setting *s, size_t n, char *err, size_t errlen) {
  char why[256];
  for (size_t i = 0; i < n; i++) {
    if (rd_kafka_conf_set(conf, s[i].name, s[i].value, why, sizeof why) != RD_KAFKA_CONF_OK) {
      kafka_set_err(err, errlen, "kafka: setting %s: %s", s[i].name, why);
      return false;
    }
  }
  return true;
}

#define KAFKA_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static rd_kafka_conf_t *kafka_conf_new(const kafka_backend *kb, char *err, size_t errlen) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  const kafka_setting brokers = {"bootstrap.servers", kb->brokers};
  if (!kafka_conf_apply(conf, &brokers, 1, err, errlen) ||
      !kafka_conf_apply(conf, KAFKA_COMMON_SETTINGS, KAFKA_COUNT(KAFKA_COMMON_SETTINGS), err, errlen)) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
  rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
  return conf;
}

/* ---- topics ---- */

static bool kafka_topic_known(kafka_backend *kb, const char *topic) {
  bool known = false;
  pthread_mutex_lock(&kb->topics_lock);
  for (size_t i = 0; i < kb->n_topics && !known; i++) known = strcmp(kb->topics[i], topic) == 0;
  pthread_mutex_unlock(&kb->topics_lock);
  return known;
}

static void kafka_topic_remember(kafka_backend *kb, const char *topic) {
  pthread_mutex_lock(&kb->topics_lock);
  bool known = false;
  for (size_t i = 0; i < kb->n_topics && !known; i++) known = strcmp(kb->topics[i], topic) == 0;
  if (!known) {
    if (kb->n_topics == kb->cap_topics) {
      size_t cap = kb->cap_topics ? kb->cap_topics * 2 : 16;
      char **grown = realloc(kb->topics, cap * sizeof *grown);
      if (!grown) goto out; /* only a cache: the next call asks the broker again */
      kb->topics = grown;
      kb->cap_topics = cap;
    }
    char *copy = strdup(topic);
    if (copy) kb->topics[kb->n_topics++] = copy;
  }
out:
  pthread_mutex_unlock(&kb->topics_lock);
}

/* Forgets every known topic: after a failed delivery (a topic deleted behind our back is
 * then created again on the next attempt). */
static void kafka_topics_forget(kafka_backend *kb) {
  pthread_mutex_lock(&kb->topics_lock);
  for (size_t i = 0; i < kb->n_topics; i++) free(kb->topics[i]);
  kb->n_topics = 0;
  pthread_mutex_unlock(&kb->topics_lock);
}

/* Waits on q for an event of `type` (others are dropped) until deadline; NULL on timeout. */
static rd_kafka_event_t *kafka_wait_event(rd_kafka_queue_t *q, rd_kafka_event_type_t type, int64_t deadline) {
  for (;;) {
    int left = kafka_remaining_ms(deadline);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, left);
    if (ev && rd_kafka_event_type(ev) == type) return ev;
    if (ev) rd_kafka_event_destroy(ev);
    if (left == 0) return NULL;
  }
}

/* Creates those of `topics` not known to exist, through rk's Admin API; an existing topic
 * counts as success. Bounded by deadline. */
static bool kafka_ensure_topics(kafka_backend *kb, rd_kafka_t *rk, const char *const *topics, size_t n,
                                int64_t deadline, char *err, size_t errlen) {
  rd_kafka_NewTopic_t **fresh = calloc(n ? n : 1, sizeof *fresh);
  if (!fresh) {
    kafka_set_err(err, errlen, "kafka: out of memory");
    return false;
  }
  size_t n_fresh = 0;
  bool ok = true;
  char why[256];
  for (size_t i = 0; i < n && ok; i++) {
    if (kafka_topic_known(kb, topics[i])) continue;
    bool dup = false;
    for (size_t j = 0; j < i && !dup; j++) dup = strcmp(topics[j], topics[i]) == 0;
    if (dup) continue;
    fresh[n_fresh] = rd_kafka_NewTopic_new(topics[i], kb->partitions, kb->replication, why, sizeof why);
    if (!fresh[n_fresh]) {
      kafka_set_err(err, errlen, "kafka: topic %s: %s", topics[i], why);
      ok = false;
    } else {
      n_fresh++;
    }
  }
  if (ok && n_fresh > 0) {
    int budget = kafka_remaining_ms(deadline);
    if (budget < 100) budget = 100;
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    /* The broker answers once the topics exist (operation timeout), within the budget. */
    if (rd_kafka_AdminOptions_set_request_timeout(opts, budget, why, sizeof why) ||
        rd_kafka_AdminOptions_set_operation_timeout(opts, budget > 1000 ? budget - 500 : budget / 2, why,
                                                    sizeof why)) {
      kafka_set_err(err, errlen, "kafka: admin options: %s", why);
      ok = false;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    if (ok) {
      rd_kafka_CreateTopics(rk, fresh, n_fresh, opts, q);
      /* librdkafka always answers by the request timeout; a little grace on top. */
      rd_kafka_event_t *ev = kafka_wait_event(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, kafka_now_ms() + budget + 2000);
      if (!ev) {
        kafka_set_err(err, errlen, "kafka: creating topics timed out");
        ok = false;
      } else if (rd_kafka_event_error(ev)) {
        kafka_set_err(err, errlen, "kafka: creating topics: %s: %s", rd_kafka_err2name(rd_kafka_event_error(ev)),
                      rd_kafka_event_error_string(ev));
        ok = false;
      } else {
        size_t n_res = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n_res);
        for (size_t i = 0; i < n_res; i++) {
          rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
          const char *name = rd_kafka_topic_result_name(res[i]);
          if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) log_info("kafka: created topic %s", name);
            kafka_topic_remember(kb, name);
          } else if (ok) {
            const char *msg = rd_kafka_topic_result_error_string(res[i]);
            char detail[512];
            snprintf(detail, sizeof detail, "%s: %s", rd_kafka_err2name(e), msg ? msg : "");
            kafka_set_err(err, errlen, "kafka: creating topic %s: %s", name, detail);
            ok = false;
          }
        }
      }
      if (ev) rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
  }
  for (size_t i = 0; i < n_fresh; i++) rd_kafka_NewTopic_destroy(fresh[i]);
  free(fresh);
  return ok;
}

/* ---- producing ---- */

/* Delivery reports, served by the publishing thread inside rd_kafka_poll/flush. */
static void kafka_delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  kafka_backend *kb = opaque;
  if ((uint64_t)(uintptr_t)m->_private != kb->batch_id || kb->batch_pending == 0) return;
  kb->batch_pending--;
  if (m->err) {
    if (kb->batch_failed++ == 0) {
      snprintf(kb->batch_error, sizeof kb->batch_error, "kafka: delivery to %s failed: %s",
               m->rkt ? rd_kafka_topic_name(m->rkt) : "?", rd_kafka_err2str(m->err));
    }
  }
}

static rd_kafka_t *kafka_producer_new(kafka_backend *kb, char *err, size_t errlen) {
  rd_kafka_conf_t *conf = kafka_conf_new(kb, err, errlen);
  if (!conf) return NULL;
  if (!kafka_conf_apply(conf, KAFKA_PRODUCER_SETTINGS, KAFKA_COUNT(KAFKA_PRODUCER_SETTINGS), err, errlen)) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_conf_set_opaque(conf, kb);
  rd_kafka_conf_set_dr_msg_cb(conf, kafka_delivery_cb);
  char why[512];
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    kafka_set_err(err, errlen, "kafka: producer: %s", why);
  }
  return rk;
}

/* The producer, replaced when the idempotent producer hit a fatal error (it cannot go on). */
static bool kafka_producer_ready(kafka_backend *kb, char *err, size_t errlen) {
  if (kb->producer) {
    char why[512];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(kb->producer, why, sizeof why);
    if (fatal == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    log_error("kafka: producer fatal error %s: %s; starting a new producer", rd_kafka_err2name(fatal), why);
    rd_kafka_purge(kb->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(kb->producer);
    kb->producer = NULL;
  }
  kb->producer = kafka_producer_new(kb, err, errlen);
  return kb->producer != NULL;
}

/* Hands one message to librdkafka, waiting (bounded) while its local queue is full. */
static rd_kafka_resp_err_t kafka_produce_one(kafka_backend *kb, const ev_message *m, int64_t deadline) {
  for (;;) {
    rd_kafka_resp_err_t e;
    const char *key = m->key;
    size_t key_len = key ? strlen(key) : 0;
    if (m->error) {
      e = rd_kafka_producev(kb->producer, RD_KAFKA_V_TOPIC(m->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_VALUE((void *)m->value, m->len), RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_HEADER(KAFKA_ERROR_HEADER, m->error, (ssize_t)strlen(m->error)),
                            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)kb->batch_id), RD_KAFKA_V_END);
    } else {
      e = rd_kafka_producev(kb->producer, RD_KAFKA_V_TOPIC(m->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_VALUE((void *)m->value, m->len), RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)kb->batch_id), RD_KAFKA_V_END);
    }
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || kafka_remaining_ms(deadline) == 0) return e;
    rd_kafka_poll(kb->producer, 50);
  }
}

static bool kafka_publish_locked(kafka_backend *kb, const ev_message *msgs, size_t n, int64_t deadline, char *err,
                                 size_t errlen) {
  const char **topics = malloc(n * sizeof *topics);
  if (!topics) {
    kafka_set_err(err, errlen, "kafka: out of memory");
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if (!kafka_topic_valid(msgs[i].topic) || (!msgs[i].value && msgs[i].len > 0)) {
      free(topics);
      kafka_set_err(err, errlen, "kafka: message %zu has an invalid topic or value", i);
      return false;
    }
    topics[i] = msgs[i].topic;
  }
  bool ok = kafka_producer_ready(kb, err, errlen) && kafka_ensure_topics(kb, kb->producer, topics, n, deadline, err,
                                                                         errlen);
  free(topics);
  if (!ok) return false;

  kb->batch_id++;
  kb->batch_pending = 0;
  kb->batch_failed = 0;
  kb->batch_error[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    rd_kafka_resp_err_t e = kafka_produce_one(kb, &msgs[i], deadline);
    if (e) {
      kafka_set_err(err, errlen, "kafka: producing to %s: %s", msgs[i].topic, rd_kafka_err2str(e));
      ok = false;
      break;
    }
    kb->batch_pending++;
  }
  /* Waits for the delivery report of every message handed over (acks=all). */
  while (kb->batch_pending > 0 && kafka_remaining_ms(deadline) > 0) {
    rd_kafka_flush(kb->producer, kafka_remaining_ms(deadline));
  }
  if (kb->batch_pending > 0) {
    /* Out of time: drop what is still queued or in flight and serve their reports, so
     * nothing of this batch is delivered behind the caller's back later. */
    rd_kafka_purge(kb->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(kb->producer, KAFKA_PURGE_DRAIN_MS);
    if (ok) {
      kafka_set_err(err, errlen, "kafka: delivery not confirmed within %d ms (broker unreachable?)",
                    KAFKA_PUBLISH_TIMEOUT_MS);
    }
    ok = false;
  } else if (kb->batch_failed > 0) {
    if (ok) kafka_set_err(err, errlen, "%s", kb->batch_error);
    ok = false;
  }
  kb->batch_id++; /* late reports of this batch are ignored from now on */
  kb->batch_pending = 0;
  if (!ok) kafka_topics_forget(kb);
  return ok;
}

static bool kafka_publish(ev_backend *b, const ev_message *msgs, size_t n, char *err, size_t errlen) {
  kafka_backend *kb = (kafka_backend *)b;
  if (n == 0) return true;
  if (!msgs) {
    kafka_set_err(err, errlen, "kafka: no messages");
    return false;
  }
  int64_t deadline = kafka_now_ms() + KAFKA_PUBLISH_TIMEOUT_MS;
  pthread_mutex_lock(&kb->publish_lock);
  bool ok = kafka_publish_locked(kb, msgs, n, deadline, err, errlen);
  pthread_mutex_unlock(&kb->publish_lock);
  return ok;
}

/* ---- consuming ---- */

static void kafka_consumer_release_current(kafka_consumer *c) {
  if (c->current) rd_kafka_message_destroy(c->current);
  c->current = NULL;
}

static void kafka_consumer_close(ev_backend_consumer *bc) {
  kafka_consumer *c = (kafka_consumer *)bc;
  if (!c) return;
  kafka_consumer_release_current(c);
  if (c->commit_queue) rd_kafka_queue_destroy(c->commit_queue);
  if (c->rk) {
    /* Leaves the group (so its partitions move at once), bounded when the broker is gone. */
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(c->rk, q);
    if (e) {
      log_warn("kafka: closing consumer: %s", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    } else {
      int64_t deadline = kafka_now_ms() + KAFKA_CLOSE_TIMEOUT_MS;
      while (!rd_kafka_consumer_closed(c->rk) && kafka_remaining_ms(deadline) > 0) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
        if (ev) rd_kafka_event_destroy(ev);
      }
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }
  free(c->key);
  free(c->error);
  free(c);
}

static ev_backend_consumer *kafka_consumer_open(ev_backend *b, const char *group, const char *const *topics,
                                                size_t n_topics, char *err, size_t errlen) {
  kafka_backend *kb = (kafka_backend *)b;
  if (!group || !*group || strlen(group) > KAFKA_GROUP_NAME_MAX || !topics || n_topics == 0) {
    kafka_set_err(err, errlen, "kafka: consumer needs a group and topics");
    return NULL;
  }
  for (size_t i = 0; i < n_topics; i++) {
    if (!kafka_topic_valid(topics[i])) {
      kafka_set_err(err, errlen, "kafka: invalid topic name \"%.64s\"", topics[i] ? topics[i] : "");
      return NULL;
    }
  }
  kafka_consumer *c = calloc(1, sizeof *c);
  if (!c) {
    kafka_set_err(err, errlen, "kafka: out of memory");
    return NULL;
  }
  rd_kafka_conf_t *conf = kafka_conf_new(kb, err, errlen);
  const kafka_setting group_id = {"group.id", group};
  if (!conf || !kafka_conf_apply(conf, &group_id, 1, err, errlen) ||
      !kafka_conf_apply(conf, KAFKA_CONSUMER_SETTINGS, KAFKA_COUNT(KAFKA_CONSUMER_SETTINGS), err, errlen)) {
    if (conf) rd_kafka_conf_destroy(conf);
    free(c);
    return NULL;
  }
  char why[512];
  c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
  if (!c->rk) {
    rd_kafka_conf_destroy(conf);
    free(c);
    kafka_set_err(err, errlen, "kafka: consumer: %s", why);
    return NULL;
  }
  rd_kafka_poll_set_consumer(c->rk);
  c->commit_queue = rd_kafka_queue_new(c->rk);
  /* Subscribing to a topic that does not exist yet would sit idle: create them first. */
  if (!kafka_ensure_topics(kb, c->rk, topics, n_topics, kafka_now_ms() + KAFKA_ADMIN_TIMEOUT_MS, err, errlen)) {
    kafka_consumer_close((ev_backend_consumer *)c);
    return NULL;
  }
  rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)n_topics);
  for (size_t i = 0; i < n_topics; i++) rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, subs);
  rd_kafka_topic_partition_list_destroy(subs);
  if (e) {
    kafka_set_err(err, errlen, "kafka: subscribe: %s", rd_kafka_err2str(e));
    kafka_consumer_close((ev_backend_consumer *)c);
    return NULL;
  }
  return (ev_backend_consumer *)c;
}

/* Copies n bytes into *buf (grown as needed) with a terminating NUL. */
static bool kafka_copy_text(char **buf, size_t *cap, const void *src, size_t n) {
  if (n + 1 > *cap) {
    char *grown = realloc(*buf, n + 1);
    if (!grown) return false;
    *buf = grown;
    *cap = n + 1;
  }
  if (n) memcpy(*buf, src, n);
  (*buf)[n] = '\0';
  return true;
}

static int kafka_consumer_poll(ev_backend_consumer *bc, ev_message *out, int timeout_ms, char *err, size_t errlen) {
  kafka_consumer *c = (kafka_consumer *)bc;
  kafka_consumer_release_current(c);
  rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms > 0 ? timeout_ms : 0);
  if (!m) return 0;
  if (m->err) {
    int rc = 0;
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      kafka_set_err(err, errlen, "kafka: consume: %s: %s", rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
      rc = -1;
    }
    rd_kafka_message_destroy(m);
    return rc;
  }
  const char *error = NULL;
  rd_kafka_headers_t *hdrs = NULL;
  const void *hval = NULL;
  size_t hlen = 0;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      rd_kafka_header_get_last(hdrs, KAFKA_ERROR_HEADER, &hval, &hlen) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (!kafka_copy_text(&c->error, &c->error_cap, hval, hval ? hlen : 0)) goto oom;
    error = c->error;
  }
  if (!kafka_copy_text(&c->key, &c->key_cap, m->key, m->key ? m->key_len : 0)) goto oom;
  c->current = m;
  *out = (ev_message){
      .topic = rd_kafka_topic_name(m->rkt),
      .key = c->key,
      .value = m->payload ? (const uint8_t *)m->payload : KAFKA_EMPTY_VALUE,
      .len = m->payload ? m->len : 0,
      .error = error,
      .partition = m->partition,
      .offset = m->offset,
  };
  return 1;
oom:
  /* Not committed, so it comes back after a restart; this process cannot hold it. */
  kafka_set_err(err, errlen, "kafka: out of memory for a message of %s", rd_kafka_topic_name(m->rkt));
  rd_kafka_message_destroy(m);
  return -1;
}

static bool kafka_consumer_commit(ev_backend_consumer *bc, const ev_message *m, char *err, size_t errlen) {
  kafka_consumer *c = (kafka_consumer *)bc;
  if (!m || !kafka_topic_valid(m->topic) || m->partition < 0 || m->offset < 0) {
    kafka_set_err(err, errlen, "kafka: commit of an invalid message");
    return false;
  }
  rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(offsets, m->topic, m->partition)->offset = m->offset + 1;
  /* Asynchronous commit answered on our queue, waited for with a bound: a synchronous
   * one waits for the group coordinator without limit. Answers to earlier, timed-out
   * commits are told apart by their opaque sequence number. */
  uint64_t seq = ++c->commit_seq;
  rd_kafka_resp_err_t e = rd_kafka_commit_queue(c->rk, offsets, c->commit_queue, NULL, (void *)(uintptr_t)seq);
  bool ok = false;
  if (e) {
    kafka_set_err(err, errlen, "kafka: commit: %s", rd_kafka_err2str(e));
  } else {
    int64_t deadline = kafka_now_ms() + KAFKA_COMMIT_TIMEOUT_MS;
    for (;;) {
      rd_kafka_event_t *ev = kafka_wait_event(c->commit_queue, RD_KAFKA_EVENT_OFFSET_COMMIT, deadline);
      if (!ev) {
        kafka_set_err(err, errlen, "kafka: commit timed out");
        break;
      }
      if ((uint64_t)(uintptr_t)rd_kafka_event_opaque(ev) != seq) {
        rd_kafka_event_destroy(ev);
        continue;
      }
      rd_kafka_resp_err_t ce = rd_kafka_event_error(ev);
      const rd_kafka_topic_partition_list_t *res = rd_kafka_event_topic_partition_list(ev);
      for (int i = 0; !ce && res && i < res->cnt; i++) ce = res->elems[i].err;
      if (ce) {
        kafka_set_err(err, errlen, "kafka: commit: %s: %s", rd_kafka_err2name(ce), rd_kafka_err2str(ce));
      } else {
        ok = true;
      }
      rd_kafka_event_destroy(ev);
      break;
    }
  }
  rd_kafka_topic_partition_list_destroy(offsets);
  return ok;
}

/* ---- the backend ---- */

static void kafka_close(ev_backend *b) {
  kafka_backend *kb = (kafka_backend *)b;
  if (!kb) return;
  if (kb->producer) {
    pthread_mutex_lock(&kb->publish_lock);
    rd_kafka_flush(kb->producer, KAFKA_PURGE_DRAIN_MS);
    rd_kafka_purge(kb->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(kb->producer);
    kb->producer = NULL;
    pthread_mutex_unlock(&kb->publish_lock);
  }
  for (size_t i = 0; i < kb->n_topics; i++) free(kb->topics[i]);
  free(kb->topics);
  pthread_mutex_destroy(&kb->publish_lock);
  pthread_mutex_destroy(&kb->topics_lock);
  free(kb->brokers);
  free(kb);
}

static const ev_backend_ops KAFKA_OPS = {
    .name = "kafka",
    .publish = kafka_publish,
    .consumer_open = kafka_consumer_open,
    .consumer_poll = kafka_consumer_poll,
    .consumer_commit = kafka_consumer_commit,
    .consumer_close = kafka_consumer_close,
    .close = kafka_close,
};

ev_backend *ev_kafka_open(const char *brokers, int partitions, int replication, char *err, size_t errlen) {
  if (!brokers || !*brokers || strlen(brokers) > 4096) {
    kafka_set_err(err, errlen, "kafka: no broker list");
    return NULL;
  }
  if (partitions <= 0) partitions = 3;
  if (replication <= 0) replication = 1;
  if (partitions > KAFKA_MAX_PARTITIONS || replication > KAFKA_MAX_REPLICATION) {
    kafka_set_err(err, errlen, "kafka: partitions or replication out of range");
    return NULL;
  }
  kafka_backend *kb = calloc(1, sizeof *kb);
  if (!kb || !(kb->brokers = strdup(brokers))) {
    free(kb);
    kafka_set_err(err, errlen, "kafka: out of memory");
    return NULL;
  }
  kb->base.ops = &KAFKA_OPS;
  kb->partitions = partitions;
  kb->replication = replication;
  pthread_mutex_init(&kb->publish_lock, NULL);
  pthread_mutex_init(&kb->topics_lock, NULL);
  /* The producer is made now so that a bad setting shows at start-up; librdkafka connects
   * lazily, so an unreachable broker is not an error here (publish reports it). */
  kb->producer = kafka_producer_new(kb, err, errlen);
  if (!kb->producer) {
    kafka_close(&kb->base);
    return NULL;
  }
  return &kb->base;
}
