/* Unit tests of common/identity: the gateway's signed identity and client-address metadata
 * round trip, verification refuses expired, malformed, over-long and wrongly signed values (and
 * one kind's signature for the other), and peer strings become client addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/b64.h"
#include "common/crypto.h"
#include "common/identity.h"

#define SECRET "gateway-identity-secret"
#define NOW 1767225600
#define USER "3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0c"

static int setup(void **state) {
  *state = arena_create(4096);
  return 0;
}

static int teardown(void **state) {
  arena_destroy(*state);
  return 0;
}

/* The signature a correct implementation computes, for values built by hand. */
static const char *sign_raw(arena *a, const char *secret, const char *value) {
  uint8_t mac[32];
  crypto_hmac_sha256(secret, strlen(secret), value, strlen(value), mac);
  char *sig = arena_alloc(a, 64);
  b64_encode(B64_URL_NOPAD, mac, sizeof mac, sig, 64);
  return sig;
}

static bool verify_raw(arena *a, const char *value, rpc_identity *out) {
  return identity_verify(a, SECRET, value, sign_raw(a, SECRET, value), NOW, out);
}

static void test_sign_then_verify_returns_the_caller(void **state) {
  arena *a = *state;
  const char *roles[] = {"passenger", "staff"};
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, roles, 2, NOW + 60, &value, &sig));
  assert_string_equal(value, USER ";passenger,staff;1767225660");
  assert_int_equal(strlen(sig), 43);
  assert_string_equal(sig, sign_raw(a, SECRET, value));
  rpc_identity id;
  assert_true(identity_verify(a, SECRET, value, sig, NOW, &id));
  assert_string_equal(id.user_id, USER);
  assert_int_equal(id.n_roles, 2);
  assert_string_equal(id.roles[0], "passenger");
  assert_string_equal(id.roles[1], "staff");
}

static void test_no_roles_round_trips(void **state) {
  arena *a = *state;
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, NULL, 0, NOW + 60, &value, &sig));
  assert_string_equal(value, USER ";;1767225660");
  rpc_identity id;
  assert_true(identity_verify(a, SECRET, value, sig, NOW, &id));
  assert_int_equal(id.n_roles, 0);
}

static void test_output_is_copied_into_the_arena(void **state) {
  arena *a = *state;
  char value[128];
  snprintf(value, sizeof value, "%s;admin;%d", USER, NOW + 60);
  const char *sig = sign_raw(a, SECRET, value);
  rpc_identity id;
  assert_true(identity_verify(a, SECRET, value, sig, NOW, &id));
  memset(value, 'x', strlen(value)); /* the caller's buffer may die */
  assert_string_equal(id.user_id, USER);
  assert_string_equal(id.roles[0], "admin");
}

static void test_rejects_expired(void **state) {
  arena *a = *state;
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, NULL, 0, NOW, &value, &sig));
  rpc_identity id;
  assert_false(identity_verify(a, SECRET, value, sig, NOW, &id));
  assert_null(id.user_id); /* left anonymous */
  assert_false(identity_verify(a, SECRET, value, sig, NOW + 1, &id));
  assert_true(identity_verify(a, SECRET, value, sig, NOW - 1, &id));
}

static void test_rejects_a_wrong_signature(void **state) {
  arena *a = *state;
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, NULL, 0, NOW + 60, &value, &sig));
  rpc_identity id;
  char bad[64];
  strcpy(bad, sig);
  bad[5] = bad[5] == 'A' ? 'B' : 'A';
  assert_false(identity_verify(a, SECRET, value, bad, NOW, &id));
  assert_false(identity_verify(a, "another-secret", value, sig, NOW, &id));
  assert_false(identity_verify(a, SECRET, value, "", NOW, &id));
  snprintf(bad, sizeof bad, "%s=", sig); /* padded */
  assert_false(identity_verify(a, SECRET, value, bad, NOW, &id));
  snprintf(bad, sizeof bad, "%.42s", sig); /* truncated */
  assert_false(identity_verify(a, SECRET, value, bad, NOW, &id));
  assert_false(identity_verify(a, SECRET, value, NULL, NOW, &id));
  assert_false(identity_verify(a, "", value, sig, NOW, &id));
}

static void test_rejects_a_tampered_value(void **state) {
  arena *a = *state;
  const char *roles[] = {"passenger"};
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, roles, 1, NOW + 60, &value, &sig));
  char *forged = arena_printf(a, "%s;admin;%d", USER, NOW + 60);
  rpc_identity id;
  assert_false(identity_verify(a, SECRET, forged, sig, NOW, &id));
}

