/* Unit tests of common/descset: merging descriptor sets, file and symbol lookups,
 * dependencies, services and the google.api.http / metro.api.v1.access options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/descset.h"

extern const unsigned char metro_descriptor_set[];
extern const size_t metro_descriptor_set_len;
extern const unsigned char metro_testing_descriptor_set[];
extern const size_t metro_testing_descriptor_set_len;

static descset *load_both(void) {
  const uint8_t *sets[] = {metro_descriptor_set, metro_testing_descriptor_set};
  size_t lens[] = {metro_descriptor_set_len, metro_testing_descriptor_set_len};
  char err[256];
  descset *d = descset_load(sets, lens, 2, err, sizeof err);
  assert_non_null(d);
  return d;
}

static int setup(void **state) {
  *state = load_both();
  return 0;
}

static int teardown(void **state) {
  descset_free(*state);
  return 0;
}

static void test_file_bytes_are_the_serialized_file(void **state) {
  const descset *d = *state;
  const uint8_t *data;
  size_t len;
  assert_true(descset_file_bytes(d, "metro/auth/v1/auth.proto", &data, &len));
  Google__Protobuf__FileDescriptorProto *fp = google__protobuf__file_descriptor_proto__unpack(NULL, len, data);
  assert_non_null(fp);
  assert_string_equal(fp->name, "metro/auth/v1/auth.proto");
  assert_string_equal(fp->package, "metro.auth.v1");
  google__protobuf__file_descriptor_proto__free_unpacked(fp, NULL);
  assert_false(descset_file_bytes(d, "metro/nope.proto", &data, &len));
}

static void test_file_shared_by_two_sets_is_kept_once(void **state) {
  const descset *d = *state;
  const char *const *names;
  int n = descset_files(d, &names);
  int descriptor = 0, testing = 0, auth = 0;
  for (int i = 0; i < n; i++) {
    descriptor += strcmp(names[i], "google/protobuf/descriptor.proto") == 0;
    testing += strcmp(names[i], "metro/testing/v1/testing.proto") == 0;
    auth += strcmp(names[i], "metro/auth/v1/auth.proto") == 0;
  }
  assert_int_equal(descriptor, 1);
  assert_int_equal(testing, 1);
  assert_int_equal(auth, 1);
  const descset_service *svcs;
  int ns = descset_services(d, &svcs);
  int health = 0;
  for (int i = 0; i < ns; i++) health += strcmp(svcs[i].full_name, "grpc.health.v1.Health") == 0;
  assert_int_equal(health, 1);
}

static void test_symbol_lookup_finds_each_kind(void **state) {
  const descset *d = *state;
  assert_string_equal(descset_file_of_symbol(d, "metro.auth.v1"), "metro/auth/v1/auth.proto");
  assert_string_equal(descset_file_of_symbol(d, "metro.auth.v1.User"), "metro/auth/v1/auth.proto");
  assert_string_equal(descset_file_of_symbol(d, ".metro.auth.v1.User"), "metro/auth/v1/auth.proto");
  assert_string_equal(descset_file_of_symbol(d, "metro.auth.v1.AuthService"), "metro/auth/v1/auth.proto");
  assert_string_equal(descset_file_of_symbol(d, "metro.auth.v1.AuthService.Login"), "metro/auth/v1/auth.proto");
  assert_string_equal(descset_file_of_symbol(d, "metro.testing.v1.Color"), "metro/testing/v1/testing.proto");
  assert_string_equal(descset_file_of_symbol(d, "metro.testing.v1.COLOR_RED"), "metro/testing/v1/testing.proto");
  assert_string_equal(descset_file_of_symbol(d, "metro.testing.v1.Everything.f_int64"), "metro/testing/v1/testing.proto");
  assert_string_equal(descset_file_of_symbol(d, "metro.api.v1.access"), "metro/api/v1/access.proto");
  assert_null(descset_file_of_symbol(d, "metro.auth.v1.Nope"));
  assert_null(descset_file_of_symbol(d, "metro.auth.v1.Use"));
  assert_null(descset_file_of_symbol(d, ""));
}

static void test_nested_message_symbol_and_descriptor(void **state) {
  const descset *d = *state;
  assert_string_equal(descset_file_of_symbol(d, "google.protobuf.DescriptorProto.ExtensionRange"),
                      "google/protobuf/descriptor.proto");
  const Google__Protobuf__DescriptorProto *entry = descset_message(d, "metro.testing.v1.Everything.MStringInt32Entry");
  assert_non_null(entry);
  assert_true(entry->options && entry->options->map_entry);
  const Google__Protobuf__DescriptorProto *inner = descset_message(d, ".metro.testing.v1.Inner");
  assert_non_null(inner);
  assert_string_equal(inner->name, "Inner");
  assert_null(descset_message(d, "metro.testing.v1.Color"));
  const Google__Protobuf__EnumDescriptorProto *color = descset_enum(d, "metro.testing.v1.Color");
  assert_non_null(color);
  assert_int_equal(color->n_value, 3);
  assert_null(descset_enum(d, "metro.testing.v1.Inner"));
}

static void test_file_deps_are_direct_imports(void **state) {
  const descset *d = *state;
  const char *const *deps;
  int n = descset_file_deps(d, "metro/auth/v1/auth.proto", &deps);
  assert_int_equal(n, 4);
  bool annotations = false, access = false;
  for (int i = 0; i < n; i++) {
    annotations |= strcmp(deps[i], "google/api/annotations.proto") == 0;
    access |= strcmp(deps[i], "metro/api/v1/access.proto") == 0;
  }
  assert_true(annotations && access);
  assert_int_equal(descset_file_deps(d, "google/protobuf/descriptor.proto", &deps), 0);
  assert_int_equal(descset_file_deps(d, "nope.proto", &deps), -1);
}

static void test_extension_lookup_by_extendee_and_number(void **state) {
  const descset *d = *state;
  assert_string_equal(descset_file_of_extension(d, "google.protobuf.MethodOptions", 51001), "metro/api/v1/access.proto");
  assert_string_equal(descset_file_of_extension(d, ".google.protobuf.MethodOptions", 72295728),
                      "google/api/annotations.proto");
  assert_null(descset_file_of_extension(d, "google.protobuf.MethodOptions", 1));
}

static void test_methods_carry_paths_types_and_streaming(void **state) {
  const descset *d = *state;
  const descset_method *m = descset_find_method(d, "/metro.auth.v1.AuthService/Login");
  assert_non_null(m);
  assert_string_equal(m->name, "Login");
  assert_string_equal(m->input_type, "metro.auth.v1.LoginRequest");
  assert_string_equal(m->output_type, "metro.auth.v1.Session");
  assert_string_equal(m->service, "metro.auth.v1.AuthService");
  assert_false(m->client_streaming || m->server_streaming);
  const descset_method *r = descset_find_method(d, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
  assert_non_null(r);
  assert_true(r->client_streaming && r->server_streaming);
  assert_null(descset_find_method(d, "/metro.auth.v1.AuthService/Nope"));
  assert_null(descset_find_method(d, "metro.auth.v1.AuthService/Login"));
}

static void test_services_are_in_file_order(void **state) {
  const descset *d = *state;
  const descset_service *svcs;
  int n = descset_services(d, &svcs);
  int auth = -1, echo = -1;
  for (int i = 0; i < n; i++) {
    if (strcmp(svcs[i].full_name, "metro.auth.v1.AuthService") == 0) auth = i;
    if (strcmp(svcs[i].full_name, "metro.testing.v1.EchoService") == 0) echo = i;
  }
  assert_true(auth >= 0 && echo > auth);
  assert_string_equal(svcs[auth].file, "metro/auth/v1/auth.proto");
  assert_int_equal(svcs[echo].n_methods, 5);
  assert_string_equal(svcs[echo].methods[0].name, "Echo");
  assert_string_equal(svcs[echo].methods[4].path, "/metro.testing.v1.EchoService/Fail");
}

static void test_access_option_public_and_roles(void **state) {
  const descset *d = *state;
  const descset_method *login = descset_find_method(d, "/metro.auth.v1.AuthService/Login");
  assert_true(login->access_public);
  assert_int_equal(login->n_roles, 0);
  const descset_method *list = descset_find_method(d, "/metro.auth.v1.AuthService/ListUsers");
  assert_false(list->access_public);
  assert_int_equal(list->n_roles, 1);
  assert_string_equal(list->roles[0], "admin");
  const descset_method *me = descset_find_method(d, "/metro.auth.v1.AuthService/GetCurrentUser");
  assert_false(me->access_public);
  assert_int_equal(me->n_roles, 0);
  const descset_method *admin = descset_find_method(d, "/metro.testing.v1.EchoService/AdminOnly");
  assert_int_equal(admin->n_roles, 1);
  assert_string_equal(admin->roles[0], "admin");
}

static void test_http_option_with_additional_bindings(void **state) {
  const descset *d = *state;
  const descset_method *login = descset_find_method(d, "/metro.auth.v1.AuthService/Login");
  assert_non_null(login->http);
  assert_int_equal(login->http->pattern_case, GOOGLE__API__HTTP_RULE__PATTERN_POST);
  assert_string_equal(login->http->post, "/v1/auth/login");
  assert_string_equal(login->http->body, "*");
  const descset_method *echo = descset_find_method(d, "/metro.testing.v1.EchoService/Echo");
  assert_string_equal(echo->http->get, "/v1/{name=depots/*}");
  assert_int_equal(echo->http->n_additional_bindings, 3);
  assert_string_equal(echo->http->additional_bindings[1]->put, "/v1/echo/{inner.label}");
  assert_string_equal(echo->http->additional_bindings[1]->body, "payload");
  const descset_method *health = descset_find_method(d, "/grpc.health.v1.Health/Check");
  assert_null(health->http);
  assert_false(health->access_public);
}

/* google.protobuf.MethodOptions.idempotency_level, as annotated on the read-only methods. */
static void test_idempotency_level_from_method_options(void **state) {
  const descset *d = *state;
  const descset_method *echo = descset_find_method(d, "/metro.testing.v1.EchoService/Echo");
  assert_int_equal(echo->idempotency_level, GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__NO_SIDE_EFFECTS);
  assert_true(echo->idempotent);
  const descset_method *fail = descset_find_method(d, "/metro.testing.v1.EchoService/Fail");
  assert_int_equal(fail->idempotency_level, GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__IDEMPOTENCY_UNKNOWN);
  assert_false(fail->idempotent);
  assert_true(descset_find_method(d, "/metro.ticket.v1.TicketService/GetTicket")->idempotent);
  assert_true(descset_find_method(d, "/metro.user.v1.UserService/GetPassengerByUser")->idempotent);
  assert_false(descset_find_method(d, "/metro.ticket.v1.TicketService/CreateTicket")->idempotent);
  assert_false(descset_find_method(d, "/metro.webhook.v1.WebhookService/VnpayIpn")->idempotent);
  assert_false(descset_find_method(d, "/grpc.health.v1.Health/Check")->idempotent); /* not annotated */
}

