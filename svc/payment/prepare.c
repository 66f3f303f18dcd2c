/* Saga step 2 (domain spec §12.2): a payment for each new ticket, created once per ticket,
 * and its pay link: a signed VNPay URL, a PayPal order's approve link or a Sepay VietQR
 * image, sent back as ticket.payment_ready; a preparation error fails the payment. */
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "metro/events/v1/payment_events.pb-c.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "svc/payment/payment.h"

/* What a method's preparation produced. */
typedef struct pay_link {
  const char *provider_ref;
  const char *payment_url, *approve_url, *qr_image_url;
  const char *vnp_create_date;
  int64_t usd_cents;
  const char *failure; /* set: the payment cannot be made (configuration, amount) */
} pay_link;

static const char *hex_of_uuid(rpc_ctx *ctx, const char *uuid) {
  char *out = arena_alloc(ctx->arena, 33), *o = out;
  for (const char *s = uuid; *s && o < out + 32; s++)
    if (*s != '-') *o++ = *s;
  *o = '\0';
  return out;
}

static rpc_status prepare_vnpay(rpc_ctx *ctx, const pm_row *row, int64_t deadline_s, pay_link *link) {
  const pm_settings *cfg = pm_cfg(ctx);
  if (!*cfg->vnpay_pay_url || !*cfg->vnpay_tmn_code || !*cfg->vnpay_hash_secret)
    return link->failure = "VNPAY_NOT_CONFIGURED", RPC_OK;
  int64_t now_s = (int64_t)time(NULL);
  char created[PAY_VNP_DATE_LEN + 1];
  pay_vnpay_format_time(now_s, created);
  pay_vnpay_request req = {
      .pay_url = cfg->vnpay_pay_url,
      .tmn_code = cfg->vnpay_tmn_code,
      .hash_secret = cfg->vnpay_hash_secret,
      .amount_vnd = row->p->amount,
      .txn_ref = hex_of_uuid(ctx, row->p->payment_id),
      .order_info = arena_printf(ctx->arena, "Payment for ticket %s", row->p->ticket_id),
      .return_url = arena_printf(ctx->arena, "%s/v1/payments/vnpay/return", cfg->public_base_url),
      .ip_addr = cfg->server_ip,
      .create_time = now_s,
      .expire_time = deadline_s > now_s ? deadline_s : now_s + 60,
  };
  char *url;
  if (pay_vnpay_build_url(ctx->arena, &req, &url) != PAY_OK) return link->failure = "VNPAY_REQUEST_INVALID", RPC_OK;
  link->provider_ref = req.txn_ref;
  link->payment_url = url;
  link->vnp_create_date = arena_strdup(ctx->arena, created);
  return RPC_OK;
}

static rpc_status prepare_paypal(rpc_ctx *ctx, const pm_row *row, int64_t deadline_s, pay_link *link) {
  (void)deadline_s;
  const pm_settings *cfg = pm_cfg(ctx);
  papi_paypal *pp = pm_st(ctx)->paypal;
  if (!pp) return link->failure = "PAYPAL_NOT_CONFIGURED", RPC_OK;
  if (pay_paypal_vnd_to_cents(row->p->amount, cfg->vnd_per_usd, &link->usd_cents) != PAY_OK)
    return link->failure = "PAYPAL_AMOUNT_INVALID", RPC_OK;
  pay_paypal_order order = {
      .payment_id = row->p->payment_id,
      .amount_cents = link->usd_cents,
      .return_url = cfg->paypal_return_url,
      .cancel_url = cfg->paypal_cancel_url,
      .description = arena_printf(ctx->arena, "Metro ticket %s", row->p->ticket_id),
  };
  pay_paypal_created created;
  papi_error err;
  papi_result res = papi_paypal_create_order(pp, ctx->arena, &order, row->p->payment_id, &created, &err);
  /* ABORTED, not UNAVAILABLE: the consumer retries it a bounded number of times and then
   * parks it, instead of holding every other ticket's payment behind PayPal's outage; the
   * ticket then expires at its deadline like any unpaid one. */
  if (res == PAPI_UNAVAILABLE)
    return rpc_error(ctx->arena, GRPC_STATUS_ABORTED, "PROVIDER_UNAVAILABLE", "PayPal did not answer: %s",
                     err.message);
  if (res != PAPI_OK) {
    log_warn("payment %s: PayPal refused the order (%ld %s)", row->p->payment_id, err.http_status, err.code);
    return link->failure = arena_printf(ctx->arena, "PAYPAL_%s", *err.code ? err.code : "ORDER_REFUSED"), RPC_OK;
  }
  link->provider_ref = arena_strdup(ctx->arena, created.id);
  link->approve_url = arena_strdup(ctx->arena, created.approve_url);
  return RPC_OK;
}

