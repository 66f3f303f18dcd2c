/* API keys without a database: the secret format (generation, strict parsing, the SHA-256 the
 * database keeps and its constant-time check) and the rules a new key must meet, each error
 * naming its field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/api_key.h"
#include "common/crypto.h"
#include "common/page_token.h"
#include "svc/auth/api_keys.h"

#define NOW_US 1800000000000000LL /* 2027-01-15 */

typedef struct fixture {
  arena *a;
  rpc_ctx ctx;
  Metro__Auth__V1__ApiKey key;
  char *roles[2];
} fixture;

static int setup(void **state) {
  static fixture f;
  memset(&f, 0, sizeof f);
  f.a = arena_create(4096);
  f.ctx.arena = f.a;
  metro__auth__v1__api_key__init(&f.key);
  f.key.display_name = "Kiosk Bến Thành 3";
  f.roles[0] = "staff";
  f.key.roles = f.roles;
  f.key.n_roles = 1;
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  arena_destroy(((fixture *)*state)->a);
  return 0;
}

/* Validates f->key and asserts the error's field and reason. */
static void assert_refused(fixture *f, const char *field, const char *reason) {
  auth_api_key out;
  rpc_status st = auth_api_key_validate_new(&f->ctx, &f->key, NOW_US, &out);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_non_null(st.field);
  assert_string_equal(st.field, field);
  assert_string_equal(st.reason, reason);
}

static void assert_accepted(fixture *f, auth_api_key *out) {
  rpc_status st = auth_api_key_validate_new(&f->ctx, &f->key, NOW_US, out);
  if (!rpc_ok(st)) fail_msg("refused: %s (%s)", st.message, st.field ? st.field : "-");
}

static void test_generated_secrets_have_the_format_and_differ(void **state) {
  (void)state;
  char id1[API_KEY_ID_LEN + 1], id2[API_KEY_ID_LEN + 1], s1[API_KEY_SECRET_LEN + 1], s2[API_KEY_SECRET_LEN + 1];
  api_key_generate(id1, s1);
  api_key_generate(id2, s2);
  assert_int_equal(strlen(s1), 63);
  assert_int_equal(strlen(id1), 16);
  assert_memory_equal(s1, "mk_", 3);
  assert_memory_equal(s1 + 3, id1, 16);
  assert_int_equal(s1[19], '_');
  assert_true(api_key_id_valid(id1));
  char parsed[API_KEY_ID_LEN + 1] = "";
  assert_true(api_key_parse(s1, parsed));
  assert_string_equal(parsed, id1);
  assert_string_not_equal(id1, id2);
  assert_string_not_equal(s1 + 20, s2 + 20);
}

static void test_the_stored_hash_is_sha256_of_the_whole_secret(void **state) {
  (void)state;
  char id[API_KEY_ID_LEN + 1], secret[API_KEY_SECRET_LEN + 1], hex[65], want[65];
  api_key_generate(id, secret);
  api_key_sha256_hex(secret, hex);
  crypto_sha256_hex(secret, strlen(secret), want);
  assert_string_equal(hex, want);
  assert_true(api_key_matches(secret, hex));
  for (char *p = hex; *p; p++)
    if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
  assert_true(api_key_matches(secret, hex)); /* either case of hex */
  char other[API_KEY_SECRET_LEN + 1];
  snprintf(other, sizeof other, "%s", secret);
  other[40] = other[40] == 'A' ? 'B' : 'A';
  assert_false(api_key_matches(other, want));
  assert_false(api_key_matches(secret, "abcd"));
  assert_false(api_key_matches(secret, NULL));
}

