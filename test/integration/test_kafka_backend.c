/* The Kafka backend of the event backbone (common/ev_kafka.c) against a real broker
 * (scripts/kafka.sh): delivery, per-key order, group offsets, dead letters, restarts. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ev_backend.h"
#include "harness.h"

enum { POLL_MS = 200, CONSUME_TIMEOUT_MS = 30000 };

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ev_backend *open_kafka(void) {
  const char *brokers = harness_env("METRO_KAFKA_BROKERS");
  assert_non_null(brokers);
  char err[256] = "";
  ev_backend *b = ev_kafka_open(brokers, 3, 1, err, sizeof err);
  if (!b) fail_msg("ev_kafka_open: %s", err);
  return b;
}

/* A topic no earlier run used (the broker keeps its data between runs). */
static const char *fresh_topic(const char *what) {
  return unique_name(what);
}

static void publish_ok(ev_backend *b, const ev_message *msgs, size_t n) {
  char err[256] = "";
  if (!b->ops->publish(b, msgs, n, err, sizeof err)) fail_msg("publish: %s", err);
}

static ev_backend_consumer *open_consumer(ev_backend *b, const char *group, const char *topic) {
  char err[256] = "";
  const char *topics[] = {topic};
  ev_backend_consumer *c = b->ops->consumer_open(b, group, topics, 1, err, sizeof err);
  if (!c) fail_msg("consumer_open: %s", err);
  return c;
}

/* The next message, waiting up to CONSUME_TIMEOUT_MS; fails the test when none comes. */
static void next_message(ev_backend *b, ev_backend_consumer *c, ev_message *out) {
  int64_t deadline = now_ms() + CONSUME_TIMEOUT_MS;
  char err[256];
  while (now_ms() < deadline) {
    int rc = b->ops->consumer_poll(c, out, POLL_MS, err, sizeof err);
    if (rc == 1) return;
    if (rc < 0) fprintf(stderr, "poll: %s\n", err);
  }
  fail_msg("no message within %d ms", CONSUME_TIMEOUT_MS);
}

static void commit_ok(ev_backend *b, ev_backend_consumer *c, const ev_message *m) {
  char err[256] = "";
  if (!b->ops->consumer_commit(c, m, err, sizeof err)) fail_msg("commit: %s", err);
}

static void text_message(ev_message *m, const char *topic, const char *key, char *buf, size_t cap, const char *fmt,
                         int n) {
  snprintf(buf, cap, fmt, n);
  *m = (ev_message){.topic = topic, .key = key, .value = (const uint8_t *)buf, .len = strlen(buf)};
}

static bool value_is(const ev_message *m, const char *text) {
  return m->len == strlen(text) && memcmp(m->value, text, m->len) == 0;
}

static void test_published_messages_arrive_with_topic_key_and_value(void **state) {
  (void)state;
  ev_backend *b = open_kafka();
  const char *topic = fresh_topic("metro.t.basic");
  char bufs[3][32];
  ev_message msgs[3];
  for (int i = 0; i < 3; i++) text_message(&msgs[i], topic, "trip-1", bufs[i], sizeof bufs[i], "value-%d", i);
  publish_ok(b, msgs, 3);

  ev_backend_consumer *c = open_consumer(b, unique_name("g-basic"), topic);
  for (int i = 0; i < 3; i++) {
    ev_message m;
    next_message(b, c, &m);
    assert_string_equal(m.topic, topic);
    assert_string_equal(m.key, "trip-1");
    assert_true(value_is(&m, bufs[i]));
    assert_null(m.error);
    assert_true(m.offset >= 0);
    commit_ok(b, c, &m);
  }
  b->ops->consumer_close(c);
  b->ops->close(b);
}

enum { ORDER_KEYS = 5, ORDER_PER_KEY = 40, ORDER_BATCH = 20 };

static void test_messages_of_one_key_arrive_in_publish_order(void **state) {
  (void)state;
  ev_backend *b = open_kafka();
  const char *topic = fresh_topic("metro.t.order");
  static const char *const keys[ORDER_KEYS] = {"k0", "k1", "k2", "k3", "k4"};
  char bufs[ORDER_BATCH][32];
  ev_message batch[ORDER_BATCH];
  size_t n = 0;
  for (int seq = 0; seq < ORDER_PER_KEY; seq++) {
    for (int k = 0; k < ORDER_KEYS; k++) {
      text_message(&batch[n], topic, keys[k], bufs[n], sizeof bufs[n], "%d", seq);
      if (++n == ORDER_BATCH) {
        publish_ok(b, batch, n);
        n = 0;
      }
    }
  }
  if (n) publish_ok(b, batch, n);

  ev_backend_consumer *c = open_consumer(b, unique_name("g-order"), topic);
  int next[ORDER_KEYS] = {0};
  for (int got = 0; got < ORDER_KEYS * ORDER_PER_KEY; got++) {
    ev_message m;
    next_message(b, c, &m);
    int k = m.key[0] == 'k' ? m.key[1] - '0' : -1;
    assert_in_range(k, 0, ORDER_KEYS - 1);
    char text[32];
    snprintf(text, sizeof text, "%d", next[k]);
    if (!value_is(&m, text)) fail_msg("key %s: expected %s, got %.*s", m.key, text, (int)m.len, (const char *)m.value);
    next[k]++;
  }
  b->ops->consumer_close(c);
  b->ops->close(b);
}

