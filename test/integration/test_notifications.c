/* The notification service end to end (spec §14), mail read back from Mailpit: links that work, inline QR
 * codes, a station closure's fan-out, SMTP outages and refusals, redelivery, hostile names, the admin API. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/crypto.h"
#include "harness.h"
#include "metro/events/v1/envelope.pb-c.h"
#include "notifications.h"
#include "payments.h"
#include "ticketing.h"

#define PASSWORD TICKETING_PASSWORD
#define NEW_PASSWORD "Another-Metro-2027"
#define EVENT_WAIT_MS 60000 /* a consumer that restarted or rebalanced (Kafka) catches up */
#define REDELIVERIES 100
#define VERIFY_SUBJECT_ARGS "verify_email", "subject", NULL, 0

static char admin_token[2048];
static char free_promo[64]; /* a 100 % promotion without limits: free tickets */

/* ---- helpers ---- */

#define VARS(...) ((const tmpl_var[]){__VA_ARGS__}), (sizeof((const tmpl_var[]){__VA_ARGS__}) / sizeof(tmpl_var))

static void email_of(const rider *p, char *email, size_t cap) {
  http_response *r = call_ok("GET", "/v1/auth/me", NULL, p->access);
  snprintf(email, cap, "%s", json_at(r, "email"));
  http_response_free(r);
  assert_true(strchr(email, '@') != NULL);
}

/* Self-registration; the caller checks and frees the answer. */
static http_response *register_account(const char *email, const char *username, const char *first,
                                       const char *last) {
  json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s}", "email", email, "username", username, "password", PASSWORD,
                        "firstName", first, "lastName", last);
  char *body = json_dumps(b, JSON_COMPACT);
  json_decref(b);
  http_response *r = http_call("POST", "/v1/auth/register", body, NULL);
  free(body);
  return r;
}

/* The link on its own line of a text body that contains `marker`, into url. */
static void link_in(const char *text, const char *marker, char *url, size_t cap) {
  const char *m = strstr(text, marker);
  if (!m) fprintf(stderr, "no \"%s\" link in:\n%s\n", marker, text);
  assert_non_null(m);
  const char *start = m;
  while (start > text && start[-1] != '\n' && start[-1] != ' ') start--;
  size_t n = strcspn(start, " \r\n");
  assert_true(n < cap);
  snprintf(url, cap, "%.*s", (int)n, start);
}

/* The token query parameter of a link. */
static void token_of(const char *url, char *token, size_t cap) {
  const char *t = strstr(url, "token=");
  assert_non_null(t);
  snprintf(token, cap, "%.*s", (int)strcspn(t + 6, "&#"), t + 6);
  assert_true(strlen(token) > 0);
}

/* Mailpit's Message-ID is stored without angle brackets; the record keeps them. */
static void expect_same_message_id(const char *record_id, const char *mailpit_id) {
  char bare[512];
  snprintf(bare, sizeof bare, "%s", record_id + (*record_id == '<'));
  size_t n = strlen(bare);
  if (n && bare[n - 1] == '>') bare[n - 1] = '\0';
  assert_string_equal(bare, mailpit_id);
}

/* 14000 -> "14.000 ₫" */
static void format_vnd(long v, char *out, size_t cap) {
  char digits[32], grouped[48];
  snprintf(digits, sizeof digits, "%ld", v < 0 ? -v : v);
  size_t n = strlen(digits), k = 0;
  for (size_t i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0) grouped[k++] = '.';
    grouped[k++] = digits[i];
  }
  grouped[k] = '\0';
  snprintf(out, cap, "%s%s ₫", v < 0 ? "-" : "", grouped);
}

/* An RFC 3339 UTC instant -> "dd/MM/yyyy HH:mm" in Asia/Ho_Chi_Minh (UTC+7); "" when unreadable. */
static void format_local(const char *rfc3339, char *out, size_t cap) {
  struct tm tm = {0};
  out[0] = '\0';
  if (sscanf(rfc3339, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
             &tm.tm_sec) != 6)
    return;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t t = timegm(&tm) + 7 * 3600;
  gmtime_r(&t, &tm);
  strftime(out, cap, "%d/%m/%Y %H:%M", &tm);
}

static void buy_free(const rider *p, const char *origin, const char *destination, char *ticket_id) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"originStationId\":\"%s\",\"destinationStationId\":\"%s\",\"tripType\":\"oneway\","
           "\"passengers\":{\"adult\":1},\"promotionCode\":\"%s\"}",
           origin, destination, free_promo);
  http_response *r = call_ok("POST", "/v1/tickets", body, p->access);
  assert_string_equal(json_at(r, "status"), "active");
  snprintf(ticket_id, 64, "%s", json_at(r, "ticketId"));
  http_response_free(r);
}

/* A free day pass, activated by its owner. */
static void buy_active_pass(const rider *p, char *ticket_id) {
  char body[256], path[160];
  snprintf(body, sizeof body, "{\"passType\":\"day_pass\",\"promotionCode\":\"%s\"}", free_promo);
  http_response *r = call_ok("POST", "/v1/tickets", body, p->access);
  assert_string_equal(json_at(r, "status"), "inactive");
  snprintf(ticket_id, 64, "%s", json_at(r, "ticketId"));
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/tickets/%s:activate", ticket_id);
  r = call_ok("POST", path, "{}", p->access);
  assert_string_equal(json_at(r, "status"), "active");
  http_response_free(r);
}

/* The static token of a ticket: its rotating code without the last two dot parts. */
static void static_token(const rider *p, const char *ticket_id, char *token, size_t cap) {
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s/code", ticket_id);
  http_response *r = call_ok("GET", path, NULL, p->access);
  snprintf(token, cap, "%s", json_at(r, "code"));
  http_response_free(r);
  for (int i = 0; i < 2; i++) {
    char *dot = strrchr(token, '.');
    assert_non_null(dot);
    *dot = '\0';
  }
  char *stored = sql_value("SELECT qr_token FROM ticket.tickets WHERE ticket_id = $1::uuid", ticket_id);
  assert_non_null(stored);
  assert_string_equal(stored, token);
  free(stored);
}

/* The activation email of a ticket (template ticket_activated_single or _pass, ticket_name its
 * display name): its details in the text, the QR code inline (a PNG with a Content-ID the HTML
 * references) whose content is the ticket's static token. */
