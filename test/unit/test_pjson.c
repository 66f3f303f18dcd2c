/* Unit tests of the proto3 JSON mapping (common/pjson.h) over metro.testing.v1: scalars,
 * repeated, maps, oneofs, nesting, every well-known type, errors and pjson_set_path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "common/arena.h"
#include "common/pjson.h"
#include "common/text.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "metro/testing/v1/testing.pb-c.h"

extern const proto_registry metro_testing_registry;

typedef Metro__Testing__V1__Everything Everything;
typedef Metro__Testing__V1__EchoRequest EchoRequest;
typedef Metro__Testing__V1__Inner Inner;

static arena *A;
static ProtobufCAllocator AL;

static int setup(void **state) {
  (void)state;
  A = arena_create(1 << 16);
  AL = arena_protobuf_allocator(A);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  arena_destroy(A);
  A = NULL;
  return 0;
}

/* ---- helpers ---- */

static void json_decref_void(void *p) { json_decref(p); }

static void *new_message(const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *m = arena_alloc(A, d->sizeof_message);
  protobuf_c_message_init(d, m);
  return m;
}

/* Decodes text into a fresh message of type d (arena-allocated); NULL on failure. */
static void *decode_as(const ProtobufCMessageDescriptor *d, const char *text, pjson_error *err) {
  ProtobufCMessage *m = new_message(d);
  pjson_error local;
  return pjson_decode_text(text, strlen(text), m, &AL, err ? err : &local) ? m : NULL;
}

static Everything *everything(const char *text) {
  pjson_error err;
  Everything *e = decode_as(&metro__testing__v1__everything__descriptor, text, &err);
  if (!e) fail_msg("decode failed: %s at %s", err.message, err.field);
  return e;
}

/* Expects decoding to fail; returns the error. */
static pjson_error decode_error(const ProtobufCMessageDescriptor *d, const char *text) {
  pjson_error err;
  memset(&err, 0, sizeof err);
  assert_null(decode_as(d, text, &err));
  assert_true(err.message[0] != '\0');
  return err;
}

static json_t *encode(const void *m, int flags) {
  pjson_error err;
  json_t *j = pjson_encode_err(m, flags, &err);
  if (!j) fail_msg("encode failed: %s at %s", err.message, err.field);
  arena_defer(A, json_decref_void, j);
  return j;
}

static void assert_json(const json_t *got, const char *expected) {
  json_error_t jerr;
  json_t *want = json_loads(expected, JSON_DECODE_ANY, &jerr);
  if (!want) fail_msg("bad expected JSON %s: %s", expected, jerr.text);
  arena_defer(A, json_decref_void, want);
  if (!json_equal(got, want)) {
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    print_error("got  %s\nwant %s\n", g, w);
    free(g);
    free(w);
    fail();
  }
}

static void assert_encodes(const void *m, int flags, const char *expected) {
  assert_json(encode(m, flags), expected);
}

/* Whatever pjson leaves behind must pack and unpack. */
static void assert_packs(const void *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = arena_alloc(A, n + 1);
  assert_int_equal(protobuf_c_message_pack(m, buf), n);
  ProtobufCMessage *back =
      protobuf_c_message_unpack(((const ProtobufCMessage *)m)->descriptor, &AL, n, buf);
  assert_non_null(back);
}

/* Decodes text, encodes the result and compares with expected (text itself when NULL). */
static void assert_round_trip(const ProtobufCMessageDescriptor *d, const char *text,
                              const char *expected) {
  pjson_error err;
  void *m = decode_as(d, text, &err);
  if (!m) fail_msg("decode failed: %s at %s", err.message, err.field);
  assert_packs(m);
  assert_encodes(m, 0, expected ? expected : text);
}

/* ---- scalars ---- */

static void test_scalar_extremes_round_trip(void **state) {
  (void)state;
  Everything e = METRO__TESTING__V1__EVERYTHING__INIT;
  e.f_int32 = INT32_MIN;
  e.f_int64 = INT64_MIN;
  e.f_uint32 = UINT32_MAX;
  e.f_uint64 = UINT64_MAX;
  e.f_sint32 = -7;
  e.f_sint64 = INT64_MIN + 1;
  e.f_fixed32 = UINT32_MAX;
  e.f_fixed64 = UINT64_MAX;
  e.f_sfixed32 = INT32_MAX;
  e.f_sfixed64 = INT64_MAX;
  e.f_double = -1.25e300;
  e.f_float = 0.1f;
  e.f_bool = 1;
  e.f_string = "Bến Thành";
  e.f_bytes.data = (uint8_t *)"\x00\xff\xfe";
  e.f_bytes.len = 3;
  e.f_enum = METRO__TESTING__V1__COLOR__COLOR_GREEN;
  json_t *j = encode(&e, 0);
  assert_json(j, "{\"fInt32\": -2147483648, \"fInt64\": \"-9223372036854775808\","
                 "\"fUint32\": 4294967295, \"fUint64\": \"18446744073709551615\","
                 "\"fSint32\": -7, \"fSint64\": \"-9223372036854775807\","
                 "\"fFixed32\": 4294967295, \"fFixed64\": \"18446744073709551615\","
                 "\"fSfixed32\": 2147483647, \"fSfixed64\": \"9223372036854775807\","
                 "\"fDouble\": -1.25e300, \"fFloat\": 0.1, \"fBool\": true,"
                 "\"fString\": \"Bến Thành\", \"fBytes\": \"AP/+\", \"fEnum\": \"COLOR_GREEN\"}");

  Everything *back = new_message(&metro__testing__v1__everything__descriptor);
  pjson_error err;
  assert_true(pjson_decode(j, &back->base, &AL, &err));
  assert_int_equal(back->f_int32, INT32_MIN);
  assert_true(back->f_int64 == INT64_MIN);
  assert_int_equal(back->f_uint32, UINT32_MAX);
  assert_true(back->f_uint64 == UINT64_MAX);
  assert_int_equal(back->f_sint32, -7);
  assert_true(back->f_sint64 == INT64_MIN + 1);
  assert_true(back->f_fixed64 == UINT64_MAX);
  assert_int_equal(back->f_sfixed32, INT32_MAX);
  assert_true(back->f_sfixed64 == INT64_MAX);
  assert_true(back->f_double == -1.25e300);
  assert_true(back->f_float == 0.1f);
  assert_true(back->f_bool);
  assert_string_equal(back->f_string, "Bến Thành");
  assert_int_equal(back->f_bytes.len, 3);
  assert_memory_equal(back->f_bytes.data, "\x00\xff\xfe", 3);
  assert_int_equal(back->f_enum, METRO__TESTING__V1__COLOR__COLOR_GREEN);
  assert_packs(back);
}