static void test_restarted_group_resumes_after_its_committed_offset(void **state) {
  (void)state;
  ev_backend *b = open_kafka();
  const char *topic = fresh_topic("metro.t.resume");
  const char *group = unique_name("g-resume");
  char bufs[10][32];
  ev_message msgs[10];
  for (int i = 0; i < 10; i++) text_message(&msgs[i], topic, "one-key", bufs[i], sizeof bufs[i], "m%d", i);
  publish_ok(b, msgs, 10);

  ev_backend_consumer *c = open_consumer(b, group, topic);
  ev_message m;
  for (int i = 0; i < 4; i++) {
    next_message(b, c, &m);
    assert_true(value_is(&m, bufs[i]));
    commit_ok(b, c, &m);
  }
  next_message(b, c, &m); /* m4: received but never committed */
  assert_true(value_is(&m, bufs[4]));
  b->ops->consumer_close(c);

  c = open_consumer(b, group, topic);
  for (int i = 4; i < 10; i++) {
    next_message(b, c, &m);
    if (!value_is(&m, bufs[i])) fail_msg("expected %s, got %.*s", bufs[i], (int)m.len, (const char *)m.value);
    commit_ok(b, c, &m);
  }
  b->ops->consumer_close(c);
  b->ops->close(b);
}

static void test_dead_letter_message_carries_its_error(void **state) {
  (void)state;
  ev_backend *b = open_kafka();
  char topic[128];
  snprintf(topic, sizeof topic, "%s.dlq", fresh_topic("metro.t.poison"));
  ev_message msgs[2] = {
      {.topic = topic, .key = "sub-9", .value = (const uint8_t *)"\x08\xff", .len = 2, .error = "cannot decode: bad wire type"},
      {.topic = topic, .key = "sub-9", .value = (const uint8_t *)"ok", .len = 2},
  };
  publish_ok(b, msgs, 2);

  ev_backend_consumer *c = open_consumer(b, unique_name("g-dlq"), topic);
  ev_message m;
  next_message(b, c, &m);
  assert_non_null(m.error);
  assert_string_equal(m.error, "cannot decode: bad wire type");
  assert_int_equal(m.len, 2);
  assert_memory_equal(m.value, "\x08\xff", 2);
  next_message(b, c, &m);
  assert_null(m.error);
  assert_true(value_is(&m, "ok"));
  b->ops->consumer_close(c);
  b->ops->close(b);
}

static void test_publish_fails_in_bounded_time_when_no_broker_listens(void **state) {
  (void)state;
  char brokers[64];
  snprintf(brokers, sizeof brokers, "127.0.0.1:%d", free_port());
  char err[256] = "";
  ev_backend *b = ev_kafka_open(brokers, 3, 1, err, sizeof err);
  if (!b) fail_msg("ev_kafka_open: %s", err);
  ev_message m = {.topic = "metro.t.nobroker", .key = "k", .value = (const uint8_t *)"v", .len = 1};
  int64_t start = now_ms();
  err[0] = '\0';
  assert_false(b->ops->publish(b, &m, 1, err, sizeof err));
  int64_t took = now_ms() - start;
  fprintf(stderr, "publish with no broker failed after %lld ms: %s\n", (long long)took, err);
  assert_true(took < 20000);
  assert_true(err[0] != '\0');
  b->ops->close(b);
}

static int kafka_script(const char *verb) {
  const char *src = getenv("METRO_SOURCE_DIR");
  const char *dir = getenv("METRO_KAFKA_DIR");
  assert_non_null(src);
  assert_non_null(dir);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "bash '%s/scripts/kafka.sh' %s '%s'", src, verb, dir);
  return system(cmd);
}

