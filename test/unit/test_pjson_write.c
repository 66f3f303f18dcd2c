/* Unit tests of the streaming encoder (pjson_write): its output must parse to the same JSON as
 * pjson_encode's tree for every fixture and for random messages; its doubles must round-trip. */
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
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "metro/testing/v1/testing.pb-c.h"

extern const proto_registry metro_testing_registry;

typedef Metro__Testing__V1__Everything Everything;
typedef Metro__Testing__V1__Inner Inner;

static arena *A;
static ProtobufCAllocator AL;

static int setup(void **state) {
  (void)state;
  static const proto_registry *const regs[] = {&metro_proto_registry, &metro_testing_registry, NULL};
  pjson_set_registries(regs);
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

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void) { /* xorshift64*: reproducible across runs */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

static void *new_message(const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *m = arena_alloc(A, d->sizeof_message);
  protobuf_c_message_init(d, m);
  return m;
}

static void *decode_as(const ProtobufCMessageDescriptor *d, const char *text) {
  ProtobufCMessage *m = new_message(d);
  pjson_error err;
  if (!pjson_decode_text(text, strlen(text), m, &AL, &err))
    fail_msg("decode of %s failed: %s at %s", text, err.message, err.field);
  return m;
}

/* pjson_write and pjson_encode agree: both fail, or the written text parses to a value equal
 * to the tree (jansson compares reals as numbers, so shorter doubles still match). */
static void assert_same_json(const void *msg, int flags) {
  pjson_error terr, werr;
  json_t *tree = pjson_encode_err(msg, flags, &terr);
  pjson_buf b = {0};
  bool ok = pjson_write(msg, flags, &b, &werr);
  if (!tree) {
    if (ok) fail_msg("pjson_write accepted what pjson_encode refused (%s): %s", terr.message, b.data);
    assert_true(werr.message[0] != '\0');
    pjson_buf_free(&b);
    return;
  }
  if (!ok) fail_msg("pjson_write failed where pjson_encode did not: %s at %s", werr.message, werr.field);
  assert_int_equal(strlen(b.data), b.len);
  json_error_t jerr;
  json_t *back = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
  if (!back) fail_msg("pjson_write wrote invalid JSON (%s): %s", jerr.text, b.data);
  if (!json_equal(back, tree)) {
    char *want = json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY);
    print_error("wrote %s\nwant  %s\n", b.data, want);
    free(want);
    fail();
  }
  json_decref(back);
  json_decref(tree);
  pjson_buf_free(&b);
}

static void assert_same_json_all_flags(const void *msg) {
  static const int flag_sets[] = {0, PJSON_EMIT_DEFAULTS, PJSON_ORIGINAL_NAMES,
                                  PJSON_EMIT_DEFAULTS | PJSON_ORIGINAL_NAMES};
  for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) assert_same_json(msg, flag_sets[i]);
}

/* ---- the fixtures of test_pjson.c ---- */

