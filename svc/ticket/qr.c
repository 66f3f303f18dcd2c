/* The ticket's QR codes (domain spec §11): the signing key ring loaded from configuration,
 * the static token signed when a ticket becomes usable, the owner's rotating code, and the
 * public keys gates verify with (retired keys stay published while their tickets can tap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/b64.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "svc/ticket/ticket.h"

/* Reads a whole (small) file; NULL when unreadable. The caller frees. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(16385);
  size_t n = buf ? fread(buf, 1, 16384, f) : 0;
  fclose(f);
  if (!buf || n == 0 || n == 16384) {
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  return buf;
}

static bool add_key_file(gk_keyring *ring, const char *kid, const char *path, bool signing) {
  char *pem = slurp(path);
  char err[256] = "";
  bool ok = pem && gk_keyring_add_private_pem(ring, kid, pem, signing, err, sizeof err);
  if (pem) OPENSSL_cleanse(pem, strlen(pem));
  free(pem);
  if (!ok) log_error("QR key %s (%s): %s", kid, path, *err ? err : "unreadable");
  return ok;
}

bool tk_qr_load_keys(tk_state *s) {
  tk_settings *t = &s->settings;
  gk_keyring_init(&s->keys);
  if (!t->qr_key_file || !*t->qr_key_file) {
    log_error("METRO_QR_KEY_FILE is required: an Ed25519 PEM key (openssl genpkey -algorithm ed25519)");
    return false;
  }
  if (!add_key_file(&s->keys, t->qr_kid, t->qr_key_file, true)) return false;
  char *list = t->qr_previous_key_files && *t->qr_previous_key_files ? strdup(t->qr_previous_key_files) : NULL;
  char *save = NULL;
  bool ok = true;
  for (char *item = list ? strtok_r(list, ",", &save) : NULL; item && ok; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq) {
      log_error("METRO_QR_PREVIOUS_KEY_FILES: expected kid=path, got \"%s\"", item);
      ok = false;
      break;
    }
    *eq = '\0';
    ok = add_key_file(&s->keys, item, eq + 1, false);
  }
  free(list);
  return ok;
}

const gk_keyring *tk_keys(const rpc_ctx *ctx) { return &((const tk_state *)ctx->state)->keys; }

rpc_status tk_qr_issue(rpc_ctx *ctx, const Metro__Ticket__V1__Ticket *t, int64_t now_us, const char **token,
                       const char **kid) {
  const gk_keyring *ring = tk_keys(ctx);
  gk_payload p;
  memset(&p, 0, sizeof p);
  snprintf(p.tid, sizeof p.tid, "%s", t->ticket_id);
  snprintf(p.typ, sizeof p.typ, "%s", t->ticket_type);
  p.pax = t->total_passengers;
  snprintf(p.o, sizeof p.o, "%s", t->origin_station_id ? t->origin_station_id : "");
  snprintf(p.d, sizeof p.d, "%s", t->destination_station_id ? t->destination_station_id : "");
  p.iat = now_us / 1000000;
  char *out = arena_alloc(ctx->arena, GK_MAX_TOKEN_LEN + 1);
  if (ring->signing < 0 || !gk_token_sign(ring, &p, out, GK_MAX_TOKEN_LEN + 1))
    return rpc_internal("ticket: cannot sign a QR token");
  *token = out;
  *kid = ring->keys[ring->signing].kid;
  return RPC_OK;
}

const char *tk_qr_new_secret(rpc_ctx *ctx) {
  uint8_t secret[GK_SECRET_LEN];
  crypto_random_bytes(secret, sizeof secret);
  const char *literal = pg_bytea_literal(ctx->arena, secret, sizeof secret);
  OPENSSL_cleanse(secret, sizeof secret);
  return literal;
}

/* ---- handlers ---- */

/* The signing key and every retired key some still-usable ticket was signed with. */
rpc_status tk_get_gate_keys(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  const gk_keyring *ring = tk_keys(ctx);
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT DISTINCT qr_kid FROM tickets WHERE qr_kid IS NOT NULL "
                          "AND status NOT IN ('used', 'expired', 'cancelled', 'refunded')",
                          0, NULL);
  if (!rpc_ok(st)) return st;
  Metro__Ticket__V1__GateKeys *keys = RPC_NEW(ctx, Metro__Ticket__V1__GateKeys, metro__ticket__v1__gate_keys__init);
  keys->keys = arena_alloc(ctx->arena, sizeof *keys->keys * (size_t)(ring->n ? ring->n : 1));
  for (int i = 0; i < ring->n; i++) {
    bool in_use = i == ring->signing;
    for (int k = 0; k < PQntuples(r) && !in_use; k++) in_use = strcmp(PQgetvalue(r, k, 0), ring->keys[i].kid) == 0;
    if (!in_use) continue;
    Metro__Ticket__V1__GateKey *g = RPC_NEW(ctx, Metro__Ticket__V1__GateKey, metro__ticket__v1__gate_key__init);
    g->kty = "OKP";
    g->crv = "Ed25519";
    g->alg = "EdDSA";
    g->use = "sig";
    g->kid = (char *)ring->keys[i].kid;
    size_t cap = 64;
    char *x = arena_alloc(ctx->arena, cap);
    b64_encode(B64_URL_NOPAD, ring->keys[i].pub, 32, x, cap);
    g->x = x;
    keys->keys[keys->n_keys++] = g;
  }
  *out = &keys->base;
  return RPC_OK;
}

rpc_status tk_get_ticket_code(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__GetTicketCodeRequest *r = (const void *)msg;
  tk_row *row;
  rpc_status st = tk_ticket_get(ctx, r->ticket_id, false, &row);
  if (!rpc_ok(st)) return st;
  if (!row || !ctx->caller.user_id || strcmp(row->user_id, ctx->caller.user_id) != 0)
    return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "TICKET_NOT_FOUND", "no such ticket");
  bool usable = row->status == TK_ACTIVE || row->status == TK_INACTIVE || row->status == TK_ABUSED;
  if (!usable || !row->qr_token || !row->has_secret)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "TICKET_NOT_ACTIVE",
                     "a %s ticket has no code to show", tk_status_name(row->status));
  /* The current step, or the next one when the current step's code was used already (the
   * gate accepts now +-1 step, above the last counter used): so entry and exit within one
   * 30 s step each get a code of their own. */
  int64_t now_s = tk_now_us() / 1000000, counter = gk_counter_at(now_s);
  if (counter <= row->last_rotating_counter) counter = row->last_rotating_counter + 1;
  if (counter > gk_counter_at(now_s) + 1)
    return rpc_error(ctx->arena, GRPC_STATUS_UNAVAILABLE, "CODE_NOT_READY",
                     "this ticket's codes for now are used; the next one comes within 30 s");
  size_t cap = strlen(row->qr_token) + 32;
  char *code = arena_alloc(ctx->arena, cap);
  if (!gk_rotating_format(row->qr_token, row->secret, counter, code, cap))
    return rpc_internal("ticket: cannot format a rotating code");
  Metro__Ticket__V1__TicketCode *c = RPC_NEW(ctx, Metro__Ticket__V1__TicketCode, metro__ticket__v1__ticket_code__init);
  c->code = code;
  c->counter = counter;
  c->expire_time = pb_timestamp(ctx, (counter + 1) * GK_STEP_S * 1000000LL);
  *out = &c->base;
  return RPC_OK;
}