static void test_publish_fails_in_bounded_time_while_the_broker_is_down_then_recovers(void **state) {
  (void)state;
  ev_backend *b = open_kafka();
  const char *topic = fresh_topic("metro.t.down");
  ev_message m = {.topic = topic, .key = "k", .value = (const uint8_t *)"before", .len = 6};
  publish_ok(b, &m, 1); /* the topic exists and the producer is connected */

  int stop_rc = kafka_script("stop");
  int64_t start = now_ms();
  char err[256] = "";
  m.value = (const uint8_t *)"refused";
  m.len = 7;
  bool accepted = b->ops->publish(b, &m, 1, err, sizeof err);
  int64_t took = now_ms() - start;
  int start_rc = kafka_script("start"); /* before any assertion: later tests need the broker */
  fprintf(stderr, "publish while the broker was down: %s after %lld ms: %s\n", accepted ? "accepted" : "refused",
          (long long)took, err);
  assert_int_equal(stop_rc, 0);
  assert_int_equal(start_rc, 0);
  assert_false(accepted);
  assert_true(took < 20000);
  assert_true(err[0] != '\0');

  /* The same producer works again once the broker is back. */
  m.value = (const uint8_t *)"after";
  m.len = 5;
  publish_ok(b, &m, 1);
  ev_backend_consumer *c = open_consumer(b, unique_name("g-down"), topic);
  ev_message got;
  next_message(b, c, &got);
  assert_true(value_is(&got, "before"));
  next_message(b, c, &got);
  assert_true(value_is(&got, "after"));
  b->ops->consumer_close(c);
  b->ops->close(b);
}

/* ---- the broker restarted while a producer keeps publishing ---- */

/* The producer publishes batches of RS_BATCH (RS_BATCH / RS_KEYS per key) until the broker
 * is back and RS_AFTER more batches went through. */
enum { RS_KEYS = 4, RS_BATCH = 8, RS_BEFORE = 15, RS_AFTER = 20 };

typedef struct restart_run {
  ev_backend *b;
  char topic[96];
  char group[96];
  pthread_mutex_t lock;
  int batches_published; /* by the producer */
  bool restarted;        /* set once the broker is back */
  int batches_at_restart;
  int64_t slowest_publish_ms;
  int publish_failures;
  int seen[RS_KEYS];     /* consumer: next expected first-time seq per key */
  int gaps;              /* a seq beyond the next expected: something lost or reordered */
  int duplicates;        /* redeliveries after a failed batch was retried (allowed) */
  bool stop_consumer;
} restart_run;

static const char *const RS_KEY_NAMES[RS_KEYS] = {"line-1", "line-2", "line-3", "line-4"};

/* Publishes batches until told it has done enough; a refused batch is retried whole after
 * a pause, as the outbox relay does. Each message carries "key index:seq of that key". */
static void *restart_producer(void *arg) {
  restart_run *r = arg;
  int seq[RS_KEYS] = {0};
  for (int bi = 0;; bi++) {
    pthread_mutex_lock(&r->lock);
    bool enough = r->restarted && r->batches_published >= r->batches_at_restart + RS_AFTER;
    pthread_mutex_unlock(&r->lock);
    if (enough) break;
    char bufs[RS_BATCH][32];
    ev_message msgs[RS_BATCH];
    for (int i = 0; i < RS_BATCH; i++) {
      int k = i % RS_KEYS;
      snprintf(bufs[i], sizeof bufs[i], "%d:%d", k, seq[k]++);
      msgs[i] = (ev_message){.topic = r->topic, .key = RS_KEY_NAMES[k], .value = (const uint8_t *)bufs[i],
                             .len = strlen(bufs[i])};
    }
    char err[256];
    int64_t started = now_ms();
    while (!r->b->ops->publish(r->b, msgs, RS_BATCH, err, sizeof err)) {
      pthread_mutex_lock(&r->lock);
      r->publish_failures++;
      pthread_mutex_unlock(&r->lock);
      fprintf(stderr, "producer: batch %d refused (%s); retrying\n", bi, err);
      usleep(300 * 1000);
    }
    pthread_mutex_lock(&r->lock);
    r->batches_published++;
    if (now_ms() - started > r->slowest_publish_ms) r->slowest_publish_ms = now_ms() - started;
    pthread_mutex_unlock(&r->lock);
    usleep(25 * 1000);
  }
  return NULL;
}