static void expect_activation_email(const rider *p, const char *email, const char *ticket_id, const char *template_name,
                                    const char *ticket_name) {
  char *subject = tmpl_render(template_name, "subject", VARS({"ticket_name", ticket_name}));
  json_t *msgs = mail_wait(email, subject, 1, MAIL_WAIT_MS);
  assert_int_equal(json_array_size(msgs), 1);
  json_t *msg = mail_message(jstr(json_array_get(msgs, 0), "ID"));

  char path[160], price[64], until[64];
  snprintf(path, sizeof path, "/v1/tickets/%s", ticket_id);
  http_response *t = call_ok("GET", path, NULL, p->access);
  format_vnd(json_int(t, "totalPrice"), price, sizeof price);
  format_local(json_at(t, "validUntil"), until, sizeof until);
  http_response_free(t);
  const char *text = jstr(msg, "Text");
  if (!strstr(text, ticket_id) || !strstr(text, price) || (*until && !strstr(text, until)))
    fprintf(stderr, "activation text lacks %s / %s / %s:\n%s\n", ticket_id, price, until, text);
  assert_non_null(strstr(text, ticket_id));
  assert_non_null(strstr(text, price));
  if (*until) assert_non_null(strstr(text, until));
  assert_non_null(strstr(text, ticket_name));

  json_t *inl = json_object_get(msg, "Inline");
  assert_int_equal(json_array_size(inl), 1);
  assert_int_equal(json_array_size(json_object_get(msg, "Attachments")), 0);
  json_t *part = json_array_get(inl, 0);
  assert_string_equal(jstr(part, "ContentType"), "image/png");
  const char *cid = jstr(part, "ContentID");
  assert_true(strlen(cid) > 0);
  char ref[256];
  snprintf(ref, sizeof ref, "cid:%s", cid);
  assert_non_null(strstr(jstr(msg, "HTML"), ref));
  size_t len;
  uint8_t *png = mail_part(jstr(msg, "ID"), jstr(part, "PartID"), &len);
  assert_true(len > 8);
  assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
  char token[1200];
  static_token(p, ticket_id, token, sizeof token);
  bool can_decode = have_zbarimg();
  char *decoded = can_decode ? qr_decode(png, len) : NULL;
  free(png);
  json_decref(msg);
  json_decref(msgs);
  free(subject);
  if (!can_decode) {
    fprintf(stderr, "zbarimg is not installed (apt-get install zbar-tools): the QR code's content is not checked\n");
    skip();
  }
  if (!decoded) fprintf(stderr, "zbarimg read no QR code in the inline PNG of ticket %s\n", ticket_id);
  assert_non_null(decoded);
  assert_string_equal(decoded, token);
  free(decoded);
}

static void forgot_password(const char *email) {
  char body[256];
  snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
  http_response_free(call_ok("POST", "/v1/auth/password:forgot", body, NULL));
}

/* Waits until the registration's verification email left, so what follows is alone in the queue. */
static void registration_mail_sent(const char *email) { nt_wait_rows(email, "verify_email", "sent", 1); }

/* The seconds of the notification service's retry schedule, from the script that starts it
 * ($METRO_STACK_DIR/run/notification.sh); the default when the stack did not set it. */
static int retry_schedule(long *steps, int cap) {
  char path[1024], line[4096], value[256] = "30,120,600";
  snprintf(path, sizeof path, "%s/run/notification.sh", harness_env("METRO_STACK_DIR"));
  FILE *f = fopen(path, "r");
  if (f) {
    while (fgets(line, sizeof line, f)) {
      char *k = strstr(line, "METRO_NOTIFY_RETRY_SCHEDULE_S=");
      if (!k) continue;
      k += strlen("METRO_NOTIFY_RETRY_SCHEDULE_S=");
      if (*k == '"' || *k == '\'') k++;
      snprintf(value, sizeof value, "%.*s", (int)strcspn(k, "\"'\r\n"), k);
    }
    fclose(f);
  }
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(value, ",", &save); tok && n < cap; tok = strtok_r(NULL, ",", &save))
    steps[n++] = atol(tok);
  return n;
}

/* ---- registration and password reset ---- */

static void test_registering_mails_a_link_that_verifies_the_account(void **state) {
  (void)state;
  const char *name = unique_name("ntreg");
  char email[128];
  snprintf(email, sizeof email, "%s@metro.test", name);
  http_response *r = register_account(email, name, "Lan", "Nguyễn");
  if (r->status != 200) fprintf(stderr, "register -> %ld: %.300s\n", r->status, r->body);
  assert_int_equal(r->status, 200);
  char access[2048], user_id[64];
  snprintf(access, sizeof access, "%s", json_at(r, "accessToken"));
  snprintf(user_id, sizeof user_id, "%s", json_at(r, "user.userId"));
  http_response_free(r);

  char *subject = tmpl_render(VERIFY_SUBJECT_ARGS);
  json_t *msgs = mail_wait(email, subject, 1, MAIL_WAIT_MS);
  assert_int_equal(json_array_size(msgs), 1);
  json_t *summary = json_array_get(msgs, 0);
  json_t *to = json_object_get(summary, "To");
  assert_int_equal(json_array_size(to), 1);
  assert_string_equal(jstr(json_array_get(to, 0), "Name"), "Lan Nguyễn");
  assert_true(strlen(jstr(json_object_get(summary, "From"), "Address")) > 0);
  json_t *msg = mail_message(jstr(summary, "ID"));
  char *text = normalize_text(strdup(jstr(msg, "Text")));
  char url[1024], token[512];
  link_in(text, "/verify-email?token=", url, sizeof url);
  token_of(url, token, sizeof token);
  /* The whole text is the template's, with the link auth made. */
  char *want = normalize_text(tmpl_render("verify_email", "txt", VARS({"first_name", "Lan"}, {"verify_url", url})));
  assert_string_equal(text, want);
  char *html = normalize_text(strdup(jstr(msg, "HTML")));
  char *want_html =
      normalize_text(tmpl_render("verify_email", "html", VARS({"first_name", "Lan"}, {"verify_url", url})));
  assert_string_equal(html, want_html);
  free(html);
  free(want_html);

  /* The record says what was sent. */
  nt_wait_rows(email, "verify_email", "sent", 1);
  char *mid = nt_column(email, "verify_email", "provider_message_id");
  expect_same_message_id(mid, jstr(summary, "MessageID"));
  char *type = nt_column(email, "verify_email", "event_type"), *uid = nt_column(email, "verify_email", "user_id::text");
  assert_string_equal(type, "auth.verification_requested");
  assert_string_equal(uid, user_id);

  /* Following the link verifies the account, once. */
  r = call_ok("GET", "/v1/auth/me", NULL, access);
  assert_true(json_is_false(json_object_get(r->json, "isVerified")));
  http_response_free(r);
  char body[640];
  snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
  http_response_free(call_ok("POST", "/v1/auth/verification:verify", body, NULL));
  r = call_ok("GET", "/v1/auth/me", NULL, access);
  assert_true(json_is_true(json_object_get(r->json, "isVerified")));
  http_response_free(r);
  expect_error("POST", "/v1/auth/verification:verify", body, NULL, 400, "INVALID_OR_EXPIRED_TOKEN", NULL);
  assert_int_equal(mail_count(email, subject), 1);
  free(mid);
  free(type);
  free(uid);
  free(want);
  free(text);
  json_decref(msg);
  json_decref(msgs);
  free(subject);
}

static void test_a_forgotten_password_is_reset_through_the_mailed_link(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char email[160];
  email_of(&p, email, sizeof email);
  forgot_password(email);
  char *subject = tmpl_render("reset_password", "subject", NULL, 0);
  json_t *msgs = mail_wait(email, subject, 1, MAIL_WAIT_MS);
  assert_int_equal(json_array_size(msgs), 1);
  json_t *msg = mail_message(jstr(json_array_get(msgs, 0), "ID"));
  char *text = normalize_text(strdup(jstr(msg, "Text")));
  char url[1024], token[512];
  link_in(text, "/reset-password?token=", url, sizeof url);
  token_of(url, token, sizeof token);
  char *want = normalize_text(tmpl_render("reset_password", "txt", VARS({"first_name", "Lan"}, {"reset_url", url})));
  assert_string_equal(text, want);

  char body[768];
  snprintf(body, sizeof body, "{\"token\":\"%s\",\"newPassword\":\"%s\"}", token, NEW_PASSWORD);
  http_response_free(call_ok("POST", "/v1/auth/password:reset", body, NULL));
  expect_error("POST", "/v1/auth/password:reset", body, NULL, 400, "INVALID_OR_EXPIRED_TOKEN", NULL);
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", email, NEW_PASSWORD);
  http_response_free(call_ok("POST", "/v1/auth/login", body, NULL));
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", email, PASSWORD);
  expect_error("POST", "/v1/auth/login", body, NULL, 401, "INVALID_CREDENTIALS", NULL);
  nt_wait_rows(email, "reset_password", "sent", 1);
  assert_int_equal(mail_count(email, subject), 1);
  free(want);
  free(text);
  json_decref(msg);
  json_decref(msgs);
  free(subject);
}

