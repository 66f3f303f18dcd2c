/* Helpers the payment integration tests share (see payments.h): purchases with their pay link,
 * bounded polling of JSON fields, the provider emulators' control APIs and outbox counts. */
#include "payments.h"

#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define POLL_MS 100

void buy_ticket(const rider *p, const char *method, purchase *out) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
           "\"passengers\":{\"adult\":1},\"paymentMethod\":\"%s\"}",
           method);
  http_response *r = call_ok("POST", "/v1/tickets", body, p->access);
  assert_string_equal(json_at(r, "status"), "pending_payment");
  memset(out, 0, sizeof *out);
  snprintf(out->ticket_id, sizeof out->ticket_id, "%s", json_at(r, "ticketId"));
  out->amount = json_int(r, "totalPrice");
  http_response_free(r);
  assert_true(out->amount > 0);
}

void buy_with(const rider *p, const char *method, purchase *out) {
  buy_ticket(p, method, out);
  long total = out->amount;
  wait_payment_link(p, method, out, PAYMENTS_WAIT_MS);
  assert_int_equal(out->amount, total);
}

static const char *link_field(const char *method) {
  return strcmp(method, "vnpay") == 0 ? "paymentUrl" : strcmp(method, "paypal") == 0 ? "approveUrl" : "qrImageUrl";
}

void wait_payment_link(const rider *p, const char *method, purchase *out, int wait_ms) {
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s/payment", out->ticket_id);
  long last = 0;
  for (int waited = 0; waited <= wait_ms; waited += POLL_MS) {
    http_response *r = http_call("GET", path, NULL, p->access);
    last = r->status;
    if (r->status == 200 && *json_at(r, link_field(method))) {
      assert_string_equal(json_at(r, "status"), "PENDING");
      assert_string_equal(json_at(r, "method"), method);
      assert_string_equal(json_at(r, "ticketId"), out->ticket_id);
      assert_true(strlen(json_at(r, "expiresAt")) > 0);
      snprintf(out->payment_id, sizeof out->payment_id, "%s", json_at(r, "paymentId"));
      snprintf(out->provider_ref, sizeof out->provider_ref, "%s", json_at(r, "providerRef"));
      snprintf(out->link, sizeof out->link, "%s", json_at(r, link_field(method)));
      out->amount = json_int(r, "amount");
      http_response_free(r);
      assert_true(*out->payment_id && *out->provider_ref);
      return;
    }
    if (r->status != 200 && r->status != 404) fprintf(stderr, "GET %s -> %ld: %s\n", path, r->status, r->body);
    http_response_free(r);
    sleep_ms(POLL_MS);
  }
  fprintf(stderr, "ticket %s: no %s payment link after %d ms (last answer %ld)\n", out->ticket_id, method, wait_ms,
          last);
  fail();
}

/* The JSON value at a dotted path as text: strings as they are, numbers and booleans printed. */
static const char *field_text(const http_response *r, const char *field, char *buf, size_t cap) {
  json_t *cur = r->json;
  char path[256];
  snprintf(path, sizeof path, "%s", field);
  char *save = NULL;
  for (char *seg = strtok_r(path, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save))
    cur = json_object_get(cur, seg);
  if (json_is_string(cur)) snprintf(buf, cap, "%s", json_string_value(cur));
  else if (json_is_integer(cur)) snprintf(buf, cap, "%lld", (long long)json_integer_value(cur));
  else if (json_is_boolean(cur)) snprintf(buf, cap, "%s", json_is_true(cur) ? "true" : "false");
  else buf[0] = '\0';
  return buf;
}

http_response *wait_field(const char *path, const char *bearer, const char *field, const char *want, int wait_ms) {
  char last[256] = "";
  long status = 0;
  for (int waited = 0;; waited += POLL_MS) {
    http_response *r = http_call("GET", path, NULL, bearer);
    status = r->status;
    if (r->status == 200 && strcmp(field_text(r, field, last, sizeof last), want) == 0) return r;
    if (waited >= wait_ms) {
      fprintf(stderr, "GET %s: %s stayed \"%s\" (HTTP %ld), expected \"%s\" within %d ms: %.600s\n", path, field,
              last, status, want, wait_ms, r->body);
      http_response_free(r);
      fail();
    }
    http_response_free(r);
    sleep_ms(POLL_MS);
  }
}

