/* The auth REST contract end to end: client -> transcoder -> auth service -> PostgreSQL,
 * covering registration, login, lockout, sessions, tokens, admin listing and roles. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crypto.h"
#include "harness.h"
#include "metro/events/v1/envelope.pb-c.h"
#include "metro/events/v1/identity_events.pb-c.h"

#define STRONG_PASSWORD "Saigon-Metro-2026"

typedef struct account {
  char email[128], username[64], access[2048], refresh[256], user_id[64];
} account;

/* A sign-up body in a per-thread buffer (the race test calls this from 50 threads). */
static char *registration(const char *email, const char *username, const char *password) {
  static _Thread_local char buf[1024];
  snprintf(buf, sizeof buf,
           "{\"email\":\"%s\",\"username\":\"%s\",\"password\":\"%s\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}",
           email, username, password);
  return buf;
}

static void register_account(account *a) {
  snprintf(a->username, sizeof a->username, "%s", unique_name("rider"));
  snprintf(a->email, sizeof a->email, "%s@example.com", a->username);
  http_response *r = http_call("POST", "/v1/auth/register", registration(a->email, a->username, STRONG_PASSWORD), NULL);
  assert_int_equal(r->status, 200);
  snprintf(a->access, sizeof a->access, "%s", json_at(r, "accessToken"));
  snprintf(a->refresh, sizeof a->refresh, "%s", json_at(r, "refreshToken"));
  snprintf(a->user_id, sizeof a->user_id, "%s", json_at(r, "user.userId"));
  http_response_free(r);
}

static http_response *login(const char *login_name, const char *password) {
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", login_name, password);
  return http_call("POST", "/v1/auth/login", body, NULL);
}

static void admin_token(char *out, size_t cap) {
  http_response *r = login(getenv("METRO_TEST_ADMIN_EMAIL"), getenv("METRO_TEST_ADMIN_PASSWORD"));
  assert_int_equal(r->status, 200);
  snprintf(out, cap, "%s", json_at(r, "accessToken"));
  http_response_free(r);
}

static void test_register_returns_a_session_with_the_documented_fields(void **state) {
  (void)state;
  const char *username = unique_name("lan");
  char email[128];
  snprintf(email, sizeof email, "%s@Example.com", username);
  http_response *r = http_call("POST", "/v1/auth/register", registration(email, username, STRONG_PASSWORD), NULL);
  assert_int_equal(r->status, 200);
  assert_true(strlen(json_at(r, "accessToken")) > 50);
  assert_true(strlen(json_at(r, "refreshToken")) >= 40);
  assert_int_equal(json_integer_value(json_object_get(r->json, "expiresIn")), 900);
  assert_string_equal(json_at(r, "tokenType"), "Bearer");
  assert_string_equal(json_at(r, "user.email"), email);
  json_t *roles = json_object_get(json_object_get(r->json, "user"), "roles");
  assert_int_equal(json_array_size(roles), 1);
  assert_string_equal(json_string_value(json_array_get(roles, 0)), "passenger");
  assert_false(json_is_true(json_object_get(json_object_get(r->json, "user"), "isVerified")));
  assert_non_null(r->request_id);
  http_response_free(r);
}

static void test_register_rejects_duplicates_with_409(void **state) {
  (void)state;
  account a;
  register_account(&a);
  char upper[128];
  snprintf(upper, sizeof upper, "%s", a.email);
  for (char *p = upper; *p; p++)
    if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
  http_response *r = http_call("POST", "/v1/auth/register", registration(upper, unique_name("other"), STRONG_PASSWORD), NULL);
  assert_int_equal(r->status, 409);
  assert_string_equal(error_reason(r), "EMAIL_TAKEN");
  http_response_free(r);
  char email[128];
  snprintf(email, sizeof email, "%s@example.com", unique_name("fresh"));
  r = http_call("POST", "/v1/auth/register", registration(email, a.username, STRONG_PASSWORD), NULL);
  assert_int_equal(r->status, 409);
  assert_string_equal(error_reason(r), "USERNAME_TAKEN");
  http_response_free(r);
}

