/* PostgreSQL access on libpq: one connection per thread in the service's schema,
 * statements prepared once per connection, transactions, SQLSTATE to status
 * mapping, and the migration runner for sql/<service>/NNN_name.sql. */
#ifndef METRO_PG_H
#define METRO_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"

typedef struct pg_migration {
  const char *name; /* "001_init" */
  const char *sql;
} pg_migration;

/* Process-wide settings: a libpq conninfo/URI and the schema put first on search_path. */
void pg_configure(const char *conninfo, const char *schema);

/* This thread's connection, connecting (or reconnecting) as needed; NULL when the
 * database is unreachable. */
PGconn *pg_conn(void);
/* Closes this thread's connection (thread exit). */
void pg_disconnect(void);

/* Runs `sql` (a string literal: its address names the prepared statement) with text
 * parameters (NULL = SQL NULL). The result belongs to the arena. Errors map to:
 *   unique_violation -> ALREADY_EXISTS, reason "UNIQUE_VIOLATION", field = constraint;
 *   serialization/deadlock -> ABORTED; connection loss -> UNAVAILABLE; else INTERNAL. */
rpc_status pg_exec(arena *a, PGresult **out, const char *sql, int nparams, const char *const *params);

rpc_status pg_begin(arena *a);
rpc_status pg_commit(arena *a);
void pg_rollback(void);

/* Applies, in order and each in its own transaction, the migrations not yet recorded
 * in <schema>.schema_migrations; an advisory lock keeps replicas from racing. */
bool pg_migrate(const pg_migration *migrations, char *err, size_t errlen);

/* A bytea parameter in text form ("\\x<hex>"), in the arena. */
const char *pg_bytea_literal(arena *a, const uint8_t *buf, size_t len);

/* Value helpers: the cell or NULL when SQL NULL. */
const char *pg_value(const PGresult *r, int row, int col);

#endif
