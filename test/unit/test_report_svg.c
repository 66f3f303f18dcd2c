/* The report charts (line and bar SVG): structure, safety (no script, event attribute or link,
 * everything escaped), axes with round numbers, thinning and the 400-point cap. Each chart is also
 * written to $METRO_SVG_OUT_DIR when set, for report_svg_xml.py to parse with a real XML parser. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "svc/report/report.h"

typedef char *(*chart_fn)(arena *, const char *, const char *, const rp_point *, size_t, size_t *);

static const struct {
  const char *name;
  chart_fn render;
} KINDS[] = {{"line", rp_svg_line_chart}, {"bar", rp_svg_bar_chart}};

/* ---- checks on the text of a document ---- */

static size_t count(const char *doc, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(doc, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* An attribute whose name starts with "on" (onload=, onclick= ...). */
static bool has_event_attribute(const char *doc) {
  for (const char *p = strcasestr(doc, " on"); p; p = strcasestr(p + 1, " on")) {
    const char *q = p + 3;
    while (isalpha((unsigned char)*q)) q++;
    if (q > p + 3 && *q == '=') return true;
  }
  return false;
}

/* Every '&' starts one of the five predefined entities (nothing else is ever written). */
static bool entities_ok(const char *doc) {
  static const char *const ENTITIES[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
  for (const char *p = strchr(doc, '&'); p; p = strchr(p + 1, '&')) {
    bool known = false;
    for (size_t i = 0; i < sizeof ENTITIES / sizeof ENTITIES[0]; i++)
      known |= strncmp(p, ENTITIES[i], strlen(ENTITIES[i])) == 0;
    if (!known) return false;
  }
  return true;
}

/* Tags balanced around exactly one root element; the declaration and comments skipped. */
static bool tags_balanced(const char *doc) {
  char stack[32][32];
  int depth = 0, roots = 0;
  for (const char *p = strchr(doc, '<'); p; p = strchr(p, '<')) {
    if (strncmp(p, "<?", 2) == 0 || strncmp(p, "<!--", 4) == 0) {
      const char *end = strstr(p, p[1] == '?' ? "?>" : "-->");
      if (!end) return false;
      p = end + 1;
      continue;
    }
    bool closing = p[1] == '/';
    const char *name = p + 1 + closing;
    size_t n = strcspn(name, " \t\n/>");
    const char *end = strchr(name, '>');
    if (!end || n == 0 || n >= sizeof stack[0]) return false;
    if (strchr(name, '<') && strchr(name, '<') < end) return false;
    if (closing) {
      if (depth == 0 || strlen(stack[depth - 1]) != n || strncmp(stack[depth - 1], name, n) != 0) return false;
      depth--;
    } else {
      if (depth == 0) roots++;
      if (end[-1] != '/') {
        if (depth == (int)(sizeof stack / sizeof stack[0])) return false;
        memcpy(stack[depth], name, n);
        stack[depth++][n] = '\0';
      }
    }
    p = end + 1;
  }
  return depth == 0 && roots == 1;
}

/* The text between `<tag` and its `>` for the first such tag (attributes), "" when absent. */
static const char *attribute(arena *a, const char *doc, const char *tag, const char *attr) {
  const char *t = strstr(doc, tag);
  if (!t) return "";
  char *key = arena_printf(a, " %s=\"", attr);
  const char *v = strstr(t, key);
  if (!v) return "";
  v += strlen(key);
  return arena_strndup(a, v, strcspn(v, "\""));
}

static void save(const char *name, const char *doc, size_t len) {
  const char *dir = getenv("METRO_SVG_OUT_DIR");
  if (!dir || !*dir) return;
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.svg", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) fail_msg("cannot write %s", path);
  assert_int_equal(fwrite(doc, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* The checks every chart passes; the document is saved under `name`. */
static void check_chart(const char *name, const char *doc, size_t len) {
  assert_non_null(doc);
  assert_int_equal(len, strlen(doc));
  assert_true(strncmp(doc, "<?xml", 5) == 0 || strncmp(doc, "<svg", 4) == 0);
  assert_non_null(strstr(doc, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  assert_non_null(strstr(doc, "viewBox=\"0 0 800 400\""));
  assert_non_null(strstr(doc, "<title>"));
  assert_non_null(strstr(doc, "font-family=\"sans-serif\""));
  assert_null(strcasestr(doc, "<script"));
  assert_null(strcasestr(doc, "href"));
  assert_null(strcasestr(doc, "<style"));
  assert_null(strcasestr(doc, "style="));
  assert_null(strcasestr(doc, "foreignObject"));
  assert_null(strstr(doc, "url("));
  assert_false(has_event_attribute(doc));
  assert_true(entities_ok(doc));
  if (!tags_balanced(doc)) fail_msg("%s: unbalanced tags", name);
  assert_non_null(strstr(doc, "class=\"axes\""));
  save(name, doc, len);
}

/* ---- point sets ---- */

static rp_point *days(arena *a, size_t n, int64_t scale) {
  rp_point *p = arena_alloc(a, sizeof *p * (n ? n : 1));
  for (size_t i = 0; i < n; i++) {
    p[i].label = arena_printf(a, "2026-%02zu-%02zu", 1 + i / 28 % 12, 1 + i % 28);
    p[i].value = (int64_t)((i * 7919) % 97) * scale;
  }
  return p;
}

/* ---- tests ---- */

static void test_sizes_0_1_31_and_400_plus(void **state) {
  (void)state;
  static const size_t SIZES[] = {0, 1, 31, 450};
  arena *a = arena_create(1 << 16);
  for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
      size_t n = SIZES[s], len = 0;
      rp_point *pts = days(a, n, 12500);
      char *doc = KINDS[k].render(a, "Doanh thu theo ngày", "VND", pts, n, &len);
      check_chart(arena_printf(a, "%s-%zu", KINDS[k].name, n), doc, len);
      assert_int_equal(count(doc, "No data") > 0, n == 0);
      size_t drawn = n > RP_SVG_MAX_POINTS ? RP_SVG_MAX_POINTS : n;
      if (strcmp(KINDS[k].name, "bar") == 0) {
        assert_int_equal(count(doc, "<rect"), 1 + drawn); /* the background and one a bar */
      } else if (drawn > 1) {
        assert_int_equal(count(attribute(a, doc, "<polyline", "points"), ","), drawn);
      } else {
        assert_int_equal(count(doc, "<polyline"), 0);
        assert_int_equal(count(doc, "<circle"), drawn);
      }
      /* Thinned: never more x labels than fit. */
      const char *x_group = strstr(doc, "class=\"x-labels\"");
      size_t x_labels = x_group ? count(x_group, "<text") : 0; /* the series after it has no text */
      assert_true(x_labels <= (strcmp(KINDS[k].name, "bar") == 0 ? 40u : 9u));
      assert_true(x_labels >= (drawn ? 1u : 0u));
    }
  }
  arena_destroy(a);
}

static void test_y_axis_uses_round_numbers_with_separators(void **state) {
  (void)state;
  arena *a = arena_create(1 << 14);
  const rp_point pts[] = {{"Mon", 400000}, {"Tue", 1250000}, {"Wed", 980000}};
  size_t len;
  char *doc = rp_svg_line_chart(a, "Revenue", "VND", pts, 3, &len);
  check_chart("line-thousands", doc, len);
  static const char *const TICKS[] = {">0<", ">250,000<", ">500,000<", ">750,000<", ">1,000,000<", ">1,250,000<"};
  for (size_t i = 0; i < sizeof TICKS / sizeof TICKS[0]; i++) assert_non_null(strstr(doc, TICKS[i]));
  assert_null(strstr(doc, ">1,500,000<"));
  assert_non_null(strstr(doc, "text-anchor=\"end\"")); /* y labels right-aligned against the axis */
  assert_non_null(strstr(doc, "text-anchor=\"middle\""));
  assert_non_null(strstr(doc, "rotate(-90")); /* the caption */
  arena_destroy(a);
}

static void test_negative_values_extend_the_axis_below_zero(void **state) {
  (void)state;
  arena *a = arena_create(1 << 14);
  const rp_point pts[] = {{"2026-12-01", 120000}, {"2026-12-02", -30000}, {"2026-12-03", 0}};
  for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
    size_t len;
    char *doc = KINDS[k].render(a, "Net revenue", "VND", pts, 3, &len);
    check_chart(arena_printf(a, "%s-negative", KINDS[k].name), doc, len);
    assert_non_null(strstr(doc, ">-50,000<"));
    assert_non_null(strstr(doc, ">0<"));
    assert_non_null(strstr(doc, ">150,000<"));
  }
  const rp_point all_negative[] = {{"a", -5}, {"b", -17}};
  size_t len;
  char *doc = rp_svg_bar_chart(a, "Refunds", "VND", all_negative, 2, &len);
  check_chart("bar-all-negative", doc, len);
  assert_non_null(strstr(doc, ">-20<"));
  assert_non_null(strstr(doc, ">0<"));
  /* Extreme values neither overflow nor break the document. */
  const rp_point extreme[] = {{"min", INT64_MIN}, {"max", INT64_MAX}, {"zero", 0}};
  for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
    doc = KINDS[k].render(a, "Extreme", "", extreme, 3, &len);
    check_chart(arena_printf(a, "%s-extreme", KINDS[k].name), doc, len);
  }
  arena_destroy(a);
}

static void test_every_text_is_escaped(void **state) {
  (void)state;
  arena *a = arena_create(1 << 14);
  const rp_point pts[] = {
      {"<b>Bến Thành</b>", 10},  {"Tom & \"Jerry\"", 20}, {"it's", 30},
      {"a\x01" "b\nc\td", 40},   {"bad \xff byte", 50},    {NULL, 60},
      {"Suối Tiên", -10},
  };
  for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
    size_t len;
    char *doc = KINDS[k].render(a, "Trạm <1> & \"2\" 'x'", "Lượt <quẹt>", pts, sizeof pts / sizeof pts[0], &len);
    check_chart(arena_printf(a, "%s-escaping", KINDS[k].name), doc, len);
    assert_null(strstr(doc, "<b>"));
    assert_null(strstr(doc, "<1>"));
    assert_null(strstr(doc, "<quẹt>"));
    assert_non_null(strstr(doc, "<title>Trạm &lt;1&gt; &amp; &quot;2&quot; &apos;x&apos;</title>"));
    assert_non_null(strstr(doc, "Lượt &lt;quẹt&gt;"));
    assert_non_null(strstr(doc, "<title>&lt;b&gt;Bến Thành&lt;/b&gt;: 10</title>")); /* a point's tooltip */
    assert_non_null(strstr(doc, "Tom &amp; &quot;Jerry&quot;"));
    assert_non_null(strstr(doc, "it&apos;s"));
    assert_non_null(strstr(doc, ">abcd<"));                /* control characters dropped */
    assert_non_null(strstr(doc, "bad \xef\xbf\xbd byte")); /* invalid UTF-8 repaired */
    assert_non_null(strstr(doc, "Suối Tiên"));
    for (const char *p = doc; *p; p++) assert_true((unsigned char)*p >= 0x20 || *p == '\n');
  }
  arena_destroy(a);
}

static void test_long_labels_are_cut_with_an_ellipsis(void **state) {
  (void)state;
  arena *a = arena_create(1 << 14);
  const rp_point pts[] = {{"Bến xe Miền Đông mới - Long Bình - Suối Tiên", 5}, {"short", 7}};
  for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
    size_t len;
    char *doc = KINDS[k].render(a, "Journeys by line", "journeys", pts, 2, &len);
    check_chart(arena_printf(a, "%s-long-labels", KINDS[k].name), doc, len);
    const char *labels = strstr(doc, "class=\"x-labels\"");
    assert_non_null(labels);
    assert_non_null(strstr(labels, "\xe2\x80\xa6</text>"));
    assert_non_null(strstr(labels, ">short</text>"));
    assert_null(strstr(labels, "Suối Tiên</text>"));
  }
  /* Bars' labels are rotated. */
  size_t len;
  char *doc = rp_svg_bar_chart(a, "t", "y", pts, 2, &len);
  assert_non_null(strstr(doc, "rotate(-45"));
  arena_destroy(a);
}

static void test_missing_title_and_points(void **state) {
  (void)state;
  arena *a = arena_create(1 << 14);
  for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
    size_t len;
    char *doc = KINDS[k].render(a, NULL, NULL, NULL, 5, &len);
    check_chart(arena_printf(a, "%s-null", KINDS[k].name), doc, len);
    assert_non_null(strstr(doc, "No data"));
    assert_non_null(strstr(doc, "<title></title>"));
  }
  arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sizes_0_1_31_and_400_plus),
      cmocka_unit_test(test_y_axis_uses_round_numbers_with_separators),
      cmocka_unit_test(test_negative_values_extend_the_axis_below_zero),
      cmocka_unit_test(test_every_text_is_escaped),
      cmocka_unit_test(test_long_labels_are_cut_with_an_ellipsis),
      cmocka_unit_test(test_missing_title_and_points),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
