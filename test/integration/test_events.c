/* The event backbone end to end on whichever backend the stack runs (METRO_KAFKA_BROKERS in
 * stack.env, empty = the PostgreSQL log): outbox -> relay -> backend -> the probe consumer. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ev_internal.h"
#include "common/pg.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "harness.h"

#define TICKS 2000
#define TICKS_PER_TX 10
#define WAIT_MS 180000 /* generous: Kafka group rebalances and the sanitizer build are slow */

static int probe_pid;
static char probe_log[1024], probe_bin[1024];

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void probe_start(void) {
  static char url[1024], brokers[1024];
  snprintf(url, sizeof url, "METRO_PG_URL=%s", harness_env("METRO_PROBE_PG_URL"));
  const char *b = harness_env("METRO_KAFKA_BROKERS");
  snprintf(brokers, sizeof brokers, "METRO_KAFKA_BROKERS=%s", b ? b : "");
  const char *env[] = {url, brokers, "METRO_IDENTITY_SECRET=probe-has-no-callers-but-needs-a-secret",
                       "METRO_GRPC_ADDR=127.0.0.1:0", "METRO_METRICS_PORT=0", "METRO_PROBE_FAIL_TYPE=probe.fail",
                       "METRO_PROBE_REJECT_TYPE=probe.reject", NULL};
  probe_pid = spawn(probe_bin, env, probe_log);
  assert_true(probe_pid > 0);
}

static void probe_kill(void) {
  kill(probe_pid, SIGKILL);
  assert_int_equal(wait_exit(probe_pid, 10000), 128 + SIGKILL);
}

/* A count(*)-style query as a number (-1 when it fails). */
static long sql_long(const char *query, const char *param) {
  char *v = sql_value(query, param);
  long n = v ? atol(v) : -1;
  free(v);
  return n;
}

/* Polls until the query's number reaches `want`; returns the last value seen. */
static long wait_for_count(const char *query, const char *param, long want, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  long n;
  while ((n = sql_long(query, param)) < want && now_ms() < deadline) usleep(10000);
  return n;
}

/* Publishes probe events through probe.outbox in one transaction, as a service would. */
static void publish(const char *type, const char *subject, const char *const *labels, int n) {
  arena *a = arena_create(4096);
  assert_true(rpc_ok(pg_begin(a)));
  for (int i = 0; i < n; i++) {
    Google__Protobuf__StringValue v = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    v.value = (char *)labels[i];
    assert_true(rpc_ok(ev_publish(a, type, subject, &v.base, NULL)));
  }
  assert_true(rpc_ok(pg_commit(a)));
  arena_destroy(a);
}

