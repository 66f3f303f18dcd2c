/* API keys end to end on the running stack: admins create, list and revoke them through the
 * gateway, the secret is answered once and stored only as its SHA-256, and the gateway's lookup
 * (direct gRPC as a service) answers the hash, never the secret; X-API-Key at the gateway: roles,
 * route prefixes, revocation within the cache time and each key's own rate. One function per case. */
#include <jansson.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/api_key.h"
#include "common/rpc_client.h"
#include "harness.h"
#include "metro/auth/v1/auth.pb-c.h"
#include "ticketing.h"

#define LOOKUP "/metro.auth.v1.AuthService/LookupApiKey"
#define GATEWAY_ID "service:transcoder"

static char admin_token[2048], admin_id[64], passenger_token[2048], passenger_id[64];

/* A key made for a case: its id and the secret answered at creation. */
typedef struct made_key {
  char key_id[API_KEY_ID_LEN + 1];
  char secret[API_KEY_SECRET_LEN + 1];
} made_key;

/* ---- helpers ---- */

static void login_admin(void) {
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", getenv("METRO_TEST_ADMIN_EMAIL"),
           getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(admin_token, sizeof admin_token, "%s", json_at(r, "accessToken"));
  snprintf(admin_id, sizeof admin_id, "%s", json_at(r, "user.userId"));
  http_response_free(r);
}

static void register_passenger(void) {
  const char *name = unique_name("keyless");
  char body[512];
  snprintf(body, sizeof body,
           "{\"email\":\"%s@metro.test\",\"username\":\"%s\",\"password\":\"%s\",\"firstName\":\"Lan\","
           "\"lastName\":\"Nguyen\"}",
           name, name, TICKETING_PASSWORD);
  http_response *r = call_ok("POST", "/v1/auth/register", body, NULL);
  snprintf(passenger_token, sizeof passenger_token, "%s", json_at(r, "accessToken"));
  snprintf(passenger_id, sizeof passenger_id, "%s", json_at(r, "user.userId"));
  http_response_free(r);
}

static int setup_group(void **state) {
  (void)state;
  harness_init();
  login_admin();
  register_passenger();
  return 0;
}

/* RFC 3339 for now + offset_s, UTC. */
static const char *rfc3339_in(int64_t offset_s, char *buf, size_t cap) {
  time_t t = time(NULL) + (time_t)offset_s;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

static const char *member_str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

/* True when the JSON member is absent or null (an unset message field). */
static bool member_unset(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return !v || json_is_null(v);
}

/* The secret's random part: what must never be stored or answered anywhere but at creation. */
static const char *random_part(const made_key *k) { return k->secret + 4 + API_KEY_ID_LEN; }

/* POST /v1/api-keys with the body; must answer 200. Fills k and returns the answer. */
static http_response *create_key(const char *body, made_key *k) {
  http_response *r = call_ok("POST", "/v1/api-keys", body, admin_token);
  json_t *key = json_object_get(r->json, "apiKey");
  assert_non_null(key);
  snprintf(k->key_id, sizeof k->key_id, "%s", member_str(key, "keyId"));
  snprintf(k->secret, sizeof k->secret, "%s", json_at(r, "secret"));
  return r;
}

static void create_simple_key(const char *display_name, made_key *k) {
  char body[256];
  snprintf(body, sizeof body, "{\"displayName\":\"%s\",\"roles\":[\"staff\"]}", display_name);
  http_response_free(create_key(body, k));
}

/* Every key the admin's list shows (walking all pages of pageSize), appended to `all`; also
 * checks that no page carries a secret. */
static json_t *list_all(const char *query, int page_size) {
  json_t *all = json_array();
  char token[512] = "";
  for (int pages = 0; pages < 1000; pages++) {
    char path[1024];
    snprintf(path, sizeof path, "/v1/api-keys?pageSize=%d%s%s%s", page_size, query, *token ? "&pageToken=" : "",
             token);
    http_response *r = call_ok("GET", path, NULL, admin_token);
    json_t *keys = json_object_get(r->json, "apiKeys"), *k;
    size_t i;
    assert_true(json_array_size(keys) <= (size_t)page_size);
    json_array_foreach(keys, i, k) json_array_append(all, k);
    assert_null(strstr(r->body, "\"secret\""));
    snprintf(token, sizeof token, "%s", member_str(r->json, "nextPageToken"));
    http_response_free(r);
    if (!*token) return all;
  }
  fail_msg("the key list never ended");
  return all;
}

/* The position of key_id in a list, or -1. */
static int index_of(const json_t *keys, const char *key_id) {
  size_t i;
  json_t *k;
  json_array_foreach(keys, i, k) if (strcmp(member_str(k, "keyId"), key_id) == 0) return (int)i;
  return -1;
}

static void revoke_ok(const char *key_id, char *revoke_time, size_t cap) {
  char path[128];
  snprintf(path, sizeof path, "/v1/api-keys/%s:revoke", key_id);
  http_response *r = call_ok("POST", path, "{}", admin_token);
  assert_string_equal(json_at(r, "keyId"), key_id);
  snprintf(revoke_time, cap, "%s", json_at(r, "revokeTime"));
  assert_true(strlen(revoke_time) > 0);
  http_response_free(r);
}

/* LookupApiKey over direct gRPC with the given signed identity (user NULL: none). */
static rpc_status lookup(arena *a, const char *user, const char *role, const char *key_id,
                         Metro__Auth__V1__ApiKeyCredential **out) {
  rpc_call_meta meta = {0};
  if (user) meta = harness_signed_meta(a, user, role, 60);
  Metro__Auth__V1__LookupApiKeyRequest req = METRO__AUTH__V1__LOOKUP_API_KEY_REQUEST__INIT;
  req.key_id = (char *)key_id;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(harness_env("METRO_AUTH_GRPC")), a, LOOKUP, &meta, &req.base,
                                 &metro__auth__v1__api_key_credential__descriptor, &resp, 10000, INT64_MAX);
  *out = (Metro__Auth__V1__ApiKeyCredential *)resp;
  return st;
}

