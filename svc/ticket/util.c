/* Small helpers every ticket module shares: clocks and the local calendar, timestamps,
 * UUIDs, ending a transaction, and the catalog.changed event. */
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "common/rpc_client.h"
#include "common/text.h"
#include "metro/events/v1/network_events.pb-c.h"
#include "svc/ticket/ticket.h"

#define LOCAL_UTC_OFFSET_S (7 * 3600) /* Asia/Ho_Chi_Minh has no daylight saving */

int64_t tk_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long tk_local_day(int64_t us) {
  int64_t s = us / 1000000 + LOCAL_UTC_OFFSET_S;
  return (long)(s >= 0 ? s / 86400 : -((-s + 86399) / 86400));
}

int tk_local_seconds(int64_t us) {
  int64_t s = us / 1000000 + LOCAL_UTC_OFFSET_S;
  return (int)(((s % 86400) + 86400) % 86400);
}

bool tk_is_slug(const char *s) {
  size_t n = s ? strlen(s) : 0;
  return n > 0 && n <= 64 && text_only_chars(s, "abcdefghijklmnopqrstuvwxyz0123456789-");
}

bool tk_is_token(const char *s, size_t max) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0x21 || s[i] > 0x7e) return false;
  return true;
}

const char *tk_uuid(rpc_ctx *ctx) {
  char *out = arena_alloc(ctx->arena, CRYPTO_UUID_LEN + 1);
  crypto_uuid_v4(out);
  return out;
}

bool tk_is_uuid(const char *s) { return s && crypto_uuid_valid(s); }

rpc_status tk_finish_tx(rpc_ctx *ctx, rpc_status st) {
  if (rpc_ok(st)) return pg_commit(ctx->arena);
  pg_rollback();
  return st;
}

rpc_status tk_publish_catalog_changed(rpc_ctx *ctx, const char *entity, const char *id) {
  Metro__Events__V1__CatalogChanged ev = METRO__EVENTS__V1__CATALOG_CHANGED__INIT;
  ev.entity = (char *)entity;
  ev.id = (char *)(id ? id : "");
  return ev_publish(ctx->arena, "catalog.changed", id && *id ? id : entity, &ev.base, ctx->traceparent);
}

rpc_status tk_call(rpc_ctx *ctx, const char *addr, const char *method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *resp_type, ProtobufCMessage **resp) {
  rpc_channel *ch = rpc_channel_get(addr);
  if (!ch) return rpc_internal("ticket: no channel");
  rpc_call_meta meta = rpc_meta_from_ctx(ctx);
  return rpc_call_unary(ch, ctx->arena, method, &meta, req, resp_type, resp, (int)tk_cfg(ctx)->call_timeout_ms,
                        ctx->deadline_ms);
}

/* Lines come in pages of at most 100; a network has far fewer. */
rpc_status tk_transport_lines(rpc_ctx *ctx, Metro__Transport__V1__ListLinesResponse **out) {
  Metro__Transport__V1__ListLinesRequest req = METRO__TRANSPORT__V1__LIST_LINES_REQUEST__INIT;
  req.page_size = 100;
  ProtobufCMessage *m;
  rpc_status st = tk_call(ctx, tk_cfg(ctx)->transport_addr, "/metro.transport.v1.TransportService/ListLines",
                          &req.base, &metro__transport__v1__list_lines_response__descriptor, &m);
  if (rpc_ok(st)) *out = (Metro__Transport__V1__ListLinesResponse *)m;
  return st;
}

size_t tk_text_array(rpc_ctx *ctx, const char *text, const char ***out) {
  enum { MAX_ITEMS = 64 };
  const char **items = arena_alloc(ctx->arena, sizeof *items * MAX_ITEMS);
  size_t n = 0, len = text ? strlen(text) : 0;
  if (len >= 2 && text[0] == '{' && text[len - 1] == '}') {
    char *body = arena_strndup(ctx->arena, text + 1, len - 2);
    char *save = NULL;
    for (char *tok = strtok_r(body, ",", &save); tok && n < MAX_ITEMS; tok = strtok_r(NULL, ",", &save)) {
      size_t tl = strlen(tok);
      if (tl >= 2 && tok[0] == '"' && tok[tl - 1] == '"') tok = arena_strndup(ctx->arena, tok + 1, tl - 2);
      items[n++] = tok;
    }
  }
  *out = items;
  return n;
}
