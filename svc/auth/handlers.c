/* The auth service's gRPC handlers and their table: each validates its request, calls
 * the account and session stores inside a transaction, and publishes events through the
 * outbox (common/events.h) in that same transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/crypto.h"
#include "common/events.h"
#include "common/log.h"
#include "common/password.h"
#include "common/pg.h"
#include "common/rate_limit.h"
#include "metro/events/v1/identity_events.pb-c.h"
#include "svc/auth/api_keys.h"
#include "svc/auth/auth.h"

#define ACCEPTED_MESSAGE "If an account matches, a message is on its way."
#define MAX_PAGE_SIZE 100
#define DEFAULT_PAGE_SIZE 20

static const char *or_null(const char *s) { return s && *s ? s : NULL; }

/* GCRA per client IP (ctx->client_ip: the gateway's signed address, else the direct caller's
 * peer) and action: METRO_AUTH_RATE_LIMIT_PER_MINUTE a minute sustained, with a burst of a
 * quarter of it (at least 1), so a mistyped password can be retried at once while any minute
 * sees at most 1.25 times the limit, wherever it starts. Fails open when Redis is down. */
static rpc_status rate_limit(rpc_ctx *ctx, const char *action) {
  const auth_state *s = ctx->state;
  int64_t limit = s->settings.rate_limit_per_minute;
  if (limit <= 0) return RPC_OK;
  const rate_limit_rule rule = {.name = arena_printf(ctx->arena, "auth.%s", action), .limit = limit,
                                .period_ms = 60000, .burst = limit / 4 > 0 ? limit / 4 : 1};
  rate_limit_result rl;
  rate_limit_check(ctx->arena, &rule, ctx->client_ip, 1, &rl);
  if (rl.allowed) return RPC_OK;
  rpc_status st = rpc_error(ctx->arena, GRPC_STATUS_RESOURCE_EXHAUSTED, "RATE_LIMITED",
                            "too many attempts from this address, try again later");
  st.retry_after = (rl.retry_after_ms + 999) / 1000;
  if (st.retry_after < 1) st.retry_after = 1;
  return st;
}

static rpc_status hash_password(rpc_ctx *ctx, const char *password, const char **out) {
  const auth_state *s = ctx->state;
  char buf[PASSWORD_HASH_MAX];
  if (!password_hash(password, (int)s->settings.scrypt_ln, (int)s->settings.scrypt_r, (int)s->settings.scrypt_p, buf,
                     sizeof buf))
    return rpc_internal("password hashing failed");
  *out = arena_strdup(ctx->arena, buf);
  return RPC_OK;
}

/* Commits when st is OK, rolls back otherwise; returns the outcome. */
static rpc_status finish_tx(rpc_ctx *ctx, rpc_status st) {
  if (rpc_ok(st)) return pg_commit(ctx->arena);
  pg_rollback();
  return st;
}

static char *text_or_empty(const char *s) { return (char *)(s ? s : ""); }

static rpc_status emit_user_created(rpc_ctx *ctx, const auth_account *acc, const auth_new_account *n) {
  Metro__Events__V1__UserCreated *e = RPC_NEW(ctx, Metro__Events__V1__UserCreated, metro__events__v1__user_created__init);
  e->user_id = (char *)acc->user_id;
  e->email = (char *)acc->email;
  e->username = (char *)acc->username;
  e->roles = (char **)acc->roles;
  e->n_roles = (size_t)acc->n_roles;
  e->first_name = (char *)acc->first_name;
  e->last_name = (char *)acc->last_name;
  e->phone_number = text_or_empty(n->phone_number);
  e->date_of_birth = text_or_empty(n->date_of_birth);
  e->gender = text_or_empty(n->gender);
  e->address = text_or_empty(n->address);
  e->is_verified = acc->is_verified;
  return ev_publish(ctx->arena, "user.created", acc->user_id, &e->base, ctx->traceparent);
}