/* A connection to the auth service's own database with its own credentials. */
static PGconn *auth_db(void) {
  PGconn *c = PQconnectdb(harness_env("METRO_AUTH_PG_URL"));
  if (PQstatus(c) != CONNECTION_OK) fail_msg("auth database: %s", PQerrorMessage(c));
  return c;
}

static long db_count(PGconn *c, const char *sql, const char *param) {
  const char *params[1] = {param};
  PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return n;
}

/* Whether a file holds the text (logs must never hold a secret). */
static bool file_contains(const char *path, const char *text) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  size_t cap = 1 << 20, len = 0, n, tl = strlen(text);
  char *buf = malloc(cap + tl);
  bool found = false;
  /* Read in chunks, keeping the last tl bytes so a match across chunks is seen. */
  while (!found && (n = fread(buf + len, 1, cap, f)) > 0) {
    len += n;
    found = memmem(buf, len, text, tl) != NULL;
    if (len > tl) {
      memmove(buf, buf + len - tl, tl);
      len = tl;
    }
  }
  fclose(f);
  free(buf);
  return found;
}

/* ---- cases ---- */

static void test_admin_creates_a_key_and_the_secret_is_shown_once(void **state) {
  (void)state;
  char expire[64], body[1024];
  rfc3339_in(86400, expire, sizeof expire);
  snprintf(body, sizeof body,
           "{\"displayName\":\"Kiosk Bến Thành 3\",\"roles\":[\"staff\",\"gate\"],"
           "\"routePrefixes\":[\"/v1/stations\",\"/v1/fares:quote\"],\"rateLimitPerMinute\":120,"
           "\"expireTime\":\"%s\"}",
           expire);
  made_key k;
  http_response *r = create_key(body, &k);
  json_t *key = json_object_get(r->json, "apiKey");
  char parsed_id[API_KEY_ID_LEN + 1];
  assert_true(api_key_parse(k.secret, parsed_id));
  assert_string_equal(parsed_id, k.key_id);
  char name[64];
  snprintf(name, sizeof name, "apiKeys/%s", k.key_id);
  assert_string_equal(member_str(key, "name"), name);
  assert_string_equal(member_str(key, "displayName"), "Kiosk Bến Thành 3");
  assert_int_equal(json_array_size(json_object_get(key, "roles")), 2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(key, "routePrefixes"), 1)), "/v1/fares:quote");
  assert_int_equal(json_integer_value(json_object_get(key, "rateLimitPerMinute")), 120);
  assert_string_equal(member_str(key, "createdBy"), admin_id);
  assert_string_equal(member_str(key, "expireTime"), expire);
  assert_true(strlen(member_str(key, "createTime")) > 0);
  assert_true(member_unset(key, "revokeTime"));
  assert_int_equal(strlen(member_str(key, "secretPrefix")), API_KEY_PREFIX_LEN);
  assert_memory_equal(member_str(key, "secretPrefix"), k.secret, API_KEY_PREFIX_LEN);
  http_response_free(r);

  /* Never again: not in the list, with or without revoked keys, nor any part of it. */
  for (int revoked = 0; revoked < 2; revoked++) {
    json_t *all = list_all(revoked ? "&showRevoked=true" : "", 100);
    int at = index_of(all, k.key_id);
    assert_true(at >= 0);
    json_t *listed = json_array_get(all, (size_t)at);
    assert_int_equal(strlen(member_str(listed, "secretPrefix")), API_KEY_PREFIX_LEN);
    assert_memory_equal(member_str(listed, "secretPrefix"), k.secret, API_KEY_PREFIX_LEN);
    char *dump = json_dumps(all, 0);
    assert_null(strstr(dump, k.secret));
    assert_null(strstr(dump, random_part(&k)));
    free(dump);
    json_decref(all);
  }
}

