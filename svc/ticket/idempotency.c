/* Idempotency-Key of purchases (domain spec §9): a key is claimed per account inside the
 * purchase transaction, with the hash of the request and, once the ticket exists, its first
 * answer. A retry with the same body gets that answer; another body gets 409. Keys live 24 h. */
#include <string.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "svc/ticket/ticket.h"

#define MAX_KEY_LEN 128

rpc_status tk_idem_prepare(rpc_ctx *ctx, const char *key, const ProtobufCMessage *request, tk_idem *out) {
  memset(out, 0, sizeof *out);
  if (!key) return RPC_OK;
  if (!tk_is_token(key, MAX_KEY_LEN))
    return rpc_invalid(ctx->arena, "Idempotency-Key", "INVALID_IDEMPOTENCY_KEY",
                       "Idempotency-Key must be 1-%d printable ASCII characters without spaces", MAX_KEY_LEN);
  /* protobuf-c packs fields in number order, so equal requests hash equally whatever the
   * order of the JSON members they came from. */
  size_t len = protobuf_c_message_get_packed_size(request);
  uint8_t *packed = arena_alloc(ctx->arena, len ? len : 1);
  protobuf_c_message_pack(request, packed);
  crypto_sha256(packed, len, out->hash);
  out->key = key;
  return RPC_OK;
}

static const Metro__Ticket__V1__Ticket *unpack_answer(rpc_ctx *ctx, const char *hex_bytea) {
  size_t len = 0;
  unsigned char *raw = PQunescapeBytea((const unsigned char *)hex_bytea, &len);
  if (!raw) return NULL;
  ProtobufCMessage *m = protobuf_c_message_unpack(&metro__ticket__v1__ticket__descriptor, &ctx->alloc, len, raw);
  PQfreemem(raw);
  return (const Metro__Ticket__V1__Ticket *)m;
}

/* The answer a live claim holds: same request -> *replay (NULL while the first purchase has
 * not committed one), another request -> IDEMPOTENCY_KEY_REUSED; *found false when none. */
static rpc_status stored_answer(rpc_ctx *ctx, const char *const params[3], bool *found,
                                Metro__Ticket__V1__Ticket **replay) {
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT request_hash = $3::bytea, response FROM idempotency_keys WHERE user_id = $1::uuid "
                          "AND key = $2 AND created_at >= now() - interval '24 hours'",
                          3, params);
  *found = rpc_ok(st) && PQntuples(r) == 1;
  if (!*found) return st;
  if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "IDEMPOTENCY_KEY_REUSED",
                     "this Idempotency-Key was used for a different purchase");
  if (PQgetlength(r, 0, 1) <= 2) return RPC_OK; /* "\x": claimed, not answered yet */
  const Metro__Ticket__V1__Ticket *t = unpack_answer(ctx, PQgetvalue(r, 0, 1));
  if (!t || !t->ticket_id || !*t->ticket_id) return rpc_internal("ticket: a stored idempotent answer does not decode");
  *replay = (Metro__Ticket__V1__Ticket *)t;
  return RPC_OK;
}

rpc_status tk_idem_lookup(rpc_ctx *ctx, const char *user_id, const tk_idem *k, Metro__Ticket__V1__Ticket **replay) {
  *replay = NULL;
  if (!k->key || !user_id) return RPC_OK;
  const char *params[] = {user_id, k->key, pg_bytea_literal(ctx->arena, k->hash, sizeof k->hash)};
  bool found;
  return stored_answer(ctx, params, &found, replay);
}

static const char *packed_answer(rpc_ctx *ctx, const Metro__Ticket__V1__Ticket *t) {
  size_t len = protobuf_c_message_get_packed_size(&t->base);
  uint8_t *packed = arena_alloc(ctx->arena, len ? len : 1);
  protobuf_c_message_pack(&t->base, packed);
  return pg_bytea_literal(ctx->arena, packed, len);
}

rpc_status tk_idem_claim(rpc_ctx *ctx, const char *user_id, const tk_idem *k, const Metro__Ticket__V1__Ticket *t,
                         Metro__Ticket__V1__Ticket **replay) {
  *replay = NULL;
  if (!k->key) return RPC_OK;
  const char *hash = pg_bytea_literal(ctx->arena, k->hash, sizeof k->hash);
  const char *params[] = {user_id, k->key, hash, t->ticket_id, packed_answer(ctx, t)};
  PGresult *r;
  /* One statement: a new claim carries its answer; an expired one is taken over; a live one
   * (committed by an earlier purchase, or awaited while a concurrent one commits) is left. */
  rpc_status st = pg_exec(ctx->arena, &r,
                          "INSERT INTO idempotency_keys (user_id, key, request_hash, ticket_id, response) "
                          "VALUES ($1::uuid, $2, $3::bytea, $4::uuid, $5::bytea) "
                          "ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, "
                          "ticket_id = EXCLUDED.ticket_id, response = EXCLUDED.response, created_at = now() "
                          "WHERE idempotency_keys.created_at < now() - interval '24 hours' RETURNING 1",
                          5, params);
  if (!rpc_ok(st) || PQntuples(r) == 1) return st;
  /* The claim committed by another purchase is visible now (read committed). */
  bool found;
  st = stored_answer(ctx, params, &found, replay);
  if (rpc_ok(st) && (!found || !*replay))
    return rpc_error(ctx->arena, GRPC_STATUS_ABORTED, "CONCURRENT_UPDATE", "the Idempotency-Key moved; try again");
  return st;
}