/* ---- activation emails ---- */

static void test_a_free_ticket_mails_its_qr_code_inline(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char email[160], id[64];
  email_of(&p, email, sizeof email);
  buy_free(&p, "ben-thanh", "ba-son", id);
  expect_activation_email(&p, email, id, "ticket_activated_single", "Vé một chiều");
}

static void test_a_ticket_paid_by_transfer_mails_its_qr_code_too(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char email[160];
  email_of(&p, email, sizeof email);
  purchase b;
  buy_with(&p, "sepay", &b);
  char body[512];
  snprintf(body, sizeof body, "{\"content\":\"Payment for ticket %s\",\"transferAmount\":%ld}", b.ticket_id, b.amount);
  http_response_free(provider_ok("sepay", "POST", "/transfer", body));
  wait_ticket_status(&p, b.ticket_id, "active");
  expect_activation_email(&p, email, b.ticket_id, "ticket_activated_single", "Vé một chiều");
  assert_int_equal(nt_rows(email, "ticket_activated_single", "sent", NULL), 1);
}

static void test_a_pass_its_owner_activates_mails_the_pass_template(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char email[160], id[64];
  email_of(&p, email, sizeof email);
  buy_active_pass(&p, id);
  expect_activation_email(&p, email, id, "ticket_activated_pass", "Vé ngày");
  assert_int_equal(nt_rows(email, "ticket_activated_single", NULL, NULL), 0);
}

/* ---- a station closure ---- */

/* A line of this test's own (three new stations, on no other line), so closing its middle
 * station touches no seeded journey; teardown reopens and removes it. */
static char net_stations[3][96], net_names[3][128], net_route[96];
static bool net_closed;

static void create_network(void) {
  const char *tag = unique_name("");
  for (int i = 0; i < 3; i++) {
    snprintf(net_stations[i], sizeof net_stations[i], "tt-nt%s-%c", tag, 'a' + i);
    snprintf(net_names[i], sizeof net_names[i], "Thông Báo %s %c", tag, 'A' + i);
    char body[512];
    snprintf(body, sizeof body,
             "{\"stationId\":\"%s\",\"name\":\"%s\",\"location\":{\"latitude\":10.8%d,\"longitude\":106.75},"
             "\"openTime\":\"00:00\",\"closeTime\":\"23:59\"}",
             net_stations[i], net_names[i], i);
    http_response *r = call_ok("POST", "/v1/stations", body, admin_token);
    snprintf(net_names[i], sizeof net_names[i], "%s", json_at(r, "name"));
    http_response_free(r);
  }
  snprintf(net_route, sizeof net_route, "tt-nt%s-line", tag);
  char body[512], path[256];
  snprintf(body, sizeof body,
           "{\"routeId\":\"%s\",\"code\":\"N%d\",\"name\":\"Tuyến thử thông báo\",\"lengthKm\":3.5,"
           "\"durationMin\":8,\"isActive\":true}",
           net_route, (int)((getpid() * 31L + time(NULL)) % 1000000));
  http_response_free(call_ok("POST", "/v1/lines", body, admin_token));
  snprintf(path, sizeof path, "/v1/lines/%s/stations", net_route);
  snprintf(body, sizeof body, "{\"stationIds\":[\"%s\",\"%s\",\"%s\"]}", net_stations[0], net_stations[1],
           net_stations[2]);
  http_response_free(call_ok("PUT", path, body, admin_token));
}

static void set_station_active(const char *station, bool active, const char *reason) {
  char path[256];
  snprintf(path, sizeof path, "/v1/stations/%s?updateMask=isActive%s%s", station, reason ? "&reason=" : "",
           reason ? reason : "");
  http_response *r = http_call("PATCH", path, active ? "{\"isActive\":true}" : "{\"isActive\":false}", admin_token);
  if (r->status != 200) fprintf(stderr, "PATCH %s -> %ld: %.300s\n", path, r->status, r->body);
  assert_int_equal(r->status, 200);
  http_response_free(r);
}

static int remove_network(void **state) {
  (void)state;
  char path[512];
  if (*net_route) {
    if (net_closed) {
      snprintf(path, sizeof path, "/v1/stations/%s?updateMask=isActive", net_stations[1]);
      http_response_free(http_call("PATCH", path, "{\"isActive\":true}", admin_token));
      net_closed = false;
    }
    snprintf(path, sizeof path, "/v1/lines/%s", net_route);
    http_response *r = http_call("DELETE", path, NULL, admin_token);
    if (r->status != 200) fprintf(stderr, "cleanup: DELETE %s -> %ld: %.300s\n", path, r->status, r->body);
    http_response_free(r);
    net_route[0] = '\0';
  }
  for (int i = 0; i < 3; i++) {
    if (!*net_stations[i]) continue;
    snprintf(path, sizeof path, "/v1/stations/%s", net_stations[i]);
    http_response *r = http_call("DELETE", path, NULL, admin_token);
    if (r->status != 200) fprintf(stderr, "cleanup: DELETE %s -> %ld: %.300s\n", path, r->status, r->body);
    http_response_free(r);
    net_stations[i][0] = '\0';
  }
  return 0;
}

/* Waits until the ticket service sells journeys on the new line (it learns the catalog from
 * catalog.changed). */
static void wait_sellable(const rider *p, const char *from, const char *to) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"originStationId\":\"%s\",\"destinationStationId\":\"%s\",\"tripType\":\"oneway\","
           "\"passengers\":{\"adult\":1},\"promotionCode\":\"%s\"}",
           from, to, free_promo);
  for (int waited = 0;; waited += 100) {
    http_response *r = http_call("POST", "/v1/tickets:quote", body, p->access);
    if (r->status == 200) {
      http_response_free(r);
      return;
    }
    if (waited >= TICKETING_WAIT_MS) {
      fprintf(stderr, "%s -> %s never became sellable: %ld %.300s\n", from, to, r->status, r->body);
      http_response_free(r);
      fail();
    }
    http_response_free(r);
    sleep_ms(100);
  }
}

static void set_preferences(const rider *p, const char *json) {
  http_response_free(call_ok("PATCH", "/v1/users/me", json, p->access));
}

