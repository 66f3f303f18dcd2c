/* The jobs the scheduler calls (domain spec §17), as gRPC methods: each takes a batch of
 * due rows with FOR UPDATE SKIP LOCKED (so replicas and overlapping runs share the work),
 * changes them in one transaction and returns how many changed. Running one twice is harmless. */
#include <stdlib.h>

#include "common/pb_time.h"
#include "metro/events/v1/ticket_events.pb-c.h"

#include "common/pg.h"
#include "svc/ticket/ticket.h"

#define DEFAULT_BATCH 500
#define MAX_BATCH 5000

typedef struct job {
  const char *due_sql; /* ticket ids, oldest first, locked, LIMIT $1 */
  tk_trigger trigger;
  const char *reason;
  bool at_due_time;    /* activation: validFrom = the due time (column 2 of due_sql, µs) */
} job;

static const job expire_unpaid = {
    "SELECT ticket_id, 0 FROM tickets WHERE status = 'pending_payment' AND payment_deadline < now() "
    "ORDER BY payment_deadline LIMIT $1::int FOR UPDATE SKIP LOCKED",
    TK_ON_DEADLINE, "payment_timeout", false};
static const job expire_ended = {
    /* A rider inside may still leave after validUntil (§10); an entry a day old no longer counts. */
    "SELECT ticket_id, 0 FROM tickets WHERE status IN ('active', 'abused') AND valid_until < now() "
    "AND (NOT inside OR entry_at < now() - interval '1 day') "
    "ORDER BY valid_until LIMIT $1::int FOR UPDATE SKIP LOCKED",
    TK_ON_VALIDITY_ENDED, "validity_ended", false};
static const job auto_activate = {
    "SELECT ticket_id, (extract(epoch FROM auto_activate_at) * 1000000)::bigint FROM tickets "
    "WHERE status = 'inactive' AND auto_activate_at <= now() ORDER BY auto_activate_at LIMIT $1::int "
    "FOR UPDATE SKIP LOCKED",
    TK_ON_ACTIVATE, "job", true};

static rpc_status run(rpc_ctx *ctx, const job *j, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__RunJobRequest *r = (const void *)msg;
  if (r->batch_size < 0 || r->batch_size > MAX_BATCH)
    return rpc_invalid(ctx->arena, "batchSize", "INVALID_BATCH_SIZE", "batchSize must be 0-%d", MAX_BATCH);
  const char *params[] = {arena_printf(ctx->arena, "%d", r->batch_size ? r->batch_size : DEFAULT_BATCH)};
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  PGresult *due;
  int moved = 0;
  st = pg_exec(ctx->arena, &due, j->due_sql, 1, params);
  for (int i = 0; rpc_ok(st) && i < PQntuples(due); i++) {
    tk_row *row, *after;
    st = tk_ticket_get(ctx, PQgetvalue(due, i, 0), true, &row);
    if (!rpc_ok(st) || !row) continue;
    tk_move m = {.trigger = j->trigger, .reason = j->reason,
                 .at_us = j->at_due_time ? atoll(PQgetvalue(due, i, 1)) : 0};
    st = tk_ticket_move(ctx, row, &m, &after);
    if (rpc_ok(st)) moved++;
  }
  /* Idempotency keys older than their 24 hours go with the unpaid-ticket sweep. */
  if (rpc_ok(st) && j == &expire_unpaid)
    st = pg_exec(ctx->arena, NULL,
                 "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys "
                 "WHERE created_at < now() - interval '24 hours' LIMIT $1::int)",
                 1, params);
  st = tk_finish_tx(ctx, st);
  if (!rpc_ok(st)) return st;
  Metro__Ticket__V1__RunJobResponse *resp =
      RPC_NEW(ctx, Metro__Ticket__V1__RunJobResponse, metro__ticket__v1__run_job_response__init);
  resp->processed = moved;
  *out = &resp->base;
  return RPC_OK;
}

rpc_status tk_expire_unpaid(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return run(ctx, &expire_unpaid, msg, out);
}
rpc_status tk_expire_ended(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return run(ctx, &expire_ended, msg, out);
}
rpc_status tk_auto_activate_passes(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return run(ctx, &auto_activate, msg, out);
}