http_response *admin_payment(const char *admin, const char *payment_id) {
  char path[160];
  snprintf(path, sizeof path, "/v1/payments/%s", payment_id);
  return call_ok("GET", path, NULL, admin);
}

http_response *wait_payment_status(const char *admin, const char *payment_id, const char *want) {
  char path[160];
  snprintf(path, sizeof path, "/v1/payments/%s", payment_id);
  return wait_field(path, admin, "status", want, PAYMENTS_WAIT_MS);
}

void wait_ticket_status(const rider *p, const char *ticket_id, const char *want) {
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s", ticket_id);
  http_response_free(wait_field(path, p->access, "status", want, PAYMENTS_WAIT_MS));
}

static const char *control_base(const char *provider) {
  char key[64];
  snprintf(key, sizeof key, "PROVIDER_%s_CONTROL", strcmp(provider, "vnpay") == 0    ? "VNPAY"
                                                   : strcmp(provider, "paypal") == 0 ? "PAYPAL"
                                                                                     : "SEPAY");
  const char *base = harness_env(key);
  if (!base) {
    fprintf(stderr, "%s is not in the stack's environment: was the stack started with METRO_STACK_PROVIDERS=1?\n", key);
    fail();
  }
  return base;
}

http_response *provider_call(const char *provider, const char *method, const char *path, const char *body) {
  return http_call_at(control_base(provider), method, path, body, NULL, NULL);
}

http_response *provider_ok(const char *provider, const char *method, const char *path, const char *body) {
  http_response *r = provider_call(provider, method, path, body);
  if (r->status != 200)
    fprintf(stderr, "%s %s/_control%s %s -> %ld: %.600s\n", method, provider, path, body ? body : "", r->status,
            r->body);
  assert_int_equal(r->status, 200);
  assert_non_null(r->json);
  return r;
}

void providers_up(void) {
  static const char *const all[] = {"vnpay", "paypal", "sepay"};
  for (size_t i = 0; i < 3; i++) http_response_free(provider_call(all[i], "POST", "/down", "{\"mode\":\"up\"}"));
}

static size_t discard(char *p, size_t size, size_t n, void *user) {
  (void)p;
  (void)user;
  return size * n;
}

long browse(const char *url, char *location, size_t cap) {
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  long status = -1;
  if (location && cap) location[0] = '\0';
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    char *redirect = NULL;
    if (location && cap && curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect)
      snprintf(location, cap, "%s", redirect);
  }
  curl_easy_cleanup(c);
  return status;
}

const char *first_answer(json_t *delivery, const char *key) {
  json_t *first = json_array_get(json_object_get(delivery, "attempts"), 0);
  const char *v = json_string_value(json_object_get(json_object_get(first, "json"), key));
  return v ? v : "";
}

long outbox_count(const char *schema, const char *type, const char *key) {
  char query[256];
  snprintf(query, sizeof query, "SELECT count(*) FROM %s.outbox WHERE event_type = '%s' AND event_key = $1", schema,
           type);
  return sql_count(query, key);
}

void wait_consumed(const char *producer, const char *type, const char *key, const char *consumer) {
  char query[512];
  snprintf(query, sizeof query,
           "SELECT count(*) FROM %s.outbox o WHERE o.event_type = '%s' AND o.event_key = $1 AND NOT EXISTS "
           "(SELECT 1 FROM %s.processed_events e WHERE e.event_id = o.event_id)",
           producer, type, consumer);
  long left = 0;
  for (int waited = 0; waited <= PAYMENTS_WAIT_MS; waited += POLL_MS) {
    if ((left = sql_count(query, key)) == 0) return;
    sleep_ms(POLL_MS);
  }
  fprintf(stderr, "%ld %s event(s) for %s not applied by %s within %d ms\n", left, type, key, consumer,
          PAYMENTS_WAIT_MS);
  fail();
}
