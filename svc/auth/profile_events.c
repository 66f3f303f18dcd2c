/* The events auth consumes from the user service (domain spec §2): a deleted passenger or
 * staff profile removes that role and deletes the account once it has no roles left
 * (publishing user.deleted); a deactivated staff member's account is disabled. */
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "metro/events/v1/identity_events.pb-c.h"
#include "metro/events/v1/staff_events.pb-c.h"
#include "svc/auth/auth.h"

/* The roles left once `role` is removed, locking the row; *exists = false when the account is gone. */
static rpc_status remaining_roles(rpc_ctx *ctx, const char *user_id, const char *role, bool *exists, bool *held,
                                  int *left) {
  const char *params[2] = {user_id, role};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT $2 = ANY(roles), cardinality(array_remove(roles, $2)) FROM users "
                          "WHERE user_id = $1::uuid FOR UPDATE",
                          2, params);
  *exists = rpc_ok(st) && PQntuples(r) == 1;
  if (*exists) {
    *held = strcmp(pg_value(r, 0, 0), "t") == 0;
    *left = (int)strtol(pg_value(r, 0, 1), NULL, 10);
  }
  return st;
}

static rpc_status delete_account(rpc_ctx *ctx, const char *user_id) {
  const char *params[1] = {user_id};
  rpc_status st = pg_exec(ctx->arena, NULL, "DELETE FROM users WHERE user_id = $1::uuid", 1, params);
  if (!rpc_ok(st)) return st;
  Metro__Events__V1__UserDeleted ev = METRO__EVENTS__V1__USER_DELETED__INIT;
  ev.user_id = (char *)user_id;
  return ev_publish(ctx->arena, "user.deleted", user_id, &ev.base, ctx->traceparent);
}

/* passenger.deleted and staff.deleted: the role comes from the event type. */
static rpc_status on_profile_deleted(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__ProfileDeleted *p = (const void *)ev->data;
  const char *role = strcmp(ev->envelope->type, "staff.deleted") == 0 ? "staff" : "passenger";
  if (!crypto_uuid_valid(p->user_id))
    return rpc_invalid(ctx->arena, "userId", "INVALID_EVENT", "%s without a user id", ev->envelope->type);
  bool exists = false, held = false;
  int left = 0;
  rpc_status st = remaining_roles(ctx, p->user_id, role, &exists, &held, &left);
  if (!rpc_ok(st) || !exists || !held) return st; /* already applied, or nothing to do */
  if (left == 0) {
    log_info("account %s deleted: its last profile (%s) was deleted", p->user_id, role);
    return delete_account(ctx, p->user_id); /* refresh tokens go with it (ON DELETE CASCADE) */
  }
  const char *params[2] = {p->user_id, role};
  st = pg_exec(ctx->arena, NULL,
               "UPDATE users SET roles = array_remove(roles, $2), updated_at = now() WHERE user_id = $1::uuid", 2,
               params);
  /* Tokens carry roles: sign the account out so the next session has the new set. */
  if (rpc_ok(st)) st = auth_sessions_revoke_all(ctx, p->user_id);
  return st;
}

/* staff.deactivated disables the account and signs it out; staff.reactivated enables it.
 * An account that also holds the admin role is left as it is (admin accounts are managed
 * through auth, and the last admin must never be locked out by a profile change). */
static rpc_status on_staff_status(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__StaffStatusChanged *s = (const void *)ev->data;
  if (!crypto_uuid_valid(s->user_id))
    return rpc_invalid(ctx->arena, "userId", "INVALID_EVENT", "%s without a user id", ev->envelope->type);
  bool active = strcmp(ev->envelope->type, "staff.reactivated") == 0;
  const char *params[2] = {s->user_id, active ? "t" : "f"};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "UPDATE users SET is_active = $2::boolean, updated_at = now() "
                          "WHERE user_id = $1::uuid AND 'staff' = ANY(roles) AND NOT 'admin' = ANY(roles) "
                          "RETURNING user_id",
                          2, params);
  if (rpc_ok(st) && !active && PQntuples(r) == 1) st = auth_sessions_revoke_all(ctx, s->user_id);
  return st;
}

const ev_subscription auth_subscriptions[] = {
    {"passenger.deleted", &metro__events__v1__profile_deleted__descriptor, on_profile_deleted},
    {"staff.deleted", &metro__events__v1__profile_deleted__descriptor, on_profile_deleted},
    {"staff.deactivated", &metro__events__v1__staff_status_changed__descriptor, on_staff_status},
    {"staff.reactivated", &metro__events__v1__staff_status_changed__descriptor, on_staff_status},
};
const size_t auth_n_subscriptions = sizeof auth_subscriptions / sizeof auth_subscriptions[0];
