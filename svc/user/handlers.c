/* The user service's gRPC handlers and their table: the caller's own profile, the
 * administration of passengers and staff, student verification and the passenger lookup
 * for other services. Changes that others must hear of publish events in their transaction. */
#include <string.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "svc/user/user.h"

static rpc_status finish_tx(rpc_ctx *ctx, rpc_status st) {
  if (rpc_ok(st)) return pg_commit(ctx->arena);
  pg_rollback();
  return st;
}

static ProtobufCMessage *empty(rpc_ctx *ctx) {
  return &RPC_NEW(ctx, Google__Protobuf__Empty, google__protobuf__empty__init)->base;
}

static rpc_status passenger_not_found(rpc_ctx *ctx) { return user_not_found(ctx, "PASSENGER_NOT_FOUND", "passenger"); }
static rpc_status staff_not_found(rpc_ctx *ctx) { return user_not_found(ctx, "STAFF_NOT_FOUND", "staff member"); }

/* ---- the caller's own profile ---- */

/* Every profile of the caller; `passenger` is used as given when non-NULL. */
static rpc_status my_profile(rpc_ctx *ctx, Metro__User__V1__Passenger *passenger, Metro__User__V1__UserProfile **out) {
  const char *user_id = ctx->caller.user_id;
  Metro__User__V1__UserProfile *p = RPC_NEW(ctx, Metro__User__V1__UserProfile, metro__user__v1__user_profile__init);
  p->user_id = (char *)user_id;
  p->passenger = passenger;
  rpc_status st = RPC_OK;
  if (!p->passenger) st = user_passenger_by_user(ctx, user_id, false, &p->passenger);
  if (rpc_ok(st)) st = user_staff_by_user(ctx, user_id, &p->staff);
  if (rpc_ok(st)) st = user_admin_by_user(ctx, user_id, &p->admin);
  if (rpc_ok(st) && !p->passenger && !p->staff && !p->admin)
    st = user_not_found(ctx, "PROFILE_NOT_FOUND", "profile for this account (yet)");
  if (rpc_ok(st)) *out = p;
  return st;
}

static rpc_status get_my_profile(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  Metro__User__V1__UserProfile *p;
  rpc_status st = my_profile(ctx, NULL, &p);
  if (rpc_ok(st)) *out = &p->base;
  return st;
}

static rpc_status update_my_profile(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__UpdateMyProfileRequest *r = (const void *)msg;
  /* Staff and admins editing their own passenger profile keep their powers (dateOfBirth). */
  user_editor editor = rpc_caller_has_role(ctx, "staff") ? USER_EDITOR_ADMIN : USER_EDITOR_SELF;
  Metro__User__V1__Passenger *current, *saved = NULL;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = user_passenger_by_user(ctx, ctx->caller.user_id, true, &current);
  if (rpc_ok(st) && !current) st = passenger_not_found(ctx);
  if (rpc_ok(st)) st = user_passenger_apply(ctx, editor, r->passenger, r->update_mask, current);
  if (rpc_ok(st)) st = user_passenger_save(ctx, current, &saved);
  st = finish_tx(ctx, st);
  Metro__User__V1__UserProfile *p;
  if (rpc_ok(st)) st = my_profile(ctx, saved, &p);
  if (rpc_ok(st)) *out = &p->base;
  return st;
}

/* ---- passengers ---- */

static rpc_status list_passengers(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__ListPassengersRequest *r = (const void *)msg;
  user_list_query q;
  rpc_status st = user_list_query_parse(ctx, "p", r->page_size, r->page_token, r->name, r->email, &q);
  if (!rpc_ok(st)) return st;
  Metro__User__V1__ListPassengersResponse *resp =
      RPC_NEW(ctx, Metro__User__V1__ListPassengersResponse, metro__user__v1__list_passengers_response__init);
  st = user_passenger_list(ctx, &q, resp);
  if (rpc_ok(st)) *out = &resp->base;
  return st;
}

static rpc_status get_passenger(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__GetPassengerRequest *r = (const void *)msg;
  Metro__User__V1__Passenger *p;
  rpc_status st = user_passenger_by_id(ctx, r->passenger_id, false, &p);
  if (rpc_ok(st) && !p) st = passenger_not_found(ctx);
  if (rpc_ok(st)) *out = &p->base;
  return st;
}

static rpc_status create_passenger(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__CreatePassengerRequest *r = (const void *)msg;
  if (!r->passenger) return rpc_invalid(ctx->arena, "passenger", "FIELD_REQUIRED", "passenger is required");
  rpc_status st = user_passenger_validate_new(ctx, r->passenger);
  if (!rpc_ok(st)) return st;
  Metro__User__V1__Passenger *p;
  bool created;
  st = user_passenger_insert(ctx, r->passenger, &created, &p);
  if (rpc_ok(st) && !created)
    st = rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "PROFILE_EXISTS", "this account has a passenger profile");
  if (rpc_ok(st)) *out = &p->base;
  return st;
}

