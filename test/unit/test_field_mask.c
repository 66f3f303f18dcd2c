/* The shared AIP-134 update-mask helper: which spellings of a path name a field, the bits a
 * mask selects, and the answers for unknown (service's reason) and read-only paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/field_mask.h"

enum { B_NAME = 1, B_LOCATION = 2, B_ACTIVE = 4, B_ROUTES = 8 };

static const fm_path paths[] = {
    {"promotion_id", 0},
    {"name", B_NAME},
    {"location", B_LOCATION},
    {"is_active", B_ACTIVE},
    {"applicable_route_ids", B_ROUTES},
    {"create_time", 0},
    {NULL, 0},
};

static int setup(void **state) {
  *state = arena_create(4096);
  return 0;
}

static int teardown(void **state) {
  arena_destroy(*state);
  return 0;
}

static Google__Protobuf__FieldMask mask_of(char **p, size_t n) {
  Google__Protobuf__FieldMask m = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
  m.paths = p;
  m.n_paths = n;
  return m;
}

static void test_snake_camel_and_upper_spellings_name_the_field(void **state) {
  (void)state;
  assert_true(fm_path_names("is_active", "is_active", false));
  assert_true(fm_path_names("isActive", "is_active", false));
  assert_true(fm_path_names("IS_ACTIVE", "is_active", false));
  assert_true(fm_path_names("applicableRouteIds", "applicable_route_ids", false));
  assert_true(fm_path_names("_is__active", "is_active", false));
}

static void test_other_paths_do_not_name_the_field(void **state) {
  (void)state;
  assert_false(fm_path_names("is_act", "is_active", false));
  assert_false(fm_path_names("is_active_", "is_active", false));
  assert_false(fm_path_names("is_activex", "is_active", false));
  assert_false(fm_path_names("", "is_active", false));
  assert_false(fm_path_names("active", "is_active", false));
}

static void test_subpaths_name_their_field_only_when_allowed(void **state) {
  (void)state;
  assert_true(fm_path_names("location.latitude", "location", true));
  assert_true(fm_path_names("Location.longitude", "location", true));
  assert_false(fm_path_names("location.latitude", "location", false));
  assert_false(fm_path_names("locations.latitude", "location", true));
  assert_true(fm_path_names("location", "location", true));
}

static void test_no_mask_or_an_empty_one_selects_nothing(void **state) {
  unsigned bits = 99;
  assert_true(rpc_ok(fm_mask_bits(*state, NULL, paths, false, "UNKNOWN_FIELD", &bits)));
  assert_int_equal(bits, 0);
  Google__Protobuf__FieldMask m = mask_of(NULL, 0);
  bits = 99;
  assert_true(rpc_ok(fm_mask_bits(*state, &m, paths, false, "UNKNOWN_FIELD", &bits)));
  assert_int_equal(bits, 0);
}

static void test_each_path_adds_its_bit(void **state) {
  char *p[] = {"name", "isActive", "APPLICABLE_ROUTE_IDS", "name"};
  Google__Protobuf__FieldMask m = mask_of(p, 4);
  unsigned bits = 0;
  assert_true(rpc_ok(fm_mask_bits(*state, &m, paths, false, "UNKNOWN_FIELD", &bits)));
  assert_int_equal(bits, B_NAME | B_ACTIVE | B_ROUTES);
}

static void test_a_subpath_adds_its_fields_bit_when_allowed(void **state) {
  char *p[] = {"location.latitude"};
  Google__Protobuf__FieldMask m = mask_of(p, 1);
  unsigned bits = 0;
  assert_true(rpc_ok(fm_mask_bits(*state, &m, paths, true, "INVALID_UPDATE_MASK", &bits)));
  assert_int_equal(bits, B_LOCATION);
  rpc_status st = fm_mask_bits(*state, &m, paths, false, "UNKNOWN_FIELD", &bits);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(st.reason, "UNKNOWN_FIELD");
}

static void test_an_unknown_path_is_the_services_reason_on_update_mask(void **state) {
  char *p[] = {"name", "colour"};
  Google__Protobuf__FieldMask m = mask_of(p, 2);
  unsigned bits = 0;
  rpc_status st = fm_mask_bits(*state, &m, paths, true, "INVALID_UPDATE_MASK", &bits);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(st.reason, "INVALID_UPDATE_MASK");
  assert_string_equal(st.field, "updateMask");
  assert_string_equal(st.message, "updateMask: \"colour\" cannot be updated");
}

static void test_an_unprintable_or_long_unknown_path_is_not_echoed(void **state) {
  char long_path[80];
  memset(long_path, 'a', sizeof long_path - 1);
  long_path[sizeof long_path - 1] = '\0';
  char *bad[] = {"na\"me\n", "tên", long_path};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    Google__Protobuf__FieldMask m = mask_of(&bad[i], 1);
    unsigned bits = 0;
    rpc_status st = fm_mask_bits(*state, &m, paths, false, "UNKNOWN_FIELD", &bits);
    assert_string_equal(st.reason, "UNKNOWN_FIELD");
    assert_string_equal(st.message, "updateMask: \"?\" cannot be updated");
  }
}

static void test_a_read_only_path_is_field_read_only_in_camel_case(void **state) {
  char *p[] = {"name", "PROMOTION_ID"};
  Google__Protobuf__FieldMask m = mask_of(p, 2);
  unsigned bits = 0;
  rpc_status st = fm_mask_bits(*state, &m, paths, false, "UNKNOWN_FIELD", &bits);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(st.reason, "FIELD_READ_ONLY");
  assert_string_equal(st.field, "updateMask");
  assert_string_equal(st.message, "updateMask: promotionId is read-only");

  char *q[] = {"createTime"};
  m = mask_of(q, 1);
  st = fm_mask_bits(*state, &m, paths, false, "UNKNOWN_FIELD", &bits);
  assert_string_equal(st.message, "updateMask: createTime is read-only");
}

static void test_the_first_row_naming_a_path_wins(void **state) {
  static const fm_path dup[] = {{"name", 0}, {"name", B_NAME}, {NULL, 0}};
  char *p[] = {"name"};
  Google__Protobuf__FieldMask m = mask_of(p, 1);
  unsigned bits = 0;
  rpc_status st = fm_mask_bits(*state, &m, dup, false, "UNKNOWN_FIELD", &bits);
  assert_string_equal(st.reason, "FIELD_READ_ONLY");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_snake_camel_and_upper_spellings_name_the_field),
      cmocka_unit_test(test_other_paths_do_not_name_the_field),
      cmocka_unit_test(test_subpaths_name_their_field_only_when_allowed),
      cmocka_unit_test_setup_teardown(test_no_mask_or_an_empty_one_selects_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_each_path_adds_its_bit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_subpath_adds_its_fields_bit_when_allowed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_an_unknown_path_is_the_services_reason_on_update_mask, setup, teardown),
      cmocka_unit_test_setup_teardown(test_an_unprintable_or_long_unknown_path_is_not_echoed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_read_only_path_is_field_read_only_in_camel_case, setup, teardown),
      cmocka_unit_test_setup_teardown(test_the_first_row_naming_a_path_wins, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
