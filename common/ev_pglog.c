/* The embedded event backend (no Kafka): one shared log table in schema `events` with a
 * committed offset per consumer group and topic, woken by LISTEN/NOTIFY metro_events. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ev_internal.h"
#include "common/log.h"
#include "common/pg.h"

#define FETCH_BATCH 100
#define MEMBER_RETRY_MS 1000   /* a waiting consumer of a busy group retries this often */
#define MAX_TOPICS 32
#define MAX_TOPIC_LEN 249

/* Every database call of this file runs on the calling thread's pg.c connection: the
 * relay's thread for publish, the consumer's own thread for everything else. The consumer
 * keeps its transactions apart from the handler's (it polls and commits offsets between
 * events, never inside the handler's transaction), and notices a reconnect (a new backend
 * pid) to take the group lock and LISTEN again, since both belong to the session. */

struct ev_backend_consumer {
  char *group;
  char *topics[MAX_TOPICS];
  int64_t positions[MAX_TOPICS]; /* last offset delivered per topic */
  size_t n_topics;
  int backend_pid;
  bool member;                   /* holds the group's lock: the one active consumer */
  bool listening;
  arena *batch;                  /* the fetched rows and their decoded values */
  PGresult *rows;
  int next_row;
};

static void set_err(char *err, size_t errlen, const char *what, rpc_status st) {
  snprintf(err, errlen, "%s: %s", what, st.message ? st.message : "failed");
}

/* Text that PostgreSQL accepts whatever the input: printable ASCII, the rest as '?'. */
static const char *printable(arena *a, const char *s) {
  if (!s) return NULL;
  char *out = arena_strdup(a, s);
  for (char *p = out; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
  return out;
}

/* ---- publishing ---- */

static bool pglog_publish(ev_backend *b, const ev_message *msgs, size_t n, char *err, size_t errlen) {
  (void)b;
  PGconn *c = pg_conn();
  if (!c) {
    snprintf(err, errlen, "database unavailable");
    return false;
  }
  if (PQtransactionStatus(c) != PQTRANS_IDLE) {
    snprintf(err, errlen, "publish must not run inside a transaction");
    return false;
  }
  arena *a = arena_create(16 * 1024);
  rpc_status st = pg_begin(a);
  /* Writers take turns, holding the lock from before their first offset is drawn until
   * they commit. Without it, a writer could draw offset 10, another draw 11 and commit
   * first; a consumer would read 11, move its position past 10, and never see 10 once it
   * commits. With it, offsets become visible in the order they were drawn, so "everything
   * after my position" never skips a row that commits late. */
  const char *lock[1] = {arena_printf(a, "%d", EV_LOCK_LOG_WRITE)};
  if (rpc_ok(st)) st = pg_exec(a, NULL, "SELECT pg_advisory_xact_lock($1::int, 0)", 1, lock);
  for (size_t i = 0; i < n && rpc_ok(st); i++) {
    if (!msgs[i].topic || !*msgs[i].topic || strlen(msgs[i].topic) > MAX_TOPIC_LEN) {
      st = rpc_internal("bad topic");
      break;
    }
    const char *params[4] = {msgs[i].topic, printable(a, msgs[i].key ? msgs[i].key : ""),
                             pg_bytea_literal(a, msgs[i].value, msgs[i].len), printable(a, msgs[i].error)};
    st = pg_exec(a, NULL, "INSERT INTO events.log (topic, key, envelope, error) VALUES ($1, $2, $3::bytea, $4)", 4,
                 params);
  }
  if (rpc_ok(st)) st = pg_exec(a, NULL, "SELECT pg_notify('metro_events', '')", 0, NULL);
  if (rpc_ok(st)) st = pg_commit(a);
  else pg_rollback();
  if (!rpc_ok(st)) set_err(err, errlen, "appending to events.log", st);
  arena_destroy(a);
  return rpc_ok(st);
}

/* ---- consuming ---- */

static bool topic_ok(const char *t) {
  size_t n = t ? strlen(t) : 0;
  if (n == 0 || n > MAX_TOPIC_LEN) return false;
  for (size_t i = 0; i < n; i++)
    if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || t[i] == '.' ||
          t[i] == '-'))
      return false;
  return true;
}

static void consumer_drop_batch(ev_backend_consumer *c) {
  arena_destroy(c->batch);
  c->batch = NULL;
  c->rows = NULL;
  c->next_row = 0;
}

static void consumer_free(ev_backend_consumer *c) {
  consumer_drop_batch(c);
  for (size_t i = 0; i < c->n_topics; i++) free(c->topics[i]);
  free(c->group);
  free(c);
}