static void test_rejects_malformed_values_even_when_signed(void **state) {
  arena *a = *state;
  const char *bad[] = {
      "",
      USER,                                      /* one field */
      USER ";passenger",                         /* two fields */
      USER ";passenger;1767225660;extra",        /* four fields */
      ";passenger;1767225660",                   /* empty user id */
      USER ";passenger;",                        /* empty expiry */
      USER ";passenger;17672256x0",              /* non-numeric expiry */
      USER ";passenger;-1767225660",             /* signed expiry */
      USER ";passenger; 1767225660",
      USER ";passenger;1767225660000000000000",  /* too many digits */
      USER ";passenger,;1767225660",             /* empty role */
      USER ";,passenger;1767225660",
      USER ";a,b,c,d,e,f,g,h,i;1767225660",      /* 9 roles > RPC_MAX_ROLES */
      "user id;passenger;1767225660",            /* space in the user id */
      USER ";pass\tenger;1767225660",            /* control character */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rpc_identity id;
    if (verify_raw(a, bad[i], &id)) fail_msg("accepted malformed value %zu: %s", i, bad[i]);
    assert_null(id.user_id);
  }
  rpc_identity id;
  assert_true(verify_raw(a, USER ";a,b,c,d,e,f,g,h;1767225660", &id)); /* 8 roles is the limit */
  assert_int_equal(id.n_roles, 8);
}

static void test_rejects_an_overlong_value(void **state) {
  arena *a = *state;
  char value[1200];
  const size_t tail = strlen(";r;1767225660");
  memset(value, 'u', sizeof value);
  snprintf(value + 1024 - tail, sizeof value - 1024, ";r;%d", NOW + 60);
  rpc_identity id;
  assert_int_equal(strlen(value), 1024);
  assert_true(verify_raw(a, value, &id)); /* exactly 1 KiB is the limit */
  memset(value, 'u', sizeof value);
  snprintf(value + 1025 - tail, sizeof value - 1025, ";r;%d", NOW + 60);
  assert_int_equal(strlen(value), 1025);
  assert_false(verify_raw(a, value, &id));
  const char *v, *s;
  char uid[1100];
  memset(uid, 'u', 1050);
  uid[1050] = '\0';
  assert_false(identity_sign(a, SECRET, uid, NULL, 0, NOW + 60, &v, &s));
}