/* Every GET route of the Metro services (auth and management aside, whose owners annotate
 * them) is declared free of side effects, so the gateway may retry it; the VNPay IPN is a GET
 * that records a payment. */
static void test_get_routes_declare_no_side_effects(void **state) {
  const descset *d = *state;
  const descset_service *svcs;
  int n = descset_services(d, &svcs), checked = 0;
  for (int i = 0; i < n; i++) {
    if (strncmp(svcs[i].full_name, "metro.", 6) != 0 || strncmp(svcs[i].full_name, "metro.testing.", 14) == 0 ||
        strncmp(svcs[i].full_name, "metro.auth.", 11) == 0 || strncmp(svcs[i].full_name, "metro.management.", 17) == 0)
      continue;
    for (int k = 0; k < svcs[i].n_methods; k++) {
      const descset_method *m = &svcs[i].methods[k];
      if (!m->http || m->http->pattern_case != GOOGLE__API__HTTP_RULE__PATTERN_GET) continue;
      if (strcmp(m->path, "/metro.webhook.v1.WebhookService/VnpayIpn") == 0) continue;
      if (m->idempotency_level != GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__NO_SIDE_EFFECTS)
        fail_msg("%s is a GET route without option idempotency_level = NO_SIDE_EFFECTS", m->path);
      checked++;
    }
  }
  if (checked < 35) fail_msg("only %d GET routes checked", checked); /* 38 when written */
}