static const char *const everything_texts[] = {
    "{}",
    "{\"fInt32\": -2147483648, \"fInt64\": \"-9223372036854775808\", \"fUint32\": 4294967295,"
    "\"fUint64\": \"18446744073709551615\", \"fSint32\": -7, \"fSint64\": \"-9223372036854775807\","
    "\"fFixed32\": 4294967295, \"fFixed64\": \"18446744073709551615\", \"fSfixed32\": 2147483647,"
    "\"fSfixed64\": \"9223372036854775807\", \"fDouble\": -1.25e300, \"fFloat\": 0.1, \"fBool\": true,"
    "\"fString\": \"Bến Thành\", \"fBytes\": \"AP/+\", \"fEnum\": \"COLOR_GREEN\"}",
    "{\"fDouble\": \"NaN\", \"fFloat\": \"-Infinity\"}",
    "{\"fDouble\": \"Infinity\", \"fFloat\": \"NaN\"}",
    "{\"fInt64\": 9007199254740993, \"fUint64\": \"1e3\", \"fInt32\": \"-42\", \"fUint32\": 1e3}",
    "{\"fInt32\": 1, \"rString\": [\"a\"]}",
    "{\"rInt32\": [1, -2, 2147483647], \"rString\": [\"a\", \"\", \"ç\"],"
    "\"rMessage\": [{\"label\": \"x\"}, {}, {\"child\": {\"weight\": 3}}],"
    "\"rEnum\": [\"COLOR_RED\"], \"rInt64\": [\"-9223372036854775808\", \"0\"]}",
    "{\"mStringInt32\": {\"a\": 1, \"b\": -2}, \"mInt32String\": {\"-5\": \"minus five\", \"2147483647\": \"max\"},"
    "\"mStringInner\": {\"k\": {\"label\": \"v\", \"child\": {\"weight\": 1}}}}",
    "{\"oString\": \"\"}",
    "{\"oMessage\": {\"label\": \"m\"}}",
    "{\"oInt32\": 0}",
    "{\"fString\": \"s\", \"fBytes\": \"AQI=\", \"rString\": [\"a\", \"b\"], \"oMessage\": {\"label\": \"x\"},"
    "\"mStringInner\": {\"k\": {\"child\": {}}}, \"tStruct\": {\"a\": [1, {\"b\": null}]},"
    "\"tTimestamp\": \"2024-01-01T00:00:00Z\", \"wString\": \"w\", \"tFieldMask\": \"a,bC\"}",
    "{\"tTimestamp\": \"1970-01-01T00:00:00Z\"}",
    "{\"tTimestamp\": \"2024-02-29T23:59:59.5Z\"}",
    "{\"tTimestamp\": \"2024-03-01T07:00:00.000001+07:00\"}",
    "{\"tTimestamp\": \"1969-12-31T23:59:59.123456789Z\"}",
    "{\"tTimestamp\": \"0001-01-01T00:00:00Z\"}",
    "{\"tTimestamp\": \"9999-12-31T23:59:59.999999999Z\"}",
    "{\"tDuration\": \"1.5s\"}",
    "{\"tDuration\": \"-0.000000001s\"}",
    "{\"tDuration\": \"0s\"}",
    "{\"tDuration\": \"-315576000000.999999999s\"}",
    "{\"tDuration\": \"3.000010s\"}",
    "{\"tDuration\": \"-0.5s\"}",
    "{\"wString\": \"s\", \"wInt64\": \"-5\", \"wBool\": false, \"wDouble\": \"NaN\", \"wInt32\": 0,"
    "\"wUint64\": \"18446744073709551615\", \"wBytes\": \"AQ==\", \"wFloat\": 2.5, \"wUint32\": 4294967295}",
    "{\"tFieldMask\": \"fInt32,fMessage.label,rString\"}",
    "{\"tFieldMask\": \"\"}",
    "{\"tStruct\": {\"a\": 1.5, \"b\": [true, null, \"x\", {\"c\": []}], \"d\": {}},"
    "\"tValue\": null, \"tList\": [1.5, \"two\", [3.25]]}",
    "{\"tValue\": {\"k\": [1, 2]}}",
    "{\"tEmpty\": {}}",
    "{\"fString\": \"quote \\\" backslash \\\\ tab \\t nl \\n ctl \\u0001 del \\u007f é 😀\"}",
};

static void test_everything_fixtures_match_tree(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof everything_texts / sizeof everything_texts[0]; i++)
    assert_same_json_all_flags(decode_as(&metro__testing__v1__everything__descriptor, everything_texts[i]));
}

static void test_nested_echo_request_matches_tree(void **state) {
  (void)state;
  assert_same_json_all_flags(decode_as(&metro__testing__v1__echo_request__descriptor,
                                       "{\"name\": \"stations/ben-thanh\", \"inner\": {\"label\": \"a\","
                                       "\"child\": {\"label\": \"b\", \"child\": {\"weight\": 3}}},"
                                       "\"payload\": {\"fMessage\": {\"label\": \"p\"}}}"));
}

static void test_any_fixtures_match_tree(void **state) {
  (void)state;
  assert_same_json_all_flags(decode_as(
      &google__rpc__status__descriptor,
      "{\"code\": 5, \"message\": \"ticket used\", \"details\": [{\"@type\": "
      "\"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"TICKET_USED\", \"domain\": \"metro\","
      "\"metadata\": {\"ticket\": \"t1\"}}]}"));
  static const char *const anys[] = {
      "{\"@type\": \"type.googleapis.com/google.protobuf.Timestamp\", \"value\": \"2024-05-01T10:00:00Z\"}",
      "{\"@type\": \"type.googleapis.com/google.protobuf.Struct\", \"value\": {\"a\": \"b\"}}",
      "{\"@type\": \"type.googleapis.com/metro.testing.v1.Inner\", \"label\": \"l\"}",
      "{\"@type\": \"type.googleapis.com/google.protobuf.Empty\"}",
      "{}",
  };
  for (size_t i = 0; i < sizeof anys / sizeof anys[0]; i++)
    assert_same_json_all_flags(decode_as(&google__protobuf__any__descriptor, anys[i]));
  assert_same_json_all_flags(decode_as(&google__protobuf__any__descriptor,
                                       "{\"@type\": \"type.googleapis.com/metro.testing.v1.Everything\","
                                       "\"fDouble\": 10.7769, \"rInt32\": [1]}"));
}

