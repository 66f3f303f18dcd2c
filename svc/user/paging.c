/* List queries of the user service: page size bounds, opaque keyset page tokens
 * (AIP-158) and the escaped ILIKE patterns of the name and email filters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/crypto.h"
#include "common/page_token.h"
#include "common/text.h"
#include "svc/user/user.h"

#define MAX_FILTER_CHARS 100

const char *user_like_contains(arena *a, const char *s) {
  size_t n = strlen(s);
  char *out = arena_alloc(a, 2 * n + 3), *o = out;
  *o++ = '%';
  for (const char *p = s; *p; p++) {
    if (*p == '\\' || *p == '%' || *p == '_') *o++ = '\\';
    *o++ = *p;
  }
  *o++ = '%';
  *o = '\0';
  return out;
}

const char *user_page_token(rpc_ctx *ctx, const char *kind, int64_t created_us, const char *id) {
  return page_token_make(ctx, kind, created_us, id);
}

/* "<kind>1:<digits>:<uuid>" back into its cursor; false for anything else. */
static bool token_decode(rpc_ctx *ctx, const char *kind, const char *token, user_list_query *q) {
  char buf[128];
  size_t n;
  if (strlen(token) > 160 || !b64_decode(B64_URL_NOPAD, token, strlen(token), buf, sizeof buf - 1, &n)) return false;
  buf[n] = '\0';
  size_t k = strlen(kind);
  if (strncmp(buf, kind, k) != 0 || strncmp(buf + k, "1:", 2) != 0) return false;
  char *digits = buf + k + 2, *colon = strchr(digits, ':');
  if (!colon || colon == digits || colon - digits > 18) return false;
  *colon = '\0';
  if (!text_only_chars(digits, "0123456789") || !crypto_uuid_valid(colon + 1)) return false;
  q->after_created_us = arena_strdup(ctx->arena, digits);
  q->after_id = arena_strdup(ctx->arena, colon + 1);
  return true;
}

static rpc_status filter_pattern(rpc_ctx *ctx, const char *field, const char *value, const char **out) {
  *out = NULL;
  if (!value || !*value) return RPC_OK;
  long chars = text_utf8_length(value);
  if (chars < 0 || chars > MAX_FILTER_CHARS || text_has_control(value))
    return rpc_invalid(ctx->arena, field, "INVALID_FILTER", "%s must be at most %d characters of text", field,
                       MAX_FILTER_CHARS);
  *out = user_like_contains(ctx->arena, value);
  return RPC_OK;
}

rpc_status user_list_query_parse(rpc_ctx *ctx, const char *kind, int32_t page_size, const char *page_token,
                                 const char *name, const char *email, user_list_query *q) {
  memset(q, 0, sizeof *q);
  if (page_size < 0) return rpc_invalid(ctx->arena, "pageSize", "INVALID_PAGE_SIZE", "pageSize must be >= 0");
  q->page_size = page_size == 0 ? USER_DEFAULT_PAGE_SIZE : page_size > USER_MAX_PAGE_SIZE ? USER_MAX_PAGE_SIZE : page_size;
  if (page_token && *page_token && !token_decode(ctx, kind, page_token, q))
    return rpc_invalid(ctx->arena, "pageToken", "INVALID_PAGE_TOKEN", "pageToken is not one this server issued");
  rpc_status st = filter_pattern(ctx, "name", name, &q->name_pattern);
  if (rpc_ok(st)) st = filter_pattern(ctx, "email", email, &q->email_pattern);
  return st;
}
