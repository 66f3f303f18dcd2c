/* Unit tests of svc/notification's pure parts: amounts, times, ticket names, {{name}} rendering and
 * every template; MIME messages read back (headers, boundaries, base64, injection, inline images
 * and attachments); QR via zbarimg. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/b64.h"
#include "common/text.h"
#include "svc/notification/notification.h"

#define MAX_LINE 76
#define TOKEN                                                                                                   \
  "MT1.k2024a.eyJ0aWQiOiIzZjBjNmM3ZS0yYjFhLTRjOWUtOWQ1MS03YTBlOGYxYjJjM2QiLCJ0eXAiOiJvbmV3YXkiLCJwYXgiOjEsIm8iOi" \
  "JiZW4tdGhhbmgiLCJkIjoic3VvaS10aWVuIiwiaWF0IjoxNzMzMjMwODAwfQ.BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkq" \
  "KywtLi8wMTIzNDU2Nzg5Ojs8PT4_QEFCQ0RFRg"

static int setup(void **state) {
  *state = arena_create(1 << 16);
  return 0;
}

static int teardown(void **state) {
  arena_destroy(*state);
  return 0;
}

/* ==== format.c ==== */

typedef struct amount_case {
  int64_t vnd;
  const char *want;
} amount_case;

static const amount_case AMOUNTS[] = {
    {0, "0 ₫"},
    {999, "999 ₫"},
    {1000, "1.000 ₫"},
    {14000, "14.000 ₫"},
    {1234567, "1.234.567 ₫"},
    {-14000, "-14.000 ₫"},
    {-500, "-500 ₫"},
    {INT64_MIN, "-9.223.372.036.854.775.808 ₫"},
};

static void test_amounts_use_dot_thousands_and_the_dong_sign(void **state) {
  for (size_t i = 0; i < sizeof AMOUNTS / sizeof AMOUNTS[0]; i++)
    assert_string_equal(nt_format_vnd(*state, AMOUNTS[i].vnd), AMOUNTS[i].want);
  /* The sign is U+20AB after a plain space. */
  assert_string_equal(nt_format_vnd(*state, 14000), "14.000 \xe2\x82\xab");
}

typedef struct time_case {
  int64_t unix_s;
  const char *want;
} time_case;

static const time_case TIMES[] = {
    {0, "01/01/1970 07:00"},
    {1733230800, "03/12/2024 20:00"}, /* 2024-12-03T13:00:00Z */
    {1735664340, "31/12/2024 23:59"}, /* 2024-12-31T16:59:00Z */
    {1735664400, "01/01/2025 00:00"}, /* 17:00 UTC is midnight in Ho Chi Minh City */
    {1735664459, "01/01/2025 00:00"}, /* seconds are dropped, not rounded */
};

static void test_local_times_are_utc_plus_seven(void **state) {
  for (size_t i = 0; i < sizeof TIMES / sizeof TIMES[0]; i++)
    assert_string_equal(nt_format_local_time(*state, TIMES[i].unix_s), TIMES[i].want);
}

typedef struct ticket_case {
  const char *type;
  int passengers;
  const char *want;
} ticket_case;

static const ticket_case TICKETS[] = {
    {"oneway", 1, "Vé một chiều"},
    {"oneway", 3, "Vé một chiều (3 hành khách)"},
    {"return", 0, "Vé khứ hồi"},
    {"return", 2, "Vé khứ hồi (2 hành khách)"},
    {"day_pass", 1, "Vé ngày"},
    {"weekly_pass", 1, "Vé tuần"},
    {"monthly_pass", 1, "Vé tháng"},
    {"yearly_pass", 1, "Vé năm"},
    {"lifetime_pass", 1, "Vé trọn đời"},
    {"mystery_ticket", 1, "mystery_ticket"},
    {"mystery_ticket", 3, "mystery_ticket (3 hành khách)"},
};

static void test_ticket_names_in_vietnamese_with_group_size(void **state) {
  for (size_t i = 0; i < sizeof TICKETS / sizeof TICKETS[0]; i++)
    assert_string_equal(nt_ticket_display(*state, TICKETS[i].type, TICKETS[i].passengers), TICKETS[i].want);
}

/* ==== template.c: nt_render ==== */

static void test_render_substitutes_every_placeholder(void **state) {
  nt_var vars[] = {{"first_name", "Lan"}, {"n", "3"}};
  char *out;
  assert_true(nt_render(*state, "Chào {{first_name}}, {{n}} vé, {{first_name}}!", vars, 2, false, &out));
  assert_string_equal(out, "Chào Lan, 3 vé, Lan!");
  assert_true(nt_render(*state, "", vars, 2, false, &out));
  assert_string_equal(out, "");
  assert_true(nt_render(*state, "no placeholders { } }}", vars, 2, true, &out));
  assert_string_equal(out, "no placeholders { } }}");
  nt_var null_value[] = {{"x", NULL}};
  assert_true(nt_render(*state, "[{{x}}]", null_value, 1, false, &out));
  assert_string_equal(out, "[]");
}

static void test_render_escapes_html_but_not_text(void **state) {
  nt_var vars[] = {{"name", "<script>alert('x' & \"y\")</script>"}};
  char *out;
  assert_true(nt_render(*state, "<p>{{name}}</p>", vars, 1, true, &out));
  assert_string_equal(out, "<p>&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;</p>");
  assert_true(nt_render(*state, "{{name}}", vars, 1, false, &out));
  assert_string_equal(out, "<script>alert('x' & \"y\")</script>");
}

static void test_render_refuses_unknown_unclosed_or_spaced_placeholders(void **state) {
  nt_var vars[] = {{"a", "1"}};
  static const char *const BAD[] = {"{{b}}", "x {{a", "x {{a}", "{{ a }}", "{{}}", "{{a-b}}", "{{a}} {{"};
  for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    char *out = (char *)"untouched";
    assert_false(nt_render(*state, BAD[i], vars, 1, false, &out));
    assert_null(out);
  }
}

static void test_render_never_expands_placeholders_inside_values(void **state) {
  nt_var vars[] = {{"a", "{{b}}"}, {"b", "SECRET"}};
  char *out;
  assert_true(nt_render(*state, "{{a}}/{{b}}", vars, 2, false, &out));
  assert_string_equal(out, "{{b}}/SECRET");
  nt_var only_a[] = {{"a", "{{unknown}}"}};
  assert_true(nt_render(*state, "{{a}}", only_a, 1, true, &out));
  assert_string_equal(out, "{{unknown}}");
}

