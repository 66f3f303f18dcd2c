/* The transport service's text rules: station slugs from Vietnamese names, clock times past
 * midnight, page tokens, field validation naming the field, and the GTFS CSV dialect. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "svc/transport/gtfs_csv.h"
#include "svc/transport/transport.h"

static rpc_ctx *new_ctx(void) {
  arena *a = arena_create(4096);
  rpc_ctx *ctx = arena_alloc(a, sizeof *ctx);
  ctx->arena = a;
  return ctx;
}

static void test_every_demo_station_id_is_the_slug_of_its_name(void **state) {
  (void)state;
  char path[1024];
  const char *src = getenv("METRO_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/svc/transport/seed/network.json", src ? src : ".");
  json_t *doc = json_load_file(path, 0, NULL);
  assert_non_null(doc);
  size_t i;
  json_t *s;
  int n = 0;
  json_array_foreach(json_object_get(doc, "stations"), i, s) {
    char slug[65];
    assert_true(tr_slugify(json_string_value(json_object_get(s, "name")), slug, sizeof slug));
    assert_string_equal(slug, json_string_value(json_object_get(s, "id")));
    n++;
  }
  json_array_foreach(json_object_get(doc, "lines"), i, s) {
    char slug[101];
    assert_true(tr_slugify(json_string_value(json_object_get(s, "name")), slug, sizeof slug));
    assert_string_equal(slug, json_string_value(json_object_get(s, "id")));
  }
  assert_int_equal(n, 103);
  json_decref(doc);
}

static void test_slugify_handles_vietnamese_and_decomposed_text(void **state) {
  (void)state;
  char out[64];
  assert_true(tr_slugify("Đầm Sen", out, sizeof out));
  assert_string_equal(out, "dam-sen");
  assert_true(tr_slugify("  BX. Cần Giuộc -- Mới!  ", out, sizeof out));
  assert_string_equal(out, "bx-can-giuoc-moi");
  assert_true(tr_slugify("Thu\xcc\x89 \xc4\x90u\xcc\x9b\xcc\x81\x63", out, sizeof out)); /* NFD "Thủ Đức" */
  assert_string_equal(out, "thu-duc");
  assert_true(tr_slugify("Ơ Ư Ă Ĩ Ũ Ỹ", out, sizeof out));
  assert_string_equal(out, "o-u-a-i-u-y");
  assert_false(tr_slugify("!!! ---", out, sizeof out));
  assert_false(tr_slugify("bad \xff utf8", out, sizeof out));
  assert_false(tr_slugify("a-name-longer-than-the-buffer", out, 8));
}

static void test_slug_validation(void **state) {
  (void)state;
  assert_true(tr_valid_slug("ben-thanh", 64));
  assert_true(tr_valid_slug("23-thang-9", 64));
  assert_false(tr_valid_slug("Ben-thanh", 64));
  assert_false(tr_valid_slug("ben--thanh", 64));
  assert_false(tr_valid_slug("-ben", 64));
  assert_false(tr_valid_slug("ben-", 64));
  assert_false(tr_valid_slug("", 64));
  assert_false(tr_valid_slug(NULL, 64));
  assert_false(tr_valid_slug("abcdef", 5));
}

static void test_clock_times_may_pass_midnight(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  assert_int_equal(tr_parse_clock("05:01:41"), 5 * 3600 + 101);
  assert_int_equal(tr_parse_clock("24:10:00"), 24 * 3600 + 600);
  assert_int_equal(tr_parse_clock("06:30"), 6 * 3600 + 1800);
  assert_int_equal(tr_parse_clock("48:00:00"), -1);
  assert_int_equal(tr_parse_clock("5:00:00"), -1);
  assert_int_equal(tr_parse_clock("05:60:00"), -1);
  assert_int_equal(tr_parse_clock("05:00:0x"), -1);
  assert_int_equal(tr_parse_hhmm("23:59"), 23 * 60 + 59);
  assert_int_equal(tr_parse_hhmm("24:00"), -1);
  assert_string_equal(tr_format_clock(ctx->arena, 24 * 3600 + 61), "24:01:01");
  assert_string_equal(tr_format_clock(ctx->arena, -1), "");
  long day;
  assert_true(tr_parse_day("2026-11-28", &day));
  assert_string_equal(tr_format_day(ctx->arena, day), "2026-11-28");
  assert_false(tr_parse_day("2026-02-30", &day));
  arena_destroy(ctx->arena);
}