static void test_register_validates_every_field(void **state) {
  (void)state;
  struct {
    const char *body, *reason, *field;
    long status;
  } cases[] = {
      {"{\"email\":\"not-an-email\",\"username\":\"abc\",\"password\":\"" STRONG_PASSWORD
       "\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}",
       "INVALID_EMAIL", "email", 400},
      {"{\"email\":\"a@b.vn\",\"username\":\"a\",\"password\":\"" STRONG_PASSWORD
       "\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}",
       "INVALID_USERNAME", "username", 400},
      {"{\"email\":\"a@b.vn\",\"username\":\"abc\",\"password\":\"short1A\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}",
       "WEAK_PASSWORD", "password", 400},
      {"{\"email\":\"a@b.vn\",\"username\":\"abc\",\"password\":\"" STRONG_PASSWORD
       "\",\"firstName\":\"L\",\"lastName\":\"Nguyen\"}",
       "INVALID_NAME", "firstName", 400},
      {"{\"email\":\"a@b.vn\",\"username\":\"abc\",\"password\":\"" STRONG_PASSWORD
       "\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\",\"phoneNumber\":\"12ab\"}",
       "INVALID_PHONE_NUMBER", "phoneNumber", 400},
      {"{\"email\":\"a@b.vn\",\"username\":\"abc\",\"password\":\"" STRONG_PASSWORD
       "\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\",\"dateOfBirth\":\"2999-01-01\"}",
       "INVALID_DATE_OF_BIRTH", "dateOfBirth", 400},
      {"{\"email\":\"a@b.vn\",\"username\":\"abc\",\"password\":\"" STRONG_PASSWORD
       "\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\",\"gender\":\"robot\"}",
       "INVALID_GENDER", "gender", 400},
      {"{\"email\":\"a@b.vn\",\"username\":\"abc\",\"password\":\"" STRONG_PASSWORD
       "\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\",\"roles\":[\"admin\"]}",
       "ROLE_NOT_ALLOWED", "", 403},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = http_call("POST", "/v1/auth/register", cases[i].body, NULL);
    if (r->status != cases[i].status || strcmp(error_reason(r), cases[i].reason) != 0)
      fprintf(stderr, "case %zu: %ld %s\n", i, r->status, r->body);
    assert_int_equal(r->status, cases[i].status);
    assert_string_equal(error_reason(r), cases[i].reason);
    assert_string_equal(error_field(r), cases[i].field);
    assert_int_equal(json_integer_value(json_object_get(r->json, "code")), cases[i].status == 403 ? 7 : 3);
    http_response_free(r);
  }
}

static void test_bad_json_is_a_400_naming_the_problem(void **state) {
  (void)state;
  http_response *r = http_call("POST", "/v1/auth/register", "{\"email\": ", NULL);
  assert_int_equal(r->status, 400);
  assert_string_equal(error_reason(r), "MALFORMED_JSON");
  http_response_free(r);
  r = http_call("POST", "/v1/auth/register", "{\"emial\":\"x@y.vn\"}", NULL);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(json_at(r, "message"), "emial"));
  http_response_free(r);
  r = http_call("POST", "/v1/auth/login", "[1,2]", NULL);
  assert_int_equal(r->status, 400);
  http_response_free(r);
}

static void test_login_by_email_or_username_and_uniform_failures(void **state) {
  (void)state;
  account a;
  register_account(&a);
  http_response *r = login(a.email, STRONG_PASSWORD);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "user.userId"), a.user_id);
  http_response_free(r);
  r = login(a.username, STRONG_PASSWORD);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  http_response *wrong = login(a.email, "Wrong-Password-99");
  http_response *unknown = login("nobody-at-all@example.com", "Wrong-Password-99");
  assert_int_equal(wrong->status, 401);
  assert_int_equal(unknown->status, 401);
  assert_string_equal(error_reason(wrong), "INVALID_CREDENTIALS");
  assert_string_equal(json_at(wrong, "message"), json_at(unknown, "message"));
  http_response_free(wrong);
  http_response_free(unknown);
}

static void test_fifth_failure_locks_for_two_hours_without_checking_the_password(void **state) {
  (void)state;
  account a;
  register_account(&a);
  for (int i = 1; i <= 4; i++) {
    http_response *r = login(a.email, "Wrong-Password-99");
    assert_int_equal(r->status, 401);
    http_response_free(r);
  }
  http_response *r = login(a.email, "Wrong-Password-99");
  assert_int_equal(r->status, 423);
  assert_string_equal(error_reason(r), "ACCOUNT_LOCKED");
  assert_non_null(r->retry_after);
  long retry = atol(r->retry_after);
  assert_true(retry > 7100 && retry <= 7200);
  http_response_free(r);
  r = login(a.email, STRONG_PASSWORD); /* right password, still locked */
  assert_int_equal(r->status, 423);
  http_response_free(r);
  char *until = sql_value("SELECT extract(epoch FROM locked_until - now())::int FROM auth.users WHERE user_id = $1",
                          a.user_id);
  assert_non_null(until);
  assert_true(atoi(until) > 7100); /* the refused attempts did not extend it past 2 h */
  free(until);
}