/* ==== template.c: the embedded templates ==== */

#define MAX_VARS 10

typedef struct template_case {
  const char *name;
  const char *vars[MAX_VARS]; /* every variable the template may use, NULL-terminated */
} template_case;

static const template_case TEMPLATES[] = {
    {"payment_refunded", {"first_name", "ticket_id", "refund_amount"}},
    {"report_delivery",
     {"template_name", "frequency", "start_date", "end_date", "revenue", "taps", "tickets_created", "chart_cid"}},
    {"reset_password", {"first_name", "reset_url"}},
    {"station_closed", {"first_name", "station_name", "reason"}},
    {"station_closed_sms", {"station_name", "reason"}},
    {"ticket_activated_pass",
     {"first_name", "ticket_name", "valid_from", "valid_until", "total_price", "ticket_id", "qr_cid"}},
    {"ticket_activated_single",
     {"first_name", "ticket_name", "origin", "destination", "valid_from", "valid_until", "total_price", "ticket_id",
      "qr_cid"}},
    {"ticket_cancelled", {"first_name", "ticket_name", "ticket_id", "refund_amount", "reason"}},
    {"ticket_expiring_soon", {"first_name", "ticket_name", "valid_until", "days_left"}},
    {"verify_email", {"first_name", "verify_url"}},
    {"welcome", {"first_name"}},
};
#define N_TEMPLATES (sizeof TEMPLATES / sizeof TEMPLATES[0])

/* The case's variables, each valued "<name>&" so escaping shows in HTML. */
static size_t case_vars(arena *a, const template_case *c, nt_var *vars) {
  size_t n = 0;
  while (n < MAX_VARS && c->vars[n]) {
    vars[n].name = c->vars[n];
    vars[n].value = arena_printf(a, "<%s>&", c->vars[n]);
    n++;
  }
  return n;
}

static void test_every_template_exists_with_all_parts(void **state) {
  (void)state;
  for (size_t i = 0; i < N_TEMPLATES; i++) {
    const nt_template *t = nt_template_get(TEMPLATES[i].name);
    if (!t) fail_msg("template %s is missing", TEMPLATES[i].name);
    assert_string_equal(t->name, TEMPLATES[i].name);
    assert_non_null(t->subject);
    assert_non_null(t->text);
    assert_non_null(t->html);
    assert_true(*t->subject && *t->text && *t->html);
    assert_null(strpbrk(t->subject, "\r\n")); /* one line, final line end dropped */
    assert_true(text_utf8_length(t->subject) > 0 && text_utf8_length(t->text) > 0 && text_utf8_length(t->html) > 0);
  }
  /* And the build embeds no template this test does not know. */
  size_t n = 0;
  for (const nt_template *t = nt_templates; t->name; t++, n++) {
    bool known = false;
    for (size_t i = 0; i < N_TEMPLATES; i++) known = known || strcmp(t->name, TEMPLATES[i].name) == 0;
    if (!known) fail_msg("template %s has no case in this test", t->name);
  }
  assert_int_equal(n, N_TEMPLATES);
  assert_null(nt_template_get("no_such_template"));
  assert_null(nt_template_get(NULL));
}

static void test_every_template_renders_with_its_variables_only(void **state) {
  arena *a = *state;
  for (size_t i = 0; i < N_TEMPLATES; i++) {
    const template_case *c = &TEMPLATES[i];
    const nt_template *t = nt_template_get(c->name);
    assert_non_null(t);
    nt_var vars[MAX_VARS];
    size_t n = case_vars(a, c, vars);
    char *subject, *text, *html;
    if (!nt_render(a, t->subject, vars, n, false, &subject) || !nt_render(a, t->text, vars, n, false, &text) ||
        !nt_render(a, t->html, vars, n, true, &html))
      fail_msg("template %s uses a variable outside its list or a malformed placeholder", c->name);
    /* Every listed variable shows somewhere, escaped in HTML. */
    for (size_t v = 0; v < n; v++) {
      char *raw = arena_printf(a, "<%s>&", vars[v].name);
      char *escaped = arena_printf(a, "&lt;%s&gt;&amp;", vars[v].name);
      if (!strstr(subject, raw) && !strstr(text, raw) && !strstr(html, escaped))
        fail_msg("template %s never uses %s", c->name, vars[v].name);
      if (strstr(html, raw)) fail_msg("template %s: %s unescaped in HTML", c->name, vars[v].name);
    }
  }
}

static void test_templates_say_what_the_domain_asks(void **state) {
  arena *a = *state;
  assert_string_equal(nt_template_get("ticket_expiring_soon")->subject, "Vé sắp hết hạn");
  static const char *const WITH_QR[] = {"ticket_activated_single", "ticket_activated_pass"};
  for (size_t i = 0; i < 2; i++) {
    nt_var vars[] = {{"first_name", "Lan"},        {"ticket_name", "Vé tháng"},  {"origin", "Bến Thành"},
                     {"destination", "Suối Tiên"}, {"valid_from", "a"},          {"valid_until", "b"},
                     {"total_price", "14.000 ₫"},  {"ticket_id", "t-1"},         {"qr_cid", "qr-t-1@metro"}};
    char *html;
    assert_true(nt_render(a, nt_template_get(WITH_QR[i])->html, vars, sizeof vars / sizeof vars[0], true, &html));
    assert_non_null(strstr(html, "<img src=\"cid:qr-t-1@metro\" alt=\"QR\">"));
  }
  nt_var report[] = {{"template_name", "Doanh thu"}, {"frequency", "hằng ngày"},  {"start_date", "01/12/2026"},
                     {"end_date", "01/12/2026"},     {"revenue", "14.000 ₫"},     {"taps", "1.234"},
                     {"tickets_created", "56"},      {"chart_cid", "chart"}};
  char *html, *text;
  const nt_template *t = nt_template_get("report_delivery");
  assert_true(nt_render(a, t->html, report, sizeof report / sizeof report[0], true, &html));
  assert_non_null(strstr(html, "<img src=\"cid:chart\""));
  assert_true(nt_render(a, t->text, report, sizeof report / sizeof report[0], false, &text));
  assert_non_null(strstr(text, "14.000 ₫"));
  assert_non_null(strstr(text, "01/12/2026"));
}