static int setup(void **state) {
  (void)state;
  harness_init();
  const char *url = harness_env("METRO_PROBE_PG_URL");
  if (!url) {
    fprintf(stderr, "test_events: stack.env has no METRO_PROBE_PG_URL (start the stack with METRO_STACK_TESTING=1)\n");
    return -1;
  }
  snprintf(probe_bin, sizeof probe_bin, "%s/test/integration/metro-event-probe", getenv("METRO_BUILD_DIR"));
  snprintf(probe_log, sizeof probe_log, "%s/logs/probe.log", harness_env("METRO_STACK_DIR"));
  pg_configure(url, "probe");
  const char *brokers = harness_env("METRO_KAFKA_BROKERS");
  ev_settings s = {.service = "probe", .kafka_brokers = brokers};
  char err[512];
  if (!ev_init(&s, err, sizeof err)) {
    fprintf(stderr, "test_events: ev_init: %s\n", err);
    return -1;
  }
  fprintf(stderr, "test_events: %s backend\n", ev_backend_name());
  probe_start();
  /* Ready once its migration ran (the tests write into probe.outbox). */
  int64_t deadline = now_ms() + 30000;
  while (sql_long("SELECT count(*) FROM pg_tables WHERE schemaname = 'probe' AND tablename = 'applied'", NULL) != 1) {
    if (now_ms() > deadline) return -1;
    usleep(50000);
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int status = -1;
  if (probe_pid > 0) {
    kill(probe_pid, SIGTERM);
    status = wait_exit(probe_pid, 20000);
  }
  ev_shutdown();
  pg_disconnect();
  if (status != 0) fprintf(stderr, "test_events: the probe exited with %d on SIGTERM (see %s)\n", status, probe_log);
  return status == 0 ? 0 : -1;
}

static void test_registration_reaches_a_consumer_through_the_outbox(void **state) {
  (void)state;
  const char *name = unique_name("evt");
  char body[512];
  snprintf(body, sizeof body,
           "{\"email\":\"%s@example.com\",\"username\":\"%s\",\"password\":\"Saigon-Metro-2026\","
           "\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}",
           name, name);
  http_response *r = http_call("POST", "/v1/auth/register", body, NULL);
  assert_int_equal(r->status, 200);
  char user_id[64];
  snprintf(user_id, sizeof user_id, "%s", json_at(r, "user.userId"));
  http_response_free(r);
  assert_int_equal(wait_for_count("SELECT count(*) FROM probe.applied WHERE event_type = 'user.created' AND subject = $1",
                                  user_id, 1, WAIT_MS),
                   1);
  /* The relay marks it published once the backend confirmed, which may be just after the
   * consumer applied it: wait for that too. */
  assert_int_equal(wait_for_count("SELECT count(*) FROM auth.outbox WHERE event_type = 'user.created' AND event_key = $1"
                                  " AND published_at IS NOT NULL",
                                  user_id, 1, WAIT_MS),
                   1);
  char *email = sql_value("SELECT label FROM probe.applied WHERE subject = $1", user_id);
  assert_non_null(email);
  assert_non_null(strstr(email, name));
  free(email);
}

/* Publishes ticks [from, to) of a run, TICKS_PER_TX per transaction, over 8 keys. */
static void publish_ticks(const char *run, int from, int to) {
  static char labels[TICKS][64];
  const char *batch[TICKS_PER_TX];
  for (int sent = from; sent < to; sent += TICKS_PER_TX) {
    for (int i = 0; i < TICKS_PER_TX; i++) {
      snprintf(labels[sent + i], sizeof labels[0], "%s:%d", run, sent + i + 1);
      batch[i] = labels[sent + i];
    }
    char subject[16];
    snprintf(subject, sizeof subject, "key-%d", (sent / TICKS_PER_TX) % 8);
    publish("probe.tick", subject, batch, TICKS_PER_TX);
  }
}

/* Publishes the first REDELIVERED envelopes of the run again, bytes unchanged, then a
 * marker behind them on the same key; returns once the marker is applied. A redelivery
 * must change nothing (checked by the caller through times_applied). */
#define REDELIVERED 100
static void redeliver_and_wait(const char *run, const char *like) {
  arena *a = arena_create(64 * 1024);
  PGresult *r;
  const char *params[1] = {like};
  assert_true(rpc_ok(pg_exec(a, &r,
                             "SELECT o.topic, o.envelope FROM probe.outbox o JOIN probe.applied p USING (event_id)"
                             " WHERE p.label LIKE $1 ORDER BY o.id LIMIT 100",
                             1, params)));
  assert_int_equal(PQntuples(r), REDELIVERED);
  char key[96], marker[96];
  snprintf(key, sizeof key, "%s-again", run);
  snprintf(marker, sizeof marker, "%s:marker", run);
  ev_message msgs[REDELIVERED];
  for (int i = 0; i < REDELIVERED; i++) {
    size_t len = 0;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 1), &len);
    assert_non_null(bytes);
    uint8_t *copy = arena_alloc(a, len);
    memcpy(copy, bytes, len);
    PQfreemem(bytes);
    msgs[i] = (ev_message){.topic = PQgetvalue(r, i, 0), .key = key, .value = copy, .len = len};
  }
  ev_backend *b = ev_backend_current();
  char err[512];
  assert_true(b->ops->publish(b, msgs, REDELIVERED, err, sizeof err));
  const char *labels[1] = {marker};
  publish("probe.tick", key, labels, 1);
  assert_int_equal(wait_for_count("SELECT count(*) FROM probe.applied WHERE label = $1", marker, 1, WAIT_MS), 1);
  arena_destroy(a);
}

/* SIGKILL (no goodbye to the database or the broker) twice while a backlog is being
 * applied: the probe also runs the relay of probe.outbox, so both sides die mid-stream. */
