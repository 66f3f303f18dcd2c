/* The read model's consumers (domain spec §13, §15): each event adds its facts and its hourly
 * counts in the consumer's transaction, keyed by event id, so a redelivered event counts once. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/pb_time.h"
#include "metro/events/v1/identity_events.pb-c.h"
#include "metro/events/v1/payment_events.pb-c.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "svc/report/report.h"

/* The instant an event happened: its own time when it carries one, else the envelope's. */
static int64_t event_us(const ev_event *ev, const Google__Protobuf__Timestamp *own) {
  int64_t us = pb_timestamp_us(own);
  return us ? us : pb_timestamp_us(ev->envelope->time);
}

static const char *us_text(arena *a, int64_t us) { return arena_printf(a, "%lld", (long long)us); }

/* Adds n (and amount) to the hour of `us` for (metric, key). */
static rpc_status count(rpc_ctx *ctx, int64_t us, const char *metric, const char *key, int64_t n, int64_t amount) {
  const char *p[] = {us_text(ctx->arena, us), metric, key ? key : "", arena_printf(ctx->arena, "%lld", (long long)n),
                     arena_printf(ctx->arena, "%lld", (long long)amount)};
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO hourly (hour, metric, key, n, amount) "
                 "VALUES (report_hour(" SQL_AT("$1") "), $2, $3, $4, $5) "
                 "ON CONFLICT (hour, metric, key) DO UPDATE SET n = hourly.n + EXCLUDED.n, "
                 "amount = hourly.amount + EXCLUDED.amount",
                 5, p);
}

/* A ticket's revenue is attributed (by type, method and line) once both its ticket.created and
 * its money are in; the two may arrive in either order on different topics, so both sides of one
 * ticket take this lock first and the second one sees the first (sql/report/002). */
static rpc_status lock_ticket(rpc_ctx *ctx, const char *ticket_id) {
  const char *p[] = {ticket_id};
  return pg_exec(ctx->arena, NULL, "SELECT pg_advisory_xact_lock(hashtext('report.ticket:' || $1))", 1, p);
}

static rpc_status attribute(rpc_ctx *ctx, const char *ticket_id) {
  const char *p[] = {ticket_id};
  return pg_exec(ctx->arena, NULL, "SELECT attribute_revenue(ARRAY[$1])", 1, p);
}

static rpc_status on_user_created(rpc_ctx *ctx, const ev_event *ev) {
  return count(ctx, event_us(ev, NULL), "registrations", "", 1, 0);
}

static rpc_status on_user_login(rpc_ctx *ctx, const ev_event *ev) {
  return count(ctx, event_us(ev, NULL), "logins", "", 1, 0);
}

static rpc_status on_ticket_created(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketCreated *t = (const void *)ev->data;
  if (!t->ticket_id || !*t->ticket_id || strlen(t->ticket_id) > 64)
    return rpc_error(ctx->arena, GRPC_STATUS_INVALID_ARGUMENT, "BAD_EVENT", "ticket.created without a ticket id");
  int64_t at = event_us(ev, NULL);
  const char *p[] = {t->ticket_id, t->ticket_type, t->payment_method, arena_printf(ctx->arena, "%d", t->amount),
                     t->user_id, us_text(ctx->arena, at)};
  PGresult *r;
  rpc_status st = lock_ticket(ctx, t->ticket_id);
  if (!rpc_ok(st)) return st;
  st = pg_exec(ctx->arena, &r,
                          "INSERT INTO tickets (ticket_id, ticket_type, payment_method, amount, user_id, created_at) "
                          "VALUES ($1, $2, $3, $4, $5, " SQL_AT("$6") ") ON CONFLICT (ticket_id) DO NOTHING "
                          "RETURNING 1",
                          6, p);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0) return RPC_OK; /* the same ticket under another event id: counted once */
  for (size_t i = 0; i < t->n_line_shares; i++) {
    const Metro__Events__V1__LineShare *l = t->line_shares[i];
    if (!l->route_id || !*l->route_id || l->segment_price < 0) continue;
    const char *lp[] = {t->ticket_id, arena_printf(ctx->arena, "%zu", i), l->route_id,
                        arena_printf(ctx->arena, "%d", l->segment_price)};
    if (!rpc_ok(st = pg_exec(ctx->arena, NULL,
                             "INSERT INTO ticket_lines (ticket_id, seq, route_id, segment_price) VALUES ($1, $2, $3, $4)",
                             4, lp)))
      return st;
  }
  if (!rpc_ok(st = attribute(ctx, t->ticket_id))) return st; /* money that arrived first */
  return count(ctx, at, "tickets_created", t->ticket_type, 1, 0);
}

static rpc_status on_ticket_activated(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketActivated *t = (const void *)ev->data;
  return count(ctx, event_us(ev, NULL), "tickets_activated", t->ticket_type, 1, 0);
}

static rpc_status on_ticket_cancelled(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketCancelled *t = (const void *)ev->data;
  return count(ctx, event_us(ev, NULL), "tickets_cancelled", t->ticket_type, 1, 0);
}

static rpc_status on_ticket_expired(rpc_ctx *ctx, const ev_event *ev) {
  return count(ctx, event_us(ev, NULL), "tickets_expired", "", 1, 0);
}

/* ticket.used: the tap itself, then its counts: a tap at the station, and on an exit that ended
 * a journey a completed journey of its type and one for each distinct line it rode; an assisted
 * exit's fare adjustment is counted at that station. */
