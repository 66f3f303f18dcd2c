/* Profile field rules (domain spec §2) as tables: each editable field of a passenger or
 * staff profile, who may change it, and how its value is checked; one routine applies an
 * update mask (AIP-134) through a table. */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/text.h"
#include "svc/user/user.h"

#define ICT_OFFSET_S (7 * 3600) /* the business calendar is Asia/Ho_Chi_Minh, UTC+7 */

typedef rpc_status (*field_check_fn)(rpc_ctx *ctx, const char *field, const char *value);

typedef enum { FIELD_TEXT, FIELD_BOOL, FIELD_PREFERENCE, FIELD_TIMESTAMP } field_kind;

typedef struct field_rule {
  const char *path;   /* proto name, as in update_mask paths */
  const char *json;   /* the name errors report */
  field_kind kind;
  user_edit_rule rule;
  size_t offset;      /* of the char * / protobuf_c_boolean in the message (in Preferences for FIELD_PREFERENCE) */
  field_check_fn check; /* text only; NULL = no rule beyond being read-only */
} field_rule;

static long today_days(void) { return (long)((time(NULL) + ICT_OFFSET_S) / 86400); }

static rpc_status check_name(rpc_ctx *ctx, const char *field, const char *v) {
  long n = text_utf8_length(v);
  if (n < 2 || n > 50 || text_has_control(v))
    return rpc_invalid(ctx->arena, field, "INVALID_NAME", "%s must be 2-50 characters", field);
  return RPC_OK;
}

static rpc_status check_phone(rpc_ctx *ctx, const char *field, const char *v) {
  if (!*v) return RPC_OK;
  const char *digits = v[0] == '+' ? v + 1 : v;
  size_t n = strlen(digits);
  if (n < 9 || n > 15 || !text_only_chars(digits, "0123456789"))
    return rpc_invalid(ctx->arena, field, "INVALID_PHONE_NUMBER", "%s must be 9-15 digits with an optional leading +",
                       field);
  return RPC_OK;
}

static rpc_status check_birth_date(rpc_ctx *ctx, const char *field, const char *v) {
  long days;
  if (*v && (!text_parse_date(v, &days) || days >= today_days() || days < -25567 /* 1900-01-01 */))
    return rpc_invalid(ctx->arena, field, "INVALID_DATE_OF_BIRTH", "%s must be a past date as YYYY-MM-DD", field);
  return RPC_OK;
}

static rpc_status check_date(rpc_ctx *ctx, const char *field, const char *v) {
  if (*v && !text_parse_date(v, NULL))
    return rpc_invalid(ctx->arena, field, "INVALID_DATE", "%s must be a date as YYYY-MM-DD", field);
  return RPC_OK;
}

static rpc_status check_gender(rpc_ctx *ctx, const char *field, const char *v) {
  if (*v && strcmp(v, "male") != 0 && strcmp(v, "female") != 0 && strcmp(v, "other") != 0)
    return rpc_invalid(ctx->arena, field, "INVALID_GENDER", "%s must be male, female or other", field);
  return RPC_OK;
}

static rpc_status check_text255(rpc_ctx *ctx, const char *field, const char *v) {
  long n = text_utf8_length(v);
  if (n < 0 || n > 255 || text_has_control(v))
    return rpc_invalid(ctx->arena, field, "INVALID_TEXT", "%s must be at most 255 characters", field);
  return RPC_OK;
}

rpc_status user_validate_future_date(rpc_ctx *ctx, const char *field, const char *date) {
  long days;
  if (!date || !text_parse_date(date, &days) || days < today_days())
    return rpc_invalid(ctx->arena, field, "INVALID_DATE", "%s must be today or a later date as YYYY-MM-DD", field);
  return RPC_OK;
}