/* A one-time token and the event that mails its link (verification or reset). */
static rpc_status send_link(rpc_ctx *ctx, const auth_account *acc, bool reset) {
  const auth_state *s = ctx->state;
  const char *token;
  rpc_status st = auth_one_time_create(ctx, acc->user_id, reset ? "reset_password" : "verify_email",
                                       reset ? s->settings.reset_ttl_s : s->settings.verify_ttl_s, true, &token);
  if (!rpc_ok(st)) return st;
  const char *url = arena_printf(ctx->arena, "%s/%s?token=%s", s->settings.frontend_url,
                                 reset ? "reset-password" : "verify-email", token);
  if (reset) {
    Metro__Events__V1__PasswordResetRequested *e =
        RPC_NEW(ctx, Metro__Events__V1__PasswordResetRequested, metro__events__v1__password_reset_requested__init);
    e->user_id = (char *)acc->user_id;
    e->email = (char *)acc->email;
    e->first_name = (char *)acc->first_name;
    e->last_name = (char *)(acc->last_name ? acc->last_name : "");
    e->reset_url = (char *)url;
    return ev_publish(ctx->arena, "auth.password_reset_requested", acc->user_id, &e->base, ctx->traceparent);
  }
  Metro__Events__V1__VerificationRequested *e =
      RPC_NEW(ctx, Metro__Events__V1__VerificationRequested, metro__events__v1__verification_requested__init);
  e->user_id = (char *)acc->user_id;
  e->email = (char *)acc->email;
  e->first_name = (char *)acc->first_name;
  e->last_name = (char *)(acc->last_name ? acc->last_name : "");
  e->verify_url = (char *)url;
  return ev_publish(ctx->arena, "auth.verification_requested", acc->user_id, &e->base, ctx->traceparent);
}

static rpc_status emit_user_login(rpc_ctx *ctx, const auth_account *acc) {
  Metro__Events__V1__UserLogin *e = RPC_NEW(ctx, Metro__Events__V1__UserLogin, metro__events__v1__user_login__init);
  e->user_id = (char *)acc->user_id;
  e->roles = (char **)acc->roles;
  e->n_roles = (size_t)acc->n_roles;
  return ev_publish(ctx->arena, "user.login", acc->user_id, &e->base, ctx->traceparent);
}

static rpc_status sign_up(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__SignUpRequest *r = (const void *)msg;
  rpc_status st = auth_validate_sign_up(ctx, r);
  if (!rpc_ok(st) || !rpc_ok(st = rate_limit(ctx, "signup"))) return st;
  auth_account existing;
  bool found;
  /* Cheap early answer before the expensive hash; the unique index still decides races. */
  if (!rpc_ok(st = auth_account_by_email(ctx, r->email, &existing, &found))) return st;
  if (found)
    return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "EMAIL_TAKEN", "an account with this email already exists");
  const char *roles[1] = {"passenger"};
  auth_new_account n = {.email = r->email, .username = r->username, .first_name = r->first_name,
                        .last_name = r->last_name, .phone_number = or_null(r->phone_number),
                        .date_of_birth = or_null(r->date_of_birth), .gender = or_null(r->gender),
                        .address = or_null(r->address), .roles = roles, .n_roles = 1};
  if (!rpc_ok(st = hash_password(ctx, r->password, &n.password_hash))) return st;
  auth_account acc;
  Metro__Auth__V1__Session *session = NULL;
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  st = auth_account_insert(ctx, &n, &acc);
  if (rpc_ok(st)) st = emit_user_created(ctx, &acc, &n);
  if (rpc_ok(st)) st = send_link(ctx, &acc, false);
  if (rpc_ok(st)) st = auth_session_start(ctx, &acc, &session);
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &session->base;
  return st;
}

static const char *login_name(const Metro__Auth__V1__LoginRequest *r) {
  if (r->login && *r->login) return r->login;
  if (r->email && *r->email) return r->email;
  return r->username;
}

static rpc_status invalid_credentials(rpc_ctx *ctx) {
  return rpc_error(ctx->arena, GRPC_STATUS_UNAUTHENTICATED, "INVALID_CREDENTIALS", "invalid login or password");
}

static rpc_status locked(rpc_ctx *ctx, int64_t seconds) {
  rpc_status st = rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "ACCOUNT_LOCKED",
                            "too many failed logins; the account is locked");
  st.retry_after = seconds;
  return st;
}