static void *restart_consumer(void *arg) {
  restart_run *r = arg;
  ev_backend_consumer *c = NULL;
  char err[256];
  const char *topics[] = {r->topic};
  for (;;) {
    pthread_mutex_lock(&r->lock);
    bool stop = r->stop_consumer;
    pthread_mutex_unlock(&r->lock);
    if (stop) break;
    if (!c) {
      c = r->b->ops->consumer_open(r->b, r->group, topics, 1, err, sizeof err);
      if (!c) {
        fprintf(stderr, "consumer: open: %s\n", err);
        usleep(500 * 1000);
      }
      continue;
    }
    ev_message m;
    int rc = r->b->ops->consumer_poll(c, &m, POLL_MS, err, sizeof err);
    if (rc < 0) {
      fprintf(stderr, "consumer: poll: %s\n", err);
      usleep(100 * 1000);
    }
    if (rc != 1) continue;
    int k = -1, s = -1;
    char text[32];
    snprintf(text, sizeof text, "%.*s", (int)(m.len < 31 ? m.len : 31), (const char *)m.value);
    if (sscanf(text, "%d:%d", &k, &s) != 2 || k < 0 || k >= RS_KEYS) {
      fprintf(stderr, "consumer: unexpected value %s\n", text);
      pthread_mutex_lock(&r->lock);
      r->gaps++;
      pthread_mutex_unlock(&r->lock);
      continue;
    }
    pthread_mutex_lock(&r->lock);
    if (s == r->seen[k]) {
      r->seen[k]++;
    } else if (s < r->seen[k]) {
      r->duplicates++;
    } else {
      fprintf(stderr, "consumer: key %d jumped from %d to %d\n", k, r->seen[k], s);
      r->gaps++;
    }
    pthread_mutex_unlock(&r->lock);
    if (!r->b->ops->consumer_commit(c, &m, err, sizeof err)) fprintf(stderr, "consumer: commit: %s\n", err);
  }
  if (c) r->b->ops->consumer_close(c);
  return NULL;
}

static int restart_progress(restart_run *r, int *consumed) {
  pthread_mutex_lock(&r->lock);
  int published = r->batches_published;
  int total = 0;
  for (int k = 0; k < RS_KEYS; k++) total += r->seen[k];
  pthread_mutex_unlock(&r->lock);
  if (consumed) *consumed = total;
  return published;
}

static void test_broker_restart_while_publishing_loses_nothing(void **state) {
  (void)state;
  restart_run r = {.b = open_kafka()};
  snprintf(r.topic, sizeof r.topic, "%s", fresh_topic("metro.t.restart"));
  snprintf(r.group, sizeof r.group, "%s", unique_name("g-restart"));
  pthread_mutex_init(&r.lock, NULL);
  pthread_t producer, consumer;
  assert_int_equal(pthread_create(&consumer, NULL, restart_consumer, &r), 0);
  assert_int_equal(pthread_create(&producer, NULL, restart_producer, &r), 0);

  /* Restart once the stream is flowing in both directions. */
  int64_t deadline = now_ms() + 60000;
  int consumed = 0;
  while ((restart_progress(&r, &consumed) < RS_BEFORE || consumed < RS_BEFORE * RS_BATCH / 2) && now_ms() < deadline)
    usleep(50 * 1000);
  int64_t t0 = now_ms();
  int stop_rc = kafka_script("stop");
  usleep(1500 * 1000); /* publishing continues against a dead broker */
  int start_rc = kafka_script("start");
  fprintf(stderr, "broker restarted in %lld ms (stop %d, start %d)\n", (long long)(now_ms() - t0), stop_rc, start_rc);
  pthread_mutex_lock(&r.lock);
  r.restarted = true;
  r.batches_at_restart = r.batches_published;
  pthread_mutex_unlock(&r.lock);
  assert_int_equal(stop_rc, 0);
  assert_int_equal(start_rc, 0);

  pthread_join(producer, NULL);
  const int total = r.batches_published * RS_BATCH;
  deadline = now_ms() + 60000;
  while (now_ms() < deadline) {
    restart_progress(&r, &consumed);
    if (consumed >= total) break;
    usleep(100 * 1000);
  }
  pthread_mutex_lock(&r.lock);
  r.stop_consumer = true;
  pthread_mutex_unlock(&r.lock);
  pthread_join(consumer, NULL);

  fprintf(stderr,
          "restart: %d batches (%d before the broker was back), slowest publish %lld ms, %d refused publishes, "
          "%d consumed, %d duplicates, %d gaps\n",
          r.batches_published, r.batches_at_restart, (long long)r.slowest_publish_ms, r.publish_failures, consumed,
          r.duplicates, r.gaps);
  /* The producer was still publishing when the broker went away and came back. */
  assert_true(r.batches_at_restart >= RS_BEFORE);
  assert_true(r.batches_published >= r.batches_at_restart + RS_AFTER);
  assert_int_equal(r.gaps, 0);
  for (int k = 0; k < RS_KEYS; k++) assert_int_equal(r.seen[k], r.batches_published * RS_BATCH / RS_KEYS);
  pthread_mutex_destroy(&r.lock);
  r.b->ops->close(r.b);
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_published_messages_arrive_with_topic_key_and_value),
      cmocka_unit_test(test_messages_of_one_key_arrive_in_publish_order),
      cmocka_unit_test(test_restarted_group_resumes_after_its_committed_offset),
      cmocka_unit_test(test_dead_letter_message_carries_its_error),
      cmocka_unit_test(test_publish_fails_in_bounded_time_when_no_broker_listens),
      cmocka_unit_test(test_publish_fails_in_bounded_time_while_the_broker_is_down_then_recovers),
      cmocka_unit_test(test_broker_restart_while_publishing_loses_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