static void test_failures_match_tree(void **state) {
  (void)state;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  ts.seconds = 253402300800LL;
  assert_same_json(&ts.base, 0);
  ts.seconds = 0;
  ts.nanos = -1;
  assert_same_json(&ts.base, 0);
  Google__Protobuf__Duration du = GOOGLE__PROTOBUF__DURATION__INIT;
  du.seconds = 1;
  du.nanos = -1;
  assert_same_json(&du.base, 0);
  Google__Protobuf__Value v = GOOGLE__PROTOBUF__VALUE__INIT;
  assert_same_json(&v.base, 0); /* no kind */
  v.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
  v.number_value = NAN;
  assert_same_json(&v.base, 0);
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  any.type_url = "type.googleapis.com/no.such.Type";
  assert_same_json(&any.base, 0);
  any.type_url = "";
  any.value.len = 1;
  any.value.data = (uint8_t *)"x";
  assert_same_json(&any.base, 0);
  any.type_url = "type.googleapis.com/google.protobuf.Timestamp";
  any.value.data = (uint8_t *)"\xff";
  assert_same_json(&any.base, 0); /* does not parse */
  char *paths[] = {"f_int32", "Bad"};
  Google__Protobuf__FieldMask fm = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
  fm.n_paths = 2;
  fm.paths = paths;
  assert_same_json(&fm.base, 0);
  Everything e = METRO__TESTING__V1__EVERYTHING__INIT;
  e.f_string = "bad \xc3\x28 utf8";
  assert_same_json(&e, 0);
  e.f_string = "surrogate \xed\xa0\x80";
  assert_same_json(&e, 0);
  e.f_string = "overlong \xe0\x80\xaf";
  assert_same_json(&e, 0);
  e.f_string = "truncated \xf0\x9f\x98";
  assert_same_json(&e, 0);
}

static void test_failed_write_leaves_buffer_as_it_was(void **state) {
  (void)state;
  pjson_buf b = {0};
  Inner ok = METRO__TESTING__V1__INNER__INIT;
  ok.label = "fine";
  pjson_error err;
  assert_true(pjson_write(&ok.base, 0, &b, &err));
  size_t len = b.len;
  Everything bad = METRO__TESTING__V1__EVERYTHING__INIT;
  bad.f_int32 = 1;
  bad.f_string = "\xff";
  assert_false(pjson_write(&bad.base, 0, &b, &err));
  assert_string_equal(err.field, "fString");
  assert_non_null(strstr(err.message, "UTF-8"));
  assert_int_equal(b.len, len);
  assert_string_equal(b.data, "{\"label\":\"fine\"}");
  pjson_buf_free(&b);
}

static void test_nesting_depth_matches_tree(void **state) {
  (void)state;
  for (int levels = PJSON_MAX_DEPTH - 2; levels <= PJSON_MAX_DEPTH + 1; levels++) {
    Inner *root = new_message(&metro__testing__v1__inner__descriptor), *cur = root;
    for (int i = 1; i < levels; i++) cur = cur->child = new_message(&metro__testing__v1__inner__descriptor);
    assert_same_json(&root->base, 0);
    pjson_buf b = {0};
    pjson_error err;
    assert_true(pjson_write(&root->base, 0, &b, &err) == (levels <= PJSON_MAX_DEPTH));
    if (levels > PJSON_MAX_DEPTH) assert_non_null(strstr(err.message, "deeper"));
    pjson_buf_free(&b);
  }
}

static void test_arena_output(void **state) {
  (void)state;
  Everything *e = decode_as(&metro__testing__v1__everything__descriptor,
                            "{\"fDouble\": 10.7769, \"fFloat\": 0.1, \"rInt32\": [3], \"fInt64\": \"5\"}");
  size_t len = 0;
  pjson_error err;
  char *text = pjson_write_arena(A, &e->base, 0, &len, &err);
  assert_non_null(text);
  assert_string_equal(text, "{\"fDouble\":10.7769,\"fFloat\":0.1,\"fInt64\":\"5\",\"rInt32\":[3]}");
  assert_int_equal(len, strlen(text));
  Everything bad = METRO__TESTING__V1__EVERYTHING__INIT;
  bad.f_string = "\xff";
  assert_null(pjson_write_arena(A, &bad.base, 0, &len, &err));
}