static ev_backend_consumer *pglog_consumer_open(ev_backend *b, const char *group, const char *const *topics,
                                                size_t n_topics, char *err, size_t errlen) {
  (void)b;
  if (!group || !*group || strlen(group) > 200 || n_topics == 0 || n_topics > MAX_TOPICS) {
    snprintf(err, errlen, "consumer: a group and 1 to %d topics are needed", MAX_TOPICS);
    return NULL;
  }
  ev_backend_consumer *c = calloc(1, sizeof *c);
  c->group = strdup(group);
  for (size_t i = 0; i < n_topics; i++) {
    if (!topic_ok(topics[i])) {
      snprintf(err, errlen, "consumer: bad topic name");
      consumer_free(c);
      return NULL;
    }
    c->topics[c->n_topics++] = strdup(topics[i]);
  }
  return c;
}

static const char *text_array(arena *a, char *const *items, size_t n) {
  char *out = arena_strdup(a, "{");
  for (size_t i = 0; i < n; i++) out = arena_printf(a, "%s%s\"%s\"", out, i ? "," : "", items[i]);
  return arena_printf(a, "%s}", out);
}

static const char *bigint_array(arena *a, const int64_t *items, size_t n) {
  char *out = arena_strdup(a, "{");
  for (size_t i = 0; i < n; i++) out = arena_printf(a, "%s%s%lld", out, i ? "," : "", (long long)items[i]);
  return arena_printf(a, "%s}", out);
}

/* Becomes the group's active consumer if no one else is, then starts from the
 * committed offsets. False (not an error) while another consumer holds the group. */
static bool consumer_join(ev_backend_consumer *c, arena *a, rpc_status *st) {
  const char *params[2] = {arena_printf(a, "%d", EV_LOCK_GROUP), c->group};
  PGresult *r;
  *st = pg_exec(a, &r, "SELECT pg_try_advisory_lock($1::int, hashtext($2))", 2, params);
  if (!rpc_ok(*st) || strcmp(PQgetvalue(r, 0, 0), "t") != 0) return false;
  *st = pg_exec(a, &r, "SELECT topic, committed_offset FROM events.group_offsets WHERE group_id = $1", 1, params + 1);
  if (!rpc_ok(*st)) return false; /* the lock is kept; the next call reloads */
  for (size_t i = 0; i < c->n_topics; i++) {
    c->positions[i] = 0;
    for (int row = 0; row < PQntuples(r); row++)
      if (strcmp(PQgetvalue(r, row, 0), c->topics[i]) == 0) c->positions[i] = atoll(PQgetvalue(r, row, 1));
  }
  c->member = true;
  log_info("events: active consumer of group %s", c->group);
  return true;
}

static bool consumer_fetch(ev_backend_consumer *c, rpc_status *st) {
  consumer_drop_batch(c);
  c->batch = arena_create(64 * 1024);
  const char *params[3] = {text_array(c->batch, c->topics, c->n_topics),
                           bigint_array(c->batch, c->positions, c->n_topics), arena_printf(c->batch, "%d", FETCH_BATCH)};
  *st = pg_exec(c->batch, &c->rows,
                "SELECT l.\"offset\", l.topic, l.key, l.envelope, l.error"
                " FROM unnest($1::text[], $2::bigint[]) AS p(topic, pos)"
                " CROSS JOIN LATERAL (SELECT * FROM events.log WHERE topic = p.topic AND \"offset\" > p.pos"
                "                     ORDER BY \"offset\" LIMIT $3::int) l"
                " ORDER BY l.\"offset\" LIMIT $3::int",
                3, params);
  if (!rpc_ok(*st)) consumer_drop_batch(c);
  return rpc_ok(*st) && PQntuples(c->rows) > 0;
}

static bool consumer_deliver(ev_backend_consumer *c, ev_message *out) {
  if (!c->rows || c->next_row >= PQntuples(c->rows)) return false;
  int i = c->next_row++;
  const char *hex = PQgetvalue(c->rows, i, 3);
  size_t hex_len = strlen(hex), len = hex_len >= 2 ? (hex_len - 2) / 2 : 0;
  uint8_t *value = arena_alloc(c->batch, len ? len : 1);
  if (hex_len < 2 || !crypto_hex_decode(hex + 2, value, len)) len = 0;
  *out = (ev_message){.topic = PQgetvalue(c->rows, i, 1), .key = PQgetvalue(c->rows, i, 2), .value = value,
                      .len = len, .error = pg_value(c->rows, i, 4), .partition = 0,
                      .offset = atoll(PQgetvalue(c->rows, i, 0))};
  for (size_t t = 0; t < c->n_topics; t++)
    if (strcmp(c->topics[t], out->topic) == 0) c->positions[t] = out->offset;
  return true;
}

/* True when notifications were waiting (the caller fetches again at once). */
static bool drain_notifies(PGconn *conn) {
  bool any = false;
  PGnotify *n;
  PQconsumeInput(conn);
  while ((n = PQnotifies(conn))) any = true, PQfreemem(n);
  return any;
}

