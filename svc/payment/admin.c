/* The staff and admin methods of the payment service: the payment list and detail, bank
 * transfers nothing matched, confirming a refund done by hand, settling a payment kept for
 * review, and the refund retry job. */
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/page_token.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "common/text.h"
#include "svc/payment/payment.h"

#define NOTE_MAX 500

static rpc_status locked_payment(rpc_ctx *ctx, const char *payment_id, pm_row **row) {
  if (!crypto_uuid_valid(payment_id))
    return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "PAYMENT_NOT_FOUND", "no such payment");
  rpc_status st = pm_find(ctx, "payment_id", payment_id, true, row);
  if (rpc_ok(st) && !*row) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "PAYMENT_NOT_FOUND", "no such payment");
  return st;
}

static rpc_status check_note(rpc_ctx *ctx, const char *note) {
  long n = text_utf8_length(note);
  if (n < 0 || n > NOTE_MAX || text_has_control(note))
    return rpc_invalid(ctx->arena, "note", "INVALID_NOTE", "note must be at most %d characters of text", NOTE_MAX);
  return RPC_OK;
}

rpc_status pm_list_payments(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  Metro__Payment__V1__ListPaymentsResponse *resp;
  rpc_status st = pm_list(ctx, (const void *)msg, &resp);
  if (rpc_ok(st)) *out = &resp->base;
  return st;
}

rpc_status pm_get_payment(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Payment__V1__GetPaymentRequest *r = (const void *)msg;
  pm_row *row = NULL;
  rpc_status st = crypto_uuid_valid(r->payment_id) ? pm_find(ctx, "payment_id", r->payment_id, false, &row) : RPC_OK;
  if (rpc_ok(st) && !row) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "PAYMENT_NOT_FOUND", "no such payment");
  if (rpc_ok(st)) *out = &row->p->base;
  return st;
}

rpc_status pm_list_unmatched(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Payment__V1__ListUnmatchedTransfersRequest *r = (const void *)msg;
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, "um", r->page_size, r->page_token, 20, 100, &cur);
  if (!rpc_ok(st)) return st;
  const char *params[] = {cur.after_us, cur.after_id, arena_printf(ctx->arena, "%d", cur.page_size + 1)};
  PGresult *res;
  st = pg_exec(ctx->arena, &res,
               "SELECT transfer_id, provider, amount, content, coalesce(reference_code, ''), "
               "coalesce(ticket_id::text, ''), reason, " SQL_US("received_at") ", unmatched_id FROM unmatched_transfers "
               "WHERE ($1::bigint IS NULL OR (received_at, unmatched_id) < (" SQL_AT("$1") ", $2::uuid)) "
               "ORDER BY received_at DESC, unmatched_id DESC LIMIT $3::int",
               3, params);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(res), shown = n > cur.page_size ? cur.page_size : n;
  Metro__Payment__V1__ListUnmatchedTransfersResponse *resp = RPC_NEW(
      ctx, Metro__Payment__V1__ListUnmatchedTransfersResponse, metro__payment__v1__list_unmatched_transfers_response__init);
  resp->transfers = arena_alloc(ctx->arena, sizeof *resp->transfers * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) {
    Metro__Payment__V1__UnmatchedTransfer *t =
        RPC_NEW(ctx, Metro__Payment__V1__UnmatchedTransfer, metro__payment__v1__unmatched_transfer__init);
    t->transfer_id = arena_strdup(ctx->arena, PQgetvalue(res, i, 0));
    t->provider = arena_strdup(ctx->arena, PQgetvalue(res, i, 1));
    t->amount = (int32_t)atoll(PQgetvalue(res, i, 2));
    t->content = arena_strdup(ctx->arena, PQgetvalue(res, i, 3));
    t->reference_code = arena_strdup(ctx->arena, PQgetvalue(res, i, 4));
    t->ticket_id = arena_strdup(ctx->arena, PQgetvalue(res, i, 5));
    t->reason = arena_strdup(ctx->arena, PQgetvalue(res, i, 6));
    t->received_at = pb_timestamp(ctx, atoll(PQgetvalue(res, i, 7)));
    resp->transfers[resp->n_transfers++] = t;
  }
  if (n > cur.page_size)
    resp->next_page_token = (char *)page_token_make(ctx, "um", atoll(PQgetvalue(res, shown - 1, 7)),
                                                    PQgetvalue(res, shown - 1, 8));
  *out = &resp->base;
  return RPC_OK;
}

/* Runs `body` on the locked payment in one transaction and answers the payment after it. */
static rpc_status in_transaction(rpc_ctx *ctx, const char *payment_id, const void *arg,
                                 rpc_status (*body)(rpc_ctx *, pm_row *, const void *), ProtobufCMessage **out) {
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  pm_row *row;
  st = locked_payment(ctx, payment_id, &row);
  if (rpc_ok(st)) st = body(ctx, row, arg);
  if (!rpc_ok(st)) return pg_rollback(), st;
  st = pg_commit(ctx->arena);
  if (rpc_ok(st)) *out = &row->p->base;
  return st;
}