#define P(f) offsetof(Metro__User__V1__Passenger, f)
#define PREF(f) offsetof(Metro__User__V1__Preferences, f)
static const field_rule passenger_fields[] = {
    {"passenger_id", "passengerId", FIELD_TEXT, USER_EDIT_READ_ONLY, P(passenger_id), NULL},
    {"user_id", "userId", FIELD_TEXT, USER_EDIT_READ_ONLY, P(user_id), NULL},
    {"username", "username", FIELD_TEXT, USER_EDIT_READ_ONLY, P(username), NULL},
    {"email", "email", FIELD_TEXT, USER_EDIT_READ_ONLY, P(email), NULL},
    {"first_name", "firstName", FIELD_TEXT, USER_EDIT_SELF, P(first_name), check_name},
    {"last_name", "lastName", FIELD_TEXT, USER_EDIT_SELF, P(last_name), check_name},
    {"phone_number", "phoneNumber", FIELD_TEXT, USER_EDIT_SELF, P(phone_number), check_phone},
    {"date_of_birth", "dateOfBirth", FIELD_TEXT, USER_EDIT_ONCE, P(date_of_birth), check_birth_date},
    {"gender", "gender", FIELD_TEXT, USER_EDIT_SELF, P(gender), check_gender},
    {"address", "address", FIELD_TEXT, USER_EDIT_SELF, P(address), check_text255},
    {"emergency_contact", "emergencyContact", FIELD_TEXT, USER_EDIT_SELF, P(emergency_contact), check_text255},
    {"student_verified_until", "studentVerifiedUntil", FIELD_TEXT, USER_EDIT_STAFF, P(student_verified_until),
     check_date},
    {"preferences.email", "preferences.email", FIELD_PREFERENCE, USER_EDIT_SELF, PREF(email), NULL},
    {"preferences.sms", "preferences.sms", FIELD_PREFERENCE, USER_EDIT_SELF, PREF(sms), NULL},
    {"preferences.station_alerts", "preferences.stationAlerts", FIELD_PREFERENCE, USER_EDIT_SELF,
     PREF(station_alerts), NULL},
    {"is_active", "isActive", FIELD_BOOL, USER_EDIT_STAFF, P(is_active), NULL},
    {"create_time", "createTime", FIELD_TIMESTAMP, USER_EDIT_READ_ONLY, P(create_time), NULL},
    {"update_time", "updateTime", FIELD_TIMESTAMP, USER_EDIT_READ_ONLY, P(update_time), NULL},
};
#undef P

#define S(f) offsetof(Metro__User__V1__Staff, f)
static const field_rule staff_fields[] = {
    {"staff_id", "staffId", FIELD_TEXT, USER_EDIT_READ_ONLY, S(staff_id), NULL},
    {"user_id", "userId", FIELD_TEXT, USER_EDIT_READ_ONLY, S(user_id), NULL},
    {"username", "username", FIELD_TEXT, USER_EDIT_READ_ONLY, S(username), NULL},
    {"email", "email", FIELD_TEXT, USER_EDIT_READ_ONLY, S(email), NULL},
    {"first_name", "firstName", FIELD_TEXT, USER_EDIT_STAFF, S(first_name), check_name},
    {"last_name", "lastName", FIELD_TEXT, USER_EDIT_STAFF, S(last_name), check_name},
    {"phone_number", "phoneNumber", FIELD_TEXT, USER_EDIT_STAFF, S(phone_number), check_phone},
    {"date_of_birth", "dateOfBirth", FIELD_TEXT, USER_EDIT_STAFF, S(date_of_birth), check_birth_date},
    {"is_active", "isActive", FIELD_BOOL, USER_EDIT_STAFF, S(is_active), NULL},
    {"create_time", "createTime", FIELD_TIMESTAMP, USER_EDIT_READ_ONLY, S(create_time), NULL},
    {"update_time", "updateTime", FIELD_TIMESTAMP, USER_EDIT_READ_ONLY, S(update_time), NULL},
};
#undef S

typedef struct field_table {
  const field_rule *rules;
  size_t n;
  size_t preferences_offset; /* of the Preferences pointer; 0 = none */
} field_table;

static const field_table passenger_table = {passenger_fields, sizeof passenger_fields / sizeof passenger_fields[0],
                                            offsetof(Metro__User__V1__Passenger, preferences)};
static const field_table staff_table = {staff_fields, sizeof staff_fields / sizeof staff_fields[0], 0};

/* ---- reading and writing one field of a message through its rule ---- */

static const char *text_of(const void *msg, const field_rule *f) {
  const char *v = *(char *const *)((const char *)msg + f->offset);
  return v ? v : "";
}

static Metro__User__V1__Preferences *prefs_of(const void *msg, const field_table *t) {
  return *(Metro__User__V1__Preferences *const *)((const char *)msg + t->preferences_offset);
}

