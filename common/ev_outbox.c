/* The producing side of events.h: ev_publish writes an envelope into the service's outbox
 * inside the caller's transaction, and the relay thread publishes the outbox in id order and
 * reports its backlog (metro_outbox_pending, metro_outbox_lag_seconds). */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ev_internal.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"

#define RELAY_BATCH 500
#define RELAY_POLL_MS 1000         /* a missed NOTIFY costs at most this much latency */
#define RELAY_FOLLOWER_RETRY_MS 2000
#define RELAY_BACKOFF_MIN_MS 100
#define RELAY_BACKOFF_MAX_MS 10000
#define RELAY_CLEANUP_EVERY_MS (15 * 60 * 1000)
#define MAX_TRACEPARENT 128

/* ---- ev_publish ---- */

rpc_status ev_publish(arena *a, const char *type, const char *subject, const ProtobufCMessage *data,
                      const char *traceparent) {
  const char *topic = ev_topic_of(a, type);
  if (!topic || !subject || !*subject || !data) return rpc_internal("ev_publish: invalid event type, subject or data");
  PGconn *c = pg_conn();
  if (!c || PQtransactionStatus(c) != PQTRANS_INTRANS)
    return rpc_internal("ev_publish: must run inside the caller's transaction");
  if (traceparent && strlen(traceparent) > MAX_TRACEPARENT) traceparent = NULL;
  char event_id[CRYPTO_UUID_LEN + 1];
  crypto_uuid_v4(event_id);
  size_t len;
  uint8_t *envelope = ev_envelope_pack(a, event_id, type, subject, data, traceparent, &len);
  const char *params[5] = {event_id, topic, type, subject, pg_bytea_literal(a, envelope, len)};
  /* One round trip: the row, and the notification that wakes the relay (delivered at commit,
   * folded into one per transaction). */
  return pg_exec(a, NULL,
                 "WITH row AS (INSERT INTO outbox (event_id, topic, event_type, event_key, envelope)"
                 " VALUES ($1, $2, $3, $4, $5::bytea) RETURNING 1)"
                 " SELECT pg_notify('metro_outbox_' || current_schema(), '') FROM row",
                 5, params);
}

/* ---- the relay ---- */

typedef struct relay_session {
  int backend_pid;  /* PQbackendPID of the session holding the lock and the LISTEN */
  bool leader;      /* holds the relay lock of this schema */
  bool listening;
  int backoff_ms;   /* current failure back-off, 0 after a success */
  int64_t next_cleanup_ms;
} relay_session;

static struct {
  pthread_t thread;
  bool running;
  atomic_bool stop;
  int wake[2]; /* ev_relay_stop writes a byte */
  metric_family *m_pending, *m_lag;
} g_relay;

/* The backlog as this process's relay last saw it; a replica that does not lead reports 0. */
static void relay_report(double pending, double lag_s) {
  metrics_set(g_relay.m_pending, NULL, NULL, pending);
  metrics_set(g_relay.m_lag, NULL, NULL, lag_s);
}

/* The backlog before publishing a batch of n rows (column 4: each row's age in seconds). */
static void relay_report_batch(arena *a, PGresult *batch, int n) {
  double lag = 0;
  for (int i = 0; i < n; i++) {
    double age = atof(PQgetvalue(batch, i, 4));
    if (age > lag) lag = age;
  }
  double pending = n;
  PGresult *r;
  if (n == RELAY_BATCH && rpc_ok(pg_exec(a, &r, "SELECT count(*) FROM outbox WHERE published_at IS NULL", 0, NULL)) &&
      PQntuples(r) == 1)
    pending = atof(PQgetvalue(r, 0, 0));
  relay_report(pending, lag);
}

static bool query_true(arena *a, const char *sql, int n, const char *const *params) {
  PGresult *r;
  return rpc_ok(pg_exec(a, &r, sql, n, params)) && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
}

/* A new database session (first one or after a reconnect) holds neither the lock nor
 * the LISTEN: start over. Returns the connection or NULL when the database is down. */
static PGconn *relay_session_check(relay_session *s) {
  PGconn *c = pg_conn();
  if (c && PQbackendPID(c) != s->backend_pid) {
    if (s->leader) log_warn("relay: database session lost; competing for the relay again");
    s->backend_pid = PQbackendPID(c);
    s->leader = s->listening = false;
  }
  return c;
}

