/* Gates (domain spec §10, §11): a tap is verified (token, gate, station), then decided by
 * gate_rules.c against the ticket row locked FOR UPDATE, and applied in the same transaction
 * with one conditional update on the ticket's version, the tap row (whose stored answer a
 * retried tapId gets back) and ticket.used. Also the gate registry, abuse clearing and the
 * staff's assisted exit with its fare adjustment. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "common/text.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "svc/ticket/ticket.h"
#include "svc/ticket/ticket_metrics.h"

#define MAX_TAP_ID_LEN 64
#define MAX_SLUG_LEN 64
#define MAX_COLLECTED_VND 10000000
#define US SQL_US
#define AT SQL_AT

static const char *direction_name(tk_direction d) { return d == TK_ENTRY ? "entry" : "exit"; }

static tk_gate_rules rules_of(const rpc_ctx *ctx) {
  const tk_settings *s = tk_cfg(ctx);
  return (tk_gate_rules){.min_interval_us = s->abuse_min_interval_ms * 1000,
                         .burst_window_us = s->abuse_window_ms * 1000,
                         .burst_max = (int)s->abuse_window_max,
                         .open_entry_us = s->open_entry_min * 60 * 1000000,
                         .duplicate_us = s->duplicate_tap_ms * 1000};
}

/* ---- the request ---- */

static rpc_status check_request(rpc_ctx *ctx, const Metro__Ticket__V1__TapRequest *r, tk_direction *dir) {
  if (!tk_is_slug(r->gate_id)) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "GATE_NOT_FOUND", "no such gate");
  if (!r->station_id || !*r->station_id)
    return rpc_invalid(ctx->arena, "stationId", "FIELD_REQUIRED", "stationId is required");
  if (!tk_is_slug(r->station_id))
    return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "no such station");
  if (!r->direction || (strcmp(r->direction, "entry") != 0 && strcmp(r->direction, "exit") != 0))
    return rpc_invalid(ctx->arena, "direction", "INVALID_DIRECTION", "direction must be entry or exit");
  *dir = strcmp(r->direction, "entry") == 0 ? TK_ENTRY : TK_EXIT;
  if (!tk_is_token(r->tap_id, MAX_TAP_ID_LEN))
    return rpc_invalid(ctx->arena, "tapId", "INVALID_TAP_ID", "tapId must be 1-%d printable characters", MAX_TAP_ID_LEN);
  if (!r->token || !*r->token) return rpc_invalid(ctx->arena, "token", "FIELD_REQUIRED", "token is required");
  return RPC_OK;
}

static rpc_status invalid_token(rpc_ctx *ctx, const char *why) {
  return rpc_invalid(ctx->arena, "token", "INVALID_TOKEN", "the code does not verify (%s)", why);
}

/* The gate must be registered, active and at the station the tap names. */
static rpc_status check_gate(rpc_ctx *ctx, const char *gate_id, const char *station_id) {
  bool found;
  const char *at;
  rpc_status st = tk_gate_get(ctx, gate_id, &found, &at);
  if (!rpc_ok(st)) return st;
  if (!found) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "GATE_NOT_FOUND", "no such gate in service");
  if (strcmp(at, station_id) != 0)
    return rpc_invalid(ctx->arena, "stationId", "GATE_STATION_MISMATCH", "gate %s is not at station %s", gate_id,
                       station_id);
  return RPC_OK;
}

/* ---- stored taps ---- */

static rpc_status stored_tap(rpc_ctx *ctx, const char *gate_id, const char *tap_id, Metro__Ticket__V1__TapResult **out) {
  *out = NULL;
  const char *params[] = {gate_id, tap_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT result FROM taps WHERE gate_id = $1 AND tap_id = $2", 2, params);
  if (!rpc_ok(st) || PQntuples(r) == 0) return st;
  size_t len = 0;
  unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &len);
  if (raw) {
    *out = (Metro__Ticket__V1__TapResult *)protobuf_c_message_unpack(&metro__ticket__v1__tap_result__descriptor,
                                                                       &ctx->alloc, len, raw);
    PQfreemem(raw);
  }
  return *out ? RPC_OK : rpc_internal("ticket: a stored tap does not decode");
}