static void test_float_specials_are_strings(void **state) {
  (void)state;
  Everything e = METRO__TESTING__V1__EVERYTHING__INIT;
  e.f_double = NAN;
  e.f_float = -INFINITY;
  assert_encodes(&e, 0, "{\"fDouble\": \"NaN\", \"fFloat\": \"-Infinity\"}");
  Everything *back = everything("{\"fDouble\": \"Infinity\", \"fFloat\": \"NaN\"}");
  assert_true(isinf(back->f_double) && back->f_double > 0);
  assert_true(isnan(back->f_float));
  back = everything("{\"fDouble\": \"-Infinity\", \"fFloat\": \"1.5\"}");
  assert_true(isinf(back->f_double) && back->f_double < 0);
  assert_true(back->f_float == 1.5f);
}

static void test_integers_accept_strings_numbers_and_exponents(void **state) {
  (void)state;
  Everything *e = everything("{\"fInt64\": 9007199254740993, \"fUint64\": \"1e3\", \"fInt32\": \"-42\","
                             "\"fUint32\": 1e3, \"fSint64\": \"-9223372036854775808\", \"fFixed32\": 7.0}");
  assert_true(e->f_int64 == 9007199254740993LL);
  assert_true(e->f_uint64 == 1000);
  assert_int_equal(e->f_int32, -42);
  assert_int_equal(e->f_uint32, 1000);
  assert_true(e->f_sint64 == INT64_MIN);
  assert_int_equal(e->f_fixed32, 7);
}

static void test_integer_range_and_fraction_errors(void **state) {
  (void)state;
  const ProtobufCMessageDescriptor *d = &metro__testing__v1__everything__descriptor;
  pjson_error err = decode_error(d, "{\"fInt32\": 2147483648}");
  assert_string_equal(err.field, "fInt32");
  assert_non_null(strstr(err.message, "out of range"));
  err = decode_error(d, "{\"fInt32\": -2147483649}");
  err = decode_error(d, "{\"fUint32\": -1}");
  err = decode_error(d, "{\"fUint64\": \"-1\"}");
  err = decode_error(d, "{\"fInt64\": \"9223372036854775808\"}");
  assert_non_null(strstr(err.message, "out of range"));
  err = decode_error(d, "{\"fUint64\": \"18446744073709551616\"}");
  err = decode_error(d, "{\"fInt32\": 1.5}");
  assert_non_null(strstr(err.message, "integer"));
  err = decode_error(d, "{\"fInt64\": \"1.5\"}");
  err = decode_error(d, "{\"fInt32\": \"12abc\"}");
  err = decode_error(d, "{\"fInt32\": \" 12\"}");
  err = decode_error(d, "{\"fInt32\": \"0x10\"}");
  err = decode_error(d, "{\"fFloat\": 1e39}");
  assert_non_null(strstr(err.message, "out of range"));
  err = decode_error(d, "{\"fDouble\": \"1e999\"}");
  err = decode_error(d, "{\"fDouble\": \"nan\"}");
  err = decode_error(d, "{\"fInt32\": true}");
}

static void test_bool_rejects_string(void **state) {
  (void)state;
  pjson_error err = decode_error(&metro__testing__v1__everything__descriptor, "{\"fBool\": \"true\"}");
  assert_string_equal(err.field, "fBool");
  assert_non_null(strstr(err.message, "bool"));
  decode_error(&metro__testing__v1__everything__descriptor, "{\"fBool\": 1}");
}

static void test_string_must_be_utf8_and_a_string(void **state) {
  (void)state;
  Everything *e = new_message(&metro__testing__v1__everything__descriptor);
  json_t *in = json_object();
  json_object_set_new(in, "fString", json_stringn_nocheck("\xc3\x28", 2));
  arena_defer(A, json_decref_void, in);
  pjson_error err;
  assert_false(pjson_decode(in, &e->base, &AL, &err));
  assert_non_null(strstr(err.message, "UTF-8"));
  assert_packs(e);
  decode_error(&metro__testing__v1__everything__descriptor, "{\"fString\": 5}");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"fString\": \"a\\u0000b\"}");
}

static void test_bytes_accept_every_base64_alphabet(void **state) {
  (void)state;
  static const char *inputs[] = {"+/8=", "+/8", "-_8=", "-_8"};
  for (size_t i = 0; i < 4; i++) {
    char text[64];
    snprintf(text, sizeof text, "{\"fBytes\": \"%s\"}", inputs[i]);
    Everything *e = everything(text);
    assert_int_equal(e->f_bytes.len, 2);
    assert_memory_equal(e->f_bytes.data, "\xfb\xff", 2);
    assert_encodes(e, 0, "{\"fBytes\": \"+/8=\"}");
  }
  Everything *e = everything("{\"fBytes\": \"\"}");
  assert_int_equal(e->f_bytes.len, 0);
}

