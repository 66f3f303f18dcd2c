/* The events the user service consumes (domain spec §2, §13): user.created makes one
 * profile per role held, idempotently by user id; user.deleted removes them all. Each
 * runs in the consumer's transaction beside its processed_events row. */
#include <string.h>

#include "common/crypto.h"
#include "common/text.h"
#include "svc/user/user.h"

static bool holds(const Metro__Events__V1__UserCreated *u, const char *role) {
  for (size_t i = 0; i < u->n_roles; i++)
    if (u->roles[i] && strcmp(u->roles[i], role) == 0) return true;
  return false;
}

/* A field auth validated; anything else would never succeed, so it is parked at once. */
static const char *optional_date(const char *s) { return s && *s && text_parse_date(s, NULL) ? s : ""; }

static rpc_status on_user_created(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__UserCreated *u = (const void *)ev->data;
  if (!crypto_uuid_valid(u->user_id) || !u->username || !*u->username || !u->email || !*u->email)
    return rpc_invalid(ctx->arena, "userId", "INVALID_EVENT", "user.created without a user id, username or email");
  rpc_status st = RPC_OK;
  bool created;
  if (holds(u, "passenger")) {
    Metro__User__V1__Passenger p = METRO__USER__V1__PASSENGER__INIT;
    p.user_id = u->user_id;
    p.username = u->username;
    p.email = u->email;
    p.first_name = u->first_name;
    p.last_name = u->last_name;
    p.phone_number = u->phone_number;
    p.date_of_birth = (char *)optional_date(u->date_of_birth);
    p.gender = u->gender;
    p.address = u->address;
    Metro__User__V1__Passenger *row;
    st = user_passenger_insert(ctx, &p, &created, &row);
  }
  if (rpc_ok(st) && holds(u, "staff")) {
    Metro__User__V1__Staff s = METRO__USER__V1__STAFF__INIT;
    s.user_id = u->user_id;
    s.username = u->username;
    s.email = u->email;
    s.first_name = u->first_name;
    s.last_name = u->last_name;
    s.phone_number = u->phone_number;
    s.date_of_birth = (char *)optional_date(u->date_of_birth);
    Metro__User__V1__Staff *row;
    st = user_staff_insert(ctx, &s, &created, &row);
  }
  if (rpc_ok(st) && holds(u, "admin")) st = user_admin_insert(ctx, u->user_id);
  return st;
}

static rpc_status on_user_deleted(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__UserDeleted *u = (const void *)ev->data;
  if (!crypto_uuid_valid(u->user_id))
    return rpc_invalid(ctx->arena, "userId", "INVALID_EVENT", "user.deleted without a user id");
  return user_profiles_delete_all(ctx, u->user_id);
}

const ev_subscription user_subscriptions[] = {
    {"user.created", &metro__events__v1__user_created__descriptor, on_user_created},
    {"user.deleted", &metro__events__v1__user_deleted__descriptor, on_user_deleted},
};
const size_t user_n_subscriptions = sizeof user_subscriptions / sizeof user_subscriptions[0];