static void test_a_minimal_key_gets_the_default_rate_limit(void **state) {
  (void)state;
  made_key k;
  http_response *r = create_key("{\"displayName\":\"Station display\",\"roles\":[\"gate\"]}", &k);
  json_t *key = json_object_get(r->json, "apiKey");
  assert_int_equal(json_integer_value(json_object_get(key, "rateLimitPerMinute")), 600);
  assert_int_equal(json_array_size(json_object_get(key, "routePrefixes")), 0);
  assert_true(member_unset(key, "expireTime"));
  http_response_free(r);
}

static void test_keys_are_listed_newest_first_across_pages(void **state) {
  (void)state;
  made_key k[3];
  for (int i = 0; i < 3; i++) create_simple_key(unique_name("partner-"), &k[i]);
  json_t *all = list_all("", 2);
  int at[3];
  for (int i = 0; i < 3; i++) assert_true((at[i] = index_of(all, k[i].key_id)) >= 0);
  assert_true(at[2] < at[1] && at[1] < at[0]);
  /* Pages neither repeat nor skip a key: every id once. */
  size_t i;
  json_t *a;
  json_array_foreach(all, i, a) assert_int_equal(index_of(all, member_str(a, "keyId")), (int)i);
  json_decref(all);
  expect_error("GET", "/v1/api-keys?pageToken=bm90LWEtdG9rZW4", NULL, admin_token, 400, "INVALID_PAGE_TOKEN",
               "pageToken");
  expect_error("GET", "/v1/api-keys?pageSize=101", NULL, admin_token, 400, "INVALID_PAGE_SIZE", "pageSize");
}

static void test_revoking_hides_the_key_and_twice_changes_nothing(void **state) {
  (void)state;
  made_key k;
  create_simple_key("Partner app", &k);
  char first[64], second[64];
  revoke_ok(k.key_id, first, sizeof first);
  revoke_ok(k.key_id, second, sizeof second);
  assert_string_equal(first, second);
  json_t *active = list_all("", 100), *every = list_all("&showRevoked=true", 100);
  assert_int_equal(index_of(active, k.key_id), -1);
  int at = index_of(every, k.key_id);
  assert_true(at >= 0);
  assert_string_equal(member_str(json_array_get(every, (size_t)at), "revokeTime"), first);
  json_decref(active);
  json_decref(every);
  expect_error("POST", "/v1/api-keys/0123456789abcdef:revoke", "{}", admin_token, 404, "API_KEY_NOT_FOUND", NULL);
  expect_error("POST", "/v1/api-keys/not-a-key:revoke", "{}", admin_token, 404, "API_KEY_NOT_FOUND", NULL);
  /* One event each way, in the auth service's outbox. */
  PGconn *c = auth_db();
  assert_int_equal(db_count(c, "SELECT count(*) FROM auth.outbox WHERE event_type = 'api_key.created' AND event_key = $1",
                            k.key_id),
                   1);
  assert_int_equal(db_count(c, "SELECT count(*) FROM auth.outbox WHERE event_type = 'api_key.revoked' AND event_key = $1",
                            k.key_id),
                   1);
  PQfinish(c);
}