static void test_sign_refuses_what_the_format_cannot_carry(void **state) {
  arena *a = *state;
  const char *v, *s;
  const char *comma[] = {"a,b"};
  const char *semi[] = {"a;b"};
  const char *empty[] = {""};
  const char *nine[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  assert_false(identity_sign(a, SECRET, "", NULL, 0, NOW, &v, &s));
  assert_null(v);
  assert_null(s);
  assert_false(identity_sign(a, SECRET, "u;1", NULL, 0, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, "u,1", NULL, 0, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, comma, 1, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, semi, 1, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, empty, 1, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, nine, 9, NOW, &v, &s));
  assert_false(identity_sign(a, "", USER, NULL, 0, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, NULL, 0, -1, &v, &s));
}

/* ---- the signed client address ---- */

#define IP_PREFIX "client-ip:"

/* The client-address signature a correct implementation computes over value. */
static const char *sign_ip_raw(arena *a, const char *secret, const char *value) {
  return sign_raw(a, secret, arena_printf(a, IP_PREFIX "%s", value));
}

static const char *verify_ip_raw(arena *a, const char *value) {
  const char *ip = "unset";
  if (!client_ip_verify(a, SECRET, value, sign_ip_raw(a, SECRET, value), NOW, &ip)) {
    assert_null(ip);
    return NULL;
  }
  return ip;
}

static void test_client_ip_sign_then_verify_returns_the_address(void **state) {
  arena *a = *state;
  const char *value, *sig, *ip;
  assert_true(client_ip_sign(a, SECRET, "203.0.113.7", NOW + 60, &value, &sig));
  assert_string_equal(value, "203.0.113.7;1767225660");
  assert_int_equal(strlen(sig), 43);
  assert_string_equal(sig, sign_ip_raw(a, SECRET, value)); /* HMAC over "client-ip:" + value */
  assert_true(client_ip_verify(a, SECRET, value, sig, NOW, &ip));
  assert_string_equal(ip, "203.0.113.7");
  assert_true(client_ip_sign(a, SECRET, "2001:DB8:0:0:0::1", NOW + 60, &value, &sig));
  assert_string_equal(value, "2001:db8::1;1767225660"); /* canonical form */
  assert_true(client_ip_verify(a, SECRET, value, sig, NOW, &ip));
  assert_string_equal(ip, "2001:db8::1");
  assert_true(client_ip_sign(a, SECRET, "::ffff:192.0.2.1", NOW + 60, &value, &sig));
  assert_string_equal(value, "192.0.2.1;1767225660"); /* an IPv4 client on a dual-stack socket */
  /* a signed value in a non-canonical spelling still verifies, and comes out canonical */
  assert_string_equal(verify_ip_raw(a, "2001:0db8:0000::0001;1767225660"), "2001:db8::1");
  assert_string_equal(verify_ip_raw(a, "::FFFF:10.1.2.3;1767225660"), "10.1.2.3");
}

static void test_client_ip_rejects_expired(void **state) {
  arena *a = *state;
  const char *value, *sig, *ip;
  assert_true(client_ip_sign(a, SECRET, "198.51.100.4", NOW, &value, &sig));
  assert_false(client_ip_verify(a, SECRET, value, sig, NOW, &ip));
  assert_null(ip);
  assert_false(client_ip_verify(a, SECRET, value, sig, NOW + 1, &ip));
  assert_true(client_ip_verify(a, SECRET, value, sig, NOW - 1, &ip));
}

static void test_client_ip_rejects_a_wrong_signature(void **state) {
  arena *a = *state;
  const char *value, *sig, *ip;
  assert_true(client_ip_sign(a, SECRET, "198.51.100.4", NOW + 60, &value, &sig));
  char bad[64];
  strcpy(bad, sig);
  bad[7] = bad[7] == 'A' ? 'B' : 'A';
  assert_false(client_ip_verify(a, SECRET, value, bad, NOW, &ip));
  assert_false(client_ip_verify(a, "another-secret", value, sig, NOW, &ip));
  assert_false(client_ip_verify(a, "", value, sig, NOW, &ip));
  assert_false(client_ip_verify(a, NULL, value, sig, NOW, &ip));
  assert_false(client_ip_verify(a, SECRET, value, "", NOW, &ip));
  assert_false(client_ip_verify(a, SECRET, value, NULL, NOW, &ip));
  assert_false(client_ip_verify(a, SECRET, NULL, sig, NOW, &ip));
  snprintf(bad, sizeof bad, "%.42s", sig);
  assert_false(client_ip_verify(a, SECRET, value, bad, NOW, &ip));
  snprintf(bad, sizeof bad, "%s=", sig);
  assert_false(client_ip_verify(a, SECRET, value, bad, NOW, &ip));
  /* another address under this signature */
  assert_false(client_ip_verify(a, SECRET, "198.51.100.5;1767225660", sig, NOW, &ip));
  assert_null(ip);
}

/* An identity signature never passes for a client address, nor the other way round. */
static void test_identity_and_client_ip_signatures_do_not_mix(void **state) {
  arena *a = *state;
  const char *ip;
  rpc_identity id;
  const char *value = "198.51.100.4;1767225660";
  /* HMAC over the bare value, as an identity is signed: refused as a client address */
  assert_false(client_ip_verify(a, SECRET, value, sign_raw(a, SECRET, value), NOW, &ip));
  /* a client-address pair offered as an identity (as is, or with the prefix written out) */
  const char *v, *s;
  assert_true(client_ip_sign(a, SECRET, "198.51.100.4", NOW + 60, &v, &s));
  assert_false(identity_verify(a, SECRET, v, s, NOW, &id));
  assert_false(identity_verify(a, SECRET, arena_printf(a, IP_PREFIX "%s", v), s, NOW, &id));
  /* an identity pair offered as a client address */
  const char *roles[] = {"passenger"};
  assert_true(identity_sign(a, SECRET, "198.51.100.4", roles, 1, NOW + 60, &v, &s));
  assert_false(client_ip_verify(a, SECRET, v, s, NOW, &ip));
}

static void test_client_ip_rejects_malformed_values_even_when_signed(void **state) {
  arena *a = *state;
  const char *bad[] = {
      "",
      "198.51.100.4",                     /* no expiry */
      "198.51.100.4;",                    /* empty expiry */
      ";1767225660",                      /* empty address */
      "198.51.100.4;17672256x0",
      "198.51.100.4;-1767225660",
      "198.51.100.4;1767225660;1",        /* a third field */
      "198.51.100.4;1767225660000000000000",
      "metro.example;1767225660",         /* a host name */
      "localhost;1767225660",
      "198.51.100.4:443;1767225660",      /* a port */
      "[::1];1767225660",                 /* brackets */
      "fe80::1%eth0;1767225660",          /* a zone */
      "198.51.100;1767225660",            /* short forms inet_aton would take */
      "3325256704;1767225660",
      "0x7f.1;1767225660",
      " 198.51.100.4;1767225660",
      "198.51.100.4 ;1767225660",
      "198.51.100.4,203.0.113.9;1767225660", /* an X-Forwarded-For list */
      "1:2:3:4:5:6:7:8:9;1767225660",
      "0000:0000:0000:0000:0000:ffff:198.51.100.4x;1767225660",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (verify_ip_raw(a, bad[i])) fail_msg("accepted malformed value %zu: %s", i, bad[i]);
  /* the longest spelling (45 characters) is an address; leading zeros in its IPv4 part are not */
  assert_string_equal(verify_ip_raw(a, "0000:0000:0000:0000:0000:ffff:255.255.255.255;1767225660"),
                      "255.255.255.255");
  assert_null(verify_ip_raw(a, "0000:0000:0000:0000:0000:ffff:198.051.100.004;1767225660"));
  assert_string_equal(verify_ip_raw(a, "0000:0000:0000:0000:0000:abcd:198.51.100.4;1767225660"),
                      "::abcd:c633:6404");
  assert_null(verify_ip_raw(a, "00000:0000:0000:0000:0000:abcd:198.51.100.4;1767225660"));
}

static void test_client_ip_sign_refuses_what_is_not_an_address(void **state) {
  arena *a = *state;
  const char *v, *s;
  const char *bad[] = {"", "metro.example", "198.51.100.4:80", "[::1]", "198.51.100.4, 10.0.0.1", "fe80::1%eth0",
                       "198.51.100.4;1", "unix"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (client_ip_sign(a, SECRET, bad[i], NOW + 60, &v, &s)) fail_msg("signed %s", bad[i]);
    assert_null(v);
    assert_null(s);
  }
  assert_false(client_ip_sign(a, SECRET, NULL, NOW + 60, &v, &s));
  assert_false(client_ip_sign(a, "", "198.51.100.4", NOW + 60, &v, &s));
  assert_false(client_ip_sign(a, NULL, "198.51.100.4", NOW + 60, &v, &s));
  assert_false(client_ip_sign(a, SECRET, "198.51.100.4", -1, &v, &s));
  assert_false(client_ip_sign(a, SECRET, "198.51.100.4", INT64_MAX, &v, &s)); /* 19 digits */
}

static void test_peer_strings_become_client_addresses(void **state) {
  arena *a = *state;
  static const char *const cases[][2] = {
      {"ipv4:127.0.0.1:5555", "127.0.0.1"},
      {"ipv4:203.0.113.7:1", "203.0.113.7"},
      {"ipv6:[::1]:5555", "::1"},
      {"ipv6:%5B::1%5D:5555", "::1"},
      {"ipv6:[2001:DB8::7]:443", "2001:db8::7"},
      {"ipv6:[::ffff:10.0.0.1]:80", "10.0.0.1"},
      {"ipv6:%5Bfe80::1%25eth0%5D:5555", "fe80::1"},
      {"unix:/tmp/metro.sock", "unix"},
      {"unix-abstract:metro", "unix"},
      {"", "unknown"},
      {"ipv4:", "unknown"},
      {"ipv4:metro.example:80", "unknown"},
      {"ipv6:::1:5555", "unknown"},
      {"ipv6:[::1", "unknown"},
      {"ipv6:%5B::1%ZZ:5", "unknown"},
      {"dns:metro.example:443", "unknown"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *got = client_ip_from_peer(a, cases[i][0]);
    if (strcmp(got, cases[i][1]) != 0) fail_msg("peer %s -> %s, want %s", cases[i][0], got, cases[i][1]);
  }
  assert_string_equal(client_ip_from_peer(a, NULL), "unknown");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_sign_then_verify_returns_the_caller),
      T(test_no_roles_round_trips),
      T(test_output_is_copied_into_the_arena),
      T(test_rejects_expired),
      T(test_rejects_a_wrong_signature),
      T(test_rejects_a_tampered_value),
      T(test_rejects_malformed_values_even_when_signed),
      T(test_rejects_an_overlong_value),
      T(test_sign_refuses_what_the_format_cannot_carry),
      T(test_client_ip_sign_then_verify_returns_the_address),
      T(test_client_ip_rejects_expired),
      T(test_client_ip_rejects_a_wrong_signature),
      T(test_identity_and_client_ip_signatures_do_not_mix),
      T(test_client_ip_rejects_malformed_values_even_when_signed),
      T(test_client_ip_sign_refuses_what_is_not_an_address),
      T(test_peer_strings_become_client_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