static rpc_status login(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__LoginRequest *r = (const void *)msg;
  const auth_state *s = ctx->state;
  const char *name = login_name(r);
  if (!name || !*name || strlen(name) > 254)
    return rpc_invalid(ctx->arena, "login", "FIELD_REQUIRED", "login (email or username) is required");
  if (!r->password || !*r->password || strlen(r->password) > PASSWORD_MAX_BYTES)
    return rpc_invalid(ctx->arena, "password", "FIELD_REQUIRED", "password is required");
  rpc_status st = rate_limit(ctx, "login");
  if (!rpc_ok(st)) return st;
  auth_account acc;
  bool found;
  if (!rpc_ok(st = auth_account_by_login(ctx, name, &acc, &found))) return st;
  if (!found) {
    password_verify(r->password, s->dummy_hash); /* same work as a real check */
    return invalid_credentials(ctx);
  }
  if (acc.locked_for_s > 0) return locked(ctx, acc.locked_for_s); /* password not checked, lock not extended */
  if (!password_verify(r->password, acc.password_hash)) {
    int64_t locked_for = 0;
    if (!rpc_ok(st = auth_account_record_failure(ctx, acc.user_id, &locked_for))) return st;
    return locked_for > 0 ? locked(ctx, locked_for) : invalid_credentials(ctx);
  }
  if (!acc.is_active)
    return rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "ACCOUNT_DISABLED", "this account is disabled");
  if (password_needs_rehash(acc.password_hash, (int)s->settings.scrypt_ln, (int)s->settings.scrypt_r,
                            (int)s->settings.scrypt_p)) {
    const char *rehashed;
    if (rpc_ok(hash_password(ctx, r->password, &rehashed))) auth_account_set_password(ctx, acc.user_id, rehashed, false);
  }
  Metro__Auth__V1__Session *session = NULL;
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  st = auth_account_record_login(ctx, acc.user_id);
  if (rpc_ok(st)) st = emit_user_login(ctx, &acc);
  if (rpc_ok(st)) st = auth_session_start(ctx, &acc, &session);
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &session->base;
  return st;
}

static rpc_status refresh_session(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__RefreshSessionRequest *r = (const void *)msg;
  if (!r->refresh_token || !*r->refresh_token)
    return rpc_invalid(ctx->arena, "refreshToken", "FIELD_REQUIRED", "refreshToken is required");
  Metro__Auth__V1__Session *session = NULL;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = auth_session_refresh(ctx, r->refresh_token, &session);
  /* A detected reuse revokes the family even though the call fails: keep that write. */
  if (!rpc_ok(st) && st.reason && strcmp(st.reason, "REFRESH_TOKEN_REUSED") == 0) {
    rpc_status committed = pg_commit(ctx->arena);
    return rpc_ok(committed) ? st : committed;
  }
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &session->base;
  return st;
}

static ProtobufCMessage *empty(rpc_ctx *ctx) {
  return &RPC_NEW(ctx, Google__Protobuf__Empty, google__protobuf__empty__init)->base;
}

static rpc_status logout(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__LogoutRequest *r = (const void *)msg;
  if (!r->refresh_token || !*r->refresh_token)
    return rpc_invalid(ctx->arena, "refreshToken", "FIELD_REQUIRED", "refreshToken is required");
  rpc_status st = auth_session_logout(ctx, r->refresh_token);
  if (rpc_ok(st)) *out = empty(ctx);
  return st;
}

static rpc_status caller_account(rpc_ctx *ctx, auth_account *acc) {
  bool found;
  rpc_status st = auth_account_by_id(ctx, ctx->caller.user_id, acc, &found);
  if (rpc_ok(st) && !found) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "USER_NOT_FOUND", "no such user");
  return st;
}

static rpc_status get_current_user(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  auth_account acc;
  rpc_status st = caller_account(ctx, &acc);
  if (rpc_ok(st)) *out = &auth_account_to_proto(ctx, &acc)->base;
  return st;
}

static rpc_status change_password(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__ChangePasswordRequest *r = (const void *)msg;
  if (!r->current_password || !*r->current_password || strlen(r->current_password) > PASSWORD_MAX_BYTES)
    return rpc_invalid(ctx->arena, "currentPassword", "FIELD_REQUIRED", "currentPassword is required");
  rpc_status st = auth_validate_password(ctx, "newPassword", r->new_password);
  if (!rpc_ok(st)) return st;
  auth_account acc;
  if (!rpc_ok(st = caller_account(ctx, &acc))) return st;
  if (!password_verify(r->current_password, acc.password_hash))
    return rpc_invalid(ctx->arena, "currentPassword", "INVALID_CURRENT_PASSWORD", "currentPassword is wrong");
  const char *hash;
  if (!rpc_ok(st = hash_password(ctx, r->new_password, &hash))) return st;
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  st = auth_account_set_password(ctx, acc.user_id, hash, false);
  if (rpc_ok(st)) st = auth_sessions_revoke_all(ctx, acc.user_id);
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = empty(ctx);
  return st;
}

