/* What a new API key may be: each field of CreateApiKey's ApiKey checked with an error that
 * names it ("apiKey.roles[1]"), the roles a key may act with, and the defaults. */
#include <string.h>

#include "common/pb_time.h"
#include "common/text.h"
#include "svc/auth/api_keys.h"
#include "svc/auth/auth.h"

/* RFC 3986 path characters without '%': a prefix is compared with paths as they are. */
#define PREFIX_CHARS                                                                         \
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/"
#define MAX_TIMESTAMP_S 253402300799LL /* 9999-12-31T23:59:59Z, as the JSON mapping allows */

/* Roles no key may hold: a key is a machine, never a rider, an administrator or a service. */
static const char *const excluded_roles[] = {"passenger", "admin", "service"};

static bool excluded(const char *role) {
  for (size_t i = 0; i < sizeof excluded_roles / sizeof excluded_roles[0]; i++)
    if (strcmp(role, excluded_roles[i]) == 0) return true;
  return false;
}

bool auth_api_key_role_allowed(const char *role) { return role && auth_role_known(role) && !excluded(role); }

static bool set(const char *s) { return s && *s; }

static rpc_status read_only(rpc_ctx *ctx, const char *field) {
  return rpc_invalid(ctx->arena, field, "FIELD_READ_ONLY", "%s is set by the server", field);
}

static rpc_status check_output_only(rpc_ctx *ctx, const Metro__Auth__V1__ApiKey *in) {
  if (set(in->name)) return read_only(ctx, "apiKey.name");
  if (set(in->key_id)) return read_only(ctx, "apiKey.keyId");
  if (set(in->created_by)) return read_only(ctx, "apiKey.createdBy");
  if (set(in->secret_prefix)) return read_only(ctx, "apiKey.secretPrefix");
  if (in->create_time) return read_only(ctx, "apiKey.createTime");
  if (in->revoke_time) return read_only(ctx, "apiKey.revokeTime");
  return RPC_OK;
}

static rpc_status check_display_name(rpc_ctx *ctx, const char *name) {
  const char *f = "apiKey.displayName";
  if (!set(name) || strspn(name, " ") == strlen(name))
    return rpc_invalid(ctx->arena, f, "FIELD_REQUIRED", "%s is required", f);
  long n = text_utf8_length(name);
  if (n < 1 || n > AUTH_API_KEY_MAX_NAME || text_has_control(name))
    return rpc_invalid(ctx->arena, f, "INVALID_DISPLAY_NAME", "%s must be 1-%d characters without control characters",
                       f, AUTH_API_KEY_MAX_NAME);
  return RPC_OK;
}

static rpc_status check_roles(rpc_ctx *ctx, char *const *roles, size_t n) {
  if (n == 0)
    return rpc_invalid(ctx->arena, "apiKey.roles", "FIELD_REQUIRED",
                       "apiKey.roles is required: the roles the key acts with (staff, gate)");
  if (n > AUTH_API_KEY_MAX_ROLES)
    return rpc_invalid(ctx->arena, "apiKey.roles", "INVALID_ROLES", "apiKey.roles holds at most %d roles",
                       AUTH_API_KEY_MAX_ROLES);
  for (size_t i = 0; i < n; i++) {
    const char *f = arena_printf(ctx->arena, "apiKey.roles[%zu]", i);
    if (excluded(roles[i]))
      return rpc_invalid(ctx->arena, f, "ROLE_NOT_ALLOWED", "%s: a key may not act as %s (only staff or gate)", f,
                         roles[i]);
    if (!auth_api_key_role_allowed(roles[i]))
      return rpc_invalid(ctx->arena, f, "INVALID_ROLES", "%s is not a role (a key may act as staff or gate)", f);
    for (size_t k = 0; k < i; k++)
      if (strcmp(roles[i], roles[k]) == 0)
        return rpc_invalid(ctx->arena, f, "INVALID_ROLES", "%s repeats %s", f, roles[i]);
  }
  return RPC_OK;
}