/* ==== mime.c: a small MIME reader for the checks ==== */

typedef struct lines {
  char **v;
  size_t n;
} lines;

/* The message split at CRLF; fails on a bare CR or LF. */
static lines split_crlf(arena *a, const char *msg, size_t len) {
  lines L = {arena_alloc(a, (len / 2 + 2) * sizeof(char *)), 0};
  const char *p = msg, *end = msg + len;
  while (p < end) {
    const char *cr = p;
    while (cr < end && *cr != '\r' && *cr != '\n') cr++;
    if (cr == end) fail_msg("message does not end in CRLF");
    if (*cr != '\r' || cr + 1 >= end || cr[1] != '\n') fail_msg("bare CR or LF at offset %zu", (size_t)(cr - msg));
    L.v[L.n++] = arena_strndup(a, p, (size_t)(cr - p));
    p = cr + 2;
  }
  return L;
}

typedef struct field {
  char *name, *value; /* value unfolded: continuation lines joined without their CRLF */
} field;

typedef struct fields {
  field v[64];
  size_t n;
} fields;

/* The header fields from line *i up to the blank line; *i ends past it. */
static void parse_fields(arena *a, const lines *L, size_t *i, fields *F) {
  F->n = 0;
  for (; *i < L->n && L->v[*i][0]; (*i)++) {
    const char *line = L->v[*i];
    if (line[0] == ' ' || line[0] == '\t') {
      assert_true(F->n > 0);
      F->v[F->n - 1].value = arena_printf(a, "%s%s", F->v[F->n - 1].value, line);
      continue;
    }
    const char *colon = strchr(line, ':');
    if (!colon) fail_msg("header line without a colon: %s", line);
    assert_true(F->n < 64);
    F->v[F->n].name = arena_strndup(a, line, (size_t)(colon - line));
    F->v[F->n].value = arena_strdup(a, colon[1] == ' ' ? colon + 2 : colon + 1);
    F->n++;
  }
  if (*i >= L->n) fail_msg("no blank line after the header");
  (*i)++;
}

static size_t field_count(const fields *F, const char *name) {
  size_t n = 0;
  for (size_t i = 0; i < F->n; i++) n += strcasecmp(F->v[i].name, name) == 0;
  return n;
}

static const char *field_get(const fields *F, const char *name) {
  for (size_t i = 0; i < F->n; i++)
    if (strcasecmp(F->v[i].name, name) == 0) return F->v[i].value;
  return NULL;
}

/* Decodes the encoded words of an unfolded value up to an angle address; other words are kept
 * with a space before them (enough for these tests). Each encoded word must be at most 75
 * characters and decode to whole UTF-8 characters. */
static char *decode_words(arena *a, const char *value) {
  char *out = arena_strdup(a, "");
  const char *p = value;
  while (*p) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '<') break;
    const char *end = p;
    while (*end && *end != ' ' && *end != '\t') end++;
    size_t n = (size_t)(end - p);
    if (n > 12 && strncmp(p, "=?UTF-8?B?", 10) == 0 && strncmp(end - 2, "?=", 2) == 0) {
      assert_true(n <= 75);
      char *raw = arena_alloc(a, n);
      size_t len;
      assert_true(b64_decode(B64_STD, p + 10, n - 12, raw, n, &len));
      raw[len] = '\0';
      assert_true(text_utf8_length(raw) >= 0); /* no character cut across words */
      out = arena_printf(a, "%s%s", out, raw); /* space between encoded words is not text */
    } else {
      out = arena_printf(a, "%s%s%.*s", out, *out ? " " : "", (int)n, p);
    }
    p = end;
  }
  return out;
}

/* A Content-Type parameter ("boundary") of an unfolded value, quotes removed. */
static char *ct_param(arena *a, const char *ct, const char *param) {
  char *key = arena_printf(a, "%s=\"", param);
  const char *p = strstr(ct, key);
  if (!p) return NULL;
  p += strlen(key);
  const char *q = strchr(p, '"');
  assert_non_null(q);
  return arena_strndup(a, p, (size_t)(q - p));
}

typedef struct leaf {
  const char *content_type, *content_id, *disposition;
  const char *path; /* the multiparts around it, outermost first: "mixed/related/alternative" */
  uint8_t *data;
  size_t len;
} leaf;

typedef struct leaves {
  leaf v[8];
  size_t n;
  const char *boundaries[8];
  size_t n_boundaries;
} leaves;

/* Reads the entity in lines [start, end) inside the multiparts `path`: a multipart one part by
 * part (each boundary only on its delimiter lines, closed, no preamble), a leaf in base64 lines
 * of at most 76. */
static void read_entity(arena *a, const lines *L, size_t start, size_t end, leaves *out, const char *path,
                        size_t depth) {
  assert_true(depth < 4);
  fields F;
  size_t i = start;
  parse_fields(a, L, &i, &F);
  assert_true(i <= end);
  const char *ct = field_get(&F, "Content-Type");
  assert_non_null(ct);
  assert_int_equal(field_count(&F, "Content-Type"), 1);
  if (strncmp(ct, "multipart/", 10) == 0) {
    char *b = ct_param(a, ct, "boundary");
    assert_non_null(b);
    assert_true(strlen(b) >= 16 && strlen(b) <= 70);
    assert_true(out->n_boundaries < 8);
    out->boundaries[out->n_boundaries++] = b;
    const char *subtype = ct + 10, *semi = strchr(subtype, ';');
    char *inner = arena_printf(a, "%s%s%.*s", path, *path ? "/" : "",
                               (int)(semi ? (size_t)(semi - subtype) : strlen(subtype)), subtype);
    char *open = arena_printf(a, "--%s", b), *close = arena_printf(a, "--%s--", b);
    assert_string_equal(L->v[i], open); /* no preamble */
    size_t part_start = i + 1;
    bool closed = false;
    for (size_t j = i + 1; j < end; j++) {
      if (!strstr(L->v[j], b)) continue;
      assert_false(closed);
      if (strcmp(L->v[j], open) == 0 || strcmp(L->v[j], close) == 0) {
        read_entity(a, L, part_start, j, out, inner, depth + 1);
        part_start = j + 1;
        closed = strcmp(L->v[j], close) == 0;
      } else {
        fail_msg("boundary %s inside a part: %s", b, L->v[j]);
      }
    }
    assert_true(closed);
    return;
  }
  assert_string_equal(field_get(&F, "Content-Transfer-Encoding"), "base64");
  char *b64 = arena_strdup(a, "");
  for (size_t j = i; j < end; j++) {
    assert_true(strlen(L->v[j]) <= MAX_LINE);
    b64 = arena_printf(a, "%s%s", b64, L->v[j]);
  }
  assert_true(out->n < 8);
  leaf *l = &out->v[out->n++];
  l->content_type = ct;
  l->path = path;
  l->content_id = field_get(&F, "Content-ID");
  l->disposition = field_get(&F, "Content-Disposition");
  l->data = arena_alloc(a, b64_decoded_max(strlen(b64)) + 1);
  assert_true(b64_decode(B64_STD, b64, strlen(b64), l->data, b64_decoded_max(strlen(b64)) + 1, &l->len));
}