static void test_me_needs_a_valid_token(void **state) {
  (void)state;
  account a;
  register_account(&a);
  http_response *r = http_call("GET", "/v1/auth/me", NULL, a.access);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "username"), a.username);
  http_response_free(r);
  r = http_call("GET", "/v1/auth/me", NULL, NULL);
  assert_int_equal(r->status, 401);
  assert_string_equal(error_reason(r), "UNAUTHENTICATED");
  http_response_free(r);
  char tampered[2048];
  snprintf(tampered, sizeof tampered, "%s", a.access);
  size_t n = strlen(tampered);
  tampered[n - 3] = tampered[n - 3] == 'A' ? 'B' : 'A';
  r = http_call("GET", "/v1/auth/me", NULL, tampered);
  assert_int_equal(r->status, 401);
  http_response_free(r);
}

static http_response *refresh(const char *token) {
  char body[512];
  snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", token);
  return http_call("POST", "/v1/auth/refresh", body, NULL);
}

static void test_refresh_rotates_and_reuse_revokes_the_family(void **state) {
  (void)state;
  account a;
  register_account(&a);
  http_response *first = refresh(a.refresh);
  assert_int_equal(first->status, 200);
  char next[256];
  snprintf(next, sizeof next, "%s", json_at(first, "refreshToken"));
  assert_string_not_equal(next, a.refresh);
  http_response_free(first);
  http_response *reuse = refresh(a.refresh);
  assert_int_equal(reuse->status, 401);
  assert_string_equal(error_reason(reuse), "REFRESH_TOKEN_REUSED");
  http_response_free(reuse);
  http_response *revoked = refresh(next); /* the whole family died with the reuse */
  assert_int_equal(revoked->status, 401);
  http_response_free(revoked);
  http_response *garbage = refresh("not-a-token-at-all-but-long-enough");
  assert_int_equal(garbage->status, 401);
  assert_string_equal(error_reason(garbage), "INVALID_REFRESH_TOKEN");
  http_response_free(garbage);
}

static void test_logout_revokes_the_refresh_token(void **state) {
  (void)state;
  account a;
  register_account(&a);
  char body[512];
  snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", a.refresh);
  http_response *r = http_call("POST", "/v1/auth/logout", body, a.access);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  r = refresh(a.refresh);
  assert_int_equal(r->status, 401);
  http_response_free(r);
}

static void test_jwks_publishes_the_ed25519_key(void **state) {
  (void)state;
  http_response *r = http_call("GET", "/v1/auth/jwks", NULL, NULL);
  assert_int_equal(r->status, 200);
  json_t *key = json_array_get(json_object_get(r->json, "keys"), 0);
  assert_string_equal(json_string_value(json_object_get(key, "kty")), "OKP");
  assert_string_equal(json_string_value(json_object_get(key, "crv")), "Ed25519");
  assert_string_equal(json_string_value(json_object_get(key, "alg")), "EdDSA");
  assert_true(strlen(json_string_value(json_object_get(key, "kid"))) > 0);
  http_response_free(r);
}

static void test_change_password_revokes_sessions(void **state) {
  (void)state;
  account a;
  register_account(&a);
  http_response *r = http_call("POST", "/v1/auth/password:change",
                               "{\"currentPassword\":\"" STRONG_PASSWORD "\",\"newPassword\":\"Ben-Thanh-Station-1\"}",
                               a.access);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  r = refresh(a.refresh);
  assert_int_equal(r->status, 401);
  http_response_free(r);
  r = login(a.email, "Ben-Thanh-Station-1");
  assert_int_equal(r->status, 200);
  http_response_free(r);
}

/* The one-time link in the newest outbox event of this type for the user: the envelope
 * bytes (bytea as libpq's hex text) -> EventEnvelope -> Any -> the event message. */