static void test_bad_base64_rejected(void **state) {
  (void)state;
  const ProtobufCMessageDescriptor *d = &metro__testing__v1__everything__descriptor;
  pjson_error err = decode_error(d, "{\"fBytes\": \"a*bc\"}");
  assert_string_equal(err.field, "fBytes");
  assert_non_null(strstr(err.message, "base64"));
  decode_error(d, "{\"fBytes\": \"+_8=\"}");  /* mixed alphabets */
  decode_error(d, "{\"fBytes\": \"abc==\"}"); /* padding of the wrong length */
  decode_error(d, "{\"fBytes\": \"a\"}");
}

static void test_enum_by_name_or_number(void **state) {
  (void)state;
  Everything *e = everything("{\"fEnum\": \"COLOR_RED\", \"rEnum\": [\"COLOR_GREEN\", 1, 0, 9]}");
  assert_int_equal(e->f_enum, METRO__TESTING__V1__COLOR__COLOR_RED);
  assert_int_equal(e->n_r_enum, 4);
  assert_int_equal(e->r_enum[0], 2);
  assert_int_equal(e->r_enum[3], 9);
  assert_encodes(e, 0, "{\"fEnum\": \"COLOR_RED\","
                       "\"rEnum\": [\"COLOR_GREEN\", \"COLOR_RED\", \"COLOR_UNSPECIFIED\", 9]}");
}

static void test_bad_enum_name_rejected(void **state) {
  (void)state;
  pjson_error err = decode_error(&metro__testing__v1__everything__descriptor, "{\"fEnum\": \"COLOR_BLUE\"}");
  assert_string_equal(err.field, "fEnum");
  assert_non_null(strstr(err.message, "COLOR_BLUE"));
  decode_error(&metro__testing__v1__everything__descriptor, "{\"fEnum\": \"1\"}");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"fEnum\": 2147483648}");
}

/* ---- presence and names ---- */

static void test_defaults_omitted_unless_asked(void **state) {
  (void)state;
  Everything e = METRO__TESTING__V1__EVERYTHING__INIT;
  assert_encodes(&e, 0, "{}");
  json_t *j = encode(&e, PJSON_EMIT_DEFAULTS);
  assert_json(json_object_get(j, "fInt32"), "0");
  assert_json(json_object_get(j, "fInt64"), "\"0\"");
  assert_json(json_object_get(j, "fString"), "\"\"");
  assert_json(json_object_get(j, "fBytes"), "\"\"");
  assert_json(json_object_get(j, "fEnum"), "\"COLOR_UNSPECIFIED\"");
  assert_json(json_object_get(j, "fBool"), "false");
  assert_json(json_object_get(j, "rInt32"), "[]");
  assert_json(json_object_get(j, "mStringInt32"), "{}");
  assert_null(json_object_get(j, "fMessage"));
  assert_null(json_object_get(j, "tTimestamp"));
  assert_null(json_object_get(j, "oString"));
  assert_null(json_object_get(j, "oInt32"));
}

static void test_original_names_on_request(void **state) {
  (void)state;
  Everything *e = everything("{\"fInt32\": 1, \"rString\": [\"a\"]}");
  assert_encodes(e, PJSON_ORIGINAL_NAMES, "{\"f_int32\": 1, \"r_string\": [\"a\"]}");
}

static void test_json_and_proto_names_both_accepted(void **state) {
  (void)state;
  Everything *e = everything("{\"f_int32\": 1, \"fInt64\": \"2\", \"m_string_int32\": {\"a\": 1},"
                             "\"f_message\": {\"label\": \"x\"}}");
  assert_int_equal(e->f_int32, 1);
  assert_true(e->f_int64 == 2);
  assert_int_equal(e->n_m_string_int32, 1);
  assert_string_equal(e->f_message->label, "x");
}

static void test_field_given_twice_rejected(void **state) {
  (void)state;
  pjson_error err = decode_error(&metro__testing__v1__everything__descriptor, "{\"f_int32\": 1, \"fInt32\": 2}");
  assert_non_null(strstr(err.message, "more than once"));
}

static void test_unknown_field_is_named(void **state) {
  (void)state;
  pjson_error err =
      decode_error(&metro__testing__v1__echo_request__descriptor, "{\"payload\": {\"fInt32\": 1, \"bogus\": 2}}");
  assert_string_equal(err.field, "payload.bogus");
  assert_non_null(strstr(err.message, "bogus"));
}

static void test_error_path_names_nested_field(void **state) {
  (void)state;
  pjson_error err = decode_error(&metro__testing__v1__echo_request__descriptor,
                                 "{\"payload\": {\"rMessage\": [{}, {\"weight\": \"x\"}]}}");
  assert_string_equal(err.field, "payload.rMessage[1].weight");
  err = decode_error(&metro__testing__v1__echo_request__descriptor,
                     "{\"payload\": {\"fInt32\": 99999999999}}");
  assert_string_equal(err.field, "payload.fInt32");
}

static void test_error_text_stays_utf8(void **state) {
  (void)state;
  char text[1024];
  size_t o = (size_t)snprintf(text, sizeof text, "{\"");
  for (int i = 0; i < 150; i++) o += (size_t)snprintf(text + o, sizeof text - o, "\u1ebf"); /* ế */
  snprintf(text + o, sizeof text - o, "\": 1}");
  pjson_error err = decode_error(&metro__testing__v1__everything__descriptor, text);
  assert_true(text_utf8_length(err.message) >= 0);
  assert_true(text_utf8_length(err.field) >= 0);
  assert_non_null(strstr(err.message, "unknown field"));
  assert_non_null(strchr(err.message, '?')); /* the cut character was replaced */
}

static void test_null_means_default(void **state) {
  (void)state;
  Everything *e = everything("{\"fInt32\": null, \"fString\": null, \"fMessage\": null, \"rInt32\": null,"
                             "\"mStringInt32\": null, \"wInt64\": null, \"oString\": null, \"oInt32\": 3,"
                             "\"tTimestamp\": null}");
  assert_int_equal(e->f_int32, 0);
  assert_string_equal(e->f_string, "");
  assert_null(e->f_message);
  assert_null(e->w_int64);
  assert_null(e->t_timestamp);
  assert_int_equal(e->choice_case, METRO__TESTING__V1__EVERYTHING__CHOICE_O_INT32);
  assert_encodes(e, 0, "{\"oInt32\": 3}");
}