typedef struct parsed {
  lines L;
  fields top;
  leaves parts;
} parsed;

static const char *const TOP_FIELDS[] = {"Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type"};
#define N_TOP_FIELDS (sizeof TOP_FIELDS / sizeof TOP_FIELDS[0])

/* Builds and reads back a message: every top field once and nothing else, no header line
 * longer than header_limit. */
static parsed *build_and_read(arena *a, const nt_email *e, size_t header_limit) {
  char *msg;
  size_t len;
  assert_true(nt_mime_build(a, e, &msg, &len));
  assert_int_equal(strlen(msg), len);
  parsed *p = arena_alloc(a, sizeof *p);
  p->L = split_crlf(a, msg, len);
  size_t i = 0;
  parse_fields(a, &p->L, &i, &p->top);
  for (size_t j = 0; j + 1 < i; j++)
    if (strlen(p->L.v[j]) > header_limit) fail_msg("header line of %zu: %s", strlen(p->L.v[j]), p->L.v[j]);
  for (size_t f = 0; f < N_TOP_FIELDS; f++)
    if (field_count(&p->top, TOP_FIELDS[f]) != 1)
      fail_msg("%s appears %zu times", TOP_FIELDS[f], field_count(&p->top, TOP_FIELDS[f]));
  /* A single-part message also carries its Content-Transfer-Encoding at the top. */
  assert_true(field_count(&p->top, "Content-Transfer-Encoding") <= 1);
  assert_int_equal(p->top.n, N_TOP_FIELDS + field_count(&p->top, "Content-Transfer-Encoding"));
  read_entity(a, &p->L, 0, p->L.n, &p->parts, "", 0);
  return p;
}

/* The text with every line end as CRLF, as the body is sent. */
static char *crlf(arena *a, const char *s) {
  char *out = arena_alloc(a, strlen(s) * 2 + 1), *o = out;
  for (; *s; s++) {
    if (*s == '\n') *o++ = '\r';
    *o++ = *s;
  }
  return out;
}

static const leaf *part_of_type(const parsed *p, const char *prefix) {
  for (size_t i = 0; i < p->parts.n; i++)
    if (strncmp(p->parts.v[i].content_type, prefix, strlen(prefix)) == 0) return &p->parts.v[i];
  return NULL;
}

static const uint8_t PNG_BYTES[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3, 4, 5};

static nt_email sample_email(void) {
  static const nt_part png = {.kind = NT_PART_INLINE, .content_type = "image/png", .content_id = "qr-t-1@metro.vn",
                              .filename = "ve-t-1.png", .data = PNG_BYTES, .len = sizeof PNG_BYTES};
  nt_email e = {
      .from_name = "Metro TP.HCM",
      .from_addr = "no-reply@metro.vn",
      .to_name = "Nguyễn Thị Lan",
      .to_addr = "lan@example.com",
      .subject = "Vé sắp hết hạn",
      .text = "Xin chào Lan,\nVé của bạn sắp hết hạn.\n",
      .html = "<p>Xin chào Lan,</p>\n<p><img src=\"cid:qr-t-1@metro.vn\" alt=\"QR\"></p>\n",
      .parts = &png,
      .n_parts = 1,
      .message_id = "<t-1.activated@metro.vn>",
      .date_unix = 1733230800,
  };
  return e;
}

static void test_mime_message_has_each_header_once_and_parts_that_decode(void **state) {
  arena *a = *state;
  nt_email e = sample_email();
  parsed *p = build_and_read(a, &e, MAX_LINE);
  assert_string_equal(field_get(&p->top, "Date"), "Tue, 03 Dec 2024 20:00:00 +0700");
  assert_string_equal(field_get(&p->top, "Message-ID"), "<t-1.activated@metro.vn>");
  assert_string_equal(field_get(&p->top, "MIME-Version"), "1.0");
  assert_string_equal(field_get(&p->top, "From"), "\"Metro TP.HCM\" <no-reply@metro.vn>");
  assert_non_null(strstr(field_get(&p->top, "Content-Type"), "multipart/related"));
  assert_string_equal(decode_words(a, field_get(&p->top, "To")), "Nguyễn Thị Lan");
  assert_non_null(strstr(field_get(&p->top, "To"), " <lan@example.com>"));
  assert_string_equal(decode_words(a, field_get(&p->top, "Subject")), "Vé sắp hết hạn");

  assert_int_equal(p->parts.n, 3);
  const leaf *text = part_of_type(p, "text/plain; charset=UTF-8");
  const leaf *html = part_of_type(p, "text/html; charset=UTF-8");
  const leaf *png = part_of_type(p, "image/png");
  assert_true(text && html && png);
  char *want_text = crlf(a, e.text), *want_html = crlf(a, e.html);
  assert_int_equal(text->len, strlen(want_text));
  assert_memory_equal(text->data, want_text, text->len);
  assert_int_equal(html->len, strlen(want_html));
  assert_memory_equal(html->data, want_html, html->len);
  assert_int_equal(png->len, sizeof PNG_BYTES);
  assert_memory_equal(png->data, PNG_BYTES, sizeof PNG_BYTES);
  assert_string_equal(png->content_id, "<qr-t-1@metro.vn>");
  assert_string_equal(png->disposition, "inline; filename=\"ve-t-1.png\"");
  /* The ticket email's shape: related [ alternative [text, html], the QR ], nothing mixed. */
  assert_string_equal(png->content_type, "image/png; name=\"ve-t-1.png\"");
  assert_string_equal(text->path, "related/alternative");
  assert_string_equal(html->path, "related/alternative");
  assert_string_equal(png->path, "related");
  char *want_ct = arena_printf(a, "multipart/related; type=\"multipart/alternative\"; boundary=\"%s\"",
                               p->parts.boundaries[0]);
  assert_string_equal(field_get(&p->top, "Content-Type"), want_ct);
}