static rpc_status confirm_refund(rpc_ctx *ctx, pm_row *row, const void *arg) {
  const Metro__Payment__V1__ConfirmRefundRequest *r = arg;
  static const pm_status from[] = {PM_REFUND_PENDING};
  pm_change c = {.to = PM_REFUNDED, .paid_amount = -1};
  bool won;
  rpc_status st = pm_transition(ctx, row, from, 1, &c, &won);
  if (!rpc_ok(st)) return st;
  if (!won)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "PAYMENT_NOT_REFUND_PENDING",
                     "this payment is %s, not waiting for a refund", row->p->status);
  const char *params[] = {row->p->payment_id, *r->note ? r->note : "confirmed by an admin", ctx->caller.user_id};
  st = pg_exec(ctx->arena, NULL,
               "UPDATE payments SET refund_ref = $2, refund_error = NULL, refund_next_at = NULL, "
               "failure_reason = coalesce(failure_reason, 'refund confirmed by ' || $3) WHERE payment_id = $1::uuid",
               3, params);
  if (!rpc_ok(st)) return st;
  row->p->refund_error = "";
  return pm_publish_status(ctx, row, NULL);
}

rpc_status pm_confirm_refund(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Payment__V1__ConfirmRefundRequest *r = (const void *)msg;
  rpc_status st = check_note(ctx, r->note);
  if (!rpc_ok(st)) return st;
  return in_transaction(ctx, r->payment_id, r, confirm_refund, out);
}

static rpc_status clear_review(rpc_ctx *ctx, pm_row *row, const char *note) {
  const char *params[] = {row->p->payment_id, arena_printf(ctx->arena, "resolved: %s", note)};
  row->p->review_required = false;
  return pg_exec(ctx->arena, NULL,
                 "UPDATE payments SET review_required = false, review_reason = $2, updated_at = now(), "
                 "version = version + 1 WHERE payment_id = $1::uuid",
                 2, params);
}

static rpc_status resolve_review(rpc_ctx *ctx, pm_row *row, const void *arg) {
  const Metro__Payment__V1__ResolveReviewRequest *r = arg;
  if (!row->p->review_required)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "NO_REVIEW_PENDING", "this payment is not kept for review");
  bool won = true;
  rpc_status st = RPC_OK;
  if (strcmp(r->resolution, "complete") == 0 && row->status != PM_COMPLETED) {
    static const pm_status from[] = {PM_PENDING, PM_APPROVED};
    pm_change c = {.to = PM_COMPLETED, .paid_amount = -1};
    st = pm_transition(ctx, row, from, 2, &c, &won);
    if (rpc_ok(st) && won) st = pm_publish_status(ctx, row, "review");
  } else if (strcmp(r->resolution, "refund") == 0) {
    static const pm_status from[] = {PM_COMPLETED};
    pm_change c = {.to = PM_REFUND_PENDING, .paid_amount = -1, .refund_amount = row->p->amount,
                   .refund_reason = "review"};
    st = pm_transition(ctx, row, from, 1, &c, &won);
  }
  if (!rpc_ok(st)) return st;
  if (!won)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "PAYMENT_NOT_OPEN", "a %s payment cannot be %s",
                     row->p->status, strcmp(r->resolution, "refund") == 0 ? "refunded" : "completed");
  return clear_review(ctx, row, *r->note ? r->note : r->resolution);
}

rpc_status pm_resolve_review(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Payment__V1__ResolveReviewRequest *r = (const void *)msg;
  if (strcmp(r->resolution, "complete") && strcmp(r->resolution, "refund") && strcmp(r->resolution, "dismiss"))
    return rpc_invalid(ctx->arena, "resolution", "INVALID_RESOLUTION", "resolution must be complete, refund or dismiss");
  rpc_status st = check_note(ctx, r->note);
  if (!rpc_ok(st)) return st;
  return in_transaction(ctx, r->payment_id, r, resolve_review, out);
}

rpc_status pm_retry_refunds(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Payment__V1__RetryRefundsRequest *r = (const void *)msg;
  if (r->limit < 0 || r->limit > 1000)
    return rpc_invalid(ctx->arena, "limit", "INVALID_LIMIT", "limit must be 0-1000");
  const char **ids;
  int n;
  rpc_status st = pm_refunds_due(ctx, r->limit ? r->limit : 100, true, &ids, &n);
  if (!rpc_ok(st)) return st;
  Metro__Payment__V1__RetryRefundsResponse *resp =
      RPC_NEW(ctx, Metro__Payment__V1__RetryRefundsResponse, metro__payment__v1__retry_refunds_response__init);
  for (int i = 0; i < n; i++) {
    int outcome;
    st = pm_refund_attempt(ctx, ids[i], &outcome);
    if (!rpc_ok(st)) return st;
    if (outcome == 2) continue;
    resp->attempted++;
    if (outcome == 1) resp->refunded++;
    else if (outcome == 0) resp->failed++;
    else resp->given_up++;
  }
  *out = &resp->base;
  return RPC_OK;
}