/* Resend-verification and forgot-password: the same answer whatever happened. */
static rpc_status request_link(rpc_ctx *ctx, const char *email, bool reset, ProtobufCMessage **out) {
  rpc_status st = auth_validate_email(ctx, "email", email);
  if (!rpc_ok(st) || !rpc_ok(st = rate_limit(ctx, reset ? "forgot" : "resend"))) return st;
  auth_account acc;
  bool found;
  if (!rpc_ok(st = auth_account_by_email(ctx, email, &acc, &found))) return st;
  if (found && acc.is_active && (reset || !acc.is_verified)) {
    if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
    st = finish_tx(ctx, send_link(ctx, &acc, reset));
    if (!rpc_ok(st)) return st;
  }
  Metro__Auth__V1__AcceptedResponse *resp =
      RPC_NEW(ctx, Metro__Auth__V1__AcceptedResponse, metro__auth__v1__accepted_response__init);
  resp->message = ACCEPTED_MESSAGE;
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status resend_verification(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return request_link(ctx, ((const Metro__Auth__V1__ResendVerificationRequest *)msg)->email, false, out);
}

static rpc_status forgot_password(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return request_link(ctx, ((const Metro__Auth__V1__ForgotPasswordRequest *)msg)->email, true, out);
}

static rpc_status bad_token(rpc_ctx *ctx) {
  return rpc_invalid(ctx->arena, "token", "INVALID_OR_EXPIRED_TOKEN", "the token is invalid, used or expired");
}

static rpc_status verify_email(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__VerifyEmailRequest *r = (const void *)msg;
  const char *user_id;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = auth_one_time_consume(ctx, r->token, "verify_email", &user_id);
  if (rpc_ok(st) && !user_id) st = bad_token(ctx);
  if (rpc_ok(st)) st = auth_account_mark_verified(ctx, user_id);
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = empty(ctx);
  return st;
}

static rpc_status reset_password(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__ResetPasswordRequest *r = (const void *)msg;
  rpc_status st = auth_validate_password(ctx, "newPassword", r->new_password);
  if (!rpc_ok(st)) return st;
  const char *hash, *user_id;
  if (!rpc_ok(st = hash_password(ctx, r->new_password, &hash))) return st;
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  st = auth_one_time_consume(ctx, r->token, "reset_password", &user_id);
  if (rpc_ok(st) && !user_id) st = bad_token(ctx);
  if (rpc_ok(st)) st = auth_account_set_password(ctx, user_id, hash, true); /* clears the lockout too */
  if (rpc_ok(st)) st = auth_sessions_revoke_all(ctx, user_id);
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = empty(ctx);
  return st;
}

static const char *json_string_field(arena *a, json_t *obj, const char *key) {
  const char *v = json_string_value(json_object_get(obj, key));
  return v ? arena_strdup(a, v) : "";
}

void auth_jwks_build(auth_state *s) {
  s->keys_arena = arena_create(4096);
  arena *a = s->keys_arena;
  Metro__Auth__V1__Jwks *jwks = arena_alloc(a, sizeof *jwks);
  metro__auth__v1__jwks__init(jwks);
  jwks->keys = arena_alloc(a, sizeof(void *) * (size_t)s->n_public_keys);
  for (int i = 0; i < s->n_public_keys; i++) {
    json_t *j = jwt_key_public_jwk(s->public_keys[i]);
    Metro__Auth__V1__Jwk *k = arena_alloc(a, sizeof *k);
    metro__auth__v1__jwk__init(k);
    k->kty = (char *)json_string_field(a, j, "kty");
    k->crv = (char *)json_string_field(a, j, "crv");
    k->x = (char *)json_string_field(a, j, "x");
    k->kid = (char *)json_string_field(a, j, "kid");
    k->alg = (char *)json_string_field(a, j, "alg");
    k->use = (char *)json_string_field(a, j, "use");
    json_decref(j);
    jwks->keys[jwks->n_keys++] = k;
  }
  s->jwks = jwks;
}

static rpc_status get_jwks(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  const auth_state *s = ctx->state;
  *out = &s->jwks->base; /* read-only: the runtime packs it and never frees a response */
  return RPC_OK;
}

/* Page tokens are opaque to clients: base64url("u1:<created_at µs>:<user id>"). */
static const char *page_token_encode(rpc_ctx *ctx, const auth_account *last) {
  const char *plain = arena_printf(ctx->arena, "u1:%lld:%s", (long long)last->cursor_us, last->user_id);
  char *enc = b64_encode_alloc(B64_URL_NOPAD, plain, strlen(plain));
  const char *out = arena_strdup(ctx->arena, enc);
  free(enc);
  return out;
}

static bool page_token_decode(rpc_ctx *ctx, const char *token, const char **created, const char **id) {
  char buf[128];
  size_t n;
  if (strlen(token) > 160 || !b64_decode(B64_URL_NOPAD, token, strlen(token), buf, sizeof buf - 1, &n)) return false;
  buf[n] = '\0';
  if (strncmp(buf, "u1:", 3) != 0) return false;
  char *colon = strchr(buf + 3, ':');
  if (!colon || colon == buf + 3) return false;
  *colon = '\0';
  for (const char *p = buf + 3; *p; p++)
    if (*p < '0' || *p > '9') return false;
  if (!crypto_uuid_valid(colon + 1)) return false;
  *created = arena_strdup(ctx->arena, buf + 3);
  *id = arena_strdup(ctx->arena, colon + 1);
  return true;
}

static rpc_status list_users(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__ListUsersRequest *r = (const void *)msg;
  if (r->page_size < 0) return rpc_invalid(ctx->arena, "pageSize", "INVALID_PAGE_SIZE", "pageSize must be >= 0");
  int size = r->page_size == 0 ? DEFAULT_PAGE_SIZE : r->page_size > MAX_PAGE_SIZE ? MAX_PAGE_SIZE : r->page_size;
  const char *role = or_null(r->role), *after_created = NULL, *after_id = NULL;
  if (role && !auth_role_known(role))
    return rpc_invalid(ctx->arena, "role", "INVALID_ROLES", "role must be passenger, staff, admin or gate");
  if (or_null(r->page_token) && !page_token_decode(ctx, r->page_token, &after_created, &after_id))
    return rpc_invalid(ctx->arena, "pageToken", "INVALID_PAGE_TOKEN", "pageToken is not one this server issued");
  auth_account *rows;
  int n;
  rpc_status st = auth_account_list(ctx, size, after_created, after_id, role, &rows, &n);
  if (!rpc_ok(st)) return st;
  Metro__Auth__V1__ListUsersResponse *resp =
      RPC_NEW(ctx, Metro__Auth__V1__ListUsersResponse, metro__auth__v1__list_users_response__init);
  int shown = n > size ? size : n;
  resp->users = arena_alloc(ctx->arena, sizeof(void *) * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) resp->users[resp->n_users++] = auth_account_to_proto(ctx, &rows[i]);
  resp->next_page_token = n > size ? (char *)page_token_encode(ctx, &rows[size - 1]) : "";
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_user(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__GetUserRequest *r = (const void *)msg;
  auth_account acc;
  bool found;
  rpc_status st = auth_account_by_id(ctx, r->user_id, &acc, &found);
  if (rpc_ok(st) && !found) st = rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "USER_NOT_FOUND", "no such user");
  if (rpc_ok(st)) *out = &auth_account_to_proto(ctx, &acc)->base;
  return st;
}

/* Creates an account (admin path and bootstrap): verified from the start. */
static rpc_status create_account(rpc_ctx *ctx, auth_new_account *n, const char *password, auth_account *acc) {
  rpc_status st = hash_password(ctx, password, &n->password_hash);
  if (!rpc_ok(st) || !rpc_ok(st = pg_begin(ctx->arena))) return st;
  st = auth_account_insert(ctx, n, acc);
  if (rpc_ok(st)) st = emit_user_created(ctx, acc, n);
  return finish_tx(ctx, st);
}

static rpc_status create_user(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__CreateUserRequest *r = (const void *)msg;
  rpc_status st;
  if (!rpc_ok(st = auth_validate_email(ctx, "email", r->email)) ||
      !rpc_ok(st = auth_validate_username(ctx, "username", r->username)) ||
      !rpc_ok(st = auth_validate_password(ctx, "password", r->password)) ||
      !rpc_ok(st = auth_validate_name(ctx, "firstName", r->first_name)) ||
      !rpc_ok(st = auth_validate_name(ctx, "lastName", r->last_name)) ||
      !rpc_ok(st = auth_validate_roles(ctx, "roles", r->roles, r->n_roles)))
    return st;
  auth_new_account n = {.email = r->email, .username = r->username, .first_name = r->first_name,
                        .last_name = r->last_name, .roles = (const char *const *)r->roles,
                        .n_roles = (int)r->n_roles, .is_verified = true};
  auth_account acc;
  st = create_account(ctx, &n, r->password, &acc);
  if (rpc_ok(st)) *out = &auth_account_to_proto(ctx, &acc)->base;
  return st;
}

static rpc_status set_user_roles(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__SetUserRolesRequest *r = (const void *)msg;
  rpc_status st = auth_validate_roles(ctx, "roles", r->roles, r->n_roles);
  if (!rpc_ok(st)) return st;
  if (!crypto_uuid_valid(r->user_id))
    return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "USER_NOT_FOUND", "no such user");
  auth_account acc;
  st = auth_account_set_roles(ctx, r->user_id, (const char *const *)r->roles, (int)r->n_roles, &acc);
  if (rpc_ok(st)) *out = &auth_account_to_proto(ctx, &acc)->base;
  return st;
}