static rpc_status record_tap(rpc_ctx *ctx, const Metro__Ticket__V1__TapResult *res, bool counted, int64_t now,
                             bool *inserted) {
  size_t len = protobuf_c_message_get_packed_size(&res->base);
  uint8_t *packed = arena_alloc(ctx->arena, len ? len : 1);
  protobuf_c_message_pack(&res->base, packed);
  const char *params[] = {res->gate_id,
                          res->tap_id,
                          res->ticket_id,
                          res->station_id,
                          res->direction,
                          res->accepted ? "true" : "false",
                          res->duplicate ? "true" : "false",
                          res->reason && *res->reason ? res->reason : NULL,
                          counted ? "true" : "false",
                          pg_bytea_literal(ctx->arena, packed, len),
                          arena_printf(ctx->arena, "%lld", (long long)now)};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "INSERT INTO taps (gate_id, tap_id, ticket_id, station_id, direction, accepted, duplicate, "
                          "reason, counted, result, created_at) VALUES ($1, $2, $3::uuid, $4, $5, $6::boolean, "
                          "$7::boolean, $8, $9::boolean, $10::bytea, " AT("$11") ") "
                          "ON CONFLICT (gate_id, tap_id) DO NOTHING RETURNING 1",
                          11, params);
  *inserted = rpc_ok(st) && PQntuples(r) == 1;
  return st;
}

/* Counted taps inside the burst window before now. */
static int taps_in_window(const tk_row *row, int64_t now, const tk_gate_rules *rules) {
  int n = 0;
  for (int i = 0; i < row->n_recent_taps; i++) n += row->recent_tap_us[i] > now - rules->burst_window_us;
  return n;
}

/* The counted taps to keep after one more at now: those still in the window, newest last, at
 * most as many as the burst rule looks at. As a bigint[] literal. */
static const char *recent_taps_after(rpc_ctx *ctx, const tk_row *row, int64_t now, const tk_gate_rules *rules) {
  int64_t keep[TK_MAX_RECENT_TAPS + 1];
  int n = 0;
  for (int i = 0; i < row->n_recent_taps; i++)
    if (row->recent_tap_us[i] > now - rules->burst_window_us) keep[n++] = row->recent_tap_us[i];
  keep[n++] = now;
  int first = n > rules->burst_max ? n - rules->burst_max : 0;
  char *out = arena_strdup(ctx->arena, "{");
  for (int i = first; i < n; i++) out = arena_printf(ctx->arena, "%s%s%lld", out, i > first ? "," : "", (long long)keep[i]);
  return arena_printf(ctx->arena, "%s}", out);
}

static void gate_state_of(const tk_row *row, tk_gate_state *g) {
  const Metro__Ticket__V1__Ticket *t = row->ticket;
  g->status = row->status;
  g->type = row->type;
  g->journeys_allowed = t->journeys_allowed;
  g->journeys_completed = t->journeys_completed;
  g->inside = row->inside;
  g->entry_station_id = row->entry_station_id;
  g->entry_at_us = row->entry_at_us;
  g->origin = t->origin_station_id ? t->origin_station_id : "";
  g->destination = t->destination_station_id ? t->destination_station_id : "";
  g->valid_from_us = pb_timestamp_us(t->valid_from);
  g->valid_until_us = pb_timestamp_us(t->valid_until);
  g->last_tap_us = row->last_tap_us;
  g->last_accept_gate = row->last_accept_gate;
  g->last_accept_direction = row->last_accept_exit ? TK_EXIT : TK_ENTRY;
  g->last_accept_us = row->last_accept_us;
}

/* ---- answers and events ---- */