/* ---- repeated, maps, nesting, oneof ---- */

static void test_repeated_round_trip(void **state) {
  (void)state;
  assert_round_trip(&metro__testing__v1__everything__descriptor,
                    "{\"rInt32\": [1, -2, 2147483647], \"rString\": [\"a\", \"\", \"ç\"],"
                    "\"rMessage\": [{\"label\": \"x\"}, {}, {\"child\": {\"weight\": 3}}],"
                    "\"rEnum\": [\"COLOR_RED\"], \"rInt64\": [\"-9223372036854775808\", \"0\"]}",
                    NULL);
  pjson_error err = decode_error(&metro__testing__v1__everything__descriptor, "{\"rInt32\": [1, null]}");
  assert_string_equal(err.field, "rInt32[1]");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"rInt32\": 1}");
}

static void test_maps_round_trip(void **state) {
  (void)state;
  assert_round_trip(&metro__testing__v1__everything__descriptor,
                    "{\"mStringInt32\": {\"a\": 1, \"b\": -2},"
                    "\"mInt32String\": {\"-5\": \"minus five\", \"2147483647\": \"max\"},"
                    "\"mStringInner\": {\"k\": {\"label\": \"v\", \"child\": {\"weight\": 1}}}}",
                    NULL);
  Everything *e = everything("{\"mInt32String\": {\"7\": \"seven\"}}");
  assert_int_equal(e->n_m_int32_string, 1);
  assert_int_equal(e->m_int32_string[0]->key, 7);
  assert_string_equal(e->m_int32_string[0]->value, "seven");
}

static void test_map_key_must_parse(void **state) {
  (void)state;
  pjson_error err =
      decode_error(&metro__testing__v1__everything__descriptor, "{\"mInt32String\": {\"x\": \"a\"}}");
  assert_string_equal(err.field, "mInt32String[x]");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"mInt32String\": {\"1\": null}}");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"mStringInner\": {\"k\": 5}}");
}

/* Found by test/fuzz: "0" and "-0" (or "1" and "1.0") are one key, which a map holds once. */
static void test_map_key_spelled_twice_is_refused(void **state) {
  (void)state;
  pjson_error err = decode_error(&metro__testing__v1__everything__descriptor,
                                 "{\"mInt32String\": {\"0\": \"a\", \"-0\": \"b\"}}");
  assert_string_equal(err.field, "mInt32String[-0]");
  assert_non_null(strstr(err.message, "map key 0 given twice"));
  err = decode_error(&metro__testing__v1__everything__descriptor,
                     "{\"mInt32String\": {\"1\": \"a\", \"2\": \"b\", \"1e0\": \"c\"}}");
  assert_non_null(strstr(err.message, "map key 1 given twice"));
  Everything *e = everything("{\"mInt32String\": {\"1\": \"a\", \"-1\": \"b\", \"10\": \"c\"}}");
  assert_int_equal(e->n_m_int32_string, 3);
}

static void test_nested_messages(void **state) {
  (void)state;
  EchoRequest *r = decode_as(&metro__testing__v1__echo_request__descriptor,
                             "{\"name\": \"stations/ben-thanh\", \"inner\": {\"label\": \"a\","
                             "\"child\": {\"label\": \"b\", \"child\": {\"weight\": 3}}},"
                             "\"payload\": {\"fMessage\": {\"label\": \"p\"}}}",
                             NULL);
  assert_non_null(r);
  assert_string_equal(r->inner->child->label, "b");
  assert_int_equal(r->inner->child->child->weight, 3);
  assert_string_equal(r->payload->f_message->label, "p");
  assert_encodes(r, 0,
                 "{\"name\": \"stations/ben-thanh\", \"inner\": {\"label\": \"a\","
                 "\"child\": {\"label\": \"b\", \"child\": {\"weight\": 3}}},"
                 "\"payload\": {\"fMessage\": {\"label\": \"p\"}}}");
}

static void test_oneof_round_trip(void **state) {
  (void)state;
  assert_round_trip(&metro__testing__v1__everything__descriptor, "{\"oString\": \"\"}", NULL);
  assert_round_trip(&metro__testing__v1__everything__descriptor, "{\"oMessage\": {\"label\": \"m\"}}", NULL);
  Everything *e = everything("{\"oInt32\": 0}");
  assert_int_equal(e->choice_case, METRO__TESTING__V1__EVERYTHING__CHOICE_O_INT32);
  assert_encodes(e, 0, "{\"oInt32\": 0}");
}

static void test_oneof_two_members_rejected(void **state) {
  (void)state;
  pjson_error err = decode_error(&metro__testing__v1__everything__descriptor,
                                 "{\"oMessage\": {\"label\": \"m\"}, \"oString\": \"s\"}");
  assert_non_null(strstr(err.message, "oneof"));
  assert_string_equal(err.field, "oString");
}

static void test_failed_decode_leaves_message_consistent(void **state) {
  (void)state;
  Everything *e = new_message(&metro__testing__v1__everything__descriptor);
  const char *text = "{\"oMessage\": {\"label\": \"m\"}, \"rMessage\": [{\"label\": \"a\"}, {\"weight\": \"x\"}],"
                     "\"mStringInner\": {\"k\": {\"label\": 1}}}";
  pjson_error err;
  assert_false(pjson_decode_text(text, strlen(text), &e->base, &AL, &err));
  assert_packs(e);
  assert_non_null(encode(e, 0));
}