static rpc_status on_ticket_used(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketUsed *u = (const void *)ev->data;
  if (!u->station_id || !*u->station_id || !u->ticket_id || !*u->ticket_id)
    return rpc_error(ctx->arena, GRPC_STATUS_INVALID_ARGUMENT, "BAD_EVENT", "ticket.used without a station or ticket");
  int64_t at = event_us(ev, u->tap_at);
  /* route_ids as a PostgreSQL array literal: ids are slugs, but quote them anyway. */
  arena_buf routes = {.a = ctx->arena};
  arena_buf_putc(&routes, '{');
  for (size_t i = 0; i < u->n_route_ids; i++) {
    if (strpbrk(u->route_ids[i], "\"\\{},") || !*u->route_ids[i]) continue;
    arena_buf_printf(&routes, "%s\"%s\"", routes.len > 1 ? "," : "", u->route_ids[i]);
  }
  arena_buf_putc(&routes, '}');
  int64_t adjustment = u->fare_adjustment_vnd > 0 ? u->fare_adjustment_vnd : 0;
  const char *p[] = {ev->envelope->event_id, us_text(ctx->arena, at), u->ticket_id, u->ticket_type, u->station_id,
                     u->direction, u->journey_completed ? "true" : "false", arena_buf_str(&routes),
                     arena_printf(ctx->arena, "%lld", (long long)adjustment)};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "INSERT INTO taps (event_id, tap_at, ticket_id, ticket_type, station_id, direction, "
                          "journey_completed, route_ids, fare_adjustment_vnd) "
                          "VALUES ($1, " SQL_AT("$2") ", $3, $4, $5, $6, $7, $8, $9) "
                          "ON CONFLICT (event_id) DO NOTHING RETURNING route_ids",
                          9, p);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0) return RPC_OK;
  if (!rpc_ok(st = count(ctx, at, "taps", u->station_id, 1, 0))) return st;
  if (adjustment > 0 && !rpc_ok(st = count(ctx, at, "fare_adjustments", u->station_id, 1, adjustment))) return st;
  if (!u->journey_completed) return RPC_OK;
  if (!rpc_ok(st = count(ctx, at, "tickets_used", u->ticket_type, 1, 0))) return st;
  for (size_t i = 0; i < u->n_route_ids; i++) {
    bool seen = false;
    for (size_t k = 0; k < i && !seen; k++) seen = strcmp(u->route_ids[k], u->route_ids[i]) == 0;
    if (!seen && *u->route_ids[i] && !rpc_ok(st = count(ctx, at, "journeys", u->route_ids[i], 1, 0))) return st;
  }
  return RPC_OK;
}

/* A payment (+) or refund (-): the fact, the hour's payments or refunds, then its attribution
 * when its ticket is already known. */
static rpc_status money(rpc_ctx *ctx, const ev_event *ev, const char *kind, const char *ticket_id,
                        const char *payment_id, const char *method, int64_t amount) {
  if (!ticket_id || !*ticket_id || strlen(ticket_id) > 64)
    return rpc_error(ctx->arena, GRPC_STATUS_INVALID_ARGUMENT, "BAD_EVENT", "a payment event without a ticket id");
  int64_t at = event_us(ev, NULL);
  const char *p[] = {ev->envelope->event_id, kind, us_text(ctx->arena, at), ticket_id, payment_id ? payment_id : "",
                     method ? method : "", arena_printf(ctx->arena, "%lld", (long long)amount)};
  PGresult *r;
  rpc_status st = lock_ticket(ctx, ticket_id);
  if (!rpc_ok(st) ||
      !rpc_ok(st = pg_exec(ctx->arena, &r,
                           "INSERT INTO money (event_id, kind, at, ticket_id, payment_id, method, amount) "
                           "VALUES ($1, $2, " SQL_AT("$3") ", $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING "
                           "RETURNING 1",
                           7, p)))
    return st;
  if (PQntuples(r) == 0) return RPC_OK;
  bool refund = strcmp(kind, "refund") == 0;
  if (!rpc_ok(st = count(ctx, at, refund ? "refunds" : "payments", "", 1, refund ? -amount : amount))) return st;
  return attribute(ctx, ticket_id);
}

static rpc_status on_payment_completed(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__PaymentOutcome *o = (const void *)ev->data;
  if (o->amount < 0)
    return rpc_error(ctx->arena, GRPC_STATUS_INVALID_ARGUMENT, "BAD_EVENT", "payment.completed with a negative amount");
  return money(ctx, ev, "payment", o->ticket_id, o->payment_id, o->method, o->amount);
}

/* A refund's method is its payment's: taken from the payment.completed row when the query runs. */
static rpc_status on_payment_refunded(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__PaymentRefunded *o = (const void *)ev->data;
  if (o->refund_amount < 0)
    return rpc_error(ctx->arena, GRPC_STATUS_INVALID_ARGUMENT, "BAD_EVENT", "payment.refunded with a negative amount");
  return money(ctx, ev, "refund", o->ticket_id, o->payment_id, "", -(int64_t)o->refund_amount);
}

const ev_subscription rp_subscriptions[] = {
    {"user.created", &metro__events__v1__user_created__descriptor, on_user_created},
    {"user.login", &metro__events__v1__user_login__descriptor, on_user_login},
    {"ticket.created", &metro__events__v1__ticket_created__descriptor, on_ticket_created},
    {"ticket.activated", &metro__events__v1__ticket_activated__descriptor, on_ticket_activated},
    {"ticket.cancelled", &metro__events__v1__ticket_cancelled__descriptor, on_ticket_cancelled},
    {"ticket.expired", &metro__events__v1__ticket_expired__descriptor, on_ticket_expired},
    {"ticket.used", &metro__events__v1__ticket_used__descriptor, on_ticket_used},
    {"payment.completed", &metro__events__v1__payment_outcome__descriptor, on_payment_completed},
    {"payment.refunded", &metro__events__v1__payment_refunded__descriptor, on_payment_refunded},
};
const size_t rp_n_subscriptions = sizeof rp_subscriptions / sizeof rp_subscriptions[0];