static Metro__Ticket__V1__TapResult *result_of(rpc_ctx *ctx, const Metro__Ticket__V1__TapRequest *r,
                                               const tk_row *row, const tk_tap_decision *d, int64_t now) {
  const Metro__Ticket__V1__Ticket *t = row->ticket;
  Metro__Ticket__V1__TapResult *res = RPC_NEW(ctx, Metro__Ticket__V1__TapResult, metro__ticket__v1__tap_result__init);
  res->tap_id = r->tap_id;
  res->gate_id = r->gate_id;
  res->station_id = r->station_id;
  res->direction = r->direction;
  res->accepted = d->accepted;
  res->duplicate = d->duplicate;
  res->reason = (char *)(d->reason ? d->reason : "");
  res->ticket_id = t->ticket_id;
  res->ticket_type = t->ticket_type;
  res->status = (char *)tk_status_name(row->status);
  res->total_passengers = t->total_passengers;
  res->passengers = t->passengers;
  res->journeys_remaining = tk_journeys_remaining(row->type, t->journeys_allowed, t->journeys_completed);
  res->valid_until = t->valid_until;
  res->tap_time = pb_timestamp(ctx, now);
  return res;
}

static rpc_status publish_used(rpc_ctx *ctx, const tk_row *before, const tk_row *after, const char *station_id,
                               const char *gate_id, tk_direction dir, int64_t now, int fare_adjustment) {
  Metro__Events__V1__TicketUsed ev = METRO__EVENTS__V1__TICKET_USED__INIT;
  ev.ticket_id = after->ticket->ticket_id;
  ev.passenger_id = after->ticket->passenger_id;
  ev.station_id = (char *)station_id;
  ev.gate_id = (char *)gate_id;
  ev.direction = (char *)direction_name(dir);
  ev.tap_at = pb_timestamp(ctx, now);
  ev.ticket_type = after->ticket->ticket_type;
  ev.total_passengers = after->ticket->total_passengers;
  ev.fare_adjustment_vnd = fare_adjustment;
  if (dir == TK_EXIT) {
    ev.route_ids = (char **)before->route_ids;
    ev.n_route_ids = before->n_route_ids;
    ev.entry_station_id = (char *)before->entry_station_id;
    ev.entry_at = pb_timestamp(ctx, before->entry_at_us);
    ev.journey_completed = after->ticket->journeys_completed > before->ticket->journeys_completed;
  }
  return ev_publish(ctx->arena, "ticket.used", after->ticket->ticket_id, &ev.base, ctx->traceparent);
}

/* What the group owes for leaving at `exit` instead of `expected` (§10): the group fare from
 * the entry to where they left minus the one to where they should have, never negative. */
static rpc_status fare_adjustment(rpc_ctx *ctx, const tk_row *row, const char *exit, const char *expected, int *out) {
  *out = 0;
  const char *entry = row->entry_station_id;
  if (!entry || !*entry || strcmp(entry, exit) == 0) return RPC_OK;
  Metro__Ticket__V1__CreateTicketRequest req = METRO__TICKET__V1__CREATE_TICKET_REQUEST__INIT;
  req.origin_station_id = (char *)entry;
  req.trip_type = "oneway";
  req.passengers = row->ticket->passengers;
  Metro__Ticket__V1__Quote *longer, *planned = NULL;
  req.destination_station_id = (char *)exit;
  rpc_status st = tk_quote(ctx, &req, TK_PAX_ADULT, NULL, &longer);
  if (rpc_ok(st) && strcmp(entry, expected) != 0) {
    req.destination_station_id = (char *)expected;
    st = tk_quote(ctx, &req, TK_PAX_ADULT, NULL, &planned);
  }
  if (!rpc_ok(st)) return st;
  int diff = longer->total_price - (planned ? planned->total_price : 0);
  *out = diff > 0 ? diff : 0;
  return RPC_OK;
}