static void test_default_allocator_frees_cleanly(void **state) {
  (void)state;
  const char *texts[] = {
      "{\"fString\": \"s\", \"fBytes\": \"AQI=\", \"rString\": [\"a\", \"b\"], \"oMessage\": {\"label\": \"x\"},"
      "\"mStringInner\": {\"k\": {\"child\": {}}}, \"tStruct\": {\"a\": [1, {\"b\": null}]},"
      "\"tTimestamp\": \"2024-01-01T00:00:00Z\", \"wString\": \"w\", \"tFieldMask\": \"a,bC\"}",
      "{\"rString\": [\"a\", \"b\"], \"mStringInner\": {\"k\": {\"label\": \"l\"}, \"j\": {\"label\": 3}}}",
      "{\"oMessage\": {\"label\": \"x\"}, \"oString\": \"y\"}",
  };
  for (size_t i = 0; i < 3; i++) {
    Everything *e = malloc(sizeof *e);
    metro__testing__v1__everything__init(e);
    pjson_error err;
    bool ok = pjson_decode_text(texts[i], strlen(texts[i]), &e->base, NULL, &err);
    assert_true(ok == (i == 0));
    protobuf_c_message_free_unpacked(&e->base, NULL);
  }
  /* a message on the stack, overwritten field by field, then cleared */
  Everything e = METRO__TESTING__V1__EVERYTHING__INIT;
  pjson_error err;
  assert_true(pjson_decode_text(texts[0], strlen(texts[0]), &e.base, NULL, &err));
  assert_true(pjson_decode_text(texts[0], strlen(texts[0]), &e.base, NULL, &err));
  assert_int_equal(e.n_r_string, 4);
  assert_true(pjson_set_path(&e.base, "oString", "switch", NULL, &err));
  assert_true(pjson_set_path(&e.base, "fString", "again", NULL, &err));
  assert_true(pjson_set_path(&e.base, "wInt64", "5", NULL, &err));
  pjson_clear(&e.base, NULL);
  assert_int_equal(e.n_r_string, 0);
  assert_null(e.t_struct);
}

/* ---- well-known types ---- */

static void test_timestamp_formats(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},
      {"2024-02-29T23:59:59.5Z", "2024-02-29T23:59:59.500Z"},
      {"2024-03-01T07:00:00.000001+07:00", "2024-03-01T00:00:00.000001Z"},
      {"1969-12-31T23:59:59.123456789Z", "1969-12-31T23:59:59.123456789Z"},
      {"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"},
      {"9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999999999Z"},
      {"2000-01-01t01:30:00-01:30", "2000-01-01T03:00:00Z"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char in[128], out[128];
    snprintf(in, sizeof in, "{\"tTimestamp\": \"%s\"}", cases[i].in);
    snprintf(out, sizeof out, "{\"tTimestamp\": \"%s\"}", cases[i].out);
    assert_round_trip(&metro__testing__v1__everything__descriptor, in, out);
  }
  Everything *e = everything("{\"tTimestamp\": \"1969-12-31T23:59:59.5Z\"}");
  assert_true(e->t_timestamp->seconds == -1);
  assert_int_equal(e->t_timestamp->nanos, 500000000);
}

static void test_bad_timestamps_rejected(void **state) {
  (void)state;
  static const char *bad[] = {
      "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T24:00:00Z",
      "2024-01-01T00:00:00",  "0000-12-31T00:00:00Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567891Z",
      "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+00:01", "2024-1-01T00:00:00Z", "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char in[128];
    snprintf(in, sizeof in, "{\"tTimestamp\": \"%s\"}", bad[i]);
    pjson_error err = decode_error(&metro__testing__v1__everything__descriptor, in);
    assert_string_equal(err.field, "tTimestamp");
  }
  decode_error(&metro__testing__v1__everything__descriptor, "{\"tTimestamp\": 0}");
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  ts.seconds = 253402300800LL;
  assert_null(pjson_encode(&ts.base, 0));
  ts.seconds = 0;
  ts.nanos = -1;
  assert_null(pjson_encode(&ts.base, 0));
}

static void test_duration_formats(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"1.5s", "1.500s"},
      {"-0.000000001s", "-0.000000001s"},
      {"0s", "0s"},
      {"315576000000s", "315576000000s"},
      {"-315576000000.999999999s", "-315576000000.999999999s"},
      {"3.000010s", "3.000010s"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char in[128], out[128];
    snprintf(in, sizeof in, "{\"tDuration\": \"%s\"}", cases[i].in);
    snprintf(out, sizeof out, "{\"tDuration\": \"%s\"}", cases[i].out);
    assert_round_trip(&metro__testing__v1__everything__descriptor, in, out);
  }
  Everything *e = everything("{\"tDuration\": \"-0.5s\"}");
  assert_true(e->t_duration->seconds == 0);
  assert_int_equal(e->t_duration->nanos, -500000000);
  static const char *bad[] = {"1", "s", "1.s", "+1s", "315576000001s", "1.0000000001s", "1s ", "--1s"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char in[128];
    snprintf(in, sizeof in, "{\"tDuration\": \"%s\"}", bad[i]);
    decode_error(&metro__testing__v1__everything__descriptor, in);
  }
}

static void test_wrappers_are_plain_values(void **state) {
  (void)state;
  const char *text = "{\"wString\": \"s\", \"wInt64\": \"-5\", \"wBool\": false, \"wDouble\": \"NaN\","
                     "\"wInt32\": 0, \"wUint64\": \"18446744073709551615\", \"wBytes\": \"AQ==\","
                     "\"wFloat\": 2.5, \"wUint32\": 4294967295}";
  assert_round_trip(&metro__testing__v1__everything__descriptor, text, NULL);
  Everything *e = everything(text);
  assert_non_null(e->w_bool);
  assert_false(e->w_bool->value);
  assert_non_null(e->w_int32);
  assert_true(e->w_int64->value == -5);
  e = everything("{\"wInt64\": 7}");
  assert_encodes(e, 0, "{\"wInt64\": \"7\"}");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"wInt32\": {\"value\": 1}}");
}