static rpc_status update_passenger(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__UpdatePassengerRequest *r = (const void *)msg;
  const char *id = r->passenger ? r->passenger->passenger_id : NULL;
  Metro__User__V1__Passenger *current, *saved = NULL;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = user_passenger_by_id(ctx, id, true, &current);
  if (rpc_ok(st) && !current) st = passenger_not_found(ctx);
  if (rpc_ok(st)) st = user_passenger_apply(ctx, USER_EDITOR_ADMIN, r->passenger, r->update_mask, current);
  if (rpc_ok(st)) st = user_passenger_save(ctx, current, &saved);
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &saved->base;
  return st;
}

/* passenger.deleted / staff.deleted: auth removes the role, and the account once it has none. */
static rpc_status publish_profile_deleted(rpc_ctx *ctx, const char *type, const char *role, const char *profile_id,
                                          const char *user_id) {
  Metro__Events__V1__ProfileDeleted ev = METRO__EVENTS__V1__PROFILE_DELETED__INIT;
  ev.profile_id = (char *)profile_id;
  ev.user_id = (char *)user_id;
  ev.role = (char *)role;
  return ev_publish(ctx->arena, type, user_id, &ev.base, ctx->traceparent);
}

static rpc_status delete_passenger(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__DeletePassengerRequest *r = (const void *)msg;
  Metro__User__V1__Passenger *gone;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = user_passenger_delete(ctx, r->passenger_id, &gone);
  if (rpc_ok(st) && !gone) st = passenger_not_found(ctx);
  if (rpc_ok(st))
    st = publish_profile_deleted(ctx, "passenger.deleted", "passenger", gone->passenger_id, gone->user_id);
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = empty(ctx);
  return st;
}

static rpc_status verify_student(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__VerifyStudentRequest *r = (const void *)msg;
  rpc_status st = user_validate_future_date(ctx, "studentVerifiedUntil", r->student_verified_until);
  if (!rpc_ok(st) || !rpc_ok(st = pg_begin(ctx->arena))) return st;
  Metro__User__V1__Passenger *current, *saved = NULL;
  st = user_passenger_by_id(ctx, r->passenger_id, true, &current);
  if (rpc_ok(st) && !current) st = passenger_not_found(ctx);
  if (rpc_ok(st)) {
    current->student_verified_until = r->student_verified_until;
    st = user_passenger_save(ctx, current, &saved);
  }
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &saved->base;
  return st;
}

/* Service-to-service: the caller is the end user whose identity the calling service
 * forwarded, so a passenger sees only their own profile; staff and admins see any. */
static rpc_status get_passenger_by_user(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__GetPassengerByUserRequest *r = (const void *)msg;
  if (!r->user_id || !*r->user_id) return rpc_invalid(ctx->arena, "userId", "FIELD_REQUIRED", "userId is required");
  if (!rpc_caller_has_role(ctx, "staff") && (!ctx->caller.user_id || strcmp(ctx->caller.user_id, r->user_id) != 0))
    return rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "PERMISSION_DENIED",
                     "only staff may look up another account's profile");
  Metro__User__V1__Passenger *p;
  rpc_status st = user_passenger_by_user(ctx, r->user_id, false, &p);
  if (rpc_ok(st) && !p) st = passenger_not_found(ctx);
  if (rpc_ok(st)) *out = &p->base;
  return st;
}

/* For the notification service (role "service"): how to reach the person of an account,
 * from the passenger profile, else the staff profile (staff get email only). */
static rpc_status get_contact(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__GetContactRequest *r = (const void *)msg;
  if (!r->user_id || !crypto_uuid_valid(r->user_id))
    return rpc_invalid(ctx->arena, "userId", "INVALID_ID", "userId must be a UUID");
  Metro__User__V1__Contact *c = RPC_NEW(ctx, Metro__User__V1__Contact, metro__user__v1__contact__init);
  c->user_id = r->user_id;
  Metro__User__V1__Passenger *p;
  rpc_status st = user_passenger_by_user(ctx, r->user_id, false, &p);
  if (!rpc_ok(st)) return st;
  if (p) {
    c->email = p->email;
    c->phone_number = p->phone_number;
    c->first_name = p->first_name;
    c->last_name = p->last_name;
    c->preferences = p->preferences;
    c->profile = "passenger";
    return *out = &c->base, RPC_OK;
  }
  Metro__User__V1__Staff *s;
  st = user_staff_by_user(ctx, r->user_id, &s);
  if (!rpc_ok(st)) return st;
  if (!s) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "PROFILE_NOT_FOUND", "this account has no profile yet");
  Metro__User__V1__Preferences *prefs = RPC_NEW(ctx, Metro__User__V1__Preferences, metro__user__v1__preferences__init);
  prefs->email = true;
  c->email = s->email;
  c->phone_number = s->phone_number;
  c->first_name = s->first_name;
  c->last_name = s->last_name;
  c->preferences = prefs;
  c->profile = "staff";
  *out = &c->base;
  return RPC_OK;
}