static rpc_status prepare_sepay(rpc_ctx *ctx, const pm_row *row, int64_t deadline_s, pay_link *link) {
  (void)deadline_s;
  const pm_settings *cfg = pm_cfg(ctx);
  if (!*cfg->sepay_qr_base || !*cfg->sepay_bank || !*cfg->sepay_account)
    return link->failure = "SEPAY_NOT_CONFIGURED", RPC_OK;
  char *url;
  if (pay_sepay_qr_url(ctx->arena, cfg->sepay_qr_base, cfg->sepay_bank, cfg->sepay_account, row->p->amount,
                       row->p->ticket_id, &url) != PAY_OK)
    return link->failure = "SEPAY_REQUEST_INVALID", RPC_OK;
  link->provider_ref = row->p->ticket_id;
  link->qr_image_url = url;
  return RPC_OK;
}

static const struct method {
  const char *name;
  rpc_status (*prepare)(rpc_ctx *ctx, const pm_row *row, int64_t deadline_s, pay_link *link);
} methods[] = {{"vnpay", prepare_vnpay}, {"paypal", prepare_paypal}, {"sepay", prepare_sepay}};

/* The payment id of a ticket, derived from it (a UUID v4 layout over SHA-256), so a retried
 * preparation asks PayPal with the same PayPal-Request-Id and gets the same order back. */