static void test_consumer_killed_mid_stream_loses_and_duplicates_nothing(void **state) {
  (void)state;
  const char *run = unique_name("run");
  char like[80];
  snprintf(like, sizeof like, "%s:%%", run);
  const char *count_sql = "SELECT count(*) FROM probe.applied WHERE label LIKE $1";
  for (int half = 0; half < 2; half++) {
    int published = (half + 1) * TICKS / 2;
    publish_ticks(run, half * TICKS / 2, published);
    long applied = wait_for_count(count_sql, like, half * TICKS / 2 + 50, WAIT_MS);
    if (applied >= published) fail_msg("the backlog was gone before the kill (%ld applied)", applied);
    probe_kill();
    fprintf(stderr, "test_events: SIGKILL with %ld of %d published events applied\n", applied, published);
    probe_start();
  }
  assert_int_equal(wait_for_count(count_sql, like, TICKS, WAIT_MS), TICKS);
  redeliver_and_wait(run, like);
  assert_int_equal(sql_long(count_sql, like), TICKS + 1); /* the ticks and the marker */
  assert_int_equal(sql_long("SELECT count(DISTINCT label) FROM probe.applied WHERE label LIKE $1", like), TICKS + 1);
  assert_int_equal(sql_long("SELECT max(times_applied) FROM probe.applied WHERE label LIKE $1", like), 1);
  assert_int_equal(sql_long("SELECT count(*) FROM probe.applied WHERE label LIKE $1"
                            " AND CASE WHEN split_part(label, ':', 2) ~ '^[0-9]{1,9}$'"
                            " THEN split_part(label, ':', 2)::int END BETWEEN 1 AND 2000",
                            like),
                   TICKS);
}

static void kafka_script(const char *verb) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "bash '%s/scripts/kafka.sh' %s '%s' >/dev/null 2>&1", getenv("METRO_SOURCE_DIR"), verb,
           getenv("METRO_KAFKA_DIR"));
  assert_int_equal(system(cmd), 0);
}

/* Kafka only: the broker stops while events flow and more are committed to the outbox
 * while it is down; once it is back, the relay catches up and every event is applied
 * exactly once. */
static void test_broker_restart_while_events_flow_loses_nothing(void **state) {
  (void)state;
  const char *brokers = harness_env("METRO_KAFKA_BROKERS");
  if (!brokers || !*brokers || !getenv("METRO_KAFKA_DIR") || !getenv("METRO_SOURCE_DIR")) {
    skip(); /* the embedded backend has no broker to restart */
    return;
  }
  const char *run = unique_name("restart");
  char like[80];
  snprintf(like, sizeof like, "%s:%%", run);
  const char *count_sql = "SELECT count(*) FROM probe.applied WHERE label LIKE $1";
  publish_ticks(run, 0, TICKS / 2);
  kafka_script("stop");
  long applied_at_stop = sql_long(count_sql, like);
  publish_ticks(run, TICKS / 2, TICKS); /* committed to the outbox with no broker */
  kafka_script("start");
  fprintf(stderr, "test_events: broker restarted with %ld of %d events applied\n", applied_at_stop, TICKS);
  assert_int_equal(wait_for_count(count_sql, like, TICKS, 120000), TICKS);
  assert_int_equal(sql_long("SELECT count(DISTINCT label) FROM probe.applied WHERE label LIKE $1", like), TICKS);
  assert_int_equal(sql_long("SELECT max(times_applied) FROM probe.applied WHERE label LIKE $1", like), 1);
  assert_int_equal(sql_long("SELECT count(*) FROM probe.outbox o JOIN probe.applied p USING (event_id)"
                            " WHERE p.label LIKE $1 AND o.published_at IS NULL",
                            like),
                   0);
}

typedef struct dlq_expectation {
  const char *label;       /* the probe event's label, or NULL for the undecodable bytes */
  const char *error_part;  /* must appear in the parked message's error */
  bool seen;
} dlq_expectation;