static void test_field_mask_camel_and_snake(void **state) {
  (void)state;
  Everything *e = everything("{\"tFieldMask\": \"fInt32,fMessage.label,rString\"}");
  assert_int_equal(e->t_field_mask->n_paths, 3);
  assert_string_equal(e->t_field_mask->paths[0], "f_int32");
  assert_string_equal(e->t_field_mask->paths[1], "f_message.label");
  assert_encodes(e, 0, "{\"tFieldMask\": \"fInt32,fMessage.label,rString\"}");
  e = everything("{\"tFieldMask\": \"\"}");
  assert_int_equal(e->t_field_mask->n_paths, 0);
  decode_error(&metro__testing__v1__everything__descriptor, "{\"tFieldMask\": \"a,,b\"}");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"tFieldMask\": \"a b\"}");
}

static void test_struct_value_list_hold_any_json(void **state) {
  (void)state;
  assert_round_trip(&metro__testing__v1__everything__descriptor,
                    "{\"tStruct\": {\"a\": 1.5, \"b\": [true, null, \"x\", {\"c\": []}], \"d\": {}},"
                    "\"tValue\": null, \"tList\": [1.5, \"two\", [3.25]]}",
                    NULL);
  Everything *e = everything("{\"tValue\": null}");
  assert_non_null(e->t_value);
  assert_int_equal(e->t_value->kind_case, GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE);
  e = everything("{\"tValue\": {\"k\": [1, 2]}}");
  assert_int_equal(e->t_value->kind_case, GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE);
  assert_encodes(e, 0, "{\"tValue\": {\"k\": [1.0, 2.0]}}");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"tStruct\": [1]}");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"tList\": {}}");
  Google__Protobuf__Value v = GOOGLE__PROTOBUF__VALUE__INIT;
  assert_null(pjson_encode(&v.base, 0)); /* no kind */
}

static void test_empty_is_an_empty_object(void **state) {
  (void)state;
  assert_round_trip(&metro__testing__v1__everything__descriptor, "{\"tEmpty\": {}}", NULL);
  decode_error(&metro__testing__v1__everything__descriptor, "{\"tEmpty\": {\"x\": 1}}");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"tEmpty\": []}");
}

static void test_any_holds_error_info(void **state) {
  (void)state;
  const char *text =
      "{\"code\": 5, \"message\": \"ticket used\", \"details\": [{\"@type\": "
      "\"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"TICKET_USED\", \"domain\": \"metro\","
      "\"metadata\": {\"ticket\": \"t1\"}}]}";
  assert_round_trip(&google__rpc__status__descriptor, text, NULL);
  Google__Rpc__Status *st = decode_as(&google__rpc__status__descriptor, text, NULL);
  assert_int_equal(st->n_details, 1);
  assert_string_equal(st->details[0]->type_url, "type.googleapis.com/google.rpc.ErrorInfo");
  Google__Rpc__ErrorInfo *info = (Google__Rpc__ErrorInfo *)protobuf_c_message_unpack(
      &google__rpc__error_info__descriptor, &AL, st->details[0]->value.len, st->details[0]->value.data);
  assert_non_null(info);
  assert_string_equal(info->reason, "TICKET_USED");
  assert_int_equal(info->n_metadata, 1);
}

static void test_any_holds_well_known_types_under_value(void **state) {
  (void)state;
  assert_round_trip(&google__protobuf__any__descriptor,
                    "{\"@type\": \"type.googleapis.com/google.protobuf.Timestamp\","
                    "\"value\": \"2024-05-01T10:00:00Z\"}",
                    NULL);
  assert_round_trip(&google__protobuf__any__descriptor,
                    "{\"@type\": \"type.googleapis.com/google.protobuf.Struct\", \"value\": {\"a\": \"b\"}}", NULL);
  assert_round_trip(&google__protobuf__any__descriptor,
                    "{\"@type\": \"type.googleapis.com/metro.testing.v1.Inner\", \"label\": \"l\"}", NULL);
  assert_round_trip(&google__protobuf__any__descriptor,
                    "{\"@type\": \"type.googleapis.com/google.protobuf.Empty\"}", NULL);
  assert_round_trip(&google__protobuf__any__descriptor, "{}", NULL);
}

static void test_any_errors(void **state) {
  (void)state;
  const ProtobufCMessageDescriptor *d = &google__protobuf__any__descriptor;
  pjson_error err = decode_error(d, "{\"@type\": \"type.googleapis.com/no.such.Type\"}");
  assert_non_null(strstr(err.message, "no.such.Type"));
  decode_error(d, "{\"@type\": \"nourl\"}");
  decode_error(d, "{\"reason\": \"x\"}");
  decode_error(d, "{\"@type\": \"type.googleapis.com/google.protobuf.Timestamp\"}");
  decode_error(d, "{\"@type\": \"type.googleapis.com/google.protobuf.Timestamp\", \"value\": \"x\"}");
  err = decode_error(d, "{\"@type\": \"type.googleapis.com/google.rpc.ErrorInfo\", \"bogus\": 1}");
  assert_string_equal(err.field, "bogus");
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  any.type_url = "type.googleapis.com/no.such.Type";
  assert_null(pjson_encode(&any.base, 0));
}

/* ---- malformed input and limits ---- */

static void test_malformed_json_reports_position(void **state) {
  (void)state;
  pjson_error err = decode_error(&metro__testing__v1__everything__descriptor, "{\"fInt32\": 1,\n  ]");
  assert_non_null(strstr(err.message, "line 2"));
  decode_error(&metro__testing__v1__everything__descriptor, "");
  decode_error(&metro__testing__v1__everything__descriptor, "[]");
  decode_error(&metro__testing__v1__everything__descriptor, "{\"fInt32\": 1, \"fInt32\": 2}");
  /* the length bounds the text: the closing brace is outside it */
  Everything *e = new_message(&metro__testing__v1__everything__descriptor);
  assert_false(pjson_decode_text("{\"fInt32\": 1}", 12, &e->base, &AL, &err));
}