/* A set built here: the three levels, and IDEMPOTENT (which nothing in the protos uses yet). */
static void test_each_idempotency_level_is_read(void **state) {
  (void)state;
  static const Google__Protobuf__MethodOptions__IdempotencyLevel levels[] = {
      GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__IDEMPOTENCY_UNKNOWN,
      GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__NO_SIDE_EFFECTS,
      GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__IDEMPOTENT};
  static const char *const names[] = {"Unknown", "Read", "Put", "Plain"};
  Google__Protobuf__MethodOptions opts[3];
  Google__Protobuf__MethodDescriptorProto methods[4], *method_ptrs[4];
  for (int i = 0; i < 4; i++) {
    google__protobuf__method_descriptor_proto__init(&methods[i]);
    methods[i].name = (char *)names[i];
    methods[i].input_type = ".t.M";
    methods[i].output_type = ".t.M";
    if (i < 3) {
      google__protobuf__method_options__init(&opts[i]);
      opts[i].has_idempotency_level = true;
      opts[i].idempotency_level = levels[i];
      methods[i].options = &opts[i];
    }
    method_ptrs[i] = &methods[i];
  }
  Google__Protobuf__ServiceDescriptorProto svc = GOOGLE__PROTOBUF__SERVICE_DESCRIPTOR_PROTO__INIT, *svc_ptr = &svc;
  svc.name = "S";
  svc.n_method = 4;
  svc.method = method_ptrs;
  Google__Protobuf__DescriptorProto msg = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT, *msg_ptr = &msg;
  msg.name = "M";
  Google__Protobuf__FileDescriptorProto file = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT, *file_ptr = &file;
  file.name = "t.proto";
  file.package = "t";
  file.n_message_type = 1;
  file.message_type = &msg_ptr;
  file.n_service = 1;
  file.service = &svc_ptr;
  Google__Protobuf__FileDescriptorSet set = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
  set.n_file = 1;
  set.file = &file_ptr;
  uint8_t buf[1024];
  assert_true(google__protobuf__file_descriptor_set__get_packed_size(&set) <= sizeof buf);
  const uint8_t *sets[] = {buf};
  size_t lens[] = {google__protobuf__file_descriptor_set__pack(&set, buf)};
  char err[256];
  descset *d = descset_load(sets, lens, 1, err, sizeof err);
  assert_non_null(d);
  const descset_method *unknown = descset_find_method(d, "/t.S/Unknown"), *read = descset_find_method(d, "/t.S/Read"),
                       *put = descset_find_method(d, "/t.S/Put"), *plain = descset_find_method(d, "/t.S/Plain");
  assert_int_equal(unknown->idempotency_level, levels[0]);
  assert_false(unknown->idempotent);
  assert_int_equal(read->idempotency_level, levels[1]);
  assert_true(read->idempotent);
  assert_int_equal(put->idempotency_level, levels[2]);
  assert_true(put->idempotent);
  assert_int_equal(plain->idempotency_level, levels[0]);
  assert_false(plain->idempotent);
  descset_free(d);
}