static void test_malformed_secrets_are_refused(void **state) {
  (void)state;
  char id[API_KEY_ID_LEN + 1], secret[API_KEY_SECRET_LEN + 1], bad[128];
  api_key_generate(id, secret);
  assert_false(api_key_parse(NULL, NULL));
  assert_false(api_key_parse("", NULL));
  snprintf(bad, sizeof bad, "%sA", secret); /* too long */
  assert_false(api_key_parse(bad, NULL));
  snprintf(bad, sizeof bad, "%.62s", secret); /* too short */
  assert_false(api_key_parse(bad, NULL));
  snprintf(bad, sizeof bad, "MK_%s", secret + 3);
  assert_false(api_key_parse(bad, NULL));
  snprintf(bad, sizeof bad, "%s", secret);
  bad[5] = 'G'; /* not hex */
  assert_false(api_key_parse(bad, NULL));
  snprintf(bad, sizeof bad, "%s", secret);
  bad[5] = (char)(bad[5] >= 'a' ? 'A' : 'F'); /* upper-case hex or a letter outside a-f */
  assert_false(api_key_parse(bad, NULL));
  snprintf(bad, sizeof bad, "%s", secret);
  bad[19] = '-';
  assert_false(api_key_parse(bad, NULL));
  snprintf(bad, sizeof bad, "%s", secret);
  bad[30] = '+'; /* standard, not URL-safe, base64 */
  assert_false(api_key_parse(bad, NULL));
  /* 43 characters carry 258 bits: the last 2 must be zero, so each key has one spelling. */
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  snprintf(bad, sizeof bad, "%s", secret);
  int v = (int)(strchr(alphabet, bad[62]) - alphabet);
  bad[62] = alphabet[v | 1];
  assert_false(api_key_parse(bad, NULL));
  assert_false(api_key_id_valid("0123456789abcde"));
  assert_false(api_key_id_valid("0123456789abcdef0"));
  assert_false(api_key_id_valid("0123456789ABCDEF"));
  assert_true(api_key_id_valid("0123456789abcdef"));
}

static void test_a_minimal_key_gets_the_defaults(void **state) {
  fixture *f = *state;
  auth_api_key out;
  assert_accepted(f, &out);
  assert_string_equal(out.display_name, "Kiosk Bến Thành 3");
  assert_int_equal(out.n_roles, 1);
  assert_string_equal(out.roles[0], "staff");
  assert_int_equal(out.n_route_prefixes, 0);
  assert_int_equal(out.rate_limit_per_minute, 600);
  assert_int_equal(out.expire_us, 0);
}

static void test_every_input_field_is_kept(void **state) {
  fixture *f = *state;
  char *roles[] = {"gate", "staff"}, *prefixes[] = {"/v1/gates/", "/v1/stations/ben-thanh:x", "/v1/tickets"};
  Google__Protobuf__Timestamp expire = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  expire.seconds = NOW_US / 1000000 + 3600;
  expire.nanos = 500000000;
  f->key.roles = roles;
  f->key.n_roles = 2;
  f->key.route_prefixes = prefixes;
  f->key.n_route_prefixes = 3;
  f->key.rate_limit_per_minute = 100000;
  f->key.expire_time = &expire;
  auth_api_key out;
  assert_accepted(f, &out);
  assert_int_equal(out.n_roles, 2);
  assert_int_equal(out.n_route_prefixes, 3);
  assert_string_equal(out.route_prefixes[1], "/v1/stations/ben-thanh:x");
  assert_int_equal(out.rate_limit_per_minute, 100000);
  assert_int_equal(out.expire_us, NOW_US + 3600500000LL);
  f->key.rate_limit_per_minute = 1;
  assert_accepted(f, &out);
}

static void test_output_only_fields_are_refused(void **state) {
  fixture *f = *state;
  auth_api_key out;
  rpc_status st = auth_api_key_validate_new(&f->ctx, NULL, NOW_US, &out);
  assert_string_equal(st.field, "apiKey");
  assert_string_equal(st.reason, "FIELD_REQUIRED");
  f->key.key_id = "0123456789abcdef";
  assert_refused(f, "apiKey.keyId", "FIELD_READ_ONLY");
  f->key.key_id = "";
  f->key.secret_prefix = "mk_01234";
  assert_refused(f, "apiKey.secretPrefix", "FIELD_READ_ONLY");
  f->key.secret_prefix = "";
  f->key.created_by = "someone";
  assert_refused(f, "apiKey.createdBy", "FIELD_READ_ONLY");
  f->key.created_by = "";
  f->key.name = "apiKeys/x";
  assert_refused(f, "apiKey.name", "FIELD_READ_ONLY");
  f->key.name = "";
  Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  t.seconds = NOW_US / 1000000 + 60;
  f->key.revoke_time = &t;
  assert_refused(f, "apiKey.revokeTime", "FIELD_READ_ONLY");
  f->key.revoke_time = NULL;
  f->key.create_time = &t;
  assert_refused(f, "apiKey.createTime", "FIELD_READ_ONLY");
}