static const char *payment_id_for(rpc_ctx *ctx, const char *ticket_id) {
  uint8_t h[CRYPTO_SHA256_LEN];
  const char *seed = arena_printf(ctx->arena, "metro-payment:%s", ticket_id);
  crypto_sha256(seed, strlen(seed), h);
  h[6] = (uint8_t)((h[6] & 0x0f) | 0x40);
  h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
  char hex[33];
  crypto_hex(h, 16, hex);
  return arena_printf(ctx->arena, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static rpc_status insert_payment(rpc_ctx *ctx, const Metro__Events__V1__TicketCreated *t, bool free_path) {
  const char *deadline_us = t->payment_deadline
                                ? arena_printf(ctx->arena, "%lld", (long long)pb_timestamp_us(t->payment_deadline))
                                : NULL;
  const char *params[] = {t->ticket_id,
                          *t->passenger_id ? t->passenger_id : NULL,
                          *t->user_id ? t->user_id : NULL,
                          arena_printf(ctx->arena, "%d", t->amount),
                          free_path ? "free" : t->payment_method,
                          free_path ? "COMPLETED" : "PENDING",
                          deadline_us,
                          payment_id_for(ctx, t->ticket_id)};
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO payments (payment_id, ticket_id, passenger_id, user_id, amount, method, status, "
                 "expires_at, completed_at) VALUES ($8::uuid, $1::uuid, $2::uuid, $3::uuid, "
                 "$4::int, $5, $6, " SQL_AT("$7") ", CASE WHEN $6 = 'COMPLETED' THEN now() END) "
                 "ON CONFLICT (ticket_id) DO NOTHING",
                 8, params);
}

static rpc_status store_link(rpc_ctx *ctx, const pm_row *row, const pay_link *link, const char *vnd_per_usd) {
  const char *params[] = {row->p->payment_id,
                          link->provider_ref,
                          link->payment_url,
                          link->approve_url,
                          link->qr_image_url,
                          link->vnp_create_date,
                          link->usd_cents ? arena_printf(ctx->arena, "%lld", (long long)link->usd_cents) : NULL,
                          link->usd_cents ? vnd_per_usd : NULL};
  return pg_exec(ctx->arena, NULL,
                 "UPDATE payments SET provider_ref = $2, payment_url = $3, approve_url = $4, qr_image_url = $5, "
                 "vnp_create_date = $6, amount_usd_cents = $7::bigint, vnd_per_usd = $8::int, updated_at = now() "
                 "WHERE payment_id = $1::uuid",
                 8, params);
}

static rpc_status publish_ready(rpc_ctx *ctx, const pm_row *row, const pay_link *link) {
  Metro__Events__V1__TicketPaymentReady ev = METRO__EVENTS__V1__TICKET_PAYMENT_READY__INIT;
  ev.ticket_id = row->p->ticket_id;
  ev.payment_id = row->p->payment_id;
  ev.payment_url = (char *)(link->payment_url ? link->payment_url : link->approve_url ? link->approve_url : "");
  ev.qr_image_url = (char *)(link->qr_image_url ? link->qr_image_url : "");
  return ev_publish(ctx->arena, "ticket.payment_ready", row->p->ticket_id, &ev.base, ctx->traceparent);
}

static rpc_status fail_preparation(rpc_ctx *ctx, pm_row *row, const char *why) {
  log_warn("payment %s for ticket %s cannot be prepared: %s", row->p->payment_id, row->p->ticket_id, why);
  static const pm_status from[] = {PM_PENDING};
  pm_change c = {.to = PM_FAILED, .failure_reason = why, .paid_amount = -1};
  bool won;
  rpc_status st = pm_transition(ctx, row, from, 1, &c, &won);
  if (!rpc_ok(st) || !won) return st;
  return pm_publish_status(ctx, row, why);
}

rpc_status pm_on_ticket_created(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketCreated *t = (const void *)ev->data;
  if (!t->ticket_id || !crypto_uuid_valid(t->ticket_id) || t->amount < 0 ||
      (*t->passenger_id && !crypto_uuid_valid(t->passenger_id)) || (*t->user_id && !crypto_uuid_valid(t->user_id)))
    return rpc_invalid(ctx->arena, "ticketId", "INVALID_EVENT", "ticket.created names no valid ticket");
  bool free_path = t->amount == 0 || strcmp(t->payment_method, "free") == 0 || strcmp(t->status, "pending_payment");
  const struct method *m = NULL;
  for (size_t i = 0; !free_path && i < sizeof methods / sizeof methods[0]; i++)
    if (strcmp(methods[i].name, t->payment_method) == 0) m = &methods[i];
  if (!free_path && !m)
    return rpc_invalid(ctx->arena, "paymentMethod", "INVALID_EVENT", "ticket.created has an unknown payment method");
  rpc_status st = insert_payment(ctx, t, free_path);
  if (!rpc_ok(st) || free_path) return st;
  pm_row *row;
  st = pm_find(ctx, "ticket_id", t->ticket_id, true, &row);
  if (!rpc_ok(st)) return st;
  if (!row || row->status != PM_PENDING || *row->p->provider_ref) return RPC_OK; /* prepared before */
  pay_link link = {0};
  st = m->prepare(ctx, row, t->payment_deadline ? t->payment_deadline->seconds : 0, &link);
  if (!rpc_ok(st)) return st;
  if (link.failure) return fail_preparation(ctx, row, link.failure);
  st = store_link(ctx, row, &link, arena_printf(ctx->arena, "%lld", (long long)pm_cfg(ctx)->vnd_per_usd));
  if (!rpc_ok(st)) return st;
  return publish_ready(ctx, row, &link);
}