static void test_mime_long_bodies_are_in_76_column_base64(void **state) {
  arena *a = *state;
  nt_email e = sample_email();
  const char *unit = "Vé tháng\n";
  size_t n = 5000;
  char *body = arena_alloc(a, n + 1);
  for (size_t i = 0; i < n; i++) body[i] = unit[i % strlen(unit)];
  e.text = body;
  e.html = NULL;
  e.parts = NULL;
  e.n_parts = 0;
  parsed *p = build_and_read(a, &e, MAX_LINE);
  assert_int_equal(p->parts.n, 1);
  assert_string_equal(field_get(&p->top, "Content-Type"), "text/plain; charset=UTF-8");
  char *want = crlf(a, body);
  assert_int_equal(p->parts.v[0].len, strlen(want));
  assert_memory_equal(p->parts.v[0].data, want, strlen(want));
  /* Full lines are exactly 76 characters. */
  size_t full = 0;
  for (size_t i = 0; i < p->L.n; i++) full += strlen(p->L.v[i]) == MAX_LINE;
  assert_true(full >= strlen(want) / 57);
}

static void test_mime_generates_a_message_id_when_none_is_given(void **state) {
  arena *a = *state;
  nt_email e = sample_email();
  e.message_id = NULL;
  parsed *p = build_and_read(a, &e, MAX_LINE);
  const char *id = field_get(&p->top, "Message-ID");
  assert_int_equal(strlen(id), 1 + 36 + strlen("@metro.vn") + 1);
  assert_int_equal(id[0], '<');
  assert_string_equal(id + 37, "@metro.vn>");
  e.message_id = "bare@metro.vn";
  p = build_and_read(a, &e, MAX_LINE);
  assert_string_equal(field_get(&p->top, "Message-ID"), "<bare@metro.vn>");
}

static void test_mime_subject_of_many_words_never_cuts_a_character(void **state) {
  arena *a = *state;
  nt_email e = sample_email();
  e.subject = "Vé tháng của bạn đã được kích hoạt — Ga Bến Thành ↔ Suối Tiên, hiệu lực 30 ngày 😀 kết thúc";
  parsed *p = build_and_read(a, &e, MAX_LINE);
  assert_string_equal(decode_words(a, field_get(&p->top, "Subject")), e.subject);
  /* Several words, each on its own line. */
  size_t words = 0;
  for (const char *s = field_get(&p->top, "Subject"); (s = strstr(s, "=?UTF-8?B?")); s++) words++;
  assert_true(words >= 3);
}

static void test_mime_crlf_in_headers_cannot_add_a_header(void **state) {
  arena *a = *state;
  nt_email e = sample_email();
  e.subject = "x\r\nBcc: evil@x";
  e.to_name = "Lan\r\nBcc: evil@x\nX-Evil: 1";
  e.from_name = "Metro\rReply-To: evil@x";
  parsed *p = build_and_read(a, &e, MAX_LINE); /* asserts the seven fields and nothing else */
  assert_int_equal(field_count(&p->top, "Bcc"), 0);
  for (size_t i = 0; i < p->L.n; i++) {
    assert_true(strncasecmp(p->L.v[i], "Bcc:", 4) != 0);
    assert_true(strncasecmp(p->L.v[i], "X-Evil:", 7) != 0);
    assert_true(strncasecmp(p->L.v[i], "Reply-To:", 9) != 0);
  }
  assert_string_equal(field_get(&p->top, "Subject"), "xBcc: evil@x");
  assert_string_equal(nt_header_text(a, "x\r\nBcc: evil@x"), "xBcc: evil@x");
  assert_null(strpbrk(nt_header_text(a, "Vé\r\nBcc: evil@x"), "\r\n"));
}

static void test_mime_a_10kb_display_name_is_folded_within_line_limits(void **state) {
  arena *a = *state;
  static const char *const NAMES[] = {"Nguyễn ", "A"}; /* Vietnamese words; one ASCII word */
  for (size_t k = 0; k < 2; k++) {
    size_t unit = strlen(NAMES[k]), n = 10240 / unit;
    char *name = arena_alloc(a, n * unit + 1);
    for (size_t i = 0; i < n; i++) memcpy(name + i * unit, NAMES[k], unit);
    nt_email e = sample_email();
    e.to_name = name;
    e.subject = name;
    parsed *p = build_and_read(a, &e, MAX_LINE);
    char *trimmed = arena_strdup(a, name);
    size_t len = strlen(trimmed);
    while (len && trimmed[len - 1] == ' ') trimmed[--len] = '\0'; /* trailing spaces are dropped */
    assert_string_equal(decode_words(a, field_get(&p->top, "To")), trimmed);
    assert_non_null(strstr(field_get(&p->top, "To"), "<lan@example.com>"));
    assert_string_equal(decode_words(a, field_get(&p->top, "Subject")), trimmed);
  }
}

static void test_header_text_is_plain_ascii_when_it_can_be(void **state) {
  arena *a = *state;
  assert_string_equal(nt_header_text(a, "Your ticket"), "Your ticket");
  assert_string_equal(nt_header_text(a, ""), "");
  assert_string_equal(nt_header_text(a, "tab\there"), "tab here");
  /* "=?" would be read as an encoded word: encoded instead. */
  char *eq = nt_header_text(a, "a =?x?= b");
  assert_int_equal(strncmp(eq, "=?UTF-8?B?", 10), 0);
  assert_string_equal(decode_words(a, eq), "a =?x?= b");
  /* A long ASCII value folds at spaces; unfolding gives it back. */
  const char *lng = "Metro service update for all riders of line one and line two between the central "
                    "station and the eastern terminal this weekend";
  char *folded = nt_header_text(a, lng);
  assert_non_null(strstr(folded, "\r\n "));
  size_t col = 10;
  for (const char *s = folded; *s; s++) {
    if (*s == '\r') {
      assert_true(col <= MAX_LINE);
      col = 0;
      s++;
      continue;
    }
    col++;
  }
  assert_true(col <= MAX_LINE);
  char *unfolded = arena_strdup(a, folded), *o = unfolded;
  for (const char *s = folded; *s; s++)
    if (*s != '\r' && *s != '\n') *o++ = *s;
  *o = '\0';
  assert_string_equal(unfolded, lng);
  /* Bytes that are not UTF-8 become U+FFFD. */
  assert_string_equal(decode_words(a, nt_header_text(a, "a\xff")), "a\xef\xbf\xbd");
}