static void test_a_station_closure_mails_each_affected_rider_once(void **state) {
  (void)state;
  create_network();
  rider a, b, c, d, e;
  char ea[160], eb[160], ec[160], ed[160], ee[160], phone[32], t[8][64];
  new_rider(&a);
  new_rider(&b);
  new_rider(&c);
  new_rider(&d);
  new_rider(&e);
  email_of(&a, ea, sizeof ea);
  email_of(&b, eb, sizeof eb);
  email_of(&c, ec, sizeof ec);
  email_of(&d, ed, sizeof ed);
  email_of(&e, ee, sizeof ee);
  /* A: two journeys through the middle station; B: a Line 1 journey elsewhere. */
  wait_sellable(&a, net_stations[0], net_stations[2]);
  buy_free(&a, net_stations[0], net_stations[2], t[0]);
  buy_free(&a, net_stations[0], net_stations[1], t[1]);
  buy_free(&b, "ben-thanh", "ba-son", t[2]);
  /* C: a pass, station alerts and SMS on; D: a pass, alerts off. */
  snprintf(phone, sizeof phone, "09%08ld", (long)((getpid() * 7919L + time(NULL)) % 100000000L));
  char body[512];
  snprintf(body, sizeof body,
           "{\"phoneNumber\":\"%s\",\"preferences\":{\"email\":true,\"sms\":true,\"stationAlerts\":true}}", phone);
  set_preferences(&c, body);
  set_preferences(&d, "{\"preferences\":{\"email\":true,\"sms\":false,\"stationAlerts\":false}}");
  buy_active_pass(&c, t[3]);
  buy_active_pass(&d, t[4]);
  /* E: a pass with alerts off, and a journey that ends at the station: reached by the journey. */
  set_preferences(&e, "{\"preferences\":{\"email\":true,\"sms\":false,\"stationAlerts\":false}}");
  buy_active_pass(&e, t[5]);
  buy_free(&e, net_stations[2], net_stations[1], t[6]);

  set_station_active(net_stations[1], false, "maintenance");
  net_closed = true;
  wait_consumed("transport", "station.deactivated", net_stations[1], "notification");
  /* The fan-out queued its messages with the event: exactly A and C, C also by SMS. */
  char *event_id = sql_value("SELECT event_id::text FROM transport.outbox WHERE event_type = 'station.deactivated' "
                             "AND event_key = $1 ORDER BY id DESC LIMIT 1",
                             net_stations[1]);
  assert_non_null(event_id);
  assert_int_equal(nt_rows(ea, "station_closed", NULL, event_id), 1);
  assert_int_equal(nt_rows(ec, "station_closed", NULL, event_id), 1);
  assert_int_equal(nt_rows(phone, "station_closed_sms", NULL, event_id), 1);
  assert_int_equal(nt_rows(eb, "station_closed", NULL, NULL), 0);
  assert_int_equal(nt_rows(ed, "station_closed", NULL, NULL), 0);
  assert_int_equal(nt_rows(ee, "station_closed", NULL, event_id), 1);

  char *subject = tmpl_render("station_closed", "subject", VARS({"station_name", net_names[1]}));
  json_t *ma = mail_wait(ea, subject, 1, MAIL_WAIT_MS), *mc = mail_wait(ec, subject, 1, MAIL_WAIT_MS);
  json_t *msg = mail_message(jstr(json_array_get(ma, 0), "ID"));
  char *text = normalize_text(strdup(jstr(msg, "Text")));
  char *want = normalize_text(tmpl_render(
      "station_closed", "txt",
      VARS({"first_name", "Lan"}, {"station_name", net_names[1]}, {"reason", "maintenance"})));
  assert_string_equal(text, want);
  nt_wait_rows(phone, "station_closed_sms", "sent", 1);
  json_t *texts = sms_to(phone);
  assert_int_equal(json_array_size(texts), 1);
  char *sms = tmpl_render("station_closed_sms", "txt",
                          VARS({"first_name", "Lan"}, {"station_name", net_names[1]}, {"reason", "maintenance"}));
  assert_string_equal(jstr(json_array_get(texts, 0), "text"), sms);
  /* Everything of the event sent: still one email each for A and C, none for B and D. */
  nt_wait_rows(ea, "station_closed", "sent", 1);
  nt_wait_rows(ec, "station_closed", "sent", 1);
  assert_int_equal(mail_count(ea, subject), 1);
  assert_int_equal(mail_count(ec, subject), 1);
  assert_int_equal(mail_count(eb, subject), 0);
  assert_int_equal(mail_count(ed, subject), 0);
  nt_wait_rows(ee, "station_closed", "sent", 1);
  assert_int_equal(mail_count(ee, subject), 1);

  set_station_active(net_stations[1], true, NULL);
  net_closed = false;
  json_decref(texts);
  free(sms);
  free(want);
  free(text);
  json_decref(msg);
  json_decref(ma);
  json_decref(mc);
  free(subject);
  free(event_id);
}

/* ---- SMTP outages and refusals ---- */

/* After a test that stops or reconfigures Mailpit: the stack's own Mailpit again. */
static int mailpit_back(void **state) {
  (void)state;
  mailpit_start(NULL);
  return 0;
}

static void test_mail_queued_while_smtp_is_down_is_sent_once_it_is_back(void **state) {
  (void)state;
  long schedule[8];
  int steps = retry_schedule(schedule, 8);
  if (steps < 2 || schedule[0] > 10 || schedule[1] > 10) {
    fprintf(stderr, "the notification service retries after %ld s: start the stack with "
                    "METRO_NOTIFY_RETRY_SCHEDULE_S=1,2,3 to run this test\n",
            steps ? schedule[0] : 0L);
    skip();
  }
  rider p;
  new_rider(&p);
  char email[160];
  email_of(&p, email, sizeof email);
  registration_mail_sent(email);
  mailpit_stop();
  forgot_password(email);
  /* Each failed attempt is due again after the next step of the schedule. */
  int seen = 0;
  char last[600] = "";
  for (int waited = 0; seen < 2; waited += 50) {
    /* attempts, status, the delay before the next attempt (both instants come from one
     * statement's now(), so it is exact) and the error, in one read. */
    char *row = nt_column(email, "reset_password",
                          "attempts || ' ' || status || ' ' || "
                          "round(extract(epoch FROM next_attempt_at - updated_at))::int || ' ' || "
                          "length(coalesce(last_error, '')) || ' ' || coalesce(last_error, '')");
    if (row) snprintf(last, sizeof last, "%s", row);
    free(row);
    int attempts = 0, delay = 0, error_len = 0;
    char status[16] = "";
    if (*last && sscanf(last, "%d %15s %d %d", &attempts, status, &delay, &error_len) == 4 && attempts > seen) {
      if (strcmp(status, "queued") != 0) fprintf(stderr, "after %d attempt(s): %s\n", attempts, last);
      assert_string_equal(status, "queued");
      assert_true(attempts <= steps);
      if (delay != schedule[attempts - 1]) fprintf(stderr, "after %d attempt(s): %s\n", attempts, last);
      assert_int_equal(delay, schedule[attempts - 1]);
      assert_true(error_len > 0);
      seen = attempts;
    }
    if (waited > EVENT_WAIT_MS) {
      fprintf(stderr, "the reset email was not attempted twice within %d ms: %s\n", EVENT_WAIT_MS, last);
      fail();
    }
    sleep_ms(50);
  }
  mailpit_start(NULL);
  nt_wait_rows(email, "reset_password", "sent", 1);
  char *attempts = nt_column(email, "reset_password", "attempts::text");
  assert_true(atoi(attempts) > seen && atoi(attempts) <= steps + 1);
  char *subject = tmpl_render("reset_password", "subject", NULL, 0);
  json_t *m = mail_wait(email, subject, 1, MAIL_WAIT_MS);
  assert_int_equal(json_array_size(m), 1);
  char *mid = nt_column(email, "reset_password", "provider_message_id");
  expect_same_message_id(mid, jstr(json_array_get(m, 0), "MessageID"));
  assert_int_equal(nt_rows(email, "reset_password", NULL, NULL), 1);
  free(mid);
  json_decref(m);
  free(subject);
  free(attempts);
}

