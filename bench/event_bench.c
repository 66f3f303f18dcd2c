/* metro-event-bench: events per second and end-to-end latency through the whole event path
 * (ev_publish -> outbox -> relay -> backend -> consumer with its effect committed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/events.h"
#include "common/log.h"
#include "common/pg.h"
#include "google/protobuf/wrappers.pb-c.h"

/* The bench schema: what a producing and consuming service has, plus the effect table whose
 * applied_at minus the envelope time is the end-to-end latency. */
static const pg_migration bench_migrations[] = {
    {"001_bench",
     "CREATE TABLE outbox ("
     " id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, topic text NOT NULL, event_type text NOT NULL,"
     " event_key text NOT NULL, envelope bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),"
     " published_at timestamptz, attempts integer NOT NULL DEFAULT 0, last_error text);"
     "CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;"
     "CREATE TABLE processed_events ("
     " event_id uuid PRIMARY KEY, event_type text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now());"
     "CREATE TABLE applied (event_id uuid PRIMARY KEY, phase text NOT NULL, event_time timestamptz NOT NULL,"
     " applied_at timestamptz NOT NULL DEFAULT clock_timestamp());"},
    {NULL, NULL},
};

static rpc_status bench_apply(rpc_ctx *ctx, const ev_event *ev) {
  const Google__Protobuf__StringValue *v = (const void *)ev->data;
  const Google__Protobuf__Timestamp *t = ev->envelope->time;
  const char *params[3] = {ev->envelope->event_id, v->value,
                           arena_printf(ctx->arena, "%lld", (long long)(t ? t->seconds * 1000000 + t->nanos / 1000 : 0))};
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO applied (event_id, phase, event_time)"
                 " VALUES ($1::uuid, $2, timestamptz 'epoch' + $3::bigint * interval '1 microsecond')",
                 3, params);
}

static const ev_subscription bench_subscriptions[] = {
    {"bench.tick", &google__protobuf__string_value__descriptor, bench_apply},
};

static long env_long(const char *name, long fallback) {
  const char *v = getenv(name);
  return v && *v ? atol(v) : fallback;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool publish(const char *phase, long n, int key) {
  arena *a = arena_create(4096);
  rpc_status st = pg_begin(a);
  char subject[16];
  snprintf(subject, sizeof subject, "key-%d", key % 16);
  for (long i = 0; i < n && rpc_ok(st); i++) {
    Google__Protobuf__StringValue v = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    v.value = (char *)phase;
    st = ev_publish(a, "bench.tick", subject, &v.base, NULL);
  }
  if (rpc_ok(st)) st = pg_commit(a);
  else pg_rollback();
  arena_destroy(a);
  if (!rpc_ok(st)) fprintf(stderr, "event-bench: publish failed: %s\n", st.message);
  return rpc_ok(st);
}

/* Waits until every event of the phase is applied, then prints its figures. */
static bool report(const char *phase, long n, double timeout_s) {
  arena *a = arena_create(4096);
  const char *params[1] = {phase};
  PGresult *r = NULL;
  double deadline = now_s() + timeout_s;
  long applied = 0;
  while (now_s() < deadline) {
    if (rpc_ok(pg_exec(a, &r, "SELECT count(*) FROM applied WHERE phase = $1", 1, params)))
      applied = atol(PQgetvalue(r, 0, 0));
    if (applied >= n) break;
    usleep(20000);
  }
  bool ok = applied >= n;
  if (ok &&
      rpc_ok(pg_exec(a, &r,
                     "SELECT count(*) / extract(epoch FROM max(applied_at) - min(event_time)),"
                     " 1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY applied_at - event_time)),"
                     " 1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY applied_at - event_time)),"
                     " 1000 * extract(epoch FROM max(applied_at - event_time))"
                     " FROM applied WHERE phase = $1",
                     1, params)))
    printf("%s events=%ld events_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", phase, n,
           atof(PQgetvalue(r, 0, 0)), atof(PQgetvalue(r, 0, 1)), atof(PQgetvalue(r, 0, 2)), atof(PQgetvalue(r, 0, 3)));
  else
    fprintf(stderr, "event-bench: %s: %ld of %ld applied before the timeout\n", phase, applied, n);
  arena_destroy(a);
  return ok;
}

int main(void) {
  const char *url = getenv("METRO_PG_URL");
  if (!url) {
    fprintf(stderr,
            "usage: METRO_PG_URL=<role of schema bench> [METRO_KAFKA_BROKERS=...] [BENCH_EVENTS=20000] [BENCH_TX=10]\n"
            "       [BENCH_RATE=200] [BENCH_PACED_S=10] metro-event-bench\n");
    return 2;
  }
  long events = env_long("BENCH_EVENTS", 20000), per_tx = env_long("BENCH_TX", 10);
  long rate = env_long("BENCH_RATE", 200), paced_s = env_long("BENCH_PACED_S", 10);
  if (events <= 0 || per_tx <= 0 || rate <= 0 || paced_s <= 0) return 2;
  log_init("bench", LOG_WARN);
  pg_configure(url, "bench");
  char err[512];
  if (!pg_migrate(bench_migrations, err, sizeof err)) {
    fprintf(stderr, "event-bench: %s\n", err);
    return 1;
  }
  /* A topic prefix and group of its own: earlier runs' events are not in the way. */
  char prefix[40], group[40], burst[48], paced[48];
  long run = (long)time(NULL);
  snprintf(prefix, sizeof prefix, "bench%ld", run);
  snprintf(group, sizeof group, "bench-%ld", run);
  snprintf(burst, sizeof burst, "burst-%ld", run);
  snprintf(paced, sizeof paced, "paced-%ld", run);
  ev_settings s = {.service = "bench", .kafka_brokers = getenv("METRO_KAFKA_BROKERS"), .topic_prefix = prefix};
  if (!ev_init(&s, err, sizeof err) || !ev_relay_start(err, sizeof err)) {
    fprintf(stderr, "event-bench: %s\n", err);
    return 1;
  }
  ev_consumer_config cfg = {.group = group, .subs = bench_subscriptions, .n_subs = 1};
  ev_consumer *consumer = ev_consumer_start(&cfg, err, sizeof err);
  if (!consumer) {
    fprintf(stderr, "event-bench: %s\n", err);
    return 1;
  }
  printf("backend=%s\n", ev_backend_name());
  sleep(1); /* the consumer has joined its group */

  /* Throughput: everything at once, per_tx events per producer transaction. */
  bool ok = true;
  for (long sent = 0; ok && sent < events; sent += per_tx)
    ok = publish(burst, per_tx < events - sent ? per_tx : events - sent, (int)(sent / per_tx));
  ok = ok && report(burst, events, 600);

  /* Latency: one event per transaction at a steady rate below saturation. */
  long paced_n = rate * paced_s;
  double start = now_s();
  for (long i = 0; ok && i < paced_n; i++) {
    double due = start + (double)i / (double)rate, wait = due - now_s();
    if (wait > 0) usleep((useconds_t)(wait * 1e6));
    ok = publish(paced, 1, (int)i);
  }
  ok = ok && report(paced, paced_n, 120);

  ev_consumer_stop(consumer);
  ev_relay_stop();
  ev_shutdown();
  pg_disconnect();
  return ok ? 0 : 1;
}