static void test_display_names_are_checked(void **state) {
  fixture *f = *state;
  f->key.display_name = "";
  assert_refused(f, "apiKey.displayName", "FIELD_REQUIRED");
  f->key.display_name = "   ";
  assert_refused(f, "apiKey.displayName", "FIELD_REQUIRED");
  f->key.display_name = "tab\there";
  assert_refused(f, "apiKey.displayName", "INVALID_DISPLAY_NAME");
  f->key.display_name = "bad \xff utf-8";
  assert_refused(f, "apiKey.displayName", "INVALID_DISPLAY_NAME");
  char name[512] = "";
  for (int i = 0; i < 100; i++) strcat(name, "đ"); /* 100 characters, 200 bytes */
  f->key.display_name = name;
  auth_api_key out;
  assert_accepted(f, &out);
  strcat(name, "x");
  assert_refused(f, "apiKey.displayName", "INVALID_DISPLAY_NAME");
  f->key.display_name = "k";
  assert_accepted(f, &out);
}

static void test_roles_are_staff_level_only(void **state) {
  fixture *f = *state;
  f->key.n_roles = 0;
  assert_refused(f, "apiKey.roles", "FIELD_REQUIRED");
  char *roles[9] = {"staff", "admin"};
  f->key.roles = roles;
  f->key.n_roles = 2;
  assert_refused(f, "apiKey.roles[1]", "ROLE_NOT_ALLOWED");
  roles[1] = "passenger";
  assert_refused(f, "apiKey.roles[1]", "ROLE_NOT_ALLOWED");
  roles[1] = "service";
  assert_refused(f, "apiKey.roles[1]", "ROLE_NOT_ALLOWED");
  roles[1] = "driver";
  assert_refused(f, "apiKey.roles[1]", "INVALID_ROLES");
  roles[1] = "staff";
  assert_refused(f, "apiKey.roles[1]", "INVALID_ROLES");
  roles[0] = "gate";
  auth_api_key out;
  assert_accepted(f, &out);
  for (int i = 0; i < 9; i++) roles[i] = "staff";
  f->key.n_roles = 9;
  assert_refused(f, "apiKey.roles", "INVALID_ROLES");
  assert_true(auth_api_key_role_allowed("staff"));
  assert_true(auth_api_key_role_allowed("gate"));
  assert_false(auth_api_key_role_allowed("admin"));
  assert_false(auth_api_key_role_allowed("passenger"));
  assert_false(auth_api_key_role_allowed("service"));
  assert_false(auth_api_key_role_allowed(NULL));
}

static void test_route_prefixes_are_canonical_paths(void **state) {
  fixture *f = *state;
  static const char *const bad[] = {"/v2/tickets", "/v1", "v1/tickets", "/v1/a b", "/v1/%2e%2e/auth",
                                    "/v1/../auth", "/v1/a//b", "/v1/.", "/v1/tickets/..", "/v1/x?y", "/v1/x#y",
                                    "/v1/\xc4\x91", ""};
  char *prefixes[33];
  f->key.route_prefixes = prefixes;
  prefixes[0] = "/v1/tickets";
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    prefixes[1] = (char *)bad[i];
    f->key.n_route_prefixes = 2;
    assert_refused(f, "apiKey.routePrefixes[1]", "INVALID_ROUTE_PREFIX");
  }
  char long_prefix[256] = "/v1/";
  while (strlen(long_prefix) < 200) strcat(long_prefix, "a");
  prefixes[1] = long_prefix;
  auth_api_key out;
  assert_accepted(f, &out);
  strcat(long_prefix, "a");
  assert_refused(f, "apiKey.routePrefixes[1]", "INVALID_ROUTE_PREFIX");
  prefixes[1] = "/v1/tickets";
  assert_refused(f, "apiKey.routePrefixes[1]", "INVALID_ROUTE_PREFIX"); /* repeated */
  prefixes[1] = "/v1/..x/.well-known";
  assert_accepted(f, &out);
  char names[33][16];
  for (int i = 0; i < 33; i++) {
    snprintf(names[i], sizeof names[i], "/v1/p%d", i);
    prefixes[i] = names[i];
  }
  f->key.n_route_prefixes = 32;
  assert_accepted(f, &out);
  f->key.n_route_prefixes = 33;
  assert_refused(f, "apiKey.routePrefixes", "INVALID_ROUTE_PREFIXES");
}