static void match_dlq(arena *a, const ev_message *m, const uint8_t *garbage, size_t garbage_len, dlq_expectation *want,
                      int n) {
  const char *label = NULL;
  Metro__Events__V1__EventEnvelope *env = ev_envelope_unpack(a, m->value, m->len);
  if (env) {
    const char *why;
    Google__Protobuf__StringValue *v =
        (void *)ev_envelope_data(a, env, &google__protobuf__string_value__descriptor, &why);
    label = v ? v->value : NULL;
  }
  for (int i = 0; i < n; i++) {
    bool same = want[i].label ? label && strcmp(label, want[i].label) == 0
                              : m->len == garbage_len && memcmp(m->value, garbage, garbage_len) == 0;
    if (same) {
      assert_non_null(m->error);
      if (!strstr(m->error, want[i].error_part))
        fail_msg("parked message %s: error \"%s\" lacks \"%s\"", want[i].label ? want[i].label : "(garbage)", m->error,
                 want[i].error_part);
      want[i].seen = true;
    }
  }
}

static void test_poison_events_are_parked_with_their_error_and_the_next_is_applied(void **state) {
  (void)state;
  const char *run = unique_name("poison");
  char subject[96], fail_label[96], reject_label[96], after_label[96];
  snprintf(subject, sizeof subject, "%s-key", run);
  snprintf(fail_label, sizeof fail_label, "%s:fail", run);
  snprintf(reject_label, sizeof reject_label, "%s:reject", run);
  snprintf(after_label, sizeof after_label, "%s:after", run);
  /* Bytes that are no EventEnvelope, straight onto the probe's topic (no outbox could hold them). */
  uint8_t garbage[24];
  memcpy(garbage, "\xff\xff\xff\xff\x0f", 5);
  memcpy(garbage + 5, run, strlen(run) < 19 ? strlen(run) : 19);
  size_t garbage_len = 5 + (strlen(run) < 19 ? strlen(run) : 19);
  ev_backend *b = ev_backend_current();
  char err[512];
  ev_message poison = {.topic = "metro.probe", .key = subject, .value = garbage, .len = garbage_len};
  assert_true(b->ops->publish(b, &poison, 1, err, sizeof err));
  const char *fail[1] = {fail_label}, *reject[1] = {reject_label}, *after[1] = {after_label};
  publish("probe.fail", subject, fail, 1);
  publish("probe.reject", subject, reject, 1);
  publish("probe.tick", subject, after, 1);

  /* The event behind them (same key, so same partition and order) is applied... */
  assert_int_equal(wait_for_count("SELECT count(*) FROM probe.applied WHERE label = $1", after_label, 1, WAIT_MS), 1);
  /* ...and the failing handlers' writes were rolled back. */
  assert_int_equal(sql_long("SELECT count(*) FROM probe.applied WHERE label = $1", fail_label), 0);
  assert_int_equal(sql_long("SELECT count(*) FROM probe.applied WHERE label = $1", reject_label), 0);

  /* All three are on the dead-letter topic with their errors. */
  dlq_expectation want[3] = {
      {NULL, "not a decodable", false},
      {fail_label, "after 3 attempts: INTERNAL", false},
      {reject_label, "FAILED_PRECONDITION", false},
  };
  const char *topics[1] = {"metro.probe.dlq"};
  ev_backend_consumer *c = b->ops->consumer_open(b, unique_name("dlq-reader"), topics, 1, err, sizeof err);
  assert_non_null(c);
  int64_t deadline = now_ms() + WAIT_MS;
  while (!(want[0].seen && want[1].seen && want[2].seen) && now_ms() < deadline) {
    ev_message m;
    int r = b->ops->consumer_poll(c, &m, 1000, err, sizeof err);
    assert_true(r >= 0);
    if (r == 1) {
      arena *a = arena_create(4096);
      match_dlq(a, &m, garbage, garbage_len, want, 3);
      arena_destroy(a);
    }
  }
  b->ops->consumer_close(c);
  for (int i = 0; i < 3; i++)
    if (!want[i].seen) fail_msg("not on metro.probe.dlq: %s", want[i].label ? want[i].label : "the garbage bytes");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registration_reaches_a_consumer_through_the_outbox),
      cmocka_unit_test(test_poison_events_are_parked_with_their_error_and_the_next_is_applied),
      cmocka_unit_test(test_consumer_killed_mid_stream_loses_and_duplicates_nothing),
      cmocka_unit_test(test_broker_restart_while_events_flow_loses_nothing),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