static char *nested_inner(int levels) {
  size_t cap = (size_t)levels * 12 + 16;
  char *s = arena_alloc(A, cap);
  size_t o = 0;
  for (int i = 0; i < levels; i++) o += (size_t)snprintf(s + o, cap - o, "{\"child\": ");
  o += (size_t)snprintf(s + o, cap - o, "{}");
  for (int i = 0; i < levels; i++) s[o++] = '}';
  s[o] = '\0';
  return s;
}

static void test_nesting_depth_is_bounded(void **state) {
  (void)state;
  assert_non_null(decode_as(&metro__testing__v1__inner__descriptor, nested_inner(PJSON_MAX_DEPTH - 1), NULL));
  pjson_error err = decode_error(&metro__testing__v1__inner__descriptor, nested_inner(PJSON_MAX_DEPTH));
  assert_non_null(strstr(err.message, "deeper"));
  decode_error(&metro__testing__v1__inner__descriptor, nested_inner(5000));
  /* arbitrary JSON is bounded too */
  char *deep = arena_alloc(A, 4000);
  size_t o = (size_t)sprintf(deep, "{\"tList\": ");
  for (int i = 0; i < 1000; i++) deep[o++] = '[';
  for (int i = 0; i < 1000; i++) deep[o++] = ']';
  strcpy(deep + o, "}");
  decode_error(&metro__testing__v1__everything__descriptor, deep);

  /* and encoding a chain built by hand */
  Inner *root = new_message(&metro__testing__v1__inner__descriptor), *cur = root;
  for (int i = 0; i < 40; i++) cur = cur->child = new_message(&metro__testing__v1__inner__descriptor);
  assert_null(pjson_encode_err(&root->base, 0, &err));
  assert_non_null(strstr(err.message, "deeper"));
}

/* ---- pjson_set_path ---- */

static void test_set_path_nested_and_scalars(void **state) {
  (void)state;
  EchoRequest *r = new_message(&metro__testing__v1__echo_request__descriptor);
  pjson_error err;
  assert_true(pjson_set_path(&r->base, "name", "stations/ben-thanh", &AL, &err));
  assert_true(pjson_set_path(&r->base, "inner.label", "x", &AL, &err));
  assert_true(pjson_set_path(&r->base, "inner.weight", "-3", &AL, &err));
  assert_true(pjson_set_path(&r->base, "inner.child.label", "y", &AL, &err));
  assert_true(pjson_set_path(&r->base, "pageSize", "1e2", &AL, &err));
  assert_true(pjson_set_path(&r->base, "payload.f_bool", "true", &AL, &err));
  assert_true(pjson_set_path(&r->base, "payload.fDouble", "-Infinity", &AL, &err));
  assert_true(pjson_set_path(&r->base, "payload.fUint64", "18446744073709551615", &AL, &err));
  assert_true(pjson_set_path(&r->base, "payload.fBytes", "-_8", &AL, &err));
  assert_string_equal(r->inner->label, "x");
  assert_int_equal(r->inner->weight, -3);
  assert_string_equal(r->inner->child->label, "y");
  assert_int_equal(r->page_size, 100);
  assert_true(r->payload->f_bool);
  assert_true(r->payload->f_uint64 == UINT64_MAX);
  assert_int_equal(r->payload->f_bytes.len, 2);
  assert_packs(r);
}

static void test_set_path_repeated_appends(void **state) {
  (void)state;
  EchoRequest *r = new_message(&metro__testing__v1__echo_request__descriptor);
  pjson_error err;
  assert_true(pjson_set_path(&r->base, "tags", "a", &AL, &err));
  assert_true(pjson_set_path(&r->base, "tags", "b", &AL, &err));
  assert_true(pjson_set_path(&r->base, "payload.rEnum", "COLOR_RED", &AL, &err));
  assert_true(pjson_set_path(&r->base, "payload.r_enum", "2", &AL, &err));
  assert_int_equal(r->n_tags, 2);
  assert_string_equal(r->tags[1], "b");
  assert_int_equal(r->payload->n_r_enum, 2);
  assert_int_equal(r->payload->r_enum[1], 2);
  assert_packs(r);
}

static void test_set_path_enum_by_name_or_number(void **state) {
  (void)state;
  EchoRequest *r = new_message(&metro__testing__v1__echo_request__descriptor);
  pjson_error err;
  assert_true(pjson_set_path(&r->base, "color", "COLOR_GREEN", &AL, &err));
  assert_int_equal(r->color, 2);
  assert_true(pjson_set_path(&r->base, "color", "1", &AL, &err));
  assert_int_equal(r->color, 1);
  assert_false(pjson_set_path(&r->base, "color", "PURPLE", &AL, &err));
  assert_string_equal(err.field, "color");
}

static void test_set_path_well_known_types(void **state) {
  (void)state;
  Everything *e = new_message(&metro__testing__v1__everything__descriptor);
  pjson_error err;
  assert_true(pjson_set_path(&e->base, "wInt64", "-9223372036854775808", &AL, &err));
  assert_true(pjson_set_path(&e->base, "w_bool", "false", &AL, &err));
  assert_true(pjson_set_path(&e->base, "wString", "s", &AL, &err));
  assert_true(pjson_set_path(&e->base, "wBytes", "AQ", &AL, &err));
  assert_true(pjson_set_path(&e->base, "tTimestamp", "2024-05-01T10:00:00+07:00", &AL, &err));
  assert_true(pjson_set_path(&e->base, "tDuration", "90s", &AL, &err));
  assert_true(pjson_set_path(&e->base, "tFieldMask", "fInt32,fMessage.label", &AL, &err));
  assert_true(pjson_set_path(&e->base, "oMessage.label", "in oneof", &AL, &err));
  assert_true(pjson_set_path(&e->base, "oInt32", "5", &AL, &err)); /* replaces the member */
  assert_encodes(e, 0,
                 "{\"wInt64\": \"-9223372036854775808\", \"wBool\": false, \"wString\": \"s\","
                 "\"wBytes\": \"AQ==\", \"tTimestamp\": \"2024-05-01T03:00:00Z\", \"tDuration\": \"90s\","
                 "\"tFieldMask\": \"fInt32,fMessage.label\", \"oInt32\": 5}");
  assert_packs(e);
}