static rpc_status record_adjustment(rpc_ctx *ctx, const tk_row *row, const char *exit, const char *expected,
                                    const char *gate_id, int amount, int collected, bool settled) {
  const char *params[] = {tk_uuid(ctx),
                          row->ticket->ticket_id,
                          row->entry_station_id,
                          exit,
                          expected,
                          arena_printf(ctx->arena, "%d", amount),
                          settled ? arena_printf(ctx->arena, "%d", collected) : NULL,
                          settled ? "settled" : "due",
                          gate_id};
  /* One due record per journey and exit station, however often the rider tries that gate. */
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO fare_adjustments (adjustment_id, ticket_id, entry_station_id, exit_station_id, "
                 "expected_exit_station_id, amount_vnd, collected_vnd, status, gate_id, settled_at) SELECT $1::uuid, "
                 "$2::uuid, $3, $4, $5, $6::int, $7::int, $8, $9, CASE WHEN $8 = 'settled' THEN now() END "
                 "WHERE $8 = 'settled' OR NOT EXISTS (SELECT 1 FROM fare_adjustments WHERE ticket_id = $2::uuid "
                 "AND exit_station_id = $4 AND status = 'due')",
                 9, params);
}

/* ---- a tap ---- */

/* The rotating code, when one was shown: checked against the ticket's secret. */
static tk_code_state code_state(const gk_presented *p, const tk_row *row, int64_t now) {
  if (!p->rotating) return TK_CODE_STATIC;
  if (!row->has_secret) return TK_CODE_BAD;
  switch (gk_code_check(row->secret, p->counter, p->code, gk_counter_at(now / 1000000), row->last_rotating_counter)) {
    case GK_CODE_OK: return TK_CODE_FRESH;
    case GK_CODE_REPLAYED: return TK_CODE_REPLAYED;
    default: return TK_CODE_BAD;
  }
}

/* Decides and applies one tap on the locked row; *res is the answer. */
static rpc_status decide_and_apply(rpc_ctx *ctx, const Metro__Ticket__V1__TapRequest *r, tk_direction dir,
                                   const gk_presented *p, const tk_station *station, tk_row *row, int64_t now,
                                   Metro__Ticket__V1__TapResult **res) {
  tk_gate_rules rules = rules_of(ctx);
  tk_gate_state g;
  memset(&g, 0, sizeof g);
  gate_state_of(row, &g);
  g.taps_last_window = taps_in_window(row, now, &rules);
  rpc_status st = RPC_OK;
  tk_code_state code = code_state(p, row, now);
  tk_tap_input in = {.direction = dir,
                     .station_id = r->station_id,
                     .gate_id = r->gate_id,
                     .station_active = station->is_active,
                     .station_open = tk_station_open_at(station, now),
                     .code = code,
                     .repeats_last_code = p->rotating && p->counter == row->last_rotating_counter,
                     .now_us = now};
  tk_tap_decision d;
  tk_tap_decide(&rules, &g, &in, &d);

  tk_row *after = row;
  bool changes = !d.duplicate && (d.counted || d.accepted || code == TK_CODE_FRESH);
  if (changes) {
    tk_gate_change c = {.to = d.status,
                        .inside = d.accepted ? d.inside : row->inside,
                        .journeys_completed = d.accepted ? d.journeys_completed : row->ticket->journeys_completed,
                        .last_tap_us = d.counted ? now : 0,
                        .last_rotating_counter = code == TK_CODE_FRESH ? p->counter : 0,
                        .tapped = d.accepted,
                        .recent_tap_us = d.counted ? recent_taps_after(ctx, row, now, &rules) : NULL};
    if (d.accepted) {
      c.accept_gate = r->gate_id;
      c.accept_exit = dir == TK_EXIT;
      c.accept_us = now;
    }
    if (d.accepted && dir == TK_ENTRY) {
      c.entry_station_id = r->station_id;
      c.entry_at_us = now;
    }
    if (d.activates_pass) {
      c.valid_from_us = now;
      c.valid_until_us = now + row->validity_days * TK_DAY_US;
    }
    bool applied;
    if (!rpc_ok(st = tk_ticket_gate_update(ctx, row, &c, &applied, &after))) return st;
    if (!applied)
      return rpc_error(ctx->arena, GRPC_STATUS_ABORTED, "CONCURRENT_UPDATE", "the ticket changed meanwhile; tap again");
  }
  *res = result_of(ctx, r, after, &d, now);
  if (d.expected_exit) {
    int amount;
    if (!rpc_ok(st = fare_adjustment(ctx, row, r->station_id, d.expected_exit, &amount))) return st;
    (*res)->fare_adjustment_vnd = amount;
    if (amount > 0 &&
        !rpc_ok(st = record_adjustment(ctx, row, r->station_id, d.expected_exit, r->gate_id, amount, 0, false)))
      return st;
  }
  if (d.accepted && !d.duplicate) {
    st = publish_used(ctx, row, after, r->station_id, r->gate_id, dir, now, 0);
    if (rpc_ok(st) && d.activates_pass) st = tk_publish_activated(ctx, after->ticket, after->user_id, after->qr_token, "tap");
  }
  if (d.becomes_abused) log_warn("ticket %s flagged abused at gate %s", row->ticket->ticket_id, r->gate_id);
  bool inserted;
  if (rpc_ok(st)) st = record_tap(ctx, *res, d.counted, now, &inserted);
  if (rpc_ok(st) && !inserted) /* the same tapId, concurrently: the other answer stands */
    return rpc_error(ctx->arena, GRPC_STATUS_ABORTED, "CONCURRENT_UPDATE", "this tapId is being answered");
  return st;
}