static void test_passengers_and_strangers_are_refused(void **state) {
  (void)state;
  made_key k;
  create_simple_key("Refusal target", &k);
  const char *body = "{\"displayName\":\"mine\",\"roles\":[\"staff\"]}";
  char path[128];
  snprintf(path, sizeof path, "/v1/api-keys/%s:revoke", k.key_id);
  expect_error("POST", "/v1/api-keys", body, passenger_token, 403, NULL, NULL);
  expect_error("GET", "/v1/api-keys", NULL, passenger_token, 403, NULL, NULL);
  expect_error("POST", path, "{}", passenger_token, 403, NULL, NULL);
  expect_error("POST", "/v1/api-keys", body, NULL, 401, NULL, NULL);
  expect_error("GET", "/v1/api-keys", NULL, NULL, 401, NULL, NULL);
  /* Still active: the refused revoke did nothing. */
  json_t *active = list_all("", 100);
  assert_true(index_of(active, k.key_id) >= 0);
  json_decref(active);
}

static void test_validation_errors_name_their_field(void **state) {
  (void)state;
  char past[64], body[512];
  rfc3339_in(-60, past, sizeof past);
  static const struct {
    const char *body, *reason, *field;
  } cases[] = {
      {"{\"roles\":[\"staff\"]}", "FIELD_REQUIRED", "apiKey.displayName"},
      {"{\"displayName\":\"   \",\"roles\":[\"staff\"]}", "FIELD_REQUIRED", "apiKey.displayName"},
      {"{\"displayName\":\"kiosk\"}", "FIELD_REQUIRED", "apiKey.roles"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"admin\"]}", "ROLE_NOT_ALLOWED", "apiKey.roles[0]"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"staff\",\"passenger\"]}", "ROLE_NOT_ALLOWED", "apiKey.roles[1]"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"service\"]}", "ROLE_NOT_ALLOWED", "apiKey.roles[0]"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"driver\"]}", "INVALID_ROLES", "apiKey.roles[0]"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"staff\"],\"routePrefixes\":[\"/v2/tickets\"]}", "INVALID_ROUTE_PREFIX",
       "apiKey.routePrefixes[0]"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"staff\"],\"routePrefixes\":[\"/v1/a\",\"/v1/../auth\"]}",
       "INVALID_ROUTE_PREFIX", "apiKey.routePrefixes[1]"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"staff\"],\"rateLimitPerMinute\":100001}", "INVALID_RATE_LIMIT",
       "apiKey.rateLimitPerMinute"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"staff\"],\"rateLimitPerMinute\":-5}", "INVALID_RATE_LIMIT",
       "apiKey.rateLimitPerMinute"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"staff\"],\"keyId\":\"0123456789abcdef\"}", "FIELD_READ_ONLY",
       "apiKey.keyId"},
      {"{\"displayName\":\"kiosk\",\"roles\":[\"staff\"],\"secretPrefix\":\"mk_01234\"}", "FIELD_READ_ONLY",
       "apiKey.secretPrefix"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_error("POST", "/v1/api-keys", cases[i].body, admin_token, 400, cases[i].reason, cases[i].field);
  snprintf(body, sizeof body, "{\"displayName\":\"kiosk\",\"roles\":[\"staff\"],\"expireTime\":\"%s\"}", past);
  expect_error("POST", "/v1/api-keys", body, admin_token, 400, "INVALID_EXPIRE_TIME", "apiKey.expireTime");
  char name[256] = "{\"displayName\":\"";
  for (int i = 0; i < 101; i++) strcat(name, "x");
  strcat(name, "\",\"roles\":[\"staff\"]}");
  expect_error("POST", "/v1/api-keys", name, admin_token, 400, "INVALID_DISPLAY_NAME", "apiKey.displayName");
}

static void test_lookup_answers_the_hash_and_never_the_secret(void **state) {
  (void)state;
  made_key k;
  create_simple_key("Gateway lookup", &k);
  arena *a = arena_create(4096);
  Metro__Auth__V1__ApiKeyCredential *c;
  rpc_status st = lookup(a, GATEWAY_ID, "service", k.key_id, &c);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  assert_non_null(c->api_key);
  assert_string_equal(c->api_key->key_id, k.key_id);
  assert_string_equal(c->api_key->roles[0], "staff");
  assert_int_equal(c->api_key->rate_limit_per_minute, 600);
  assert_null(c->api_key->revoke_time);
  char want[API_KEY_SHA256_HEX_LEN + 1];
  api_key_sha256_hex(k.secret, want);
  assert_string_equal(c->secret_sha256_hex, want);
  assert_true(api_key_matches(k.secret, c->secret_sha256_hex));
  /* The answer's bytes hold neither the secret nor its random part. */
  size_t len = protobuf_c_message_get_packed_size(&c->base);
  uint8_t *bytes = arena_alloc(a, len + 1);
  protobuf_c_message_pack(&c->base, bytes);
  assert_null(memmem(bytes, len, k.secret, strlen(k.secret)));
  assert_null(memmem(bytes, len, random_part(&k), strlen(random_part(&k))));
  arena_destroy(a);
}

static void test_lookup_answers_revoked_and_expired_keys_and_not_unknown_ones(void **state) {
  (void)state;
  made_key revoked, expiring;
  create_simple_key("Revoked kiosk", &revoked);
  char revoke_time[64];
  revoke_ok(revoked.key_id, revoke_time, sizeof revoke_time);
  char expire[64], body[256];
  rfc3339_in(2, expire, sizeof expire);
  snprintf(body, sizeof body, "{\"displayName\":\"Short-lived\",\"roles\":[\"staff\"],\"expireTime\":\"%s\"}", expire);
  http_response_free(create_key(body, &expiring));
  arena *a = arena_create(4096);
  Metro__Auth__V1__ApiKeyCredential *c;
  assert_int_equal(lookup(a, GATEWAY_ID, "service", revoked.key_id, &c).code, GRPC_STATUS_OK);
  assert_non_null(c->api_key->revoke_time);
  assert_true(c->api_key->revoke_time->seconds > 0);
  assert_true(api_key_matches(revoked.secret, c->secret_sha256_hex));
  sleep_ms(3100); /* past its expiry (whole seconds in the request) */
  assert_int_equal(lookup(a, GATEWAY_ID, "service", expiring.key_id, &c).code, GRPC_STATUS_OK);
  assert_non_null(c->api_key->expire_time);
  assert_true(c->api_key->expire_time->seconds < (int64_t)time(NULL));
  assert_null(c->api_key->revoke_time);
  rpc_status st = lookup(a, GATEWAY_ID, "service", "0123456789abcdef", &c);
  assert_int_equal(st.code, GRPC_STATUS_NOT_FOUND);
  assert_string_equal(st.reason, "API_KEY_NOT_FOUND");
  st = lookup(a, GATEWAY_ID, "service", "", &c);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(st.field, "keyId");
  arena_destroy(a);
}

static void test_lookup_needs_the_service_role(void **state) {
  (void)state;
  made_key k;
  create_simple_key("Service only", &k);
  arena *a = arena_create(4096);
  Metro__Auth__V1__ApiKeyCredential *c;
  assert_int_equal(lookup(a, NULL, NULL, k.key_id, &c).code, GRPC_STATUS_UNAUTHENTICATED);
  assert_int_equal(lookup(a, passenger_id, "passenger", k.key_id, &c).code, GRPC_STATUS_PERMISSION_DENIED);
  assert_int_equal(lookup(a, passenger_id, "staff", k.key_id, &c).code, GRPC_STATUS_PERMISSION_DENIED);
  /* An admin passes every role check of the runtime, but this method is for services alone. */
  assert_int_equal(lookup(a, admin_id, "admin", k.key_id, &c).code, GRPC_STATUS_PERMISSION_DENIED);
  assert_int_equal(lookup(a, GATEWAY_ID, "service", k.key_id, &c).code, GRPC_STATUS_OK);
  arena_destroy(a);
}

static void test_the_database_and_logs_hold_only_the_hash(void **state) {
  (void)state;
  made_key k;
  create_simple_key("Hash only", &k);
  char path[128];
  snprintf(path, sizeof path, "/v1/api-keys/%s:revoke", k.key_id);
  http_response_free(call_ok("POST", path, "{}", admin_token));
  PGconn *c = auth_db();
  /* The stored hash is SHA-256 of the secret... */
  char want[API_KEY_SHA256_HEX_LEN + 1];
  api_key_sha256_hex(k.secret, want);
  assert_int_equal(db_count(c,
                            "SELECT count(*) FROM auth.api_keys WHERE key_id = left(substr($1::text, 4), 16) "
                            "AND secret_sha256 = sha256(convert_to($1::text, 'UTF8'))",
                            k.secret),
                   1);
  /* ...and no row of the table or of the outbox (event envelopes) holds the secret or its
   * random part, as text or as bytes. */
  const char *needles[2] = {k.secret, random_part(&k)};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(db_count(c, "SELECT count(*) FROM auth.api_keys t WHERE strpos(t::text, $1) > 0", needles[i]),
                     0);
    assert_int_equal(db_count(c,
                              "SELECT count(*) FROM auth.api_keys WHERE "
                              "position(convert_to($1::text, 'UTF8') IN secret_sha256) > 0",
                              needles[i]),
                     0);
    assert_int_equal(db_count(c,
                              "SELECT count(*) FROM auth.outbox WHERE "
                              "position(convert_to($1::text, 'UTF8') IN envelope) > 0 OR strpos(outbox::text, $1) > 0",
                              needles[i]),
                     0);
  }
  PQfinish(c);
  /* Nor do the logs of the auth service and the gateway. */
  static const char *const logs[] = {"auth.log", "transcoder.log"};
  for (size_t i = 0; i < 2; i++) {
    char log[1024];
    snprintf(log, sizeof log, "%s/logs/%s", harness_env("METRO_STACK_DIR"), logs[i]);
    assert_false(file_contains(log, random_part(&k)));
  }
}


/* ---- the gateway: X-API-Key ---- */

/* A REST call carrying X-API-Key (and optionally a bearer token too). */
static http_response *call_with_key(const char *method, const char *path, const char *secret, const char *bearer) {
  char header[160];
  snprintf(header, sizeof header, "X-API-Key: %s", secret);
  const char *const headers[] = {header, NULL};
  return http_call_at(NULL, method, path, NULL, bearer, headers);
}

static void expect_key_status(const char *path, const char *secret, long status, const char *reason) {
  http_response *r = call_with_key("GET", path, secret, NULL);
  if (r->status != status) fprintf(stderr, "%s: %ld %s\n", path, r->status, r->body ? r->body : "");
  assert_int_equal(r->status, status);
  if (reason) assert_string_equal(error_reason(r), reason);
  http_response_free(r);
}

static void test_a_key_acts_with_its_roles_within_its_route_prefixes(void **state) {
  (void)state;
  made_key k;
  http_response_free(create_key("{\"displayName\":\"Station display\",\"roles\":[\"staff\"],"
                                "\"routePrefixes\":[\"/v1/passengers\"]}", &k));
  expect_key_status("/v1/passengers?pageSize=1", k.secret, 200, NULL);
  /* A staff route outside the key's prefixes, and an admin route. */
  expect_key_status("/v1/tickets?pageSize=1", k.secret, 403, "API_KEY_OUT_OF_SCOPE");
  made_key wide;
  create_simple_key("Back office", &wide);
  expect_key_status("/v1/tickets?pageSize=1", wide.secret, 200, NULL);
  expect_key_status("/v1/api-keys", wide.secret, 403, "PERMISSION_DENIED");
  /* Public routes work with a key too. */
  expect_key_status("/v1/stations", wide.secret, 200, NULL);
}

static void test_bad_keys_are_refused(void **state) {
  (void)state;
  made_key k;
  create_simple_key("Kiosk", &k);
  expect_key_status("/v1/passengers", "not-a-key", 401, "INVALID_API_KEY");
  /* The right key id with another secret. */
  char forged[API_KEY_SECRET_LEN + 1];
  snprintf(forged, sizeof forged, "%s", k.secret);
  forged[API_KEY_SECRET_LEN - 2] = forged[API_KEY_SECRET_LEN - 2] == 'A' ? 'B' : 'A';
  expect_key_status("/v1/passengers", forged, 401, "INVALID_API_KEY");
  /* A well-formed key nobody made. */
  expect_key_status("/v1/passengers", "mk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401,
                    "INVALID_API_KEY");
  /* A key and a token together are ambiguous. */
  http_response *r = call_with_key("GET", "/v1/passengers", k.secret, admin_token);
  assert_int_equal(r->status, 400);
  assert_string_equal(error_reason(r), "AMBIGUOUS_CREDENTIALS");
  http_response_free(r);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The stack caches key records for 1 s (METRO_API_KEY_CACHE_MS): a revoked key stops working
 * within about that. */
static void test_a_revoked_key_is_refused_within_seconds(void **state) {
  (void)state;
  made_key k;
  create_simple_key("Revoked soon", &k);
  expect_key_status("/v1/passengers?pageSize=1", k.secret, 200, NULL);
  char revoked_at[64];
  revoke_ok(k.key_id, revoked_at, sizeof revoked_at);
  int64_t start = now_ms(), refused_after = -1;
  while (now_ms() - start < 5000) {
    http_response *r = call_with_key("GET", "/v1/passengers?pageSize=1", k.secret, NULL);
    long status = r->status;
    http_response_free(r);
    if (status == 401) {
      refused_after = now_ms() - start;
      break;
    }
    assert_int_equal(status, 200);
    sleep_ms(50);
  }
  fprintf(stderr, "revoked key refused after %lld ms\n", (long long)refused_after);
  assert_true(refused_after >= 0 && refused_after <= 2500);
}

/* A key's own rate: 60 a minute allows a burst of 6, then 429 with Retry-After. */
static void test_a_key_has_its_own_rate_limit(void **state) {
  (void)state;
  made_key k;
  http_response_free(create_key("{\"displayName\":\"Chatty partner\",\"roles\":[\"staff\"],"
                                "\"rateLimitPerMinute\":60}", &k));
  int ok = 0, limited = 0;
  for (int i = 0; i < 12; i++) {
    http_response *r = call_with_key("GET", "/v1/passengers?pageSize=1", k.secret, NULL);
    if (r->status == 200) ok++;
    if (r->status == 429) {
      limited++;
      assert_string_equal(error_reason(r), "RATE_LIMITED");
      assert_non_null(r->retry_after);
      assert_true(atoi(r->retry_after) >= 1);
    }
    http_response_free(r);
  }
  fprintf(stderr, "12 calls at once: %d passed, %d limited\n", ok, limited);
  assert_true(ok >= 6 && ok <= 7);
  assert_int_equal(ok + limited, 12);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_admin_creates_a_key_and_the_secret_is_shown_once),
      cmocka_unit_test(test_a_minimal_key_gets_the_default_rate_limit),
      cmocka_unit_test(test_keys_are_listed_newest_first_across_pages),
      cmocka_unit_test(test_revoking_hides_the_key_and_twice_changes_nothing),
      cmocka_unit_test(test_passengers_and_strangers_are_refused),
      cmocka_unit_test(test_validation_errors_name_their_field),
      cmocka_unit_test(test_lookup_answers_the_hash_and_never_the_secret),
      cmocka_unit_test(test_lookup_answers_revoked_and_expired_keys_and_not_unknown_ones),
      cmocka_unit_test(test_lookup_needs_the_service_role),
      cmocka_unit_test(test_the_database_and_logs_hold_only_the_hash),
      cmocka_unit_test(test_a_key_acts_with_its_roles_within_its_route_prefixes),
      cmocka_unit_test(test_bad_keys_are_refused),
      cmocka_unit_test(test_a_revoked_key_is_refused_within_seconds),
      cmocka_unit_test(test_a_key_has_its_own_rate_limit),
  };
  return cmocka_run_group_tests(tests, setup_group, NULL);
}
