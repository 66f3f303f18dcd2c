/* The user service's shared declarations: the profile records, the stores of the
 * passengers, staff and admins tables, the field rules, paging and the event handlers. */
#ifndef METRO_USER_H
#define METRO_USER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/events.h"
#include "common/rpc_server.h"
#include "metro/events/v1/identity_events.pb-c.h"
#include "metro/events/v1/staff_events.pb-c.h"
#include "metro/user/v1/user.pb-c.h"

#define USER_DEFAULT_PAGE_SIZE 20
#define USER_MAX_PAGE_SIZE 100

/* ---- paging.c: list filters and opaque page tokens ---- */

/* A validated list query; strings are NULL when absent. The cursor is the last row shown. */
typedef struct user_list_query {
  int page_size;             /* rows to show; the store fetches one more */
  const char *name_pattern;  /* ILIKE pattern with %, _ and \ escaped, or NULL */
  const char *email_pattern;
  const char *after_created_us, *after_id;
} user_list_query;

/* Validates page size, token and filters into q; `kind` ("p" or "s") binds tokens to a list. */
rpc_status user_list_query_parse(rpc_ctx *ctx, const char *kind, int32_t page_size, const char *page_token,
                                 const char *name, const char *email, user_list_query *q);
/* The token that continues after the row (created_at in µs, id). */
const char *user_page_token(rpc_ctx *ctx, const char *kind, int64_t created_us, const char *id);
/* "%<s with \, % and _ escaped>%" for ILIKE ... ESCAPE '\'. */
const char *user_like_contains(arena *a, const char *s);

/* ---- fields.c: which profile fields exist, who may edit them, their rules (spec §2) ---- */

typedef enum {
  USER_EDIT_SELF,      /* the passenger themself, staff and admins */
  USER_EDIT_ONCE,      /* the passenger while empty, then staff and admins (dateOfBirth) */
  USER_EDIT_STAFF,     /* staff and admins only */
  USER_EDIT_READ_ONLY, /* nobody through an update */
} user_edit_rule;

typedef enum { USER_EDITOR_SELF, USER_EDITOR_ADMIN } user_editor;

/* Applies the update mask (or, without one, every non-empty field of `patch`) of a
 * passenger update onto `current` (a full profile), checking who may change what and
 * validating each new value. The result is in *current. */
rpc_status user_passenger_apply(rpc_ctx *ctx, user_editor editor, const Metro__User__V1__Passenger *patch,
                                const Google__Protobuf__FieldMask *mask, Metro__User__V1__Passenger *current);
/* The same for a staff profile (admins only). */
rpc_status user_staff_apply(rpc_ctx *ctx, const Metro__User__V1__Staff *patch, const Google__Protobuf__FieldMask *mask,
                            Metro__User__V1__Staff *current);
/* Validation of a whole new profile (admin create). */
rpc_status user_passenger_validate_new(rpc_ctx *ctx, const Metro__User__V1__Passenger *p);
rpc_status user_staff_validate_new(rpc_ctx *ctx, const Metro__User__V1__Staff *s);
/* A date "YYYY-MM-DD" that is today or later (UTC+7 business day). */
rpc_status user_validate_future_date(rpc_ctx *ctx, const char *field, const char *date);

/* ---- passengers.c: the passengers table ---- */

/* found = false (and OK) when no row matches. `for_update` locks the row (inside a transaction). */
rpc_status user_passenger_by_id(rpc_ctx *ctx, const char *passenger_id, bool for_update,
                                Metro__User__V1__Passenger **out);
rpc_status user_passenger_by_user(rpc_ctx *ctx, const char *user_id, bool for_update, Metro__User__V1__Passenger **out);
/* Inserts unless the account has one already: *created tells which. */
rpc_status user_passenger_insert(rpc_ctx *ctx, const Metro__User__V1__Passenger *p, bool *created,
                                 Metro__User__V1__Passenger **out);
rpc_status user_passenger_save(rpc_ctx *ctx, const Metro__User__V1__Passenger *p, Metro__User__V1__Passenger **out);
/* Deletes by id; *out is the deleted row, NULL when there was none. */
rpc_status user_passenger_delete(rpc_ctx *ctx, const char *passenger_id, Metro__User__V1__Passenger **out);
rpc_status user_passenger_list(rpc_ctx *ctx, const user_list_query *q, Metro__User__V1__ListPassengersResponse *out);

/* ---- staff.c: the staff and admins tables ---- */

rpc_status user_staff_by_id(rpc_ctx *ctx, const char *staff_id, bool for_update, Metro__User__V1__Staff **out);
rpc_status user_staff_by_user(rpc_ctx *ctx, const char *user_id, Metro__User__V1__Staff **out);
rpc_status user_staff_insert(rpc_ctx *ctx, const Metro__User__V1__Staff *s, bool *created, Metro__User__V1__Staff **out);
rpc_status user_staff_save(rpc_ctx *ctx, const Metro__User__V1__Staff *s, Metro__User__V1__Staff **out);
rpc_status user_staff_delete(rpc_ctx *ctx, const char *staff_id, Metro__User__V1__Staff **out);
rpc_status user_staff_list(rpc_ctx *ctx, const user_list_query *q, Metro__User__V1__ListStaffResponse *out);
rpc_status user_admin_by_user(rpc_ctx *ctx, const char *user_id, Metro__User__V1__Admin **out);
rpc_status user_admin_insert(rpc_ctx *ctx, const char *user_id);
/* Removes every profile of an account (user.deleted). */
rpc_status user_profiles_delete_all(rpc_ctx *ctx, const char *user_id);

/* ---- store helpers shared by passengers.c and staff.c ---- */
const char *user_cell(rpc_ctx *ctx, const PGresult *r, int row, int col); /* "" for SQL NULL */
Google__Protobuf__Timestamp *user_timestamp(rpc_ctx *ctx, const char *epoch_us);
const char *user_or_null(const char *s);                                 /* NULL for "" */
/* NOT_FOUND with the given reason. */
rpc_status user_not_found(rpc_ctx *ctx, const char *reason, const char *what);

/* ---- handlers.c ---- */
extern const rpc_service_impl user_service_impl;

/* ---- consumers.c: user.created and user.deleted ---- */
extern const ev_subscription user_subscriptions[];
extern const size_t user_n_subscriptions;

#endif