static void test_mail_that_fails_every_retry_stays_failed_until_an_admin_retries_it(void **state) {
  (void)state;
  long schedule[8];
  int steps = retry_schedule(schedule, 8);
  long total = 0;
  for (int i = 0; i < steps; i++) total += schedule[i];
  if (steps < 1 || total > 30) {
    fprintf(stderr, "the notification service retries for %ld s: start the stack with "
                    "METRO_NOTIFY_RETRY_SCHEDULE_S=1,2,3 to run this test\n",
            total);
    skip();
  }
  rider p;
  new_rider(&p);
  char email[160];
  email_of(&p, email, sizeof email);
  registration_mail_sent(email);
  mailpit_stop();
  forgot_password(email);
  /* The first attempt and one retry per step of the schedule, then failed. */
  nt_wait_rows(email, "reset_password", "failed", 1);
  char *attempts = nt_column(email, "reset_password", "attempts::text");
  char *id = nt_column(email, "reset_password", "notification_id::text");
  assert_int_equal(atoi(attempts), steps + 1);
  mailpit_start(NULL);
  char path[160];
  snprintf(path, sizeof path, "/v1/notifications/%s", id);
  http_response *r = call_ok("GET", path, NULL, admin_token);
  assert_string_equal(json_at(r, "status"), "failed");
  assert_true(strlen(json_at(r, "lastError")) > 0);
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/notifications/%s:retry", id);
  r = call_ok("POST", path, "{}", admin_token);
  assert_string_equal(json_at(r, "status"), "queued");
  http_response_free(r);
  nt_wait_rows(email, "reset_password", "sent", 1);
  char *subject = tmpl_render("reset_password", "subject", NULL, 0);
  json_decref(mail_wait(email, subject, 1, MAIL_WAIT_MS));
  assert_int_equal(mail_count(email, subject), 1);
  free(subject);
  free(attempts);
  free(id);
}

static void test_a_refused_address_fails_and_an_admin_retry_sends_it(void **state) {
  (void)state;
  const char *const only_metro[] = {"--smtp-allowed-recipients", "@metro\\.test$", NULL};
  mailpit_start(only_metro);
  const char *name = unique_name("ntrefused");
  char email[160];
  snprintf(email, sizeof email, "%s@refused.example", name);
  http_response *r = register_account(email, name, "Lan", "Nguyen");
  if (r->status != 200) fprintf(stderr, "register -> %ld: %.300s\n", r->status, r->body);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  nt_wait_rows(email, "verify_email", "failed", 1);
  char *attempts = nt_column(email, "verify_email", "attempts::text");
  char *error = nt_column(email, "verify_email", "coalesce(last_error, '')");
  char *id = nt_column(email, "verify_email", "notification_id::text");
  assert_string_equal(attempts, "1"); /* a 5xx refusal is final: no retries */
  if (!strstr(error, "550")) fprintf(stderr, "last_error: %s\n", error);
  assert_non_null(strstr(error, "550"));
  assert_int_equal(mail_count(email, NULL), 0);

  /* The server takes the address again; an admin queues the failed delivery once more. */
  mailpit_start(NULL);
  char path[160];
  snprintf(path, sizeof path, "/v1/notifications/%s:retry", id);
  r = call_ok("POST", path, "{}", admin_token);
  assert_string_equal(json_at(r, "notificationId"), id);
  assert_string_equal(json_at(r, "status"), "queued");
  assert_int_equal(json_int(r, "attempts"), 0);
  http_response_free(r);
  nt_wait_rows(email, "verify_email", "sent", 1);
  char *subject = tmpl_render(VERIFY_SUBJECT_ARGS);
  json_decref(mail_wait(email, subject, 1, MAIL_WAIT_MS));
  assert_int_equal(mail_count(email, NULL), 1);
  expect_error("POST", path, "{}", admin_token, 409, "NOTIFICATION_ALREADY_SENT", NULL);
  free(subject);
  free(attempts);
  free(error);
  free(id);
}

/* ---- the same event delivered again and again ---- */

/* A copy of an outbox row with another event id in the envelope too (a new event, same key):
 * once the consumer applied it, it applied every copy published before it. Returns its id. */
static char *publish_sentinel(const char *event_id) {
  char *hex = sql_value("SELECT encode(envelope, 'hex') FROM ticket.outbox WHERE event_id = $1::uuid", event_id);
  assert_non_null(hex);
  size_t n = strlen(hex) / 2;
  uint8_t *raw = malloc(n);
  assert_true(crypto_hex_decode(hex, raw, n));
  Metro__Events__V1__EventEnvelope *env = metro__events__v1__event_envelope__unpack(NULL, n, raw);
  assert_non_null(env);
  char new_id[CRYPTO_UUID_LEN + 1];
  crypto_uuid_v4(new_id);
  char *old = env->event_id;
  env->event_id = new_id;
  size_t len = metro__events__v1__event_envelope__get_packed_size(env);
  uint8_t *packed = malloc(len);
  metro__events__v1__event_envelope__pack(env, packed);
  env->event_id = old;
  metro__events__v1__event_envelope__free_unpacked(env, NULL);
  char *packed_hex = malloc(2 * len + 1);
  crypto_hex(packed, len, packed_hex);
  size_t cap = 2 * len + 512;
  char *q = malloc(cap);
  snprintf(q, cap,
           "INSERT INTO ticket.outbox (event_id, topic, event_type, event_key, envelope) SELECT '%s'::uuid, topic, "
           "event_type, event_key, decode('%s', 'hex') FROM ticket.outbox WHERE event_id = $1::uuid RETURNING 1",
           new_id, packed_hex);
  char *ok = sql_value(q, event_id);
  assert_non_null(ok);
  free(ok);
  free(q);
  free(packed_hex);
  free(packed);
  free(raw);
  free(hex);
  return strdup(new_id);
}

/* Publishes the outbox row's envelope (same event id inside) `times` more times, then a
 * sentinel, and waits until the notification service applied the sentinel. */
static char *redeliver(const char *event_id, int times) {
  char q[512];
  snprintf(q, sizeof q,
           "WITH c AS (INSERT INTO ticket.outbox (event_id, topic, event_type, event_key, envelope) "
           "SELECT gen_random_uuid(), topic, event_type, event_key, envelope FROM ticket.outbox, "
           "generate_series(1, %d) WHERE event_id = $1::uuid RETURNING 1) SELECT count(*) FROM c",
           times);
  assert_int_equal(sql_count(q, event_id), times);
  char *sentinel = publish_sentinel(event_id);
  free(sql_value("SELECT pg_notify('metro_outbox_ticket', '')", NULL));
  for (int waited = 0;; waited += 100) {
    if (sql_count("SELECT count(*) FROM notification.processed_events WHERE event_id = $1::uuid", sentinel) == 1)
      break;
    if (waited >= EVENT_WAIT_MS) {
      fprintf(stderr, "the notification service did not apply event %s within %d ms (unpublished copies: %ld)\n",
              sentinel, EVENT_WAIT_MS,
              sql_count("SELECT count(*) FROM ticket.outbox WHERE published_at IS NULL AND event_key = "
                        "(SELECT event_key FROM ticket.outbox WHERE event_id = $1::uuid)",
                        event_id));
      fail();
    }
    sleep_ms(100);
  }
  return sentinel;
}

