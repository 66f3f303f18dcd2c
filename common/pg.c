/* PostgreSQL on libpq: a connection per thread in the service's schema, statements
 * prepared once per connection, SQLSTATE mapping, and the migration runner. */
#include "common/pg.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"

#define MAX_PREPARED 512
#define STATEMENT_TIMEOUT_MS 10000

static char *g_conninfo;
static char *g_schema;

typedef struct prepared_entry {
  const char *sql;
} prepared_entry;

static _Thread_local PGconn *t_conn;
static _Thread_local prepared_entry t_prepared[MAX_PREPARED];
static _Thread_local int t_n_prepared;
static _Thread_local bool t_in_tx;

static bool identifier_ok(const char *s) {
  if (!s || !*s || strlen(s) > 63 || !(islower((unsigned char)s[0]) || s[0] == '_')) return false;
  for (const char *p = s; *p; p++)
    if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')) return false;
  return true;
}

void pg_configure(const char *conninfo, const char *schema) {
  if (!identifier_ok(schema)) {
    log_error("invalid schema name");
    abort();
  }
  free(g_conninfo);
  free(g_schema);
  g_conninfo = strdup(conninfo);
  g_schema = strdup(schema);
}

void pg_disconnect(void) {
  if (t_conn) PQfinish(t_conn);
  t_conn = NULL;
  t_n_prepared = 0;
  t_in_tx = false;
}