static protobuf_c_boolean *bool_slot(void *msg, const field_table *t, const field_rule *f) {
  if (f->kind == FIELD_BOOL) return (protobuf_c_boolean *)((char *)msg + f->offset);
  Metro__User__V1__Preferences *p = prefs_of(msg, t);
  return p ? (protobuf_c_boolean *)((char *)p + f->offset) : NULL;
}

static bool bool_of(const void *msg, const field_table *t, const field_rule *f) {
  protobuf_c_boolean *b = bool_slot((void *)msg, t, f);
  return b && *b;
}

/* True when the patch holds something other than what the profile has now. */
static bool differs(const void *patch, const void *current, const field_table *t, const field_rule *f) {
  switch (f->kind) {
    case FIELD_TEXT: return strcmp(text_of(patch, f), text_of(current, f)) != 0;
    case FIELD_BOOL:
    case FIELD_PREFERENCE: return bool_of(patch, t, f) != bool_of(current, t, f);
    case FIELD_TIMESTAMP: return false;
  }
  return false;
}

/* Without a mask, a field counts as given when it is non-empty (a present Preferences
 * message is given whole), and is applied only when it changes something. */
static bool given_without_mask(const void *patch, const void *current, const field_table *t, const field_rule *f) {
  switch (f->kind) {
    case FIELD_TEXT: return *text_of(patch, f) && differs(patch, current, t, f);
    case FIELD_BOOL: return bool_of(patch, t, f) && differs(patch, current, t, f);
    case FIELD_PREFERENCE: return prefs_of(patch, t) && differs(patch, current, t, f);
    case FIELD_TIMESTAMP: return false;
  }
  return false;
}

static rpc_status permitted(rpc_ctx *ctx, user_editor editor, const void *patch, const void *current,
                            const field_table *t, const field_rule *f) {
  switch (f->rule) {
    case USER_EDIT_READ_ONLY:
      return rpc_invalid(ctx->arena, f->json, "FIELD_READ_ONLY", "%s is read-only", f->json);
    case USER_EDIT_STAFF:
      if (editor == USER_EDITOR_SELF) {
        rpc_status st = rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "FIELD_NOT_EDITABLE",
                                  "%s can only be changed by staff", f->json);
        st.field = f->json;
        return st;
      }
      return RPC_OK;
    case USER_EDIT_ONCE:
      if (editor == USER_EDITOR_SELF && *text_of(current, f) && differs(patch, current, t, f)) {
        rpc_status st = rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "DATE_OF_BIRTH_LOCKED",
                                  "%s is set already; only staff can change it", f->json);
        st.field = f->json;
        return st;
      }
      return RPC_OK;
    case USER_EDIT_SELF: return RPC_OK;
  }
  return RPC_OK;
}

static rpc_status apply_one(rpc_ctx *ctx, user_editor editor, const void *patch, void *current, const field_table *t,
                            const field_rule *f) {
  rpc_status st = permitted(ctx, editor, patch, current, t, f);
  if (!rpc_ok(st)) return st;
  if (f->kind == FIELD_TEXT) {
    const char *v = text_of(patch, f);
    if (f->check && !rpc_ok(st = f->check(ctx, f->json, v))) return st;
    *(char **)((char *)current + f->offset) = arena_strdup(ctx->arena, v);
  } else {
    protobuf_c_boolean *dst = bool_slot(current, t, f);
    if (dst) *dst = bool_of(patch, t, f);
  }
  return RPC_OK;
}

static const field_rule *rule_named(const field_table *t, const char *path) {
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->rules[i].path, path) == 0) return &t->rules[i];
  return NULL;
}

/* Applies one mask path; "preferences" stands for its three fields. */
static rpc_status apply_path(rpc_ctx *ctx, user_editor editor, const void *patch, void *current, const field_table *t,
                             const char *path) {
  if (t->preferences_offset && strcmp(path, "preferences") == 0) {
    for (size_t i = 0; i < t->n; i++)
      if (t->rules[i].kind == FIELD_PREFERENCE) {
        rpc_status st = apply_one(ctx, editor, patch, current, t, &t->rules[i]);
        if (!rpc_ok(st)) return st;
      }
    return RPC_OK;
  }
  const field_rule *f = rule_named(t, path);
  if (!f) {
    bool printable = strlen(path) <= 64 && text_only_chars(path, "abcdefghijklmnopqrstuvwxyz0123456789_.");
    return rpc_invalid(ctx->arena, "updateMask", "UNKNOWN_FIELD", "updateMask names an unknown field \"%s\"",
                       printable ? path : "?");
  }
  return apply_one(ctx, editor, patch, current, t, f);
}