static void test_an_event_delivered_a_hundred_times_sends_one_email(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char email[160], id[64];
  email_of(&p, email, sizeof email);
  buy_free(&p, "ben-thanh", "ba-son", id);
  char *subject = tmpl_render("ticket_activated_single", "subject", VARS({"ticket_name", "Vé một chiều"}));
  json_decref(mail_wait(email, subject, 1, MAIL_WAIT_MS));
  nt_wait_rows(email, "ticket_activated_single", "sent", 1);
  char *event_id = sql_value("SELECT event_id::text FROM ticket.outbox WHERE event_type = 'ticket.activated' AND "
                             "event_key = $1",
                             id);
  assert_non_null(event_id);
  char *mid = nt_column(email, "ticket_activated_single", "provider_message_id");

  /* Redelivered as is: the consumer knows the event. */
  char *s1 = redeliver(event_id, REDELIVERIES);
  assert_int_equal(nt_rows(email, NULL, NULL, event_id), 1);
  assert_int_equal(nt_rows(email, NULL, NULL, s1), 1);
  /* Redelivered after the consumer forgot it: the record's uniqueness still holds. */
  assert_int_equal(sql_count("WITH d AS (DELETE FROM notification.processed_events WHERE event_id = $1::uuid "
                             "RETURNING 1) SELECT count(*) FROM d",
                             event_id),
                   1);
  char *s2 = redeliver(event_id, REDELIVERIES);
  assert_int_equal(nt_rows(email, NULL, NULL, event_id), 1);
  assert_int_equal(nt_rows(email, NULL, NULL, s2), 1);
  assert_int_equal(nt_rows(email, NULL, "sent", event_id), 1);
  char *mid_after = sql_value("SELECT provider_message_id FROM notification.notifications WHERE event_id = $1::uuid",
                              event_id);
  assert_string_equal(mid_after, mid); /* the record was not rebuilt */
  free(mid_after);

  /* Once the sentinels' emails left: the event's email arrived once. */
  nt_wait_rows(email, "ticket_activated_single", "sent", 3);
  json_t *msgs = mail_wait(email, subject, 3, MAIL_WAIT_MS), *m;
  assert_int_equal(json_array_size(msgs), 3);
  char bare[256];
  snprintf(bare, sizeof bare, "%.*s", (int)strlen(mid) - 2, mid + 1);
  size_t i, same = 0;
  json_array_foreach(msgs, i, m) same += strcmp(jstr(m, "MessageID"), bare) == 0;
  assert_int_equal(same, 1);
  char *attempts = sql_value("SELECT attempts::text FROM notification.notifications WHERE event_id = $1::uuid",
                             event_id);
  assert_string_equal(attempts, "1");
  free(attempts);
  json_decref(msgs);
  free(s1);
  free(s2);
  free(mid);
  free(event_id);
  free(subject);
}

/* ---- hostile names ---- */

/* The message is well-formed: Mailpit parses one of each header, no Cc or Bcc, lines end in
 * CR LF, header lines fit 78 columns and no line passes 998. */
static void expect_well_formed(const char *id, const char *email) {
  json_t *h = mail_headers(id);
  static const char *const once[] = {"From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type"};
  for (size_t i = 0; i < sizeof once / sizeof once[0]; i++) {
    json_t *v = json_object_get(h, once[i]);
    if (json_array_size(v) != 1) fprintf(stderr, "header %s appears %zu times\n", once[i], json_array_size(v));
    assert_int_equal(json_array_size(v), 1);
  }
  assert_null(json_object_get(h, "Bcc"));
  assert_null(json_object_get(h, "Cc"));
  json_decref(h);
  json_t *msg = mail_message(id);
  json_t *to = json_object_get(msg, "To");
  assert_int_equal(json_array_size(to), 1);
  assert_string_equal(jstr(json_array_get(to, 0), "Address"), email);
  assert_int_equal(json_array_size(json_object_get(msg, "Cc")), 0);
  assert_int_equal(json_array_size(json_object_get(msg, "Bcc")), 0);
  json_decref(msg);
  size_t len;
  char *raw = mail_raw(id, &len);
  bool in_headers = true, mailpit_header = false; /* Mailpit adds Received and Return-Path */
  for (char *line = raw; line < raw + len;) {
    char *end = memchr(line, '\n', (size_t)(raw + len - line));
    size_t n = end ? (size_t)(end - line) : (size_t)(raw + len - line);
    if (end) {
      if (n == 0 || line[n - 1] != '\r') fprintf(stderr, "a bare LF at byte %zu\n", (size_t)(line - raw) + n);
      assert_true(n > 0 && line[n - 1] == '\r');
      n--;
    }
    if (in_headers && n > 0 && line[0] != ' ' && line[0] != '\t')
      mailpit_header = strncasecmp(line, "Received:", 9) == 0 || strncasecmp(line, "Return-Path:", 12) == 0;
    size_t max = in_headers && !mailpit_header ? 78u : 998u;
    if (n > max) fprintf(stderr, "a line of %zu characters: %.100s...\n", n, line);
    assert_true(n <= max);
    if (in_headers && strncasecmp(line, "Bcc:", 4) == 0) fprintf(stderr, "a Bcc header line: %.100s\n", line);
    assert_false(in_headers && strncasecmp(line, "Bcc:", 4) == 0);
    assert_false(in_headers && strncasecmp(line, "X-Injected:", 11) == 0);
    if (n == 0) in_headers = false;
    line = end ? end + 1 : raw + len;
  }
  free(raw);
}

/* Sets a profile column to an SQL expression behind the API's back (the API refuses it). */
static void set_profile_sql(const char *user_id, const char *assignments) {
  char q[1024];
  snprintf(q, sizeof q, "UPDATE \"user\".passengers SET %s WHERE user_id = $1::uuid RETURNING 1", assignments);
  char *ok = sql_value(q, user_id);
  assert_non_null(ok);
  free(ok);
}

static void test_a_ten_kilobyte_name_still_gives_a_well_formed_email(void **state) {
  (void)state;
  /* 10,240 bytes: "Ánh" 2,560 times, one word with no place to fold. */
  char *big = malloc(10241);
  big[0] = '\0';
  for (int i = 0; i < 2560; i++) strcat(big, "Ánh");
  const char *name = unique_name("ntbig");
  char email[160];
  snprintf(email, sizeof email, "%s@metro.test", name);
  http_response *r = register_account(email, name, big, "Nguyen");
  assert_int_equal(r->status, 400);
  assert_string_equal(error_reason(r), "INVALID_NAME");
  assert_string_equal(error_field(r), "firstName");
  http_response_free(r);
  rider p;
  new_rider(&p);
  email_of(&p, email, sizeof email);
  json_t *b = json_pack("{s:s}", "firstName", big);
  char *body = json_dumps(b, JSON_COMPACT);
  json_decref(b);
  expect_error("PATCH", "/v1/users/me", body, p.access, 400, "INVALID_NAME", "firstName");
  free(body);

  /* Had it got in anyway, the email would still be one a server can parse. */
  registration_mail_sent(email);
  set_profile_sql(p.user_id, "first_name = repeat('Ánh', 2560)");
  forgot_password(email);
  char *subject = tmpl_render("reset_password", "subject", NULL, 0);
  json_t *msgs = mail_wait(email, subject, 1, MAIL_WAIT_MS);
  const char *id = jstr(json_array_get(msgs, 0), "ID");
  expect_well_formed(id, email);
  char full[10300];
  snprintf(full, sizeof full, "%s Nguyen", big);
  assert_string_equal(jstr(json_array_get(json_object_get(json_array_get(msgs, 0), "To"), 0), "Name"), full);
  json_t *msg = mail_message(id);
  char *text = normalize_text(strdup(jstr(msg, "Text")));
  char url[1024];
  link_in(text, "/reset-password?token=", url, sizeof url);
  char *want = normalize_text(tmpl_render("reset_password", "txt", VARS({"first_name", big}, {"reset_url", url})));
  assert_string_equal(text, want);
  free(want);
  free(text);
  json_decref(msg);
  json_decref(msgs);
  free(subject);
  free(big);
}

