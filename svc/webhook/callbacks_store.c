/* Writing the callback log (sql/webhook/001_callbacks.sql): accepted callbacks once per event id
 * with webhook.received in the same transaction, rejected ones apart, and the answer given. */
#include <stdlib.h>

#include "common/events.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "svc/webhook/webhook.h"

static const char *or_null(const char *s) { return s && *s ? s : NULL; }

/* The payment ref when there is one, else the provider event id: the event's partition key. */
static const char *subject_of(const Metro__Events__V1__WebhookReceived *m) {
  return m->ref && *m->ref ? m->ref : m->provider_event_id;
}

static rpc_status insert_or_find(rpc_ctx *ctx, Metro__Events__V1__WebhookReceived *m, const char *payload_json,
                                 const char *headers_json, bool *duplicate) {
  const char *received_us = arena_printf(ctx->arena, "%lld", (long long)pb_timestamp_us(m->received_at));
  const char *params[] = {m->callback_id, m->provider,        m->provider_event_id, m->event_type, or_null(m->ref),
                          payload_json,   m->raw_payload,     headers_json,         received_us};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "INSERT INTO callbacks (callback_id, provider, provider_event_id, event_type, payment_ref, "
                          "raw_payload, raw_text, headers, signature_valid, received_at) "
                          "VALUES ($1::uuid, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, true, " SQL_AT("$9") ") "
                          "ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING callback_id",
                          9, params);
  if (!rpc_ok(st)) return st;
  *duplicate = PQntuples(r) == 0;
  if (!*duplicate) return RPC_OK;
  /* Read committed: this statement sees the row whose insert made ours do nothing. */
  const char *key[] = {m->provider, m->provider_event_id};
  st = pg_exec(ctx->arena, &r,
               "SELECT callback_id, " SQL_US("received_at") " FROM callbacks "
               "WHERE provider = $1 AND provider_event_id = $2",
               2, key);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) != 1) return rpc_internal("webhook: duplicate callback row not found");
  m->callback_id = arena_strdup(ctx->arena, pg_value(r, 0, 0));
  m->received_at = pb_timestamp(ctx, strtoll(pg_value(r, 0, 1), NULL, 10));
  return RPC_OK;
}

rpc_status wh_store_accepted(rpc_ctx *ctx, Metro__Events__V1__WebhookReceived *msg, const char *payload_json,
                             const char *headers_json, bool *duplicate) {
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = insert_or_find(ctx, msg, payload_json, headers_json, duplicate);
  if (rpc_ok(st) && !*duplicate)
    st = ev_publish(ctx->arena, "webhook.received", subject_of(msg), &msg->base, ctx->traceparent);
  if (rpc_ok(st)) return pg_commit(ctx->arena);
  pg_rollback();
  return st;
}

rpc_status wh_store_rejected(rpc_ctx *ctx, const wh_rejection *rj) {
  const char *params[] = {rj->provider,   or_null(rj->event_type), rj->reason,
                          rj->payload_json, rj->raw_text,          rj->headers_json,
                          or_null(rj->client_ip)};
  PGresult *r;
  return pg_exec(ctx->arena, &r,
                 "INSERT INTO rejected_callbacks (provider, event_type, reason, raw_payload, raw_text, headers, "
                 "client_ip) VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7)",
                 7, params);
}

rpc_status wh_store_answer(rpc_ctx *ctx, const char *callback_id, const char *answer_code) {
  const char *params[] = {callback_id, answer_code};
  PGresult *r;
  return pg_exec(ctx->arena, &r, "UPDATE callbacks SET answer_code = $2 WHERE callback_id = $1::uuid", 2, params);
}
