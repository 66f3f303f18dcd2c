/* Keyset page tokens (AIP-158) for every list method: the last row's creation time and id,
 * base64url-encoded with a kind tag, and the page-size bounds, validated in one place. */
#include "common/page_token.h"

#include <string.h>

#include "common/b64.h"
#include "common/crypto.h"
#include "common/text.h"

#define TOKEN_MAX 160

const char *page_token_make(rpc_ctx *ctx, const char *kind, int64_t created_us, const char *id) {
  const char *raw = arena_printf(ctx->arena, "%s1:%lld:%s", kind, (long long)created_us, id);
  size_t cap = b64_encoded_len(B64_URL_NOPAD, strlen(raw)) + 1;
  char *out = arena_alloc(ctx->arena, cap);
  b64_encode(B64_URL_NOPAD, raw, strlen(raw), out, cap);
  return out;
}

static bool token_decode(rpc_ctx *ctx, const char *kind, const char *token, bool (*id_valid)(const char *),
                         page_cursor *c) {
  char buf[TOKEN_MAX];
  size_t n, k = strlen(kind);
  if (strlen(token) > TOKEN_MAX || !b64_decode(B64_URL_NOPAD, token, strlen(token), buf, sizeof buf - 1, &n))
    return false;
  buf[n] = '\0';
  if (strncmp(buf, kind, k) != 0 || strncmp(buf + k, "1:", 2) != 0) return false;
  char *digits = buf + k + 2, *colon = strchr(digits, ':');
  if (!colon || colon == digits || colon - digits > 18) return false;
  *colon = '\0';
  if (!text_only_chars(digits, "0123456789") || !id_valid(colon + 1)) return false;
  c->after_us = arena_strdup(ctx->arena, digits);
  c->after_id = arena_strdup(ctx->arena, colon + 1);
  return true;
}

rpc_status page_cursor_parse_ids(rpc_ctx *ctx, const char *kind, int32_t page_size, const char *page_token,
                                 int default_size, int max_size, bool (*id_valid)(const char *id),
                                 page_cursor *out) {
  memset(out, 0, sizeof *out);
  if (page_size < 0 || page_size > max_size)
    return rpc_invalid(ctx->arena, "pageSize", "INVALID_PAGE_SIZE", "pageSize must be 0-%d", max_size);
  out->page_size = page_size ? page_size : default_size;
  if (page_token && *page_token && !token_decode(ctx, kind, page_token, id_valid, out))
    return rpc_invalid(ctx->arena, "pageToken", "INVALID_PAGE_TOKEN", "pageToken is not one this list issued");
  return RPC_OK;
}

rpc_status page_cursor_parse(rpc_ctx *ctx, const char *kind, int32_t page_size, const char *page_token,
                             int default_size, int max_size, page_cursor *out) {
  return page_cursor_parse_ids(ctx, kind, page_size, page_token, default_size, max_size, crypto_uuid_valid, out);
}
