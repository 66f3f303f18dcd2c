/* The scheduler's tables: jobs (listed with their latest run, enabled or disabled) and runs
 * (claimed once per (job, slot) with a lease, taken over when it expired, finished fenced on it). */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "common/pjson.h"
#include "svc/scheduler/scheduler.h"

/* A run's columns, in the order run_from reads them (13). */
#define RUN_COLS                                                                                                \
  "r.run_id, r.job, " SQL_US("r.scheduled_for") ", r.trigger, coalesce(r.triggered_by, ''), "                 \
  "coalesce(r.outcome, 'running'), " SQL_US("r.started_at") ", " SQL_US("r.finished_at") ", "                  \
  "coalesce(r.response::text, ''), coalesce(r.error, ''), r.attempts, r.lease_owner, " SQL_US("r.lease_expires_at")
#define N_RUN_COLS 13

/* A job's columns (9) and then its latest run's (NULL when it never ran). */
#define JOB_SELECT                                                                                              \
  "SELECT j.name, j.job_id, j.schedule, j.method, j.request::text, j.description, j.enabled, " SQL_US(        \
      "j.created_at") ", " SQL_US("j.updated_at") ", " RUN_COLS " FROM jobs j LEFT JOIN LATERAL "              \
                                                  "(SELECT * FROM runs WHERE job = j.name ORDER BY "            \
                                                  "scheduled_for DESC, run_id DESC LIMIT 1) r ON true "

static const char *dup(rpc_ctx *ctx, const PGresult *res, int row, int col) {
  return arena_strdup(ctx->arena, PQgetvalue(res, row, col));
}

static int64_t num(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? 0 : atoll(PQgetvalue(res, row, col));
}

Google__Protobuf__Struct *sch_json_struct(rpc_ctx *ctx, const char *text) {
  if (!*text) return NULL;
  Google__Protobuf__Struct *s = RPC_NEW(ctx, Google__Protobuf__Struct, google__protobuf__struct__init);
  pjson_error err;
  if (!pjson_decode_text(text, strlen(text), &s->base, &ctx->alloc, &err)) {
    log_warn("scheduler: stored JSON does not decode as a Struct: %s", err.message);
    return NULL;
  }
  return s;
}

static Metro__Scheduler__V1__JobRun *run_from(rpc_ctx *ctx, const PGresult *res, int row, int c) {
  Metro__Scheduler__V1__JobRun *r = RPC_NEW(ctx, Metro__Scheduler__V1__JobRun, metro__scheduler__v1__job_run__init);
  r->run_id = (char *)dup(ctx, res, row, c + 0);
  r->job = (char *)dup(ctx, res, row, c + 1);
  r->scheduled_for = pb_timestamp(ctx, num(res, row, c + 2));
  r->trigger = (char *)dup(ctx, res, row, c + 3);
  r->triggered_by = (char *)dup(ctx, res, row, c + 4);
  r->outcome = (char *)dup(ctx, res, row, c + 5);
  r->started_at = pb_timestamp(ctx, num(res, row, c + 6));
  r->finished_at = pb_timestamp(ctx, num(res, row, c + 7));
  r->response = sch_json_struct(ctx, PQgetvalue(res, row, c + 8));
  r->error = (char *)dup(ctx, res, row, c + 9);
  r->attempts = (int32_t)num(res, row, c + 10);
  r->owner = (char *)dup(ctx, res, row, c + 11);
  r->lease_expires_at = pb_timestamp(ctx, num(res, row, c + 12));
  return r;
}

static sch_job *job_from(rpc_ctx *ctx, const PGresult *res, int row) {
  sch_job *j = arena_alloc(ctx->arena, sizeof *j);
  j->name = dup(ctx, res, row, 0);
  j->job_id = dup(ctx, res, row, 1);
  j->schedule = dup(ctx, res, row, 2);
  j->method = dup(ctx, res, row, 3);
  j->request_json = dup(ctx, res, row, 4);
  j->description = dup(ctx, res, row, 5);
  j->enabled = PQgetvalue(res, row, 6)[0] == 't';
  j->created_us = num(res, row, 7);
  j->updated_us = num(res, row, 8);
  j->last_run = PQgetisnull(res, row, 9) ? NULL : run_from(ctx, res, row, 9);
  return j;
}