static char *link_token(const char *type, const char *user_id) {
  char query[512];
  snprintf(query, sizeof query,
           "SELECT envelope FROM auth.outbox WHERE event_type = '%s' AND event_key = $1 ORDER BY id DESC LIMIT 1", type);
  char *hex = sql_value(query, user_id);
  assert_non_null(hex);
  assert_true(strncmp(hex, "\\x", 2) == 0);
  size_t len = (strlen(hex) - 2) / 2;
  uint8_t *bytes = malloc(len + 1);
  assert_true(crypto_hex_decode(hex + 2, bytes, len));
  Metro__Events__V1__EventEnvelope *env = metro__events__v1__event_envelope__unpack(NULL, len, bytes);
  assert_non_null(env);
  assert_string_equal(env->type, type);
  assert_string_equal(env->subject, user_id);
  assert_string_equal(env->source, "auth");
  assert_non_null(env->data);
  const char *url = NULL;
  ProtobufCMessage *data = NULL;
  if (strcmp(type, "auth.password_reset_requested") == 0) {
    assert_string_equal(env->data->type_url, "type.googleapis.com/metro.events.v1.PasswordResetRequested");
    Metro__Events__V1__PasswordResetRequested *m =
        metro__events__v1__password_reset_requested__unpack(NULL, env->data->value.len, env->data->value.data);
    assert_non_null(m);
    url = m->reset_url;
    data = &m->base;
  } else {
    assert_string_equal(env->data->type_url, "type.googleapis.com/metro.events.v1.VerificationRequested");
    Metro__Events__V1__VerificationRequested *m =
        metro__events__v1__verification_requested__unpack(NULL, env->data->value.len, env->data->value.data);
    assert_non_null(m);
    url = m->verify_url;
    data = &m->base;
  }
  assert_non_null(strstr(url, "token="));
  char *token = strdup(strstr(url, "token=") + 6);
  protobuf_c_message_free_unpacked(data, NULL);
  metro__events__v1__event_envelope__free_unpacked(env, NULL);
  free(bytes);
  free(hex);
  return token;
}

static void test_forgot_and_reset_password_flow(void **state) {
  (void)state;
  account a;
  register_account(&a);
  char body[256];
  snprintf(body, sizeof body, "{\"email\":\"%s\"}", a.email);
  http_response *known = http_call("POST", "/v1/auth/password:forgot", body, NULL);
  http_response *unknown = http_call("POST", "/v1/auth/password:forgot", "{\"email\":\"nobody-here@example.com\"}", NULL);
  assert_int_equal(known->status, 200);
  assert_int_equal(unknown->status, 200);
  assert_string_equal(known->body, unknown->body); /* never reveals whether the account exists */
  http_response_free(known);
  http_response_free(unknown);
  char *token = link_token("auth.password_reset_requested", a.user_id);
  char reset[512];
  snprintf(reset, sizeof reset, "{\"token\":\"%s\",\"newPassword\":\"Reset-Password-2026\"}", token);
  http_response *r = http_call("POST", "/v1/auth/password:reset", reset, NULL);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  r = http_call("POST", "/v1/auth/password:reset", reset, NULL); /* single use */
  assert_int_equal(r->status, 400);
  assert_string_equal(error_reason(r), "INVALID_OR_EXPIRED_TOKEN");
  http_response_free(r);
  free(token);
  r = login(a.email, "Reset-Password-2026");
  assert_int_equal(r->status, 200);
  assert_true(json_is_true(json_object_get(json_object_get(r->json, "user"), "isVerified")));
  http_response_free(r);
}

static void test_email_verification_flow(void **state) {
  (void)state;
  account a;
  register_account(&a);
  char *token = link_token("auth.verification_requested", a.user_id);
  char body[256];
  snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
  free(token);
  http_response *r = http_call("POST", "/v1/auth/verification:verify", body, NULL);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  r = http_call("GET", "/v1/auth/me", NULL, a.access);
  assert_true(json_is_true(json_object_get(r->json, "isVerified")));
  http_response_free(r);
  r = http_call("POST", "/v1/auth/verification:verify", body, NULL);
  assert_int_equal(r->status, 400);
  http_response_free(r);
}

static void test_admin_lists_users_with_pagination_and_passengers_cannot(void **state) {
  (void)state;
  account a, b, c;
  register_account(&a);
  register_account(&b);
  register_account(&c);
  char admin[2048];
  admin_token(admin, sizeof admin);
  http_response *page1 = http_call("GET", "/v1/auth/users?pageSize=2", NULL, admin);
  assert_int_equal(page1->status, 200);
  assert_int_equal(json_array_size(json_object_get(page1->json, "users")), 2);
  const char *token = json_at(page1, "nextPageToken");
  assert_true(strlen(token) > 0);
  char path[512];
  snprintf(path, sizeof path, "/v1/auth/users?pageSize=2&pageToken=%s", token);
  http_response *page2 = http_call("GET", path, NULL, admin);
  assert_int_equal(page2->status, 200);
  const char *first1 = json_string_value(json_object_get(json_array_get(json_object_get(page1->json, "users"), 0), "userId"));
  const char *first2 = json_string_value(json_object_get(json_array_get(json_object_get(page2->json, "users"), 0), "userId"));
  assert_string_not_equal(first1, first2);
  http_response_free(page1);
  http_response_free(page2);
  http_response *bad = http_call("GET", "/v1/auth/users?pageToken=garbage", NULL, admin);
  assert_int_equal(bad->status, 400);
  assert_string_equal(error_reason(bad), "INVALID_PAGE_TOKEN");
  http_response_free(bad);
  http_response *denied = http_call("GET", "/v1/auth/users", NULL, a.access);
  assert_int_equal(denied->status, 403);
  http_response_free(denied);
}