/* ---- staff (admin only) ---- */

static rpc_status list_staff(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__ListStaffRequest *r = (const void *)msg;
  user_list_query q;
  rpc_status st = user_list_query_parse(ctx, "s", r->page_size, r->page_token, r->name, r->email, &q);
  if (!rpc_ok(st)) return st;
  Metro__User__V1__ListStaffResponse *resp =
      RPC_NEW(ctx, Metro__User__V1__ListStaffResponse, metro__user__v1__list_staff_response__init);
  st = user_staff_list(ctx, &q, resp);
  if (rpc_ok(st)) *out = &resp->base;
  return st;
}

static rpc_status get_staff(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__GetStaffRequest *r = (const void *)msg;
  Metro__User__V1__Staff *s;
  rpc_status st = user_staff_by_id(ctx, r->staff_id, false, &s);
  if (rpc_ok(st) && !s) st = staff_not_found(ctx);
  if (rpc_ok(st)) *out = &s->base;
  return st;
}

static rpc_status create_staff(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__CreateStaffRequest *r = (const void *)msg;
  if (!r->staff) return rpc_invalid(ctx->arena, "staff", "FIELD_REQUIRED", "staff is required");
  rpc_status st = user_staff_validate_new(ctx, r->staff);
  if (!rpc_ok(st)) return st;
  Metro__User__V1__Staff *s;
  bool created;
  st = user_staff_insert(ctx, r->staff, &created, &s);
  if (rpc_ok(st) && !created)
    st = rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "PROFILE_EXISTS", "this account has a staff profile");
  if (rpc_ok(st)) *out = &s->base;
  return st;
}

/* staff.deactivated / staff.reactivated: auth disables or enables the account. */
static rpc_status publish_staff_status(rpc_ctx *ctx, const Metro__User__V1__Staff *s) {
  Metro__Events__V1__StaffStatusChanged ev = METRO__EVENTS__V1__STAFF_STATUS_CHANGED__INIT;
  ev.staff_id = s->staff_id;
  ev.user_id = s->user_id;
  ev.is_active = s->is_active;
  return ev_publish(ctx->arena, s->is_active ? "staff.reactivated" : "staff.deactivated", s->user_id, &ev.base,
                    ctx->traceparent);
}

static rpc_status update_staff(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__UpdateStaffRequest *r = (const void *)msg;
  const char *id = r->staff ? r->staff->staff_id : NULL;
  Metro__User__V1__Staff *current, *saved = NULL;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = user_staff_by_id(ctx, id, true, &current);
  if (rpc_ok(st) && !current) st = staff_not_found(ctx);
  bool was_active = current && current->is_active;
  if (rpc_ok(st)) st = user_staff_apply(ctx, r->staff, r->update_mask, current);
  if (rpc_ok(st)) st = user_staff_save(ctx, current, &saved);
  if (rpc_ok(st) && saved->is_active != was_active) st = publish_staff_status(ctx, saved);
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &saved->base;
  return st;
}

static rpc_status delete_staff(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__User__V1__DeleteStaffRequest *r = (const void *)msg;
  Metro__User__V1__Staff *gone;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = user_staff_delete(ctx, r->staff_id, &gone);
  if (rpc_ok(st) && !gone) st = staff_not_found(ctx);
  if (rpc_ok(st)) st = publish_profile_deleted(ctx, "staff.deleted", "staff", gone->staff_id, gone->user_id);
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = empty(ctx);
  return st;
}

static const rpc_method_impl user_methods[] = {
    {"GetMyProfile", get_my_profile, 0},
    {"UpdateMyProfile", update_my_profile, 0},
    {"ListPassengers", list_passengers, 0},
    {"GetPassenger", get_passenger, 0},
    {"CreatePassenger", create_passenger, 0},
    {"UpdatePassenger", update_passenger, 0},
    {"DeletePassenger", delete_passenger, 0},
    {"VerifyStudent", verify_student, 0},
    {"GetPassengerByUser", get_passenger_by_user, 0},
    {"GetContact", get_contact, 0},
    {"ListStaff", list_staff, 0},
    {"GetStaff", get_staff, 0},
    {"CreateStaff", create_staff, 0},
    {"UpdateStaff", update_staff, 0},
    {"DeleteStaff", delete_staff, 0},
};

const rpc_service_impl user_service_impl = {
    .descriptor = &metro__user__v1__user_service__descriptor,
    .methods = user_methods,
    .n_methods = sizeof user_methods / sizeof user_methods[0],
};