rpc_status tk_tap(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__TapRequest *r = (const void *)msg;
  tk_direction dir = TK_ENTRY;
  rpc_status st = check_request(ctx, r, &dir);
  if (!rpc_ok(st)) return st;
  gk_presented p;
  gk_result vr = gk_verify(tk_keys(ctx), r->token, strnlen(r->token, GK_MAX_TOKEN_LEN + 1), &p);
  if (vr != GK_OK) {
    tk_metrics_tap(direction_name(dir), false, "INVALID_TOKEN");
    return invalid_token(ctx, gk_result_name(vr));
  }
  tk_station station;
  if (!rpc_ok(st = tk_station_get(ctx, r->station_id, &station))) return st;
  if (!station.found) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "no such station");
  if (!rpc_ok(st = check_gate(ctx, r->gate_id, r->station_id))) return st;

  /* A retried tapId is found when its tap row conflicts (below): it is rare, so the common
   * tap pays no look-up for it. */
  Metro__Ticket__V1__TapResult *res = NULL;
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  tk_row *row;
  st = tk_ticket_get(ctx, p.payload.tid, true, &row);
  /* The token must be the one this ticket was issued (a signed token names its ticket). */
  if (rpc_ok(st) && (!row || !row->qr_token || strlen(row->qr_token) != p.token_len ||
                     CRYPTO_memcmp(row->qr_token, r->token, p.token_len) != 0))
    st = invalid_token(ctx, "not this ticket's token");
  int64_t now = tk_now_us();
  if (rpc_ok(st)) st = decide_and_apply(ctx, r, dir, &p, &station, row, now, &res);
  if (st.code == GRPC_STATUS_ABORTED) { /* a concurrent retry of this tapId won: answer what it stored */
    pg_rollback();
    if (rpc_ok(stored_tap(ctx, r->gate_id, r->tap_id, &res)) && res) {
      *out = &res->base;
      return RPC_OK;
    }
    return st;
  }
  st = tk_finish_tx(ctx, st);
  if (rpc_ok(st)) {
    *out = &res->base;
    tk_metrics_tap(direction_name(dir), res->accepted, res->reason);
  } else if (st.reason && strcmp(st.reason, "INVALID_TOKEN") == 0) { /* another ticket's token */
    tk_metrics_tap(direction_name(dir), false, "INVALID_TOKEN");
  }
  return st;
}

/* ---- staff ---- */

