/* The auth service's shared declarations: its settings and state, the account
 * record, and the functions its handler, store and session files export. */
#ifndef METRO_AUTH_H
#define METRO_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/events.h"
#include "common/jwt.h"
#include "common/rpc_server.h"
#include "metro/auth/v1/auth.pb-c.h"

typedef struct auth_settings {
  int64_t access_ttl_s, refresh_ttl_s, verify_ttl_s, reset_ttl_s;
  int64_t lockout_failures, lockout_s;
  int64_t scrypt_ln, scrypt_r, scrypt_p;
  int64_t rate_limit_per_minute; /* per client IP and action; 0 = off */
  char *issuer, *audience, *frontend_url;
} auth_settings;

typedef struct auth_state {
  auth_settings settings;
  jwt_key *signing_key;       /* signs new access tokens */
  jwt_key *public_keys[4];    /* published in the JWKS: the signing key first, then retired ones */
  int n_public_keys;
  char *dummy_hash;           /* verified against on unknown logins, so timing does not reveal them */
  arena *keys_arena;          /* owns jwks */
  Metro__Auth__V1__Jwks *jwks; /* the public keys as GetJwks answers them: built once, read by every call */
} auth_state;

/* An account row. Strings belong to the call's arena. */
typedef struct auth_account {
  const char *user_id, *email, *username, *first_name, *last_name, *password_hash;
  const char *roles[RPC_MAX_ROLES];
  int n_roles;
  bool is_verified, is_active;
  int64_t created_unix, last_login_unix; /* 0 = never */
  int64_t locked_for_s;                   /* > 0 while locked */
  int64_t cursor_us;                      /* created_at in microseconds: the list cursor */
} auth_account;

/* New-account fields, already validated. */
typedef struct auth_new_account {
  const char *email, *username, *password_hash, *first_name, *last_name;
  const char *phone_number, *date_of_birth, *gender, *address; /* NULL when absent */
  const char *const *roles;
  int n_roles;
  bool is_verified;
} auth_new_account;

/* ---- accounts.c: the users table ---- */
rpc_status auth_account_insert(rpc_ctx *ctx, const auth_new_account *n, auth_account *out);
/* found = false (and OK) when no account matches. */
rpc_status auth_account_by_login(rpc_ctx *ctx, const char *login, auth_account *out, bool *found);
rpc_status auth_account_by_id(rpc_ctx *ctx, const char *user_id, auth_account *out, bool *found);
rpc_status auth_account_by_email(rpc_ctx *ctx, const char *email, auth_account *out, bool *found);
/* Counts a failed password; returns the lock length in seconds when this failure locked it. */
rpc_status auth_account_record_failure(rpc_ctx *ctx, const char *user_id, int64_t *locked_for_s);
rpc_status auth_account_record_login(rpc_ctx *ctx, const char *user_id);
rpc_status auth_account_set_password(rpc_ctx *ctx, const char *user_id, const char *hash, bool mark_verified);
rpc_status auth_account_mark_verified(rpc_ctx *ctx, const char *user_id);
rpc_status auth_account_list(rpc_ctx *ctx, int page_size, const char *after_created, const char *after_id,
                             const char *role, auth_account **out, int *n);
rpc_status auth_account_set_roles(rpc_ctx *ctx, const char *user_id, const char *const *roles, int n_roles,
                                  auth_account *out);
bool auth_admin_exists(rpc_ctx *ctx, rpc_status *st);
Metro__Auth__V1__User *auth_account_to_proto(rpc_ctx *ctx, const auth_account *acc);

/* ---- sessions.c: access tokens, refresh-token families, one-time tokens ---- */
/* Starts a new family and answers with a full session (access + refresh). */
rpc_status auth_session_start(rpc_ctx *ctx, const auth_account *acc, Metro__Auth__V1__Session **out);
rpc_status auth_session_refresh(rpc_ctx *ctx, const char *refresh_token, Metro__Auth__V1__Session **out);
rpc_status auth_session_logout(rpc_ctx *ctx, const char *refresh_token);
rpc_status auth_sessions_revoke_all(rpc_ctx *ctx, const char *user_id);
/* Creates a one-time token; `voids_older` invalidates the unused ones of that purpose. */
rpc_status auth_one_time_create(rpc_ctx *ctx, const char *user_id, const char *purpose, int64_t ttl_s,
                                bool voids_older, const char **token);
/* Consumes a token atomically; *user_id is NULL when it is unknown, used or expired. */
rpc_status auth_one_time_consume(rpc_ctx *ctx, const char *token, const char *purpose, const char **user_id);

/* ---- validation.c: field rules of the domain specification §1 ---- */
rpc_status auth_validate_sign_up(rpc_ctx *ctx, const Metro__Auth__V1__SignUpRequest *r);
rpc_status auth_validate_email(rpc_ctx *ctx, const char *field, const char *email);
rpc_status auth_validate_username(rpc_ctx *ctx, const char *field, const char *username);
rpc_status auth_validate_name(rpc_ctx *ctx, const char *field, const char *name);
rpc_status auth_validate_password(rpc_ctx *ctx, const char *field, const char *password);
/* passenger, staff, admin or gate. */
bool auth_role_known(const char *role);
rpc_status auth_validate_roles(rpc_ctx *ctx, const char *field, char *const *roles, size_t n);

/* ---- profile_events.c: passenger.deleted, staff.deleted, staff.deactivated/reactivated ---- */
extern const ev_subscription auth_subscriptions[];
extern const size_t auth_n_subscriptions;

/* ---- handlers.c ---- */
extern const rpc_service_impl auth_service_impl;
/* Builds st->jwks from st->public_keys (the keys are fixed for the life of the process). */
void auth_jwks_build(auth_state *st);
/* Creates the bootstrap admin when none exists and METRO_ADMIN_* are set. */
bool auth_bootstrap_admin(auth_state *st, const char *email, const char *password, const char *username);

#endif
