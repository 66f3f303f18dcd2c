/* ListCallbacks (admin): the callback log newest first, the accepted callbacks or the rejected
 * ones, optionally one provider's, in keyset pages (common/page_token.h, kind "cb"). */
#include <stdlib.h>
#include <string.h>

#include "common/page_token.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "svc/webhook/webhook.h"

#define DEFAULT_PAGE 20
#define MAX_PAGE 100
#define TOKEN_KIND "cb"
/* raw_payload is cut to this many characters in a list (at most 32 KiB a row), so a page of
 * 100 stays well inside a gRPC message. */
#define LIST_RAW_CHARS "8192"

/* Both queries answer callback_id and received_at (µs) first: the page token's columns. */
typedef struct list_source {
  const char *sql;
  void (*row)(rpc_ctx *ctx, const PGresult *r, int i, Metro__Webhook__V1__Callback *c);
} list_source;

static char *cell(rpc_ctx *ctx, const PGresult *r, int i, int col) {
  const char *v = pg_value(r, i, col);
  return arena_strdup(ctx->arena, v ? v : "");
}

static void accepted_row(rpc_ctx *ctx, const PGresult *r, int i, Metro__Webhook__V1__Callback *c) {
  c->provider = cell(ctx, r, i, 2);
  c->provider_event_id = cell(ctx, r, i, 3);
  c->event_type = cell(ctx, r, i, 4);
  c->payment_ref = cell(ctx, r, i, 5);
  c->answer_code = cell(ctx, r, i, 6);
  c->raw_payload = cell(ctx, r, i, 7);
  c->signature_valid = true;
  c->verdict = (char *)"accepted";
}

static void rejected_row(rpc_ctx *ctx, const PGresult *r, int i, Metro__Webhook__V1__Callback *c) {
  const char *reason = cell(ctx, r, i, 4);
  c->provider = cell(ctx, r, i, 2);
  c->provider_event_id = (char *)"";
  c->event_type = cell(ctx, r, i, 3);
  c->raw_payload = cell(ctx, r, i, 5);
  c->payment_ref = (char *)"";
  c->answer_code = (char *)"";
  c->signature_valid = wh_reason_authentic(reason);
  c->verdict = arena_printf(ctx->arena, "rejected: %s", reason);
}

static const list_source sources[] = {
    {"SELECT callback_id, " SQL_US("received_at") ", provider, provider_event_id, event_type, "
     "COALESCE(payment_ref, ''), COALESCE(answer_code, ''), left(raw_text, " LIST_RAW_CHARS ") FROM callbacks "
     "WHERE ($1::text IS NULL OR provider = $1) "
     "AND ($2::bigint IS NULL OR (received_at, callback_id) < (" SQL_AT("$2") ", $3::uuid)) "
     "ORDER BY received_at DESC, callback_id DESC LIMIT $4::int",
     accepted_row},
    {"SELECT callback_id, " SQL_US("received_at") ", provider, COALESCE(event_type, ''), reason, "
     "left(raw_text, " LIST_RAW_CHARS ") FROM rejected_callbacks "
     "WHERE ($1::text IS NULL OR provider = $1) "
     "AND ($2::bigint IS NULL OR (received_at, callback_id) < (" SQL_AT("$2") ", $3::uuid)) "
     "ORDER BY received_at DESC, callback_id DESC LIMIT $4::int",
     rejected_row},
};

static bool known_provider(const char *s) {
  static const char *const names[] = {"vnpay", "paypal", "sepay"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(s, names[i]) == 0) return true;
  return false;
}

rpc_status wh_list_callbacks(rpc_ctx *ctx, const ProtobufCMessage *request, ProtobufCMessage **out) {
  const Metro__Webhook__V1__ListCallbacksRequest *q = (const Metro__Webhook__V1__ListCallbacksRequest *)request;
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, TOKEN_KIND, q->page_size, q->page_token, DEFAULT_PAGE, MAX_PAGE, &cur);
  if (!rpc_ok(st)) return st;
  const char *provider = q->provider && *q->provider ? q->provider : NULL;
  if (provider && !known_provider(provider))
    return rpc_invalid(ctx->arena, "provider", "INVALID_PROVIDER", "provider must be vnpay, paypal or sepay");

  const list_source *src = &sources[q->rejected ? 1 : 0];
  const char *params[] = {provider, cur.after_us, cur.after_id, arena_printf(ctx->arena, "%d", cur.page_size + 1)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r, src->sql, 4, params);
  if (!rpc_ok(st)) return st;

  int n = PQntuples(r), shown = n > cur.page_size ? cur.page_size : n;
  Metro__Webhook__V1__ListCallbacksResponse *resp =
      RPC_NEW(ctx, Metro__Webhook__V1__ListCallbacksResponse, metro__webhook__v1__list_callbacks_response__init);
  resp->callbacks = arena_alloc(ctx->arena, sizeof *resp->callbacks * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) {
    Metro__Webhook__V1__Callback *c = RPC_NEW(ctx, Metro__Webhook__V1__Callback, metro__webhook__v1__callback__init);
    c->callback_id = cell(ctx, r, i, 0);
    c->received_at = pb_timestamp(ctx, strtoll(pg_value(r, i, 1), NULL, 10));
    src->row(ctx, r, i, c);
    resp->callbacks[resp->n_callbacks++] = c;
  }
  resp->next_page_token = (char *)"";
  if (n > shown) {
    const Metro__Webhook__V1__Callback *last = resp->callbacks[shown - 1];
    resp->next_page_token =
        (char *)page_token_make(ctx, TOKEN_KIND, pb_timestamp_us(last->received_at), last->callback_id);
  }
  *out = &resp->base;
  return RPC_OK;
}