rpc_status tk_clear_abuse(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__ClearAbuseRequest *r = (const void *)msg;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  tk_row *row, *moved = NULL;
  st = tk_ticket_get(ctx, r->ticket_id, true, &row);
  if (rpc_ok(st) && !row) st = rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "TICKET_NOT_FOUND", "no such ticket");
  tk_move m = {.trigger = TK_ON_CLEAR_ABUSE, .reason = "cleared"};
  if (rpc_ok(st)) st = tk_ticket_move(ctx, row, &m, &moved);
  /* The tap log starts again: earlier taps no longer count towards the abuse rules. */
  const char *params[] = {r->ticket_id};
  if (rpc_ok(st))
    st = pg_exec(ctx->arena, NULL,
                 "WITH t AS (UPDATE tickets SET last_tap_at = NULL, recent_tap_us = '{}' WHERE ticket_id = $1::uuid "
                 "RETURNING 1) "
                 "UPDATE taps SET counted = false WHERE ticket_id = $1::uuid AND counted",
                 1, params);
  st = tk_finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &moved->ticket->base;
  return st;
}

/* After a WRONG_EXIT_STATION the staff collect what is due and let the group out: the exit
 * completes the journey as if at its end, and the adjustment is recorded as settled. */
rpc_status tk_assisted_exit(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__AssistedExitRequest *r = (const void *)msg;
  if (!tk_is_slug(r->station_id)) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "no such station");
  if (r->collected_vnd < 0 || r->collected_vnd > MAX_COLLECTED_VND)
    return rpc_invalid(ctx->arena, "collectedVnd", "INVALID_AMOUNT", "collectedVnd must be 0-%d", MAX_COLLECTED_VND);
  rpc_status st = tk_is_slug(r->gate_id) ? check_gate(ctx, r->gate_id, r->station_id)
                                      : rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "GATE_NOT_FOUND", "no such gate");
  if (!rpc_ok(st)) return st;
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  tk_row *row, *after = NULL;
  st = tk_ticket_get(ctx, r->ticket_id, true, &row);
  if (rpc_ok(st) && !row) st = rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "TICKET_NOT_FOUND", "no such ticket");
  if (rpc_ok(st) && (!row->inside || (row->status != TK_ACTIVE && row->status != TK_ABUSED)))
    st = rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "NO_ENTRY_RECORDED", "the ticket is not inside");
  int64_t now = tk_now_us();
  int amount = 0;
  const char *expected = NULL;
  if (rpc_ok(st)) {
    expected = tk_is_pass(row->type) ? r->station_id
                                     : tk_journey_end(row->type, row->ticket->journeys_completed,
                                                      row->ticket->origin_station_id,
                                                      row->ticket->destination_station_id);
    st = fare_adjustment(ctx, row, r->station_id, expected, &amount);
  }
  if (rpc_ok(st)) {
    int completed = row->ticket->journeys_completed + (tk_is_pass(row->type) ? 0 : 1);
    tk_gate_change c = {.to = !tk_is_pass(row->type) && completed >= row->ticket->journeys_allowed ? TK_USED : row->status,
                        .inside = false,
                        .journeys_completed = completed,
                        .tapped = true};
    bool applied;
    st = tk_ticket_gate_update(ctx, row, &c, &applied, &after);
    if (rpc_ok(st) && !applied)
      st = rpc_error(ctx->arena, GRPC_STATUS_ABORTED, "CONCURRENT_UPDATE", "the ticket changed meanwhile");
  }
  const char *params[] = {r->ticket_id};
  if (rpc_ok(st)) /* the adjustments left due for this journey are settled by this one */
    st = pg_exec(ctx->arena, NULL,
                 "UPDATE fare_adjustments SET status = 'settled', collected_vnd = 0, settled_at = now() "
                 "WHERE ticket_id = $1::uuid AND status = 'due'",
                 1, params);
  if (rpc_ok(st)) st = record_adjustment(ctx, row, r->station_id, expected, r->gate_id, amount, r->collected_vnd, true);
  if (rpc_ok(st)) st = publish_used(ctx, row, after, r->station_id, r->gate_id, TK_EXIT, now, amount);
  Metro__Ticket__V1__TapResult *res = NULL;
  if (rpc_ok(st)) {
    Metro__Ticket__V1__TapRequest req = METRO__TICKET__V1__TAP_REQUEST__INIT;
    req.gate_id = r->gate_id;
    req.station_id = r->station_id;
    req.direction = "exit";
    req.tap_id = "";
    tk_tap_decision d = {.accepted = true};
    res = result_of(ctx, &req, after, &d, now);
    res->fare_adjustment_vnd = amount;
  }
  st = tk_finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &res->base;
  return st;
}