/* Reads and bounds the batch size of a job request. */
static rpc_status batch_param(rpc_ctx *ctx, const ProtobufCMessage *msg, const char **out) {
  const Metro__Ticket__V1__RunJobRequest *r = (const void *)msg;
  if (r->batch_size < 0 || r->batch_size > MAX_BATCH)
    return rpc_invalid(ctx->arena, "batchSize", "INVALID_BATCH_SIZE", "batchSize must be 0-%d", MAX_BATCH);
  *out = arena_printf(ctx->arena, "%d", r->batch_size ? r->batch_size : DEFAULT_BATCH);
  return RPC_OK;
}

static rpc_status job_answer(rpc_ctx *ctx, int processed, ProtobufCMessage **out) {
  Metro__Ticket__V1__RunJobResponse *resp =
      RPC_NEW(ctx, Metro__Ticket__V1__RunJobResponse, metro__ticket__v1__run_job_response__init);
  resp->processed = processed;
  *out = &resp->base;
  return RPC_OK;
}

/* Active passes whose validity ends within METRO_EXPIRING_SOON_DAYS, not told yet: each gets
 * ticket.expiring_soon ("Vé sắp hết hạn") and its stamp, in one transaction. */
rpc_status tk_notify_expiring_soon(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const char *limit;
  rpc_status st = batch_param(ctx, msg, &limit);
  if (!rpc_ok(st)) return st;
  const char *params[] = {limit, arena_printf(ctx->arena, "%lld", (long long)tk_cfg(ctx)->expiring_soon_days)};
  PGresult *r;
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  st = pg_exec(ctx->arena, &r,
               "WITH due AS (SELECT ticket_id FROM tickets WHERE status = 'active' AND expiring_notified_at IS NULL "
               "AND ticket_type NOT IN ('oneway', 'return') AND valid_until > now() "
               "AND valid_until <= now() + $2::int * interval '1 day' ORDER BY valid_until LIMIT $1::int "
               "FOR UPDATE SKIP LOCKED) "
               "UPDATE tickets t SET expiring_notified_at = now() FROM due WHERE t.ticket_id = due.ticket_id "
               "RETURNING t.ticket_id, t.passenger_id, t.user_id, t.ticket_type, " SQL_US("t.valid_until") ", "
               "ceil(extract(epoch FROM t.valid_until - now()) / 86400)::int",
               2, params);
  for (int i = 0; rpc_ok(st) && i < PQntuples(r); i++) {
    Metro__Events__V1__TicketExpiringSoon ev = METRO__EVENTS__V1__TICKET_EXPIRING_SOON__INIT;
    ev.ticket_id = PQgetvalue(r, i, 0);
    ev.passenger_id = PQgetvalue(r, i, 1);
    ev.user_id = PQgetvalue(r, i, 2);
    ev.ticket_type = PQgetvalue(r, i, 3);
    ev.valid_until = pb_timestamp(ctx, atoll(PQgetvalue(r, i, 4)));
    ev.days_left = atoi(PQgetvalue(r, i, 5));
    st = ev_publish(ctx->arena, "ticket.expiring_soon", ev.ticket_id, &ev.base, ctx->traceparent);
  }
  int n = rpc_ok(st) ? PQntuples(r) : 0;
  st = tk_finish_tx(ctx, st);
  return rpc_ok(st) ? job_answer(ctx, n, out) : st;
}

/* Promotions past their window are switched off, each with catalog.changed. */
rpc_status tk_expire_promotions(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const char *limit;
  rpc_status st = batch_param(ctx, msg, &limit);
  if (!rpc_ok(st)) return st;
  const char *params[] = {limit};
  PGresult *r;
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  st = pg_exec(ctx->arena, &r,
               "WITH due AS (SELECT promotion_id FROM promotions WHERE is_active AND NOT deleted "
               "AND valid_until < now() LIMIT $1::int FOR UPDATE SKIP LOCKED) "
               "UPDATE promotions p SET is_active = false, updated_at = now() FROM due "
               "WHERE p.promotion_id = due.promotion_id RETURNING p.promotion_id",
               1, params);
  for (int i = 0; rpc_ok(st) && i < PQntuples(r); i++)
    st = tk_publish_catalog_changed(ctx, "promotion", PQgetvalue(r, i, 0));
  int n = rpc_ok(st) ? PQntuples(r) : 0;
  st = tk_finish_tx(ctx, st);
  return rpc_ok(st) ? job_answer(ctx, n, out) : st;
}