/* ---- random messages ---- */

static double random_nice_decimal(void) {
  static const double scales[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
  double m = (double)(int64_t)rnd_below(2000000000000ULL) - 1e12;
  return m / scales[rnd_below(10)] * (rnd_below(4) == 0 ? 1e-5 : 1);
}

static double random_double(void) {
  static const double fixed[] = {0.0, -0.0, 3.0, 10.7769, 106.7009, 0.1, 1e-7, 123456789.123, 1e15, 1e16,
                                 1e17, 1e300, 5e-324, 1.7976931348623157e308, 1000000000000010.0};
  switch (rnd_below(4)) {
  case 0: return fixed[rnd_below(sizeof fixed / sizeof fixed[0])];
  case 1: return random_nice_decimal();
  default: {
    uint64_t bits = rnd();
    double d;
    memcpy(&d, &bits, sizeof d);
    return d; /* NaN and infinities included now and then */
  }
  }
}

static float random_float(void) {
  if (rnd_below(2)) return (float)random_nice_decimal();
  uint32_t bits = (uint32_t)rnd();
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Mostly valid UTF-8 with quotes, backslashes and control characters; now and then a bad byte. */
static char *random_string(bool allow_invalid) {
  static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
                                       "\x7f", "é", "Bến", "😀", "ờ", "{", "}", ":", ","};
  size_t n = rnd_below(12), o = 0;
  char *s = arena_alloc(A, n * 4 + 2);
  for (size_t i = 0; i < n; i++) {
    const char *p = pieces[rnd_below(sizeof pieces / sizeof pieces[0])];
    memcpy(s + o, p, strlen(p));
    o += strlen(p);
  }
  if (allow_invalid && rnd_below(50) == 0) s[o++] = (char)(0x80 + rnd_below(0x80));
  s[o] = '\0';
  return s;
}

static Inner *random_inner(int depth) {
  Inner *in = new_message(&metro__testing__v1__inner__descriptor);
  if (rnd_below(2)) in->label = random_string(false);
  in->weight = (int32_t)rnd();
  if (depth > 0 && rnd_below(3) == 0) in->child = random_inner(depth - 1);
  return in;
}

static void *random_array(size_t n, size_t elem) { return arena_alloc(A, n * elem + 1); }

static void fill_scalars(Everything *e) {
  e->f_double = random_double();
  e->f_float = random_float();
  e->f_int32 = (int32_t)rnd();
  e->f_int64 = (int64_t)rnd();
  e->f_uint32 = (uint32_t)rnd();
  e->f_uint64 = rnd();
  e->f_sint32 = rnd_below(2) ? (int32_t)rnd() : 0;
  e->f_sint64 = (int64_t)rnd() >> rnd_below(64);
  e->f_fixed32 = (uint32_t)rnd();
  e->f_fixed64 = rnd();
  e->f_sfixed32 = INT32_MIN + (int32_t)rnd_below(3);
  e->f_sfixed64 = rnd_below(2) ? INT64_MAX : INT64_MIN;
  e->f_bool = rnd_below(2);
  e->f_string = rnd_below(4) ? random_string(true) : NULL;
  e->f_bytes.len = rnd_below(9);
  e->f_bytes.data = arena_alloc(A, e->f_bytes.len + 1);
  for (size_t i = 0; i < e->f_bytes.len; i++) e->f_bytes.data[i] = (uint8_t)rnd();
  e->f_enum = (Metro__Testing__V1__Color)rnd_below(4); /* 3 has no name: written as a number */
  if (rnd_below(2)) e->f_message = random_inner(3);
}

static void fill_repeated_and_maps(Everything *e) {
  e->n_r_int32 = rnd_below(4);
  e->r_int32 = random_array(e->n_r_int32, sizeof(int32_t));
  for (size_t i = 0; i < e->n_r_int32; i++) e->r_int32[i] = (int32_t)rnd();
  e->n_r_string = rnd_below(4);
  e->r_string = random_array(e->n_r_string, sizeof(char *));
  for (size_t i = 0; i < e->n_r_string; i++) e->r_string[i] = random_string(false);
  e->n_r_message = rnd_below(3);
  e->r_message = random_array(e->n_r_message, sizeof(Inner *));
  for (size_t i = 0; i < e->n_r_message; i++) e->r_message[i] = random_inner(2);
  e->n_r_int64 = rnd_below(3);
  e->r_int64 = random_array(e->n_r_int64, sizeof(int64_t));
  for (size_t i = 0; i < e->n_r_int64; i++) e->r_int64[i] = (int64_t)rnd();
  e->n_m_int32_string = rnd_below(3);
  e->m_int32_string = random_array(e->n_m_int32_string, sizeof(void *));
  for (size_t i = 0; i < e->n_m_int32_string; i++) {
    Metro__Testing__V1__Everything__MInt32StringEntry *en =
        new_message(&metro__testing__v1__everything__mint32_string_entry__descriptor);
    en->key = (int32_t)i * 100000 - (int32_t)rnd_below(100000); /* distinct keys */
    en->value = random_string(false);
    e->m_int32_string[i] = en;
  }
  e->n_m_string_inner = rnd_below(3);
  e->m_string_inner = random_array(e->n_m_string_inner, sizeof(void *));
  for (size_t i = 0; i < e->n_m_string_inner; i++) {
    Metro__Testing__V1__Everything__MStringInnerEntry *en =
        new_message(&metro__testing__v1__everything__mstring_inner_entry__descriptor);
    en->key = arena_printf(A, "k%zu\t\"%s\"", i, i % 2 ? "é" : "");
    en->value = random_inner(1);
    e->m_string_inner[i] = en;
  }
}

static void fill_oneof_and_wkts(Everything *e) {
  switch (rnd_below(4)) {
  case 1:
    e->choice_case = METRO__TESTING__V1__EVERYTHING__CHOICE_O_STRING;
    e->o_string = random_string(false);
    break;
  case 2:
    e->choice_case = METRO__TESTING__V1__EVERYTHING__CHOICE_O_MESSAGE;
    e->o_message = random_inner(1);
    break;
  case 3:
    e->choice_case = METRO__TESTING__V1__EVERYTHING__CHOICE_O_INT32;
    e->o_int32 = (int32_t)rnd();
    break;
  default: break;
  }
  if (rnd_below(2)) {
    e->t_timestamp = new_message(&google__protobuf__timestamp__descriptor);
    e->t_timestamp->seconds = -62135596800LL + (int64_t)rnd_below(315537897600ULL);
    static const int32_t units[] = {1, 1000, 1000000, 1000000000};
    int32_t unit = units[rnd_below(4)];
    e->t_timestamp->nanos = (int32_t)rnd_below(1000000000) / unit * unit;
  }
  if (rnd_below(2)) {
    e->t_duration = new_message(&google__protobuf__duration__descriptor);
    int64_t s = (int64_t)rnd_below(315576000001ULL);
    int32_t ns = (int32_t)rnd_below(1000000000);
    bool neg = rnd_below(2);
    e->t_duration->seconds = neg ? -s : s;
    e->t_duration->nanos = neg ? -ns : ns;
  }
  if (rnd_below(2)) {
    e->w_double = new_message(&google__protobuf__double_value__descriptor);
    e->w_double->value = random_double();
  }
  if (rnd_below(2)) {
    e->w_float = new_message(&google__protobuf__float_value__descriptor);
    e->w_float->value = random_float();
  }
  if (rnd_below(2)) {
    e->w_uint64 = new_message(&google__protobuf__uint64_value__descriptor);
    e->w_uint64->value = rnd();
  }
  if (rnd_below(2)) {
    e->t_value = new_message(&google__protobuf__value__descriptor);
    e->t_value->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
    e->t_value->number_value = random_double(); /* NaN and Infinity must fail in both */
  }
  if (rnd_below(3) == 0) {
    static const char *const extra[] = {
        "{\"tStruct\": {\"a\": [1.5, {\"b\": null}, \"x\\u0001y\"], \"c\": true}}",
        "{\"tList\": [1e-7, [], {}, false], \"tFieldMask\": \"aB.cD,e\"}",
        "{\"wString\": \"w\", \"wBytes\": \"/+8=\", \"wInt32\": -1, \"wBool\": true, \"tEmpty\": {}}",
    };
    const char *t = extra[rnd_below(3)];
    pjson_error err;
    assert_true(pjson_decode_text(t, strlen(t), &e->base, &AL, &err));
  }
}

static void test_random_messages_match_tree(void **state) {
  (void)state;
  for (int i = 0; i < 3000; i++) {
    Everything *e = new_message(&metro__testing__v1__everything__descriptor);
    fill_scalars(e);
    fill_repeated_and_maps(e);
    fill_oneof_and_wkts(e);
    assert_same_json(e, i % 2 ? PJSON_EMIT_DEFAULTS : 0);
    if (i % 100 == 99) { /* keep the arena small */
      arena_destroy(A);
      A = arena_create(1 << 16);
      AL = arena_protobuf_allocator(A);
    }
  }
}

/* ---- the number formatter ---- */

/* jansson's rendering of v: "%.17g" plus ".0" on integers, exponent without '+' or zeros. */
static size_t jansson_length(double v) {
  json_t *j = json_real(v);
  char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
  size_t n = strlen(s);
  free(s);
  json_decref(j);
  return n;
}

static void check_double(double v) {
  char buf[PJSON_NUMBER_MAX], g17[40];
  size_t n = pjson_format_double(v, buf);
  assert_int_equal(n, strlen(buf));
  char *end;
  double back = strtod(buf, &end);
  if (*end || back != v || signbit(back) != signbit(v)) fail_msg("%.17g wrote %s", v, buf);
  int g = snprintf(g17, sizeof g17, "%.17g", v);
  bool integral = !strpbrk(g17, ".eE");
  if (n > (size_t)g + (integral ? 2 : 0)) fail_msg("%s is longer than %s", buf, g17);
  if (rnd_below(64) == 0 && n > jansson_length(v)) fail_msg("%s is longer than jansson's", buf);
}

static void check_float(float v) {
  char buf[PJSON_NUMBER_MAX], g9[40];
  size_t n = pjson_format_float(v, buf);
  assert_int_equal(n, strlen(buf));
  char *end;
  float back = strtof(buf, &end);
  if (*end || back != v || signbit(back) != signbit(v)) fail_msg("%.9g wrote %s", (double)v, buf);
  /* the same number pjson_encode puts in its tree: the shortest %.Ng (6..9) read as a double */
  int p;
  for (p = 6; p < 9; p++) {
    snprintf(g9, sizeof g9, "%.*g", p, (double)v);
    if (strtof(g9, NULL) == v) break;
  }
  snprintf(g9, sizeof g9, "%.*g", p, (double)v);
  if (strtod(buf, NULL) != strtod(g9, NULL)) fail_msg("float %s differs from pjson's %s", buf, g9);
}

static void test_nice_decimals_are_short(void **state) {
  (void)state;
  static const struct {
    double v;
    const char *text;
  } cases[] = {
      {10.7769, "10.7769"},   {106.7009, "106.7009"}, {0.1, "0.1"},         {1e-7, "0.0000001"},
      {123456789.123, "123456789.123"}, {3.0, "3.0"}, {-0.0, "-0.0"},       {0.0, "0.0"},
      {-2.5, "-2.5"},         {1e300, "1e300"},       {5e-324, "4.94065645841247e-324"},   {1e15, "1e15"},
      {1e-10, "1e-10"},       {0.30000000000000004, "0.30000000000000004"},
      {1000000000000010.0, "1000000000000010.0"},     {1.7976931348623157e308, "1.7976931348623157e308"},
  };
  char buf[PJSON_NUMBER_MAX];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pjson_format_double(cases[i].v, buf);
    assert_string_equal(buf, cases[i].text);
  }
  pjson_format_float(0.1f, buf);
  assert_string_equal(buf, "0.1");
  pjson_format_float(2097152.25f, buf); /* a tie: printf's round-half-even digit */
  assert_string_equal(buf, "2097152.2");
  pjson_format_float(16777216.0f, buf);
  assert_string_equal(buf, "16777216.0");
}

static void test_million_doubles_round_trip(void **state) {
  (void)state;
  for (int i = 0; i < 1000000; i++) {
    double v = random_double();
    if (!isfinite(v)) continue;
    check_double(v);
  }
}

static void test_floats_round_trip_like_pjson(void **state) {
  (void)state;
  for (int i = 0; i < 300000; i++) {
    float v = random_float();
    if (!isfinite(v)) continue;
    check_float(v);
  }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_everything_fixtures_match_tree),
      T(test_nested_echo_request_matches_tree),
      T(test_any_fixtures_match_tree),
      T(test_failures_match_tree),
      T(test_failed_write_leaves_buffer_as_it_was),
      T(test_nesting_depth_matches_tree),
      T(test_arena_output),
      T(test_random_messages_match_tree),
      T(test_nice_decimals_are_short),
      T(test_million_doubles_round_trip),
      T(test_floats_round_trip_like_pjson),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