rpc_status sch_jobs_list(rpc_ctx *ctx, bool enabled_only, const char *after_us, const char *after_id, int limit,
                         sch_job **jobs, int *n) {
  const char *params[] = {enabled_only ? "true" : "false", after_us,
                          after_id, arena_printf(ctx->arena, "%d", limit)};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res,
                          JOB_SELECT "WHERE (NOT $1::bool OR j.enabled) "
                                     "AND ($2::bigint IS NULL OR "
                                     "(j.created_at, j.job_id) > (" SQL_AT("$2") ", $3::uuid)) "
                                     "ORDER BY j.created_at, j.job_id LIMIT $4::int",
                          4, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(res);
  *jobs = arena_alloc(ctx->arena, sizeof **jobs * (size_t)(*n ? *n : 1));
  for (int i = 0; i < *n; i++) (*jobs)[i] = *job_from(ctx, res, i);
  return RPC_OK;
}

rpc_status sch_job_get(rpc_ctx *ctx, const char *name, sch_job **out) {
  const char *params[] = {name};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res, JOB_SELECT "WHERE j.name = $1", 1, params);
  if (!rpc_ok(st)) return st;
  *out = PQntuples(res) ? job_from(ctx, res, 0) : NULL;
  return RPC_OK;
}

rpc_status sch_job_set_enabled(rpc_ctx *ctx, const char *name, bool enabled, sch_job **out) {
  const char *params[] = {name, enabled ? "true" : "false"};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res,
                          "UPDATE jobs SET enabled = $2::bool, updated_at = now() WHERE name = $1 RETURNING 1", 2,
                          params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(res) == 0) return *out = NULL, RPC_OK;
  return sch_job_get(ctx, name, out);
}

rpc_status sch_run_claim(rpc_ctx *ctx, const sch_job *job, int64_t scheduled_us, const char *trigger,
                         const char *triggered_by, sch_claim **out) {
  const sch_state *s = sch_st(ctx);
  /* The lease is timed from before the insert: the local view ends no later than the row's. */
  int64_t lease_until = sch_mono_ms() + s->settings.lease_s * 1000;
  const char *params[] = {job->name, arena_printf(ctx->arena, "%lld", (long long)scheduled_us), trigger, triggered_by,
                          s->owner, arena_printf(ctx->arena, "%lld", (long long)s->settings.lease_s)};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res,
                          "INSERT INTO runs (job, scheduled_for, trigger, triggered_by, lease_owner, lease_expires_at) "
                          "VALUES ($1, " SQL_AT("$2") ", $3, $4, $5, now() + $6::int * interval '1 second') "
                          "ON CONFLICT (job, scheduled_for) DO NOTHING RETURNING run_id, attempts",
                          6, params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(res) == 0) return *out = NULL, RPC_OK;
  sch_claim *c = arena_alloc(ctx->arena, sizeof *c);
  c->run_id = dup(ctx, res, 0, 0);
  c->attempts = (int)num(res, 0, 1);
  c->job = job->name;
  c->method = job->method;
  c->request_json = job->request_json;
  c->scheduled_us = scheduled_us;
  c->lease_until_ms = lease_until;
  *out = c;
  return RPC_OK;
}

/* One expired run, locked, then taken over or given up; *out set when taken over, *found
 * false when there was none. */