/* ---- the gate registry ---- */

static Metro__Ticket__V1__Gate *gate_msg(rpc_ctx *ctx, const PGresult *r, int i) {
  Metro__Ticket__V1__Gate *g = RPC_NEW(ctx, Metro__Ticket__V1__Gate, metro__ticket__v1__gate__init);
  g->gate_id = arena_strdup(ctx->arena, PQgetvalue(r, i, 0));
  g->station_id = arena_strdup(ctx->arena, PQgetvalue(r, i, 1));
  g->name = arena_strdup(ctx->arena, PQgetvalue(r, i, 2));
  g->is_active = strcmp(PQgetvalue(r, i, 3), "t") == 0;
  g->create_time = pb_timestamp(ctx, atoll(PQgetvalue(r, i, 4)));
  return g;
}

rpc_status tk_create_gate(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__CreateGateRequest *req = (const void *)msg;
  const Metro__Ticket__V1__Gate *g = req->gate;
  if (!g) return rpc_invalid(ctx->arena, "gate", "FIELD_REQUIRED", "gate is required");
  if (!tk_is_slug(g->gate_id))
    return rpc_invalid(ctx->arena, "gate.gateId", "INVALID_GATE_ID", "gateId must be 1-64 of [a-z0-9-]");
  if (!tk_is_slug(g->station_id))
    return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "no such station");
  const char *name = g->name ? g->name : "";
  if (strlen(name) > 100 || text_has_control(name) || text_utf8_length(name) < 0)
    return rpc_invalid(ctx->arena, "gate.name", "INVALID_NAME", "name must be at most 100 characters of text");
  tk_station station;
  rpc_status st = tk_station_get(ctx, g->station_id, &station);
  if (!rpc_ok(st)) return st;
  if (!station.found) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "no such station");
  const char *params[] = {g->gate_id, g->station_id, name};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "INSERT INTO gates (gate_id, station_id, name) VALUES ($1, $2, $3) "
               "RETURNING gate_id, station_id, name, is_active, " US("created_at"),
               3, params);
  if (st.code == GRPC_STATUS_ALREADY_EXISTS)
    return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "GATE_EXISTS", "gate %s exists", g->gate_id);
  if (rpc_ok(st)) *out = &gate_msg(ctx, r, 0)->base;
  return st;
}

rpc_status tk_list_gates(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__ListGatesRequest *req = (const void *)msg;
  const char *station = req->station_id && *req->station_id ? req->station_id : NULL;
  if (station && !tk_is_slug(station))
    return rpc_invalid(ctx->arena, "stationId", "INVALID_STATION_ID", "stationId is not a station id");
  const char *params[] = {station};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT gate_id, station_id, name, is_active, " US("created_at") " FROM gates "
                          "WHERE $1::text IS NULL OR station_id = $1 ORDER BY gate_id LIMIT 5000",
                          1, params);
  if (!rpc_ok(st)) return st;
  Metro__Ticket__V1__ListGatesResponse *resp =
      RPC_NEW(ctx, Metro__Ticket__V1__ListGatesResponse, metro__ticket__v1__list_gates_response__init);
  int n = PQntuples(r);
  resp->gates = arena_alloc(ctx->arena, sizeof *resp->gates * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) resp->gates[resp->n_gates++] = gate_msg(ctx, r, i);
  *out = &resp->base;
  return RPC_OK;
}