static void test_admin_changes_roles_but_never_removes_the_last_admin(void **state) {
  (void)state;
  account a;
  register_account(&a);
  char admin[2048];
  admin_token(admin, sizeof admin);
  char path[256];
  snprintf(path, sizeof path, "/v1/auth/users/%s:setRoles", a.user_id);
  http_response *r = http_call("POST", path, "{\"roles\":[\"passenger\",\"staff\"]}", admin);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "roles")), 2);
  http_response_free(r);
  r = http_call("POST", path, "{\"roles\":[\"pilot\"]}", admin);
  assert_int_equal(r->status, 400);
  http_response_free(r);
  http_response *me = http_call("GET", "/v1/auth/me", NULL, admin);
  snprintf(path, sizeof path, "/v1/auth/users/%s:setRoles", json_at(me, "userId"));
  http_response_free(me);
  char *others = sql_value("SELECT count(*) FROM auth.users WHERE 'admin' = ANY(roles) AND is_active", NULL);
  if (others && strcmp(others, "1") == 0) {
    r = http_call("POST", path, "{\"roles\":[\"staff\"]}", admin);
    assert_int_equal(r->status, 400);
    assert_string_equal(error_reason(r), "LAST_ADMIN");
    http_response_free(r);
  }
  free(others);
}

typedef struct race_arg {
  const char *email;
  long status;
} race_arg;

static void *register_racer(void *p) {
  race_arg *arg = p;
  http_response *r = http_call("POST", "/v1/auth/register", registration(arg->email, unique_name("racer"), STRONG_PASSWORD), NULL);
  arg->status = r->status;
  http_response_free(r);
  return NULL;
}

static void test_fifty_parallel_registrations_of_one_email_create_one_account(void **state) {
  (void)state;
  char email[128];
  snprintf(email, sizeof email, "%s@example.com", unique_name("race"));
  pthread_t threads[50];
  race_arg args[50];
  for (int i = 0; i < 50; i++) {
    args[i] = (race_arg){.email = email};
    pthread_create(&threads[i], NULL, register_racer, &args[i]);
  }
  int created = 0, conflicts = 0;
  for (int i = 0; i < 50; i++) {
    pthread_join(threads[i], NULL);
    created += args[i].status == 200;
    conflicts += args[i].status == 409;
    if (args[i].status != 200 && args[i].status != 409) fprintf(stderr, "racer %d: status %ld\n", i, args[i].status);
  }
  assert_int_equal(created, 1);
  assert_int_equal(conflicts, 49);
  char *count = sql_value("SELECT count(*) FROM auth.users WHERE lower(email) = lower($1)", email);
  assert_string_equal(count, "1");
  free(count);
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_returns_a_session_with_the_documented_fields),
      cmocka_unit_test(test_register_rejects_duplicates_with_409),
      cmocka_unit_test(test_register_validates_every_field),
      cmocka_unit_test(test_bad_json_is_a_400_naming_the_problem),
      cmocka_unit_test(test_login_by_email_or_username_and_uniform_failures),
      cmocka_unit_test(test_fifth_failure_locks_for_two_hours_without_checking_the_password),
      cmocka_unit_test(test_me_needs_a_valid_token),
      cmocka_unit_test(test_refresh_rotates_and_reuse_revokes_the_family),
      cmocka_unit_test(test_logout_revokes_the_refresh_token),
      cmocka_unit_test(test_jwks_publishes_the_ed25519_key),
      cmocka_unit_test(test_change_password_revokes_sessions),
      cmocka_unit_test(test_forgot_and_reset_password_flow),
      cmocka_unit_test(test_email_verification_flow),
      cmocka_unit_test(test_admin_lists_users_with_pagination_and_passengers_cannot),
      cmocka_unit_test(test_admin_changes_roles_but_never_removes_the_last_admin),
      cmocka_unit_test(test_fifty_parallel_registrations_of_one_email_create_one_account),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