static void test_malformed_set_is_rejected_with_reason(void **state) {
  (void)state;
  static const uint8_t truncated[] = {0x0a, 0x7f, 0x0a};
  static const uint8_t not_a_file[] = {0x0a, 0x02, 0xff, 0xff};
  char err[256] = "";
  const uint8_t *sets[] = {truncated};
  size_t lens[] = {sizeof truncated};
  assert_null(descset_load(sets, lens, 1, err, sizeof err));
  assert_non_null(strstr(err, "malformed"));
  sets[0] = not_a_file;
  lens[0] = sizeof not_a_file;
  err[0] = '\0';
  assert_null(descset_load(sets, lens, 1, err, sizeof err));
  assert_true(err[0] != '\0');
}

static void test_empty_input_gives_empty_index(void **state) {
  (void)state;
  char err[64];
  descset *d = descset_load(NULL, NULL, 0, err, sizeof err);
  assert_non_null(d);
  const descset_service *svcs;
  assert_int_equal(descset_services(d, &svcs), 0);
  assert_null(descset_file_of_symbol(d, "a.b"));
  assert_null(descset_find_method(d, "/a.B/C"));
  descset_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_file_bytes_are_the_serialized_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_shared_by_two_sets_is_kept_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_symbol_lookup_finds_each_kind, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nested_message_symbol_and_descriptor, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_deps_are_direct_imports, setup, teardown),
      cmocka_unit_test_setup_teardown(test_extension_lookup_by_extendee_and_number, setup, teardown),
      cmocka_unit_test_setup_teardown(test_methods_carry_paths_types_and_streaming, setup, teardown),
      cmocka_unit_test_setup_teardown(test_services_are_in_file_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_access_option_public_and_roles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_option_with_additional_bindings, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idempotency_level_from_method_options, setup, teardown),
      cmocka_unit_test_setup_teardown(test_get_routes_declare_no_side_effects, setup, teardown),
      cmocka_unit_test(test_each_idempotency_level_is_read),
      cmocka_unit_test(test_malformed_set_is_rejected_with_reason),
      cmocka_unit_test(test_empty_input_gives_empty_index),
  };
  return cmocka_run_group_tests_name("descset", tests, NULL, NULL);
}