static rpc_status reclaim_one(rpc_ctx *ctx, sch_claim **out, bool *found) {
  const sch_state *s = sch_st(ctx);
  *out = NULL;
  *found = false;
  int64_t lease_until = sch_mono_ms() + s->settings.lease_s * 1000;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  PGresult *res;
  st = pg_exec(ctx->arena, &res,
               "SELECT r.run_id, r.job, " SQL_US("r.scheduled_for") ", r.attempts, " SQL_US("r.lease_expires_at") ", "
               SQL_US("now()") ", j.method, j.request::text FROM runs r JOIN jobs j ON j.name = r.job "
               "WHERE r.finished_at IS NULL AND r.lease_expires_at < now() "
               "ORDER BY r.lease_expires_at LIMIT 1 FOR UPDATE OF r SKIP LOCKED",
               0, NULL);
  if (!rpc_ok(st) || PQntuples(res) == 0) return pg_rollback(), st;
  *found = true;
  const char *run_id = dup(ctx, res, 0, 0), *job = dup(ctx, res, 0, 1);
  int attempts = (int)num(res, 0, 3);
  sch_lease_verdict v =
      sch_lease_decide(false, num(res, 0, 4), num(res, 0, 5), attempts, (int)s->settings.max_attempts);
  if (v == SCH_LEASE_GIVE_UP) {
    const char *params[] = {run_id, arena_printf(ctx->arena,
                                                 "LEASE_EXPIRED: the lease expired %d times without a result; "
                                                 "not run again",
                                                 attempts)};
    st = pg_exec(ctx->arena, NULL,
                 "UPDATE runs SET finished_at = now(), outcome = 'failed', error = $2 "
                 "WHERE run_id = $1::uuid AND finished_at IS NULL",
                 2, params);
    if (rpc_ok(st)) log_warn("scheduler: run %s of %s given up after %d expired leases", run_id, job, attempts);
  } else if (v == SCH_LEASE_RECLAIM) {
    const char *params[] = {run_id, s->owner, arena_printf(ctx->arena, "%lld", (long long)s->settings.lease_s)};
    PGresult *upd;
    st = pg_exec(ctx->arena, &upd,
                 "UPDATE runs SET lease_owner = $2, lease_expires_at = now() + $3::int * interval '1 second', "
                 "attempts = attempts + 1, started_at = now() "
                 "WHERE run_id = $1::uuid AND finished_at IS NULL AND lease_expires_at < now() RETURNING attempts",
                 3, params);
    if (rpc_ok(st) && PQntuples(upd) == 1) {
      sch_claim *c = arena_alloc(ctx->arena, sizeof *c);
      c->run_id = run_id;
      c->job = job;
      c->scheduled_us = num(res, 0, 2);
      c->attempts = (int)num(upd, 0, 0);
      c->method = dup(ctx, res, 0, 6);
      c->request_json = dup(ctx, res, 0, 7);
      c->lease_until_ms = lease_until;
      *out = c;
    }
  }
  if (!rpc_ok(st)) return pg_rollback(), *out = NULL, st;
  st = pg_commit(ctx->arena);
  if (!rpc_ok(st)) *out = NULL;
  return st;
}

rpc_status sch_run_reclaim(rpc_ctx *ctx, sch_claim **out) {
  enum { MAX_GIVE_UPS = 16 };
  for (int i = 0; i < MAX_GIVE_UPS; i++) {
    bool found;
    rpc_status st = reclaim_one(ctx, out, &found);
    if (!rpc_ok(st) || *out || !found) return st;
  }
  *out = NULL;
  return RPC_OK;
}

rpc_status sch_run_finish(rpc_ctx *ctx, const sch_claim *c, bool succeeded, const char *response_json,
                          const char *error, bool *kept) {
  const char *params[] = {c->run_id, sch_st(ctx)->owner, arena_printf(ctx->arena, "%d", c->attempts),
                          succeeded ? "succeeded" : "failed", response_json, error};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res,
                          "UPDATE runs SET finished_at = now(), outcome = $4, response = $5::jsonb, error = $6 "
                          "WHERE run_id = $1::uuid AND lease_owner = $2 AND attempts = $3::int AND finished_at IS NULL "
                          "RETURNING 1",
                          6, params);
  *kept = rpc_ok(st) && PQntuples(res) == 1;
  return st;
}

rpc_status sch_run_get(rpc_ctx *ctx, const char *run_id, Metro__Scheduler__V1__JobRun **out) {
  const char *params[] = {run_id};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res, "SELECT " RUN_COLS " FROM runs r WHERE r.run_id = $1::uuid", 1, params);
  if (!rpc_ok(st)) return st;
  *out = PQntuples(res) ? run_from(ctx, res, 0, 0) : NULL;
  return RPC_OK;
}

rpc_status sch_runs_list(rpc_ctx *ctx, const char *job, const char *after_us, const char *after_id, int limit,
                         Metro__Scheduler__V1__JobRun ***runs, int *n) {
  const char *params[] = {job, after_us, after_id,
                          arena_printf(ctx->arena, "%d", limit)};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res,
                          "SELECT " RUN_COLS " FROM runs r WHERE r.job = $1 "
                          "AND ($2::bigint IS NULL OR (r.scheduled_for, r.run_id) < (" SQL_AT("$2") ", $3::uuid)) "
                          "ORDER BY r.scheduled_for DESC, r.run_id DESC LIMIT $4::int",
                          4, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(res);
  *runs = arena_alloc(ctx->arena, sizeof **runs * (size_t)(*n ? *n : 1));
  for (int i = 0; i < *n; i++) (*runs)[i] = run_from(ctx, res, i, 0);
  return RPC_OK;
}