static void test_page_tokens_round_trip_and_reject_forgeries(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  int offset, limit;
  assert_true(rpc_ok(tr_page(ctx, 0, "", 20, 100, &offset, &limit)));
  assert_int_equal(limit, 20);
  assert_int_equal(offset, 0);
  const char *next = tr_next_token(ctx, 0, 20, 20);
  assert_true(rpc_ok(tr_page(ctx, 500, next, 20, 100, &offset, &limit)));
  assert_int_equal(offset, 20);
  assert_int_equal(limit, 100);
  assert_string_equal(tr_next_token(ctx, 20, 100, 7), "");
  rpc_status st = tr_page(ctx, 0, "not-a-token", 20, 100, &offset, &limit);
  assert_string_equal(st.field, "pageToken");
  st = tr_page(ctx, -1, "", 20, 100, &offset, &limit);
  assert_string_equal(st.field, "pageSize");
  arena_destroy(ctx->arena);
}

static void test_station_validation_names_each_field(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Google__Type__LatLng loc = GOOGLE__TYPE__LAT_LNG__INIT;
  loc.latitude = 10.77;
  loc.longitude = 106.7;
  Metro__Transport__V1__Station s = METRO__TRANSPORT__V1__STATION__INIT;
  s.station_id = "ga-moi";
  s.name = "Ga Mới";
  s.location = &loc;
  s.open_time = "05:00";
  s.close_time = "23:00";
  assert_true(rpc_ok(tr_validate_station(ctx, "station", &s)));
  s.name = "\x01" "bad";
  assert_string_equal(tr_validate_station(ctx, "station", &s).field, "station.name");
  s.name = "Ga Mới";
  loc.latitude = 91;
  assert_string_equal(tr_validate_station(ctx, "station", &s).field, "station.location.latitude");
  loc.latitude = 10.77;
  s.close_time = "04:00";
  assert_string_equal(tr_validate_station(ctx, "station", &s).field, "station.closeTime");
  arena_destroy(ctx->arena);
}

static void test_csv_parses_quotes_crlf_and_bom(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  const char *text = "\xEF\xBB\xBF" "a,b,c\r\n1,\"x, \"\"y\"\"\",\r\n2,\"multi\nline\",z\n\n";
  csv_table t;
  char err[128];
  assert_true(csv_parse(a, text, strlen(text), &t, err, sizeof err));
  assert_int_equal(t.n_columns, 3);
  assert_int_equal(t.n_rows, 2);
  assert_string_equal(csv_get(&t, 0, csv_column(&t, "b")), "x, \"y\"");
  assert_string_equal(csv_get(&t, 0, 2), "");
  assert_string_equal(csv_get(&t, 1, 1), "multi\nline");
  assert_int_equal(csv_column(&t, "missing"), -1);
  assert_string_equal(csv_get(&t, 0, -1), "");
  strbuf b;
  sb_init(&b, a, 16);
  csv_put(&b, "plain");
  sb_putc(&b, ',');
  csv_put(&b, "x, \"y\"");
  assert_string_equal(b.data, "plain,\"x, \"\"y\"\"\"");
  arena_destroy(a);
}

static void test_csv_rejects_malformed_input(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  csv_table t;
  char err[128];
  static const char *const bad[] = {"a,b\n1\n", "a,b\n\"open,2\n", "a\nx\"y\n", "a\n\"q\"x\n", ""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_false(csv_parse(a, bad[i], strlen(bad[i]), &t, err, sizeof err));
  assert_false(csv_parse(a, "a\n\0\n", 4, &t, err, sizeof err));
  char *huge = malloc(CSV_MAX_FIELD + 16);
  memset(huge, 'x', CSV_MAX_FIELD + 10);
  memcpy(huge, "a\n", 2);
  assert_false(csv_parse(a, huge, CSV_MAX_FIELD + 10, &t, err, sizeof err));
  assert_non_null(strstr(err, "too long"));
  free(huge);
  arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_demo_station_id_is_the_slug_of_its_name),
      cmocka_unit_test(test_slugify_handles_vietnamese_and_decomposed_text),
      cmocka_unit_test(test_slug_validation),
      cmocka_unit_test(test_clock_times_may_pass_midnight),
      cmocka_unit_test(test_page_tokens_round_trip_and_reject_forgeries),
      cmocka_unit_test(test_station_validation_names_each_field),
      cmocka_unit_test(test_csv_parses_quotes_crlf_and_bom),
      cmocka_unit_test(test_csv_rejects_malformed_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