static void test_line_breaks_in_a_name_cannot_add_a_recipient(void **state) {
  (void)state;
  const char *evil = unique_name("ntevil");
  char evil_addr[160], injected[256];
  snprintf(evil_addr, sizeof evil_addr, "%s@metro.test", evil);
  snprintf(injected, sizeof injected, "Lan\r\nBcc: %s", evil_addr);
  /* The API refuses control characters in names, at registration and in the profile. */
  const char *name = unique_name("ntcrlf");
  char email[160];
  snprintf(email, sizeof email, "%s@metro.test", name);
  http_response *r = register_account(email, name, injected, "Nguyen");
  assert_int_equal(r->status, 400);
  assert_string_equal(error_reason(r), "INVALID_NAME");
  assert_string_equal(error_field(r), "firstName");
  http_response_free(r);
  r = register_account(email, name, "Lan", injected);
  assert_int_equal(r->status, 400);
  assert_string_equal(error_field(r), "lastName");
  http_response_free(r);
  rider p;
  new_rider(&p);
  email_of(&p, email, sizeof email);
  json_t *b = json_pack("{s:s}", "lastName", injected);
  char *body = json_dumps(b, JSON_COMPACT);
  json_decref(b);
  expect_error("PATCH", "/v1/users/me", body, p.access, 400, "INVALID_NAME", "lastName");
  free(body);

  /* Names that hold CR LF anyway (written behind the API) cannot start a header. */
  registration_mail_sent(email);
  char assignments[768];
  snprintf(assignments, sizeof assignments,
           "first_name = 'Lan' || chr(13) || chr(10) || 'Bcc: %s', "
           "last_name = 'Nguyen' || chr(13) || chr(10) || 'Bcc: %s' || chr(10) || 'X-Injected: yes'",
           evil_addr, evil_addr);
  set_profile_sql(p.user_id, assignments);
  forgot_password(email);
  char *subject = tmpl_render("reset_password", "subject", NULL, 0);
  json_t *msgs = mail_wait(email, subject, 1, MAIL_WAIT_MS);
  assert_int_equal(json_array_size(msgs), 1);
  expect_well_formed(jstr(json_array_get(msgs, 0), "ID"), email);
  json_t *h = mail_headers(jstr(json_array_get(msgs, 0), "ID"));
  assert_null(json_object_get(h, "X-Injected"));
  json_decref(h);
  nt_wait_rows(email, "reset_password", "sent", 1);
  assert_int_equal(mail_addressed_count(evil_addr), 0);
  assert_int_equal(nt_rows(evil_addr, NULL, NULL, NULL), 0);
  json_decref(msgs);
  free(subject);
}

static void test_markup_in_a_name_is_escaped_in_the_html_part(void **state) {
  (void)state;
  const char *name = unique_name("ntmarkup"), *first = "<b>Lan</b> & Co";
  char email[160];
  snprintf(email, sizeof email, "%s@metro.test", name);
  http_response *r = register_account(email, name, first, "Nguyen");
  if (r->status != 200) fprintf(stderr, "register -> %ld: %.300s\n", r->status, r->body);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  char *subject = tmpl_render(VERIFY_SUBJECT_ARGS);
  json_t *msgs = mail_wait(email, subject, 1, MAIL_WAIT_MS);
  json_t *msg = mail_message(jstr(json_array_get(msgs, 0), "ID"));
  const char *html = jstr(msg, "HTML");
  if (strstr(html, "<b>") || !strstr(html, "&lt;b&gt;Lan&lt;/b&gt; &amp; Co")) fprintf(stderr, "%s\n", html);
  assert_null(strstr(html, "<b>Lan"));
  assert_non_null(strstr(html, "&lt;b&gt;Lan&lt;/b&gt; &amp; Co"));
  /* The text part and the display name carry the name as it is. */
  assert_non_null(strstr(jstr(msg, "Text"), first));
  char full[64];
  snprintf(full, sizeof full, "%s Nguyen", first);
  assert_string_equal(jstr(json_array_get(json_object_get(msg, "To"), 0), "Name"), full);
  expect_well_formed(jstr(msg, "ID"), email);
  json_decref(msg);
  json_decref(msgs);
  free(subject);
}

static void test_an_address_no_server_could_take_is_failed_at_once_and_not_retried(void **state) {
  (void)state;
  /* Auth and the user service take "lan;...@metro.test"; it cannot go into an SMTP envelope. */
  const char *name = unique_name("ntbadaddr");
  char email[160];
  snprintf(email, sizeof email, "lan;%s@metro.test", name);
  http_response *r = register_account(email, name, "Lan", "Nguyen");
  if (r->status != 200) fprintf(stderr, "register -> %ld: %.300s\n", r->status, r->body);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  nt_wait_rows(email, "verify_email", "failed", 1);
  char *attempts = nt_column(email, "verify_email", "attempts::text");
  char *error = nt_column(email, "verify_email", "coalesce(last_error, '')");
  char *id = nt_column(email, "verify_email", "notification_id::text");
  assert_string_equal(attempts, "0");
  assert_true(strlen(error) > 0);
  char path[160];
  snprintf(path, sizeof path, "/v1/notifications/%s:retry", id);
  expect_error("POST", path, "{}", admin_token, 409, "NOTIFICATION_NOT_SENDABLE", NULL);
  assert_int_equal(nt_rows(email, "verify_email", "failed", NULL), 1);
  assert_int_equal(mail_addressed_count(email), 0);
  free(attempts);
  free(error);
  free(id);
}

/* ---- the admin API ---- */