static const rpc_method_impl auth_methods[] = {
    {"SignUp", sign_up, 0},
    {"Login", login, 0},
    {"RefreshSession", refresh_session, 0},
    {"Logout", logout, 0},
    {"GetCurrentUser", get_current_user, 0},
    {"ChangePassword", change_password, 0},
    {"ResendVerification", resend_verification, 0},
    {"VerifyEmail", verify_email, 0},
    {"ForgotPassword", forgot_password, 0},
    {"ResetPassword", reset_password, 0},
    {"GetJwks", get_jwks, 0},
    {"ListUsers", list_users, 0},
    {"GetUser", get_user, 0},
    {"CreateUser", create_user, 0},
    {"SetUserRoles", set_user_roles, 0},
    {"CreateApiKey", auth_create_api_key, 0},
    {"ListApiKeys", auth_list_api_keys, 0},
    {"RevokeApiKey", auth_revoke_api_key, 0},
    {"LookupApiKey", auth_lookup_api_key, 0},
};

const rpc_service_impl auth_service_impl = {
    .descriptor = &metro__auth__v1__auth_service__descriptor,
    .methods = auth_methods,
    .n_methods = sizeof auth_methods / sizeof auth_methods[0],
};

bool auth_bootstrap_admin(auth_state *s, const char *email, const char *password, const char *username) {
  arena *a = arena_create(4096);
  rpc_ctx ctx = {.arena = a, .alloc = arena_protobuf_allocator(a), .state = s};
  bool ok = false;
  rpc_status st;
  /* One replica at a time decides whether an admin is missing. */
  pg_exec(a, NULL, "SELECT pg_advisory_lock(hashtext('metro.auth.bootstrap'))", 0, NULL);
  if (auth_admin_exists(&ctx, &st)) {
    log_info("bootstrap: an admin exists already");
    ok = true;
  } else if (rpc_ok(st) && (!rpc_ok(st = auth_validate_email(&ctx, "METRO_ADMIN_EMAIL", email)) ||
                            !rpc_ok(st = auth_validate_username(&ctx, "METRO_ADMIN_USERNAME", username)) ||
                            !rpc_ok(st = auth_validate_password(&ctx, "METRO_ADMIN_PASSWORD", password)))) {
    log_error("bootstrap: %s", st.message);
  } else if (rpc_ok(st)) {
    const char *roles[1] = {"admin"};
    auth_new_account n = {.email = email, .username = username, .first_name = "Metro", .last_name = "Admin",
                          .roles = roles, .n_roles = 1, .is_verified = true};
    auth_account acc;
    st = create_account(&ctx, &n, password, &acc);
    if (rpc_ok(st)) log_info("bootstrap: created admin %s", acc.user_id);
    else log_error("bootstrap: cannot create the admin: %s", st.message);
    ok = rpc_ok(st);
  }
  pg_exec(a, NULL, "SELECT pg_advisory_unlock(hashtext('metro.auth.bootstrap'))", 0, NULL);
  arena_destroy(a);
  return ok;
}