static rpc_status apply(rpc_ctx *ctx, user_editor editor, const field_table *t, const void *patch,
                        const Google__Protobuf__FieldMask *mask, void *current) {
  if (t->preferences_offset && !prefs_of(current, t)) {
    Metro__User__V1__Preferences *p = RPC_NEW(ctx, Metro__User__V1__Preferences, metro__user__v1__preferences__init);
    *(Metro__User__V1__Preferences **)((char *)current + t->preferences_offset) = p;
  }
  if (mask && mask->n_paths > 0) {
    if (mask->n_paths > 64) return rpc_invalid(ctx->arena, "updateMask", "UNKNOWN_FIELD", "updateMask is too long");
    for (size_t i = 0; i < mask->n_paths; i++) {
      rpc_status st = apply_path(ctx, editor, patch, current, t, mask->paths[i]);
      if (!rpc_ok(st)) return st;
    }
    return RPC_OK;
  }
  for (size_t i = 0; i < t->n; i++) {
    const field_rule *f = &t->rules[i];
    if (!given_without_mask(patch, current, t, f)) continue;
    rpc_status st = apply_one(ctx, editor, patch, current, t, f);
    if (!rpc_ok(st)) return st;
  }
  return RPC_OK;
}

rpc_status user_passenger_apply(rpc_ctx *ctx, user_editor editor, const Metro__User__V1__Passenger *patch,
                                const Google__Protobuf__FieldMask *mask, Metro__User__V1__Passenger *current) {
  Metro__User__V1__Passenger empty = METRO__USER__V1__PASSENGER__INIT;
  return apply(ctx, editor, &passenger_table, patch ? patch : &empty, mask, current);
}

rpc_status user_staff_apply(rpc_ctx *ctx, const Metro__User__V1__Staff *patch, const Google__Protobuf__FieldMask *mask,
                            Metro__User__V1__Staff *current) {
  Metro__User__V1__Staff empty = METRO__USER__V1__STAFF__INIT;
  return apply(ctx, USER_EDITOR_ADMIN, &staff_table, patch ? patch : &empty, mask, current);
}

/* A new profile: user id, username and email are required and well-formed, then every
 * editable text field passes its rule. */
static rpc_status validate_new(rpc_ctx *ctx, const field_table *t, const void *msg) {
  static const char *const required[] = {"user_id", "username", "email", "first_name", "last_name"};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    const field_rule *f = rule_named(t, required[i]);
    if (!*text_of(msg, f)) return rpc_invalid(ctx->arena, f->json, "FIELD_REQUIRED", "%s is required", f->json);
  }
  const char *user_id = text_of(msg, rule_named(t, "user_id"));
  if (!crypto_uuid_valid(user_id)) return rpc_invalid(ctx->arena, "userId", "INVALID_USER_ID", "userId is not a UUID");
  const char *username = text_of(msg, rule_named(t, "username")), *email = text_of(msg, rule_named(t, "email"));
  if (strlen(username) > 50 || text_utf8_length(username) < 2 || text_has_control(username))
    return rpc_invalid(ctx->arena, "username", "INVALID_USERNAME", "username must be 2-50 characters");
  if (strlen(email) > 254 || !strchr(email, '@') || text_utf8_length(email) < 3 || text_has_control(email))
    return rpc_invalid(ctx->arena, "email", "INVALID_EMAIL", "email is not a valid email address");
  for (size_t i = 0; i < t->n; i++) {
    const field_rule *f = &t->rules[i];
    if (f->kind != FIELD_TEXT || !f->check) continue;
    rpc_status st = f->check(ctx, f->json, text_of(msg, f));
    if (!rpc_ok(st)) return st;
  }
  return RPC_OK;
}

rpc_status user_passenger_validate_new(rpc_ctx *ctx, const Metro__User__V1__Passenger *p) {
  return validate_new(ctx, &passenger_table, p);
}

rpc_status user_staff_validate_new(rpc_ctx *ctx, const Metro__User__V1__Staff *s) {
  return validate_new(ctx, &staff_table, s);
}