static void test_rate_limits_and_expiry_are_bounded(void **state) {
  fixture *f = *state;
  f->key.rate_limit_per_minute = -1;
  assert_refused(f, "apiKey.rateLimitPerMinute", "INVALID_RATE_LIMIT");
  f->key.rate_limit_per_minute = 100001;
  assert_refused(f, "apiKey.rateLimitPerMinute", "INVALID_RATE_LIMIT");
  f->key.rate_limit_per_minute = 0;
  Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  f->key.expire_time = &t;
  t.seconds = NOW_US / 1000000; /* now is not in the future */
  assert_refused(f, "apiKey.expireTime", "INVALID_EXPIRE_TIME");
  t.seconds = NOW_US / 1000000 - 86400;
  assert_refused(f, "apiKey.expireTime", "INVALID_EXPIRE_TIME");
  t.seconds = NOW_US / 1000000 + 60;
  t.nanos = 1000000000;
  assert_refused(f, "apiKey.expireTime", "INVALID_EXPIRE_TIME");
  t.nanos = 0;
  t.seconds = 253402300800LL; /* year 10000 */
  assert_refused(f, "apiKey.expireTime", "INVALID_EXPIRE_TIME");
  t.seconds = NOW_US / 1000000 + 1;
  auth_api_key out;
  assert_accepted(f, &out);
}

static void test_list_tokens_carry_key_ids_not_uuids(void **state) {
  fixture *f = *state;
  const char *token = page_token_make(&f->ctx, "ak", 1234567, "0123456789abcdef");
  page_cursor c;
  assert_true(rpc_ok(page_cursor_parse_ids(&f->ctx, "ak", 0, token, 20, 100, api_key_id_valid, &c)));
  assert_string_equal(c.after_id, "0123456789abcdef");
  assert_string_equal(c.after_us, "1234567");
  assert_int_equal(c.page_size, 20);
  /* The uuid lists keep refusing it, and a key list refuses another list's token. */
  rpc_status st = page_cursor_parse(&f->ctx, "ak", 0, token, 20, 100, &c);
  assert_string_equal(st.reason, "INVALID_PAGE_TOKEN");
  token = page_token_make(&f->ctx, "ak", 1234567, "'; DROP TABLE api_keys; --");
  st = page_cursor_parse_ids(&f->ctx, "ak", 0, token, 20, 100, api_key_id_valid, &c);
  assert_string_equal(st.reason, "INVALID_PAGE_TOKEN");
  token = page_token_make(&f->ctx, "pay", 1234567, "0123456789abcdef");
  st = page_cursor_parse_ids(&f->ctx, "ak", 0, token, 20, 100, api_key_id_valid, &c);
  assert_string_equal(st.field, "pageToken");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generated_secrets_have_the_format_and_differ),
      cmocka_unit_test(test_the_stored_hash_is_sha256_of_the_whole_secret),
      cmocka_unit_test(test_malformed_secrets_are_refused),
      cmocka_unit_test_setup_teardown(test_a_minimal_key_gets_the_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_input_field_is_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_output_only_fields_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_display_names_are_checked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_roles_are_staff_level_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_route_prefixes_are_canonical_paths, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_limits_and_expiry_are_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_tokens_carry_key_ids_not_uuids, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