static int pglog_consumer_poll(ev_backend_consumer *c, ev_message *out, int timeout_ms, char *err, size_t errlen) {
  int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  for (;;) {
    if (consumer_deliver(c, out)) return 1;
    PGconn *conn = pg_conn();
    if (!conn) {
      snprintf(err, errlen, "database unavailable");
      return -1;
    }
    if (PQbackendPID(conn) != c->backend_pid) { /* a new session: lock and LISTEN are gone */
      if (c->member) log_warn("events: group %s lost its database session; joining again", c->group);
      c->backend_pid = PQbackendPID(conn);
      c->member = c->listening = false;
      consumer_drop_batch(c);
    }
    arena *a = arena_create(4096);
    rpc_status st = RPC_OK;
    int result = 0;
    bool fetched = false;
    if (!c->member && !consumer_join(c, a, &st)) {
      result = rpc_ok(st) ? 0 : -1;
    } else {
      if (!c->listening) {
        PGresult *r = PQexec(conn, "LISTEN metro_events");
        c->listening = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
      }
      drain_notifies(conn);
      fetched = consumer_fetch(c, &st);
      if (!rpc_ok(st)) result = -1;
    }
    arena_destroy(a);
    if (result < 0) {
      set_err(err, errlen, c->member ? "reading events.log" : "joining the consumer group", st);
      return -1;
    }
    if (fetched) continue;
    int64_t left = deadline - clock_mono_ms();
    if (left <= 0) return 0;
    if (!c->member) { /* another consumer is active: try again shortly */
      poll(NULL, 0, (int)(left < MEMBER_RETRY_MS ? left : MEMBER_RETRY_MS));
      continue;
    }
    if (drain_notifies(conn)) continue;
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
    if (pfd.fd < 0) return 0;
    poll(&pfd, 1, (int)left);
  }
}

static bool pglog_consumer_commit(ev_backend_consumer *c, const ev_message *m, char *err, size_t errlen) {
  arena *a = arena_create(1024);
  const char *params[3] = {c->group, m->topic, arena_printf(a, "%lld", (long long)m->offset)};
  /* GREATEST: a consumer that lost its session and did not know yet never moves the
   * group backwards past what the new active consumer committed. */
  rpc_status st = pg_exec(a, NULL,
                          "INSERT INTO events.group_offsets (group_id, topic, committed_offset) VALUES ($1, $2, $3)"
                          " ON CONFLICT (group_id, topic) DO UPDATE SET committed_offset ="
                          " GREATEST(events.group_offsets.committed_offset, EXCLUDED.committed_offset), updated_at = now()",
                          3, params);
  if (!rpc_ok(st)) set_err(err, errlen, "committing the offset", st);
  arena_destroy(a);
  return rpc_ok(st);
}

static void pglog_consumer_close(ev_backend_consumer *c) {
  PGconn *conn = pg_conn();
  if (conn && PQbackendPID(conn) == c->backend_pid) {
    arena *a = arena_create(1024);
    const char *params[2] = {arena_printf(a, "%d", EV_LOCK_GROUP), c->group};
    if (c->member) pg_exec(a, NULL, "SELECT pg_advisory_unlock($1::int, hashtext($2))", 2, params);
    if (c->listening) PQclear(PQexec(conn, "UNLISTEN metro_events"));
    arena_destroy(a);
  }
  consumer_free(c);
}

static void pglog_close(ev_backend *b) { free(b); }

static const ev_backend_ops pglog_ops = {
    .name = "postgres",
    .publish = pglog_publish,
    .consumer_open = pglog_consumer_open,
    .consumer_poll = pglog_consumer_poll,
    .consumer_commit = pglog_consumer_commit,
    .consumer_close = pglog_consumer_close,
    .close = pglog_close,
};

ev_backend *ev_pglog_open(char *err, size_t errlen) {
  arena *a = arena_create(1024);
  PGresult *r;
  rpc_status st = pg_exec(a, &r,
                          "SELECT CASE WHEN to_regnamespace('events') IS NULL THEN 'missing'"
                          " WHEN NOT has_schema_privilege('events', 'USAGE') THEN 'denied'"
                          " WHEN to_regclass('events.log') IS NULL OR to_regclass('events.group_offsets') IS NULL"
                          " THEN 'missing'"
                          " WHEN NOT has_table_privilege('events.log', 'SELECT, INSERT')"
                          " OR NOT has_table_privilege('events.group_offsets', 'SELECT, INSERT, UPDATE') THEN 'denied'"
                          " ELSE 'ok' END",
                          0, NULL);
  const char *verdict = rpc_ok(st) ? PQgetvalue(r, 0, 0) : "unreachable";
  bool ok = strcmp(verdict, "ok") == 0;
  if (!ok)
    snprintf(err, errlen,
             "embedded event log: schema events is %s for this role (scripts/pg-provision.sh creates and grants it)",
             verdict);
  arena_destroy(a);
  if (!ok) return NULL;
  ev_backend *b = calloc(1, sizeof *b);
  b->ops = &pglog_ops;
  return b;
}