/* A prefix in canonical form: "/v1/...", path characters, no empty, "." or ".." segment. */
static bool prefix_ok(const char *p) {
  size_t len = strlen(p);
  if (len > AUTH_API_KEY_MAX_PREFIX_LEN || strncmp(p, "/v1/", 4) != 0 || !text_only_chars(p, PREFIX_CHARS))
    return false;
  if (strstr(p, "//")) return false;
  for (const char *s = strstr(p, "/."); s; s = strstr(s + 1, "/.")) {
    const char *end = s[2] == '.' ? s + 3 : s + 2;
    if (*end == '/' || *end == '\0') return false;
  }
  return true;
}

static rpc_status check_prefixes(rpc_ctx *ctx, char *const *prefixes, size_t n) {
  if (n > AUTH_API_KEY_MAX_PREFIXES)
    return rpc_invalid(ctx->arena, "apiKey.routePrefixes", "INVALID_ROUTE_PREFIXES",
                       "apiKey.routePrefixes holds at most %d prefixes", AUTH_API_KEY_MAX_PREFIXES);
  for (size_t i = 0; i < n; i++) {
    const char *f = arena_printf(ctx->arena, "apiKey.routePrefixes[%zu]", i);
    if (!prefixes[i] || !prefix_ok(prefixes[i]))
      return rpc_invalid(ctx->arena, f, "INVALID_ROUTE_PREFIX",
                         "%s must start with /v1/ and be at most %d characters of a path (no %%, ?, #, "
                         "empty, . or .. segments)",
                         f, AUTH_API_KEY_MAX_PREFIX_LEN);
    for (size_t k = 0; k < i; k++)
      if (strcmp(prefixes[i], prefixes[k]) == 0)
        return rpc_invalid(ctx->arena, f, "INVALID_ROUTE_PREFIX", "%s repeats an earlier prefix", f);
  }
  return RPC_OK;
}

static rpc_status check_expire(rpc_ctx *ctx, const Google__Protobuf__Timestamp *t, int64_t now_us, int64_t *out) {
  *out = 0;
  if (!t) return RPC_OK;
  const char *f = "apiKey.expireTime";
  if (t->nanos < 0 || t->nanos > 999999999 || t->seconds < 0 || t->seconds > MAX_TIMESTAMP_S)
    return rpc_invalid(ctx->arena, f, "INVALID_EXPIRE_TIME", "%s is not a valid time", f);
  int64_t us = pb_timestamp_us(t);
  if (us <= now_us) return rpc_invalid(ctx->arena, f, "INVALID_EXPIRE_TIME", "%s must be in the future", f);
  *out = us;
  return RPC_OK;
}

rpc_status auth_api_key_validate_new(rpc_ctx *ctx, const Metro__Auth__V1__ApiKey *in, int64_t now_us,
                                     auth_api_key *out) {
  memset(out, 0, sizeof *out);
  if (!in) return rpc_invalid(ctx->arena, "apiKey", "FIELD_REQUIRED", "apiKey is required");
  rpc_status st;
  if (!rpc_ok(st = check_output_only(ctx, in)) || !rpc_ok(st = check_display_name(ctx, in->display_name)) ||
      !rpc_ok(st = check_roles(ctx, in->roles, in->n_roles)) ||
      !rpc_ok(st = check_prefixes(ctx, in->route_prefixes, in->n_route_prefixes)) ||
      !rpc_ok(st = check_expire(ctx, in->expire_time, now_us, &out->expire_us)))
    return st;
  if (in->rate_limit_per_minute < 0 || in->rate_limit_per_minute > AUTH_API_KEY_MAX_RATE)
    return rpc_invalid(ctx->arena, "apiKey.rateLimitPerMinute", "INVALID_RATE_LIMIT",
                       "apiKey.rateLimitPerMinute must be 1-%d (0 or unset = %d)", AUTH_API_KEY_MAX_RATE,
                       AUTH_API_KEY_DEFAULT_RATE);
  out->display_name = in->display_name;
  out->roles = (const char *const *)in->roles;
  out->n_roles = (int)in->n_roles;
  out->route_prefixes = (const char *const *)in->route_prefixes;
  out->n_route_prefixes = (int)in->n_route_prefixes;
  out->rate_limit_per_minute = in->rate_limit_per_minute ? in->rate_limit_per_minute : AUTH_API_KEY_DEFAULT_RATE;
  return RPC_OK;
}