static void test_admins_list_read_and_retry_notifications_and_riders_cannot(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char email[160];
  email_of(&p, email, sizeof email);
  registration_mail_sent(email);
  forgot_password(email);
  nt_wait_rows(email, "reset_password", NULL, 1);
  forgot_password(email);
  nt_wait_rows(email, NULL, "sent", 3);

  /* Pages of two, newest first, of this recipient only. */
  char path[1200], token[512] = "", ids[3][64];
  int seen = 0, pages = 0;
  do {
    snprintf(path, sizeof path, "/v1/notifications?recipient=%s&pageSize=2%s%s", email, *token ? "&pageToken=" : "",
             token);
    http_response *r = call_ok("GET", path, NULL, admin_token);
    json_t *list = json_object_get(r->json, "notifications"), *n;
    size_t i;
    assert_true(json_array_size(list) <= 2);
    json_array_foreach(list, i, n) {
      assert_string_equal(jstr(n, "recipient"), email);
      assert_string_equal(jstr(n, "channel"), "email");
      assert_string_equal(jstr(n, "status"), "sent");
      assert_true(seen < 3);
      snprintf(ids[seen++], 64, "%s", jstr(n, "notificationId"));
    }
    snprintf(token, sizeof token, "%s", json_at(r, "nextPageToken"));
    http_response_free(r);
    pages++;
  } while (*token && pages < 5);
  assert_int_equal(seen, 3);
  assert_int_equal(pages, 2);
  assert_true(strcmp(ids[0], ids[1]) && strcmp(ids[1], ids[2]) && strcmp(ids[0], ids[2]));
  char *oldest = nt_column(email, "verify_email", "notification_id::text");
  assert_string_equal(ids[2], oldest); /* the verification email came first */
  free(oldest);
  snprintf(path, sizeof path, "/v1/notifications?recipient=%s&template=reset_password", email);
  http_response *r = call_ok("GET", path, NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "notifications")), 2);
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/notifications?recipient=%s&status=failed", email);
  r = call_ok("GET", path, NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "notifications")), 0);
  http_response_free(r);

  /* One record, as sent. */
  snprintf(path, sizeof path, "/v1/notifications/%s", ids[0]);
  r = call_ok("GET", path, NULL, admin_token);
  assert_string_equal(json_at(r, "notificationId"), ids[0]);
  assert_string_equal(json_at(r, "template"), "reset_password");
  assert_string_equal(json_at(r, "eventType"), "auth.password_reset_requested");
  assert_string_equal(json_at(r, "userId"), p.user_id);
  assert_string_equal(json_at(r, "status"), "sent");
  assert_int_equal(json_int(r, "attempts"), 1);
  assert_true(strlen(json_at(r, "sentTime")) > 0);
  char *subject = tmpl_render("reset_password", "subject", NULL, 0);
  assert_string_equal(json_at(r, "subject"), subject);
  char mid[256];
  snprintf(mid, sizeof mid, "%s", json_at(r, "providerMessageId"));
  http_response_free(r);
  json_t *msgs = mail_wait(email, subject, 2, MAIL_WAIT_MS), *m;
  size_t i, found = 0;
  json_array_foreach(msgs, i, m) {
    char want[256];
    snprintf(want, sizeof want, "<%s>", jstr(m, "MessageID"));
    found += strcmp(want, mid) == 0;
  }
  assert_int_equal(found, 1);
  json_decref(msgs);

  /* A sent one is not sent again; unknown ids and bad filters are refused. */
  snprintf(path, sizeof path, "/v1/notifications/%s:retry", ids[0]);
  expect_error("POST", path, "{}", admin_token, 409, "NOTIFICATION_ALREADY_SENT", NULL);
  assert_int_equal(mail_count(email, subject), 2);
  expect_error("GET", "/v1/notifications/00000000-0000-4000-8000-000000000000", NULL, admin_token, 404,
               "NOTIFICATION_NOT_FOUND", NULL);
  expect_error("GET", "/v1/notifications/not-a-uuid", NULL, admin_token, 404, "NOTIFICATION_NOT_FOUND", NULL);
  expect_error("POST", "/v1/notifications/00000000-0000-4000-8000-000000000000:retry", "{}", admin_token, 404,
               "NOTIFICATION_NOT_FOUND", NULL);
  expect_error("GET", "/v1/notifications?status=lost", NULL, admin_token, 400, "INVALID_STATUS", "status");
  expect_error("GET", "/v1/notifications?pageToken=garbage", NULL, admin_token, 400, NULL, NULL);

  /* Riders and anonymous callers see nothing of it. */
  snprintf(path, sizeof path, "/v1/notifications?recipient=%s", email);
  expect_error("GET", path, NULL, p.access, 403, NULL, NULL);
  snprintf(path, sizeof path, "/v1/notifications/%s", ids[0]);
  expect_error("GET", path, NULL, p.access, 403, NULL, NULL);
  snprintf(path, sizeof path, "/v1/notifications/%s:retry", ids[0]);
  expect_error("POST", path, "{}", p.access, 403, NULL, NULL);
  expect_error("GET", "/v1/notifications", NULL, NULL, 401, NULL, NULL);
  free(subject);
}

/* ---- setup ---- */

static int setup(void **state) {
  (void)state;
  if (!harness_env("MAILPIT_API") || !mailpit_up()) {
    fprintf(stderr, "Mailpit does not answer at MAILPIT_API (%s): the stack starts it (scripts/mailpit.sh)\n",
            harness_env("MAILPIT_API") ? harness_env("MAILPIT_API") : "unset");
    return -1;
  }
  if (!harness_env("PROVIDER_SMS_CONTROL") || !harness_env("PROVIDER_SEPAY_CONTROL")) {
    fprintf(stderr, "the SMS and Sepay emulators are not in stack.env: start the stack with METRO_STACK_PROVIDERS=1\n");
    return -1;
  }
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", getenv("METRO_TEST_ADMIN_EMAIL"),
           getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(admin_token, sizeof admin_token, "%s", json_at(r, "accessToken"));
  http_response_free(r);
  snprintf(free_promo, sizeof free_promo, "%s", unique_name("NTFREE"));
  for (char *s = free_promo; *s; s++) *s = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
  snprintf(body, sizeof body,
           "{\"promotionCode\":\"%s\",\"name\":\"Notification tests\",\"type\":\"percentage\",\"value\":100,"
           "\"validFrom\":\"2020-01-01T00:00:00Z\",\"validUntil\":\"2099-01-01T00:00:00Z\"}",
           free_promo);
  http_response_free(call_ok("POST", "/v1/promotions", body, admin_token));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (!mailpit_up()) mailpit_back(NULL);
  return 0;
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registering_mails_a_link_that_verifies_the_account),
      cmocka_unit_test(test_a_forgotten_password_is_reset_through_the_mailed_link),
      cmocka_unit_test(test_a_free_ticket_mails_its_qr_code_inline),
      cmocka_unit_test(test_a_ticket_paid_by_transfer_mails_its_qr_code_too),
      cmocka_unit_test(test_a_pass_its_owner_activates_mails_the_pass_template),
      cmocka_unit_test_teardown(test_a_station_closure_mails_each_affected_rider_once, remove_network),
      cmocka_unit_test_teardown(test_mail_queued_while_smtp_is_down_is_sent_once_it_is_back, mailpit_back),
      cmocka_unit_test_teardown(test_mail_that_fails_every_retry_stays_failed_until_an_admin_retries_it, mailpit_back),
      cmocka_unit_test_teardown(test_a_refused_address_fails_and_an_admin_retry_sends_it, mailpit_back),
      cmocka_unit_test(test_an_event_delivered_a_hundred_times_sends_one_email),
      cmocka_unit_test(test_a_ten_kilobyte_name_still_gives_a_well_formed_email),
      cmocka_unit_test(test_line_breaks_in_a_name_cannot_add_a_recipient),
      cmocka_unit_test(test_markup_in_a_name_is_escaped_in_the_html_part),
      cmocka_unit_test(test_an_address_no_server_could_take_is_failed_at_once_and_not_retried),
      cmocka_unit_test(test_admins_list_read_and_retry_notifications_and_riders_cannot),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
