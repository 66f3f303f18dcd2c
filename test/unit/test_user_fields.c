/* The user service's profile field rules and list queries without a database: update
 * masks (AIP-134), who may change what (spec §2), value checks, LIKE escaping, page tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "svc/user/user.h"

typedef struct fixture {
  arena *a;
  rpc_ctx ctx;
  Metro__User__V1__Passenger current;
  Metro__User__V1__Preferences prefs;
} fixture;

static int setup(void **state) {
  static fixture f;
  memset(&f, 0, sizeof f);
  f.a = arena_create(4096);
  f.ctx.arena = f.a;
  metro__user__v1__passenger__init(&f.current);
  metro__user__v1__preferences__init(&f.prefs);
  f.prefs.email = true;
  f.current.preferences = &f.prefs;
  f.current.passenger_id = "7d6b7f4e-2f7c-4a53-9a55-1f1f7f0c0a11";
  f.current.username = "lan";
  f.current.email = "lan@example.com";
  f.current.first_name = "Lan";
  f.current.last_name = "Nguyen";
  f.current.date_of_birth = "";
  f.current.is_active = true;
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  arena_destroy(((fixture *)*state)->a);
  return 0;
}

static Google__Protobuf__FieldMask mask_of(char **paths, size_t n) {
  Google__Protobuf__FieldMask m = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
  m.paths = paths;
  m.n_paths = n;
  return m;
}

static void test_masked_fields_change_and_others_stay(void **state) {
  fixture *f = *state;
  Metro__User__V1__Passenger patch = METRO__USER__V1__PASSENGER__INIT;
  patch.phone_number = "0901234567";
  patch.last_name = "Ignored";
  char *paths[] = {"phone_number"};
  Google__Protobuf__FieldMask m = mask_of(paths, 1);
  assert_true(rpc_ok(user_passenger_apply(&f->ctx, USER_EDITOR_SELF, &patch, &m, &f->current)));
  assert_string_equal(f->current.phone_number, "0901234567");
  assert_string_equal(f->current.last_name, "Nguyen");
}

static void test_without_a_mask_only_given_changes_apply(void **state) {
  fixture *f = *state;
  Metro__User__V1__Passenger patch = METRO__USER__V1__PASSENGER__INIT;
  patch.address = "1 Le Loi";
  patch.username = "lan"; /* the same as now: not a change, so not refused */
  assert_true(rpc_ok(user_passenger_apply(&f->ctx, USER_EDITOR_SELF, &patch, NULL, &f->current)));
  assert_string_equal(f->current.address, "1 Le Loi");
  assert_true(f->current.preferences->email); /* no Preferences given: untouched */
}

static void test_read_only_fields_are_refused_by_name(void **state) {
  fixture *f = *state;
  Metro__User__V1__Passenger patch = METRO__USER__V1__PASSENGER__INIT;
  patch.email = "other@example.com";
  rpc_status st = user_passenger_apply(&f->ctx, USER_EDITOR_ADMIN, &patch, NULL, &f->current);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(st.reason, "FIELD_READ_ONLY");
  assert_string_equal(st.field, "email");
}

static void test_unknown_mask_path_is_refused(void **state) {
  fixture *f = *state;
  char *paths[] = {"nickname"};
  Google__Protobuf__FieldMask m = mask_of(paths, 1);
  rpc_status st = user_passenger_apply(&f->ctx, USER_EDITOR_ADMIN, NULL, &m, &f->current);
  assert_string_equal(st.reason, "UNKNOWN_FIELD");
  assert_string_equal(st.field, "updateMask");
}

static void test_date_of_birth_once_for_the_passenger_always_for_staff(void **state) {
  fixture *f = *state;
  Metro__User__V1__Passenger patch = METRO__USER__V1__PASSENGER__INIT;
  patch.date_of_birth = "2000-01-02";
  assert_true(rpc_ok(user_passenger_apply(&f->ctx, USER_EDITOR_SELF, &patch, NULL, &f->current)));
  patch.date_of_birth = "2000-01-03";
  rpc_status st = user_passenger_apply(&f->ctx, USER_EDITOR_SELF, &patch, NULL, &f->current);
  assert_int_equal(st.code, GRPC_STATUS_PERMISSION_DENIED);
  assert_string_equal(st.reason, "DATE_OF_BIRTH_LOCKED");
  assert_true(rpc_ok(user_passenger_apply(&f->ctx, USER_EDITOR_ADMIN, &patch, NULL, &f->current)));
  assert_string_equal(f->current.date_of_birth, "2000-01-03");
  patch.date_of_birth = "2999-01-01";
  st = user_passenger_apply(&f->ctx, USER_EDITOR_ADMIN, &patch, NULL, &f->current);
  assert_string_equal(st.reason, "INVALID_DATE_OF_BIRTH");
}