static void test_mime_quotes_ascii_display_names(void **state) {
  arena *a = *state;
  nt_email e = sample_email();
  e.to_name = "O\"Brien \\ Co, Ltd";
  parsed *p = build_and_read(a, &e, MAX_LINE);
  assert_string_equal(field_get(&p->top, "To"), "\"O\\\"Brien \\\\ Co, Ltd\" <lan@example.com>");
  e.to_name = NULL;
  p = build_and_read(a, &e, MAX_LINE);
  assert_string_equal(field_get(&p->top, "To"), "lan@example.com");
}

static const char *const VALID_ADDRESSES[] = {"a@b", "lan@example.com", "first.last+tag@sub.example.vn"};
static const char *const INVALID_ADDRESSES[] = {
    "",   "ab",        "@example.com", "lan@",          "lan@@example.com", "a@b@c",      "lan @example.com",
    "lan@example.com\r\nBcc: evil@x",  "<lan@example.com>", "a,b@c", "a;b@c", "lan@ví.vn", "lan\t@x.vn",
};

static void test_invalid_addresses_are_refused(void **state) {
  arena *a = *state;
  for (size_t i = 0; i < sizeof VALID_ADDRESSES / sizeof VALID_ADDRESSES[0]; i++)
    assert_true(nt_address_valid(VALID_ADDRESSES[i]));
  for (size_t i = 0; i < sizeof INVALID_ADDRESSES / sizeof INVALID_ADDRESSES[0]; i++) {
    if (nt_address_valid(INVALID_ADDRESSES[i])) fail_msg("accepted %s", INVALID_ADDRESSES[i]);
    nt_email e = sample_email();
    e.to_addr = INVALID_ADDRESSES[i];
    char *out;
    size_t len;
    assert_false(nt_mime_build(a, &e, &out, &len));
    assert_null(out);
    e = sample_email();
    e.from_addr = INVALID_ADDRESSES[i];
    assert_false(nt_mime_build(a, &e, &out, &len));
  }
  assert_false(nt_address_valid(NULL));
  char long_addr[300];
  memset(long_addr, 'a', sizeof long_addr);
  memcpy(long_addr + 250, "@x.vn", 6); /* 255 bytes */
  assert_false(nt_address_valid(long_addr));
  memcpy(long_addr + 249, "@x.vn", 6); /* 254 bytes */
  assert_true(nt_address_valid(long_addr));
}

static void test_mime_refuses_missing_parts(void **state) {
  arena *a = *state;
  char *out;
  size_t len;
  nt_email e = sample_email();
  e.html = NULL; /* a PNG needs HTML to show it */
  assert_false(nt_mime_build(a, &e, &out, &len));
  e = sample_email();
  e.subject = NULL;
  assert_false(nt_mime_build(a, &e, &out, &len));
  e = sample_email();
  e.text = NULL;
  assert_false(nt_mime_build(a, &e, &out, &len));
  nt_part bad = {.kind = NT_PART_INLINE, .content_type = "image/png", .content_id = "qr\r\nBcc: evil@x",
                 .filename = "qr.png", .data = PNG_BYTES, .len = sizeof PNG_BYTES};
  e = sample_email();
  e.parts = &bad;
  assert_false(nt_mime_build(a, &e, &out, &len));
  e = sample_email();
  e.message_id = "<a b@c>";
  assert_false(nt_mime_build(a, &e, &out, &len));
}

/* ==== mime.c: inline images and attachments (the scheduled report's email) ==== */