static void notice_quiet(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

PGconn *pg_conn(void) {
  if (t_conn && PQstatus(t_conn) == CONNECTION_OK) return t_conn;
  pg_disconnect();
  if (!g_conninfo) return NULL;
  PGconn *c = PQconnectdb(g_conninfo);
  if (PQstatus(c) != CONNECTION_OK) {
    log_warn("postgres connection failed: %s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  PQsetNoticeProcessor(c, notice_quiet, NULL);
  char setup[256];
  snprintf(setup, sizeof setup, "SET search_path TO \"%s\"; SET statement_timeout = %d; SET TIME ZONE 'UTC'", g_schema,
           STATEMENT_TIMEOUT_MS);
  PGresult *r = PQexec(c, setup);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) {
    log_warn("postgres session setup failed: %s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  t_conn = c;
  return c;
}

/* Maps a failed result; strings are copied into the arena (a may be NULL: no field). */
static rpc_status status_from_result(arena *a, PGresult *r) {
  const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (!state) state = "";
  if (strcmp(state, "23505") == 0) {
    const char *constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    return (rpc_status){.code = GRPC_STATUS_ALREADY_EXISTS, .message = "already exists",
                        .reason = "UNIQUE_VIOLATION",
                        .field = a && constraint ? arena_strdup(a, constraint) : NULL};
  }
  if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
    return (rpc_status){.code = GRPC_STATUS_ABORTED, .message = "concurrent update, retry", .reason = "ABORTED"};
  if (strcmp(state, "57014") == 0)
    return (rpc_status){.code = GRPC_STATUS_DEADLINE_EXCEEDED, .message = "query timed out",
                        .reason = "DEADLINE_EXCEEDED"};
  if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0)
    return (rpc_status){.code = GRPC_STATUS_UNAVAILABLE, .message = "database unavailable", .reason = "UNAVAILABLE"};
  log_error("postgres error %s: %s", state, PQresultErrorMessage(r));
  return (rpc_status){.code = GRPC_STATUS_INTERNAL, .message = "internal error", .reason = "INTERNAL"};
}

static int prepared_index(arena *a, PGconn *c, const char *sql, int nparams, rpc_status *st) {
  for (int i = 0; i < t_n_prepared; i++)
    if (t_prepared[i].sql == sql) return i;
  if (t_n_prepared >= MAX_PREPARED) {
    *st = rpc_internal("too many prepared statements");
    return -1;
  }
  char name[16];
  snprintf(name, sizeof name, "s%d", t_n_prepared);
  PGresult *r = PQprepare(c, name, sql, nparams, NULL);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    *st = PQstatus(c) == CONNECTION_OK ? status_from_result(a, r)
                                       : (rpc_status){.code = GRPC_STATUS_UNAVAILABLE,
                                                      .message = "database unavailable", .reason = "UNAVAILABLE"};
    PQclear(r);
    return -1;
  }
  PQclear(r);
  t_prepared[t_n_prepared].sql = sql;
  return t_n_prepared++;
}

static void clear_result(void *r) { PQclear(r); }

rpc_status pg_exec(arena *a, PGresult **out, const char *sql, int nparams, const char *const *params) {
  for (int attempt = 0; attempt < 2; attempt++) {
    PGconn *c = pg_conn();
    if (!c) return (rpc_status){.code = GRPC_STATUS_UNAVAILABLE, .message = "database unavailable", .reason = "UNAVAILABLE"};
    rpc_status st = RPC_OK;
    int idx = prepared_index(a, c, sql, nparams, &st);
    if (idx < 0) {
      if (st.code == GRPC_STATUS_UNAVAILABLE && !t_in_tx && attempt == 0) continue; /* stale connection */
      return st;
    }
    char name[16];
    snprintf(name, sizeof name, "s%d", idx);
    PGresult *r = PQexecPrepared(c, name, nparams, params, NULL, NULL, 0);
    ExecStatusType rs = PQresultStatus(r);
    if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
      arena_defer(a, clear_result, r);
      if (out) *out = r;
      return RPC_OK;
    }
    bool lost = PQstatus(c) != CONNECTION_OK;
    st = lost ? (rpc_status){.code = GRPC_STATUS_UNAVAILABLE, .message = "database unavailable", .reason = "UNAVAILABLE"}
              : status_from_result(a, r);
    PQclear(r);
    if (lost && !t_in_tx && attempt == 0) continue;
    return st;
  }
  return (rpc_status){.code = GRPC_STATUS_UNAVAILABLE, .message = "database unavailable", .reason = "UNAVAILABLE"};
}

static rpc_status simple(const char *sql) {
  PGconn *c = pg_conn();
  if (!c) return (rpc_status){.code = GRPC_STATUS_UNAVAILABLE, .message = "database unavailable", .reason = "UNAVAILABLE"};
  PGresult *r = PQexec(c, sql);
  rpc_status st = PQresultStatus(r) == PGRES_COMMAND_OK ? RPC_OK : status_from_result(NULL, r);
  PQclear(r);
  return st;
}

rpc_status pg_begin(arena *a) {
  (void)a;
  rpc_status st = simple("BEGIN");
  t_in_tx = rpc_ok(st);
  return st;
}

rpc_status pg_commit(arena *a) {
  (void)a;
  PGconn *c = pg_conn();
  t_in_tx = false;
  if (!c) return (rpc_status){.code = GRPC_STATUS_UNAVAILABLE, .message = "database unavailable", .reason = "UNAVAILABLE"};
  PGresult *r = PQexec(c, "COMMIT");
  rpc_status st = PQresultStatus(r) == PGRES_COMMAND_OK ? RPC_OK : status_from_result(NULL, r);
  /* After a failed statement PostgreSQL answers COMMIT with "ROLLBACK" and no error:
   * nothing was written, and the caller must know. */
  if (rpc_ok(st) && strcmp(PQcmdStatus(r), "COMMIT") != 0)
    st = (rpc_status){.code = GRPC_STATUS_ABORTED, .message = "the transaction was rolled back", .reason = "ABORTED"};
  PQclear(r);
  return st;
}

void pg_rollback(void) {
  if (t_conn && PQtransactionStatus(t_conn) != PQTRANS_IDLE) {
    PGresult *r = PQexec(t_conn, "ROLLBACK");
    PQclear(r);
  }
  t_in_tx = false;
}

const char *pg_bytea_literal(arena *a, const uint8_t *buf, size_t len) {
  char *out = arena_alloc(a, 2 * len + 3);
  out[0] = '\\';
  out[1] = 'x';
  crypto_hex(buf, len, out + 2);
  return out;
}

const char *pg_value(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static bool exec_ok(PGconn *c, const char *sql, char *err, size_t errlen) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType s = PQresultStatus(r);
  bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  if (!ok) snprintf(err, errlen, "%s", PQresultErrorMessage(r));
  PQclear(r);
  return ok;
}

bool pg_migrate(const pg_migration *migrations, char *err, size_t errlen) {
  PGconn *c = pg_conn();
  if (!c) {
    snprintf(err, errlen, "cannot connect to PostgreSQL");
    return false;
  }
  /* One advisory lock per schema: replicas starting together apply migrations once. */
  char lock[160];
  snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(hashtext('metro.migrate.%s'))", g_schema);
  if (!exec_ok(c, lock, err, errlen)) return false;
  bool ok = exec_ok(c,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                    err, errlen);
  for (const pg_migration *m = migrations; ok && m->name; m++) {
    const char *params[1] = {m->name};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, NULL, params, NULL, NULL, 0);
    bool applied = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (applied) continue;
    ok = exec_ok(c, "BEGIN", err, errlen) && exec_ok(c, m->sql, err, errlen);
    if (ok) {
      r = PQexecParams(c, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, NULL, params, NULL, NULL, 0);
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      if (!ok) snprintf(err, errlen, "%s", PQresultErrorMessage(r));
      PQclear(r);
    }
    ok = ok && exec_ok(c, "COMMIT", err, errlen);
    if (!ok) {
      char detail[512];
      snprintf(detail, sizeof detail, "%s", err);
      snprintf(err, errlen, "migration %s failed: %s", m->name, detail);
      PGresult *rb = PQexec(c, "ROLLBACK");
      PQclear(rb);
    } else {
      log_info("applied migration %s.%s", g_schema, m->name);
    }
  }
  char unlock[160];
  snprintf(unlock, sizeof unlock, "SELECT pg_advisory_unlock(hashtext('metro.migrate.%s'))", g_schema);
  char ignored[8];
  exec_ok(c, unlock, ignored, sizeof ignored);
  return ok;
}