static bool relay_listen(arena *a, PGconn *c) {
  PGresult *r;
  if (!rpc_ok(pg_exec(a, &r, "SELECT 'metro_outbox_' || current_schema()", 0, NULL)) || PQntuples(r) != 1) return false;
  char *ident = PQescapeIdentifier(c, PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)));
  if (!ident) return false;
  char *sql = arena_printf(a, "LISTEN %s", ident);
  PQfreemem(ident);
  PGresult *lr = PQexec(c, sql);
  bool ok = PQresultStatus(lr) == PGRES_COMMAND_OK;
  PQclear(lr);
  return ok;
}

static void relay_cleanup(arena *a) {
  PGresult *r;
  if (rpc_ok(pg_exec(a, &r,
                     "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at < now() - interval '7 days'"
                     " ORDER BY published_at LIMIT 10000)",
                     0, NULL)) &&
      atoi(PQcmdTuples(r)) > 0)
    log_info("relay: deleted %s outbox rows published more than 7 days ago", PQcmdTuples(r));
}

/* "{1,2,3}" of the batch's ids, for id = ANY($1::bigint[]). */
static const char *id_array(arena *a, PGresult *r, int n) {
  size_t cap = (size_t)n * 21 + 3, len = 0;
  char *out = arena_alloc(a, cap);
  out[len++] = '{';
  for (int i = 0; i < n; i++) len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", PQgetvalue(r, i, 0));
  out[len++] = '}';
  out[len] = '\0';
  return out;
}

typedef enum { PASS_MORE, PASS_IDLE, PASS_FAILED, PASS_WAIT_LEADER, PASS_DB_DOWN } pass_result;

/* One round: become leader if possible, then publish up to one batch. */
static pass_result relay_pass(arena *a, relay_session *s) {
  PGconn *c = relay_session_check(s);
  if (!c) return PASS_DB_DOWN;
  if (!s->leader) {
    const char *lock_class[1] = {arena_printf(a, "%d", EV_LOCK_RELAY)};
    if (!query_true(a, "SELECT pg_try_advisory_lock($1::int, hashtext(current_schema()))", 1, lock_class)) {
      relay_report(0, 0);
      return PASS_WAIT_LEADER;
    }
    s->leader = true;
    log_info("relay: publishing this schema's outbox to %s", ev_backend_name());
  }
  if (!s->listening) s->listening = relay_listen(a, c);
  if (clock_mono_ms() >= s->next_cleanup_ms) {
    relay_cleanup(a);
    s->next_cleanup_ms = clock_mono_ms() + RELAY_CLEANUP_EVERY_MS;
  }
  PGresult *r;
  const char *limit[1] = {arena_printf(a, "%d", RELAY_BATCH)};
  rpc_status st = pg_exec(a, &r,
                          "SELECT id, topic, event_key, envelope, extract(epoch FROM now() - created_at)"
                          " FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1::int",
                          1, limit);
  if (!rpc_ok(st)) return PASS_DB_DOWN;
  int n = PQntuples(r);
  relay_report_batch(a, r, n);
  if (n == 0) return PASS_IDLE;
  /* pg_exec reconnects on its own: if that happened, another replica may lead by now. */
  PGconn *after = pg_conn();
  if (!after || PQbackendPID(after) != s->backend_pid) return PASS_MORE;
  ev_message *msgs = arena_alloc(a, sizeof *msgs * (size_t)n);
  for (int i = 0; i < n; i++) {
    const char *hex = PQgetvalue(r, i, 3);
    size_t hex_len = strlen(hex);
    size_t len = hex_len >= 2 ? (hex_len - 2) / 2 : 0;
    uint8_t *value = arena_alloc(a, len ? len : 1);
    if (hex_len < 2 || !crypto_hex_decode(hex + 2, value, len)) return PASS_FAILED; /* cannot happen with bytea_output = hex */
    msgs[i] = (ev_message){.topic = PQgetvalue(r, i, 1), .key = PQgetvalue(r, i, 2), .value = value, .len = len};
  }
  const char *params[2] = {id_array(a, r, n), NULL};
  char err[512];
  ev_backend *b = ev_backend_current();
  if (!b->ops->publish(b, msgs, (size_t)n, err, sizeof err)) {
    params[1] = err;
    pg_exec(a, NULL, "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])", 2, params);
    log_warn("relay: publishing %d events failed, will retry: %s", n, err);
    return PASS_FAILED;
  }
  /* Marked only now that the backend confirmed. If this update is lost, the rows go out
   * again later: consumers drop the duplicates by event id. */
  pg_exec(a, NULL, "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", 1, params);
  if (n < RELAY_BATCH) relay_report(0, 0); /* that was all of it */
  return n == RELAY_BATCH ? PASS_MORE : PASS_IDLE;
}