static void test_staff_only_fields_are_refused_to_the_passenger(void **state) {
  fixture *f = *state;
  char *paths[] = {"is_active"};
  Google__Protobuf__FieldMask m = mask_of(paths, 1);
  rpc_status st = user_passenger_apply(&f->ctx, USER_EDITOR_SELF, NULL, &m, &f->current);
  assert_string_equal(st.reason, "FIELD_NOT_EDITABLE");
  assert_string_equal(st.field, "isActive");
  assert_true(rpc_ok(user_passenger_apply(&f->ctx, USER_EDITOR_ADMIN, NULL, &m, &f->current)));
  assert_false(f->current.is_active);
}

static void test_preferences_path_sets_all_three(void **state) {
  fixture *f = *state;
  Metro__User__V1__Preferences p = METRO__USER__V1__PREFERENCES__INIT;
  p.sms = true;
  Metro__User__V1__Passenger patch = METRO__USER__V1__PASSENGER__INIT;
  patch.preferences = &p;
  char *paths[] = {"preferences"};
  Google__Protobuf__FieldMask m = mask_of(paths, 1);
  assert_true(rpc_ok(user_passenger_apply(&f->ctx, USER_EDITOR_SELF, &patch, &m, &f->current)));
  assert_false(f->current.preferences->email);
  assert_true(f->current.preferences->sms);
  char *one[] = {"preferences.station_alerts"};
  p.station_alerts = true;
  m = mask_of(one, 1);
  assert_true(rpc_ok(user_passenger_apply(&f->ctx, USER_EDITOR_SELF, &patch, &m, &f->current)));
  assert_true(f->current.preferences->station_alerts);
}

static void test_values_keep_their_rules(void **state) {
  fixture *f = *state;
  Metro__User__V1__Passenger patch = METRO__USER__V1__PASSENGER__INIT;
  patch.phone_number = "12ab";
  assert_string_equal(user_passenger_apply(&f->ctx, USER_EDITOR_SELF, &patch, NULL, &f->current).reason,
                      "INVALID_PHONE_NUMBER");
  char *paths[] = {"first_name"};
  Google__Protobuf__FieldMask m = mask_of(paths, 1);
  Metro__User__V1__Passenger empty = METRO__USER__V1__PASSENGER__INIT;
  assert_string_equal(user_passenger_apply(&f->ctx, USER_EDITOR_SELF, &empty, &m, &f->current).reason,
                      "INVALID_NAME");
}

static void test_like_patterns_escape_wildcards(void **state) {
  fixture *f = *state;
  assert_string_equal(user_like_contains(f->a, "a%b_c\\d"), "%a\\%b\\_c\\\\d%");
  assert_string_equal(user_like_contains(f->a, ""), "%%");
}

static void test_page_tokens_round_trip_and_bind_to_their_list(void **state) {
  fixture *f = *state;
  const char *token = user_page_token(&f->ctx, "p", 1732000000123456, "7d6b7f4e-2f7c-4a53-9a55-1f1f7f0c0a11");
  user_list_query q;
  assert_true(rpc_ok(user_list_query_parse(&f->ctx, "p", 0, token, "lan", NULL, &q)));
  assert_int_equal(q.page_size, USER_DEFAULT_PAGE_SIZE);
  assert_string_equal(q.after_created_us, "1732000000123456");
  assert_string_equal(q.after_id, "7d6b7f4e-2f7c-4a53-9a55-1f1f7f0c0a11");
  assert_string_equal(q.name_pattern, "%lan%");
  assert_null(q.email_pattern);
  assert_string_equal(user_list_query_parse(&f->ctx, "s", 0, token, NULL, NULL, &q).reason, "INVALID_PAGE_TOKEN");
  assert_string_equal(user_list_query_parse(&f->ctx, "p", 0, "!!", NULL, NULL, &q).reason, "INVALID_PAGE_TOKEN");
  assert_string_equal(user_list_query_parse(&f->ctx, "p", -1, NULL, NULL, NULL, &q).reason, "INVALID_PAGE_SIZE");
  assert_true(rpc_ok(user_list_query_parse(&f->ctx, "p", 1000, NULL, NULL, NULL, &q)));
  assert_int_equal(q.page_size, USER_MAX_PAGE_SIZE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_masked_fields_change_and_others_stay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_without_a_mask_only_given_changes_apply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only_fields_are_refused_by_name, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_mask_path_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_date_of_birth_once_for_the_passenger_always_for_staff, setup, teardown),
      cmocka_unit_test_setup_teardown(test_staff_only_fields_are_refused_to_the_passenger, setup, teardown),
      cmocka_unit_test_setup_teardown(test_preferences_path_sets_all_three, setup, teardown),
      cmocka_unit_test_setup_teardown(test_values_keep_their_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_like_patterns_escape_wildcards, setup, teardown),
      cmocka_unit_test_setup_teardown(test_page_tokens_round_trip_and_bind_to_their_list, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