/* Found by test/fuzz: text quoted into an error must come out valid UTF-8 even when it held an
 * overlong form, a surrogate or a code point above U+10FFFF (each byte of those becomes '?'). */
static void test_errors_quoting_ill_formed_utf8_are_utf8(void **state) {
  (void)state;
  static const char *const bad[] = {"\xe0\x90\xb6", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80",
                                    "\xe0\xb6"};
  EchoRequest *r = new_message(&metro__testing__v1__echo_request__descriptor);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char key[32], value[32];
    snprintf(key, sizeof key, "k%sk", bad[i]);
    snprintf(value, sizeof value, "1%s", bad[i]);
    pjson_error err;
    assert_false(pjson_set_path(&r->base, key, "1", &AL, &err));
    if (text_utf8_length(err.message) < 0 || text_utf8_length(err.field) < 0) fail_msg("case %zu: not UTF-8", i);
    assert_non_null(strstr(err.message, "unknown field \"k?"));
    assert_false(pjson_set_path(&r->base, "pageSize", value, &AL, &err));
    if (text_utf8_length(err.message) < 0) fail_msg("case %zu: value not UTF-8", i);
  }
  /* well-formed text is kept as it is */
  pjson_error err;
  assert_false(pjson_set_path(&r->base, "k\xc3\xa1\xe2\x82\xac\xf0\x9f\x9a\x87", "1", &AL, &err));
  assert_non_null(strstr(err.message, "k\xc3\xa1\xe2\x82\xac\xf0\x9f\x9a\x87"));
}

static void test_set_path_errors(void **state) {
  (void)state;
  EchoRequest *r = new_message(&metro__testing__v1__echo_request__descriptor);
  pjson_error err;
  assert_false(pjson_set_path(&r->base, "nope", "1", &AL, &err));
  assert_string_equal(err.field, "nope");
  assert_non_null(strstr(err.message, "unknown field"));
  assert_false(pjson_set_path(&r->base, "inner.nope", "1", &AL, &err));
  assert_string_equal(err.field, "inner.nope");
  assert_false(pjson_set_path(&r->base, "payload.mStringInt32", "1", &AL, &err));
  assert_non_null(strstr(err.message, "map"));
  assert_false(pjson_set_path(&r->base, "inner", "x", &AL, &err));
  assert_false(pjson_set_path(&r->base, "payload.tStruct", "{}", &AL, &err));
  assert_false(pjson_set_path(&r->base, "name.x", "1", &AL, &err));
  assert_false(pjson_set_path(&r->base, "payload.rMessage.label", "1", &AL, &err));
  assert_false(pjson_set_path(&r->base, "pageSize", "2147483648", &AL, &err));
  assert_false(pjson_set_path(&r->base, "pageSize", "1.5", &AL, &err));
  assert_false(pjson_set_path(&r->base, "payload.fBool", "yes", &AL, &err));
  assert_false(pjson_set_path(&r->base, "payload.tTimestamp", "yesterday", &AL, &err));
  assert_false(pjson_set_path(&r->base, "payload.wInt32", "x", &AL, &err));
  assert_false(pjson_set_path(&r->base, "payload.fString", "\xff", &AL, &err));
  assert_false(pjson_set_path(&r->base, "", "1", &AL, &err));
  assert_false(pjson_set_path(&r->base, "inner.", "1", &AL, &err));
  assert_packs(r);
}

int main(void) {
  static const proto_registry *const regs[] = {&metro_proto_registry, &metro_testing_registry, NULL};
  pjson_set_registries(regs);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_scalar_extremes_round_trip),
      T(test_float_specials_are_strings),
      T(test_integers_accept_strings_numbers_and_exponents),
      T(test_integer_range_and_fraction_errors),
      T(test_bool_rejects_string),
      T(test_string_must_be_utf8_and_a_string),
      T(test_bytes_accept_every_base64_alphabet),
      T(test_bad_base64_rejected),
      T(test_enum_by_name_or_number),
      T(test_bad_enum_name_rejected),
      T(test_defaults_omitted_unless_asked),
      T(test_original_names_on_request),
      T(test_json_and_proto_names_both_accepted),
      T(test_field_given_twice_rejected),
      T(test_unknown_field_is_named),
      T(test_error_path_names_nested_field),
      T(test_error_text_stays_utf8),
      T(test_null_means_default),
      T(test_repeated_round_trip),
      T(test_maps_round_trip),
      T(test_map_key_must_parse),
      T(test_map_key_spelled_twice_is_refused),
      T(test_nested_messages),
      T(test_oneof_round_trip),
      T(test_oneof_two_members_rejected),
      T(test_failed_decode_leaves_message_consistent),
      T(test_default_allocator_frees_cleanly),
      T(test_timestamp_formats),
      T(test_bad_timestamps_rejected),
      T(test_duration_formats),
      T(test_wrappers_are_plain_values),
      T(test_field_mask_camel_and_snake),
      T(test_struct_value_list_hold_any_json),
      T(test_empty_is_an_empty_object),
      T(test_any_holds_error_info),
      T(test_any_holds_well_known_types_under_value),
      T(test_any_errors),
      T(test_malformed_json_reports_position),
      T(test_nesting_depth_is_bounded),
      T(test_set_path_nested_and_scalars),
      T(test_set_path_repeated_appends),
      T(test_set_path_enum_by_name_or_number),
      T(test_set_path_well_known_types),
      T(test_set_path_errors),
      T(test_errors_quoting_ill_formed_utf8_are_utf8),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