/* Sleeps up to ms, waking early on ev_relay_stop and, when `notified` is set, on a
 * NOTIFY on the connection's channel. */
static void relay_wait(int ms, bool notified) {
  PGconn *c = notified ? pg_conn() : NULL;
  if (c) {
    PGnotify *n;
    bool pending = false;
    while ((n = PQnotifies(c))) pending = true, PQfreemem(n);
    if (pending) return;
  }
  struct pollfd fds[2] = {{.fd = g_relay.wake[0], .events = POLLIN}, {.fd = c ? PQsocket(c) : -1, .events = POLLIN}};
  if (poll(fds, c && fds[1].fd >= 0 ? 2 : 1, ms) > 0 && c && (fds[1].revents & POLLIN)) {
    PQconsumeInput(c);
    PGnotify *n;
    while ((n = PQnotifies(c))) PQfreemem(n);
  }
}

static void *relay_main(void *arg) {
  (void)arg;
  relay_session s = {0};
  while (!atomic_load(&g_relay.stop)) {
    arena *a = arena_create(64 * 1024);
    pass_result r = relay_pass(a, &s);
    arena_destroy(a);
    if (r != PASS_FAILED && r != PASS_DB_DOWN) s.backoff_ms = 0;
    switch (r) {
      case PASS_MORE: break;
      case PASS_IDLE: relay_wait(RELAY_POLL_MS, s.listening); break;
      case PASS_WAIT_LEADER: relay_wait(RELAY_FOLLOWER_RETRY_MS, false); break;
      case PASS_FAILED:
      case PASS_DB_DOWN:
        s.backoff_ms = s.backoff_ms ? s.backoff_ms * 2 : RELAY_BACKOFF_MIN_MS;
        if (s.backoff_ms > RELAY_BACKOFF_MAX_MS) s.backoff_ms = RELAY_BACKOFF_MAX_MS;
        relay_wait(s.backoff_ms, false);
        break;
    }
  }
  /* A last round so events committed during the shutdown leave now, not at the next start. */
  if (s.leader) {
    arena *a = arena_create(64 * 1024);
    relay_pass(a, &s);
    arena_destroy(a);
  }
  pg_disconnect(); /* ends the session: the lock and the LISTEN go with it */
  return NULL;
}

bool ev_relay_start(char *err, size_t errlen) {
  if (!ev_backend_current()) {
    snprintf(err, errlen, "relay: ev_init has not run");
    return false;
  }
  if (g_relay.running) {
    snprintf(err, errlen, "relay: already running");
    return false;
  }
  if (pipe2(g_relay.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    snprintf(err, errlen, "relay: pipe: %m");
    return false;
  }
  atomic_store(&g_relay.stop, false);
  g_relay.m_pending = metrics_gauge("metro_outbox_pending", "Outbox rows not yet published, as the leading relay saw "
                                    "them last (0 on a replica that does not lead)", NULL, NULL);
  g_relay.m_lag = metrics_gauge("metro_outbox_lag_seconds",
                                "Age of the oldest outbox row not yet published, in seconds (0 when none)", NULL, NULL);
  if (pthread_create(&g_relay.thread, NULL, relay_main, NULL) != 0) {
    snprintf(err, errlen, "relay: cannot start its thread");
    close(g_relay.wake[0]);
    close(g_relay.wake[1]);
    return false;
  }
  g_relay.running = true;
  return true;
}

void ev_relay_stop(void) {
  if (!g_relay.running) return;
  atomic_store(&g_relay.stop, true);
  ssize_t w = write(g_relay.wake[1], "x", 1);
  (void)w;
  pthread_join(g_relay.thread, NULL);
  close(g_relay.wake[0]);
  close(g_relay.wake[1]);
  g_relay.running = false;
}