static const char SVG[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">"
                          "<text x=\"0\" y=\"9\">Doanh thu ₫</text></svg>\n";

/* A CSV as the report service writes it: UTF-8, CRLF line ends, a quoted field holding a bare LF
 * and one holding a lone CR, long enough for many base64 lines. */
static char *report_csv(arena *a, size_t rows, size_t *len) {
  char *csv = arena_strdup(a, "section,metric,dimension,dimension_name,value\r\n");
  for (size_t i = 0; i < rows; i++)
    csv = arena_printf(a, "%srevenue,by_day,2026-12-%02zu,\"Bến Thành\nga %zu\",%zu\r\n"
                       "taps,x,\"a\rb\",Suối Tiên,%zu\r\n",
                       csv, i % 28 + 1, i, i * 14000, i);
  *len = strlen(csv);
  return csv;
}

/* The report email: the CSV attached and the chart inline, the attachment listed first to show
 * the builder places each kind itself. */
static nt_email report_email(arena *a, nt_part *parts, const char *csv, size_t csv_len) {
  parts[0] = (nt_part){.kind = NT_PART_ATTACHMENT, .content_type = "text/csv", .charset = "utf-8",
                       .filename = "metro-report-2026-12-02.csv", .data = (const uint8_t *)csv, .len = csv_len};
  parts[1] = (nt_part){.kind = NT_PART_INLINE, .content_type = "image/svg+xml", .content_id = "chart",
                       .filename = "revenue-by-day.svg", .data = (const uint8_t *)SVG, .len = sizeof SVG - 1};
  nt_email e = sample_email();
  e.subject = "Báo cáo Doanh thu (hằng ngày): 02/12/2026 – 02/12/2026";
  e.to_name = NULL;
  e.html = arena_strdup(a, "<p>Doanh thu: 14.000 ₫</p>\n<p><img src=\"cid:chart\" alt=\"Biểu đồ\"></p>\n");
  e.parts = parts;
  e.n_parts = 2;
  return e;
}

static void assert_lines_fit(const parsed *p) {
  for (size_t i = 0; i < p->L.n; i++)
    if (strlen(p->L.v[i]) > MAX_LINE) fail_msg("line %zu of %zu: %s", i, strlen(p->L.v[i]), p->L.v[i]);
}

static void test_mime_report_has_the_chart_inline_and_the_csv_attached(void **state) {
  arena *a = *state;
  size_t csv_len;
  char *csv = report_csv(a, 400, &csv_len);
  assert_true(csv_len > 20000);
  nt_part parts[2];
  nt_email e = report_email(a, parts, csv, csv_len);
  parsed *p = build_and_read(a, &e, MAX_LINE);
  assert_lines_fit(p);

  /* mixed [ related [ alternative [text, html], chart ], csv ], three different boundaries. */
  assert_int_equal(p->parts.n_boundaries, 3);
  assert_string_equal(field_get(&p->top, "Content-Type"),
                      arena_printf(a, "multipart/mixed; boundary=\"%s\"", p->parts.boundaries[0]));
  assert_string_not_equal(p->parts.boundaries[0], p->parts.boundaries[1]);
  assert_string_not_equal(p->parts.boundaries[1], p->parts.boundaries[2]);
  assert_string_not_equal(p->parts.boundaries[0], p->parts.boundaries[2]);
  assert_int_equal(p->parts.n, 4);
  const leaf *text = &p->parts.v[0], *html = &p->parts.v[1], *svg = &p->parts.v[2], *att = &p->parts.v[3];
  assert_string_equal(text->content_type, "text/plain; charset=UTF-8");
  assert_string_equal(text->path, "mixed/related/alternative");
  assert_string_equal(html->content_type, "text/html; charset=UTF-8");
  assert_string_equal(html->path, "mixed/related/alternative");
  char *want_html = crlf(a, e.html);
  assert_int_equal(html->len, strlen(want_html));
  assert_memory_equal(html->data, want_html, html->len);

  assert_string_equal(svg->path, "mixed/related");
  assert_string_equal(svg->content_type, "image/svg+xml; name=\"revenue-by-day.svg\"");
  assert_string_equal(svg->content_id, "<chart>");
  assert_string_equal(svg->disposition, "inline; filename=\"revenue-by-day.svg\"");
  assert_int_equal(svg->len, sizeof SVG - 1);
  assert_memory_equal(svg->data, SVG, sizeof SVG - 1);

  /* The CSV comes back byte for byte: its CRLFs, the bare LF and CR in quoted fields, UTF-8. */
  assert_string_equal(att->path, "mixed");
  assert_string_equal(att->content_type, "text/csv; charset=utf-8; name=\"metro-report-2026-12-02.csv\"");
  assert_string_equal(att->disposition, "attachment; filename=\"metro-report-2026-12-02.csv\"");
  assert_null(att->content_id);
  assert_int_equal(att->len, csv_len);
  assert_memory_equal(att->data, csv, csv_len);

  /* The related part announces its root's type. */
  bool related_typed = false;
  for (size_t i = 0; i < p->L.n; i++)
    related_typed = related_typed ||
                    strcmp(p->L.v[i], "Content-Type: multipart/related; type=\"multipart/alternative\";") == 0;
  assert_true(related_typed);
}

static void test_mime_attachment_without_html_is_mixed_with_the_text(void **state) {
  arena *a = *state;
  const char csv[] = "a,b\r\n1,2\r\n";
  nt_part att = {.kind = NT_PART_ATTACHMENT, .content_type = "text/csv", .charset = "utf-8", .filename = "r.csv",
                 .data = (const uint8_t *)csv, .len = sizeof csv - 1};
  nt_email e = sample_email();
  e.html = NULL;
  e.parts = &att;
  e.n_parts = 1;
  parsed *p = build_and_read(a, &e, MAX_LINE);
  assert_int_equal(p->parts.n, 2);
  assert_string_equal(p->parts.v[0].content_type, "text/plain; charset=UTF-8");
  assert_string_equal(p->parts.v[0].path, "mixed");
  assert_string_equal(p->parts.v[1].path, "mixed");
  assert_int_equal(p->parts.v[1].len, sizeof csv - 1);
  assert_memory_equal(p->parts.v[1].data, csv, sizeof csv - 1);
}

static void test_mime_part_filenames_are_sanitised_folded_or_defaulted(void **state) {
  arena *a = *state;
  size_t csv_len;
  char *csv = report_csv(a, 2, &csv_len);
  nt_part parts[2];
  nt_email e = report_email(a, parts, csv, csv_len);
  parts[0].filename = "../../etc/passwd\r\nBcc: evil@x\".csv";
  parts[1].filename = "biểu đồ.svg";
  parsed *p = build_and_read(a, &e, MAX_LINE);
  assert_string_equal(p->parts.v[3].disposition, "attachment; filename=\".._.._etc_passwd__Bcc__evil_x_.csv\"");
  assert_string_equal(p->parts.v[2].disposition, "inline; filename=\"bi___u______.svg\"");
  for (size_t i = 0; i < p->L.n; i++) assert_true(strncasecmp(p->L.v[i], "Bcc:", 4) != 0);

  /* A long name is cut at 64 and its parameters fold so every line still fits. */
  char *name = arena_alloc(a, 101);
  memset(name, 'r', 100);
  parts[0].filename = name;
  p = build_and_read(a, &e, MAX_LINE);
  assert_lines_fit(p);
  char *cut = arena_strndup(a, name, 64);
  assert_string_equal(p->parts.v[3].content_type, arena_printf(a, "text/csv; charset=utf-8; name=\"%s\"", cut));
  assert_string_equal(p->parts.v[3].disposition, arena_printf(a, "attachment; filename=\"%s\"", cut));

  /* No name: one from the type. */
  parts[0].filename = NULL;
  parts[1].filename = "";
  p = build_and_read(a, &e, MAX_LINE);
  assert_string_equal(p->parts.v[3].disposition, "attachment; filename=\"attachment\"");
  assert_string_equal(p->parts.v[2].disposition, "inline; filename=\"image.svg\"");
}

static void test_mime_refuses_unusable_parts(void **state) {
  arena *a = *state;
  size_t csv_len;
  char *csv = report_csv(a, 2, &csv_len);
  nt_part parts[2];
  char *out;
  size_t len;
  nt_email e = report_email(a, parts, csv, csv_len);
  assert_true(nt_mime_build(a, &e, &out, &len));

  static const char *const BAD_ATTACHMENT_TYPES[] = {
      "text", "/csv", "text/", "text/csv; x=y", "text/csv\r\nBcc: evil@x", "text/c\"sv", "text/csv/x", "",
  };
  for (size_t i = 0; i < sizeof BAD_ATTACHMENT_TYPES / sizeof BAD_ATTACHMENT_TYPES[0]; i++) {
    e = report_email(a, parts, csv, csv_len);
    parts[0].content_type = BAD_ATTACHMENT_TYPES[i];
    if (nt_mime_build(a, &e, &out, &len)) fail_msg("attachment type \"%s\" accepted", BAD_ATTACHMENT_TYPES[i]);
    assert_null(out);
  }
  /* Only the image types a reader shows inline, with a usable content id. */
  static const char *const BAD_INLINE_TYPES[] = {"image/gif", "text/html", "image/svg+xml; x=y", "IMAGE/PNG"};
  for (size_t i = 0; i < sizeof BAD_INLINE_TYPES / sizeof BAD_INLINE_TYPES[0]; i++) {
    e = report_email(a, parts, csv, csv_len);
    parts[1].content_type = BAD_INLINE_TYPES[i];
    if (nt_mime_build(a, &e, &out, &len)) fail_msg("inline type \"%s\" accepted", BAD_INLINE_TYPES[i]);
  }
  e = report_email(a, parts, csv, csv_len);
  parts[1].content_type = NULL;
  assert_false(nt_mime_build(a, &e, &out, &len));
  e = report_email(a, parts, csv, csv_len);
  parts[1].content_id = NULL;
  assert_false(nt_mime_build(a, &e, &out, &len));
  e = report_email(a, parts, csv, csv_len);
  parts[1].content_id = "a b";
  assert_false(nt_mime_build(a, &e, &out, &len));
  /* An inline image needs HTML to show it; an attachment does not. */
  e = report_email(a, parts, csv, csv_len);
  e.html = NULL;
  assert_false(nt_mime_build(a, &e, &out, &len));
  e.n_parts = 1;
  assert_true(nt_mime_build(a, &e, &out, &len));
  /* Charsets are names; data is never empty; the kind is one of the two. */
  static const char *const BAD_CHARSETS[] = {"", "utf-8\"; name=\"x", "utf 8", "-utf8"};
  for (size_t i = 0; i < sizeof BAD_CHARSETS / sizeof BAD_CHARSETS[0]; i++) {
    e = report_email(a, parts, csv, csv_len);
    parts[0].charset = BAD_CHARSETS[i];
    if (nt_mime_build(a, &e, &out, &len)) fail_msg("charset \"%s\" accepted", BAD_CHARSETS[i]);
  }
  e = report_email(a, parts, csv, csv_len);
  parts[0].len = 0;
  assert_false(nt_mime_build(a, &e, &out, &len));
  e = report_email(a, parts, csv, csv_len);
  parts[1].data = NULL;
  assert_false(nt_mime_build(a, &e, &out, &len));
  e = report_email(a, parts, csv, csv_len);
  parts[0].kind = (nt_part_kind)7;
  assert_false(nt_mime_build(a, &e, &out, &len));
}

/* ==== qr_png.c ==== */

static void test_qr_png_reads_back_as_the_token(void **state) {
  arena *a = *state;
  uint8_t *png;
  size_t len;
  assert_true(nt_qr_png(a, TOKEN, 4, &png, &len));
  assert_true(len > 100);
  assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
  /* IHDR: width = height = (modules + 8) * 4, 1-bit grayscale (black and white). */
  uint32_t w = (uint32_t)png[16] << 24 | (uint32_t)png[17] << 16 | (uint32_t)png[18] << 8 | png[19];
  uint32_t h = (uint32_t)png[20] << 24 | (uint32_t)png[21] << 16 | (uint32_t)png[22] << 8 | png[23];
  assert_int_equal(w, h);
  assert_int_equal(w % 4, 0);
  assert_int_equal((w / 4 - 8 - 17) % 4, 0); /* a QR symbol is 17 + 4v modules wide */
  assert_int_equal(png[24], 1);
  assert_int_equal(png[25], 0);

  assert_false(nt_qr_png(a, "", 4, &png, &len));
  assert_false(nt_qr_png(a, TOKEN, 0, &png, &len));
  char *huge = arena_alloc(a, 4000);
  memset(huge, 'x', 3999);
  assert_false(nt_qr_png(a, huge, 4, &png, &len)); /* more than version 40-M holds */

  assert_true(nt_qr_png(a, TOKEN, 4, &png, &len));
  if (system("command -v zbarimg >/dev/null 2>&1") != 0) {
    print_message("zbarimg not installed (scripts/install-deps.sh --test): QR not read back\n");
    skip();
  }
  char path[] = "/tmp/test_notification_qr_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, png, len), (ssize_t)len);
  close(fd);
  char *cmd = arena_printf(a, "zbarimg --raw -q %s 2>/dev/null", path);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  char out[1024] = "";
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = '\0';
  int rc = pclose(f);
  unlink(path);
  assert_int_equal(rc, 0);
  if (n > 0 && out[n - 1] == '\n') out[n - 1] = '\0';
  assert_string_equal(out, TOKEN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_amounts_use_dot_thousands_and_the_dong_sign, setup, teardown),
      cmocka_unit_test_setup_teardown(test_local_times_are_utc_plus_seven, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ticket_names_in_vietnamese_with_group_size, setup, teardown),
      cmocka_unit_test_setup_teardown(test_render_substitutes_every_placeholder, setup, teardown),
      cmocka_unit_test_setup_teardown(test_render_escapes_html_but_not_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_render_refuses_unknown_unclosed_or_spaced_placeholders, setup, teardown),
      cmocka_unit_test_setup_teardown(test_render_never_expands_placeholders_inside_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_template_exists_with_all_parts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_template_renders_with_its_variables_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_templates_say_what_the_domain_asks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_message_has_each_header_once_and_parts_that_decode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_long_bodies_are_in_76_column_base64, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_generates_a_message_id_when_none_is_given, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_subject_of_many_words_never_cuts_a_character, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_crlf_in_headers_cannot_add_a_header, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_a_10kb_display_name_is_folded_within_line_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_header_text_is_plain_ascii_when_it_can_be, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_quotes_ascii_display_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invalid_addresses_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_refuses_missing_parts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_report_has_the_chart_inline_and_the_csv_attached, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_attachment_without_html_is_mixed_with_the_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_part_filenames_are_sanitised_folded_or_defaulted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mime_refuses_unusable_parts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qr_png_reads_back_as_the_token, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
