/* The outgoing HTTP layer (common/http_client) and the provider API clients (svc/payment/providers:
 * paypal_api.c, vnpay_api.c) against the real emulators of test/providers, started for this run. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/http_client.h"
#include "svc/payment/providers/provider_api.h"

/* Where the emulators call the merchant: port 9 is closed, so every callback fails at once. */
#define DEAD_MERCHANT "http://127.0.0.1:9"
#define AMOUNT_VND 50000
#define VND_PER_USD 26000

static char g_dir[] = "/tmp/metro-provider-api-XXXXXX";
static bool g_started;
static struct {
  char key[64];
  char value[512];
} g_env[48];
static size_t g_n_env;
static papi_paypal *PP;
static papi_vnpay_config VN;
static arena *A;

/* ---- Emulators ------------------------------------------------------------------------------ */

/* Runs scripts/providers.sh VERB on our directory; its output goes to DIR/providers.log. */
static int providers_sh(const char *verb, const char *extra) {
  const char *src = getenv("METRO_SOURCE_DIR");
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "bash '%s/scripts/providers.sh' %s '%s' %s >>'%s/providers.log' 2>&1", src ? src : ".",
           verb, g_dir, extra ? extra : "", g_dir);
  return system(cmd);
}

static void stop_providers(void) {
  if (!g_started) return;
  providers_sh("stop", NULL);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  g_started = false;
}

/* DIR/env: KEY=value lines. */
static bool load_env(void) {
  char path[256], line[1024];
  snprintf(path, sizeof path, "%s/env", g_dir);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  while (fgets(line, sizeof line, f) && g_n_env < sizeof g_env / sizeof g_env[0]) {
    line[strcspn(line, "\r\n")] = '\0';
    char *eq = strchr(line, '=');
    if (!eq || (size_t)(eq - line) >= sizeof g_env[0].key || strlen(eq + 1) >= sizeof g_env[0].value) continue;
    *eq = '\0';
    strcpy(g_env[g_n_env].key, line);
    strcpy(g_env[g_n_env].value, eq + 1);
    g_n_env++;
  }
  fclose(f);
  return true;
}

static const char *env(const char *key) {
  for (size_t i = 0; i < g_n_env; i++)
    if (strcmp(g_env[i].key, key) == 0) return g_env[i].value;
  return NULL;
}

static void json_free(void *v) { json_decref(v); }

/* A request to an emulator's control API {control_key}{path}. */
static bool control_send(arena *a, const char *control_key, const char *method, const char *path, const char *body,
                         httpc_response *res) {
  httpc_request req = {.method = method,
                       .url = arena_printf(a, "%s%s", env(control_key), path),
                       .headers = {"Content-Type: application/json"},
                       .body = body,
                       .body_len = body ? strlen(body) : 0,
                       .timeout_ms = 30000};
  return httpc_send(a, &req, res) && res->status == 200;
}

/* A control request that must answer 200; its JSON answer lives as long as A. */
static json_t *control(const char *control_key, const char *method, const char *path, const char *body) {
  httpc_response res;
  if (!control_send(A, control_key, method, path, body, &res))
    fail_msg("%s %s: HTTP %ld %s%s", method, path, res.status, res.body, res.error ? res.error : "");
  json_t *v = json_loadb(res.body, res.body_len, 0, NULL);
  assert_non_null(v);
  arena_defer(A, json_free, v);
  return v;
}

static int group_setup(void **state) {
  (void)state;
  if (!getenv("METRO_SOURCE_DIR") || !mkdtemp(g_dir) || !httpc_global_init()) return -1;
  g_started = true;
  if (providers_sh("start", DEAD_MERCHANT) != 0 || !load_env()) {
    fprintf(stderr, "the emulators did not start; see %s/providers.log\n", g_dir);
    return -1;
  }
  papi_paypal_config pc = {.api_base = env("METRO_PAYPAL_API_BASE"),
                           .client_id = env("METRO_PAYPAL_CLIENT_ID"),
                           .client_secret = env("METRO_PAYPAL_CLIENT_SECRET"),
                           .webhook_id = env("METRO_PAYPAL_WEBHOOK_ID"),
                           .timeout_ms = 10000};
  PP = papi_paypal_new(&pc);
  VN = (papi_vnpay_config){.api_url = env("METRO_VNPAY_API_URL"),
                           .tmn_code = env("METRO_VNPAY_TMN_CODE"),
                           .hash_secret = env("METRO_VNPAY_HASH_SECRET"),
                           .timeout_ms = 10000};
  if (!PP || !VN.api_url || !VN.tmn_code || !VN.hash_secret || !env("PROVIDER_PAYPAL_CONTROL") ||
      !env("PROVIDER_VNPAY_CONTROL"))
    return -1;
  /* The IPN target is dead: the buyer's redirect need not wait for its first attempt. */
  arena *a = arena_create(4096);
  httpc_response res;
  bool scripted = control_send(a, "PROVIDER_VNPAY_CONTROL", "POST", "/outcome",
                               "{\"txnRef\":\"*\",\"ipnBeforeReturn\":false}", &res);
  arena_destroy(a);
  return scripted ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  papi_paypal_free(PP);
  stop_providers();
  return 0;
}

static int setup(void **state) {
  (void)state;
  A = arena_create(16384);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  arena_destroy(A);
  return 0;
}

/* A name no other test (or run) has used. */
static const char *unique(const char *prefix) {
  static int seq;
  return arena_printf(A, "%s-%d-%ld-%d", prefix, (int)getpid(), (long)time(NULL), ++seq);
}

/* ---- http_client ---------------------------------------------------------------------------- */

static void test_httpc_refuses_other_schemes(void **state) {
  (void)state;
  const char *urls[] = {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "dict://127.0.0.1/",
                        "127.0.0.1:9", ""};
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    httpc_request req = {.method = "GET", .url = urls[i]};
    httpc_response res;
    assert_false(httpc_send(A, &req, &res));
    assert_int_equal(res.status, 0);
    assert_non_null(res.error);
    assert_string_equal(res.body, "");
  }
  httpc_request no_url = {.method = "GET"};
  httpc_response res;
  assert_false(httpc_send(A, &no_url, &res));
}

static void test_httpc_caps_the_answer(void **state) {
  (void)state;
  httpc_request req = {.method = "GET", .url = arena_printf(A, "%s/health", env("PROVIDER_PAYPAL_CONTROL"))};
  httpc_response res;
  assert_true(httpc_send(A, &req, &res));
  assert_int_equal(res.status, 200);
  assert_true(res.body_len > 8);
  assert_int_equal(strlen(res.body), res.body_len); /* NUL-terminated */
  size_t exact = res.body_len;

  req.max_body = exact; /* exactly the cap is fine */
  assert_true(httpc_send(A, &req, &res));
  assert_int_equal(res.body_len, exact);

  req.max_body = exact - 1;
  assert_false(httpc_send(A, &req, &res));
  assert_int_equal(res.status, 0);
  assert_string_equal(res.error, "answer too large");
}

static void test_httpc_reports_a_closed_port(void **state) {
  (void)state;
  httpc_request req = {.method = "GET", .url = DEAD_MERCHANT "/", .connect_timeout_ms = 1000};
  httpc_response res;
  assert_false(httpc_send(A, &req, &res));
  assert_int_equal(res.status, 0);
  assert_non_null(res.error);
}

/* ---- PayPal --------------------------------------------------------------------------------- */

/* AMOUNT_VND in USD cents (no assertion here: threads call it too; 0 would fail the order). */
static int64_t amount_cents(void) {
  int64_t cents = 0;
  return pay_paypal_vnd_to_cents(AMOUNT_VND, VND_PER_USD, &cents) == PAY_OK ? cents : 0;
}

static pay_paypal_order order_for(const char *payment_id) {
  return (pay_paypal_order){.payment_id = payment_id,
                            .amount_cents = amount_cents(),
                            .return_url = DEAD_MERCHANT "/v1/payments/paypal/return",
                            .cancel_url = DEAD_MERCHANT "/v1/payments/paypal/cancel",
                            .description = "Metro ticket"};
}

static void create_order(const char *payment_id, pay_paypal_created *created) {
  pay_paypal_order o = order_for(payment_id);
  papi_error err;
  assert_int_equal(papi_paypal_create_order(PP, A, &o, payment_id, created, &err), PAPI_OK);
  assert_true(created->id[0]);
  const char *prefix = arena_printf(A, "%s/checkoutnow?token=%s", env("METRO_PAYPAL_API_BASE"), created->id);
  assert_string_equal(created->approve_url, prefix);
}

/* The buyer follows the approve link; the emulator approves and redirects to return_url. */
static void approve(const pay_paypal_created *created) {
  httpc_request req = {.method = "GET", .url = created->approve_url};
  httpc_response res;
  assert_true(httpc_send(A, &req, &res));
  assert_int_equal(res.status, 302); /* not followed */
}

static void captured_order(const char *payment_id, pay_paypal_created *created, pay_paypal_capture *cap) {
  create_order(payment_id, created);
  approve(created);
  papi_error err;
  assert_int_equal(papi_paypal_capture(PP, A, created->id, unique("cap"), cap, &err), PAPI_OK);
}

/* How many token requests the PayPal emulator has seen. */
static size_t token_requests(void) {
  json_t *r = control("PROVIDER_PAYPAL_CONTROL", "GET", "/requests?path=/v1/oauth2/token", NULL);
  return json_array_size(json_object_get(r, "requests"));
}

static void test_paypal_create_approve_capture(void **state) {
  (void)state;
  const char *payment_id = unique("pay");
  pay_paypal_created created;
  pay_paypal_capture cap;
  captured_order(payment_id, &created, &cap);
  assert_string_equal(cap.order_id, created.id);
  assert_string_equal(cap.order_status, "COMPLETED");
  assert_string_equal(cap.capture_status, "COMPLETED");
  assert_true(cap.capture_id[0]);
  assert_int_equal(cap.amount_cents, amount_cents());
  assert_string_equal(cap.currency, "USD");
  assert_string_equal(cap.custom_id, payment_id);
  assert_int_equal(pay_paypal_capture_outcome(cap.capture_status), PAY_OUTCOME_COMPLETED);

  /* The create request carried the payment id as its PayPal-Request-Id. */
  json_t *reqs = json_object_get(control("PROVIDER_PAYPAL_CONTROL", "GET", "/requests?path=/v2/checkout/orders", NULL),
                                 "requests");
  bool seen = false;
  size_t i;
  json_t *r;
  json_array_foreach(reqs, i, r) {
    const char *rid = json_string_value(json_object_get(json_object_get(r, "headers"), "PayPal-Request-Id"));
    seen |= rid && strcmp(rid, payment_id) == 0;
  }
  assert_true(seen);
}

static void test_paypal_capture_again_returns_the_capture(void **state) {
  (void)state;
  pay_paypal_created created;
  pay_paypal_capture first, again;
  captured_order(unique("pay"), &created, &first);
  papi_error err;
  /* Another request id, so the emulator answers 422 ORDER_ALREADY_CAPTURED and the client reads the order. */
  assert_int_equal(papi_paypal_capture(PP, A, created.id, unique("cap"), &again, &err), PAPI_OK);
  assert_string_equal(again.capture_id, first.capture_id);
  assert_string_equal(again.capture_status, "COMPLETED");
  assert_int_equal(again.amount_cents, first.amount_cents);
  assert_string_equal(again.custom_id, first.custom_id);
}

static void test_paypal_capture_before_approval_is_rejected(void **state) {
  (void)state;
  pay_paypal_created created;
  create_order(unique("pay"), &created);
  pay_paypal_capture cap;
  papi_error err;
  assert_int_equal(papi_paypal_capture(PP, A, created.id, unique("cap"), &cap, &err), PAPI_REJECTED);
  assert_int_equal(err.http_status, 422);
  assert_string_equal(err.code, "ORDER_NOT_APPROVED");
  assert_true(err.message[0]);

  assert_int_equal(papi_paypal_capture(PP, A, "NOSUCHORDER0000", unique("cap"), &cap, &err), PAPI_REJECTED);
  assert_int_equal(err.http_status, 404);
  /* An id that cannot go into a path is not sent at all. */
  assert_int_equal(papi_paypal_capture(PP, A, "../v1/oauth2/token", unique("cap"), &cap, &err), PAPI_INVALID);
  assert_int_equal(err.http_status, 0);
}

static void test_paypal_refund_pro_rata(void **state) {
  (void)state;
  pay_paypal_created created;
  pay_paypal_capture cap;
  captured_order(unique("pay"), &created, &cap);
  int64_t cents;
  assert_int_equal(pay_paypal_prorata_refund_cents(cap.amount_cents, AMOUNT_VND, 20000, &cents), PAY_OK);
  assert_int_equal(cents, 77); /* 1.92 * 20000 / 50000 = 0.768 */

  const char *refund_rid = unique("ref");
  char refund_id[PAY_PP_ID_LEN + 1];
  bool completed;
  papi_error err;
  assert_int_equal(papi_paypal_refund(PP, A, cap.capture_id, cents, refund_rid, refund_id, &completed, &err), PAPI_OK);
  assert_true(refund_id[0]);
  assert_true(completed);

  /* What went over the wire: USD "0.77" and the request id. */
  json_t *reqs = json_object_get(
      control("PROVIDER_PAYPAL_CONTROL", "GET",
              arena_printf(A, "/requests?path=/v2/payments/captures/%s/refund", cap.capture_id), NULL),
      "requests");
  assert_int_equal(json_array_size(reqs), 1);
  json_t *sent = json_array_get(reqs, 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(sent, "headers"), "PayPal-Request-Id")),
                      refund_rid);
  json_t *body = json_loads(json_string_value(json_object_get(sent, "body")), 0, NULL);
  assert_non_null(body);
  json_t *amount = json_object_get(body, "amount");
  assert_string_equal(json_string_value(json_object_get(amount, "currency_code")), "USD");
  assert_string_equal(json_string_value(json_object_get(amount, "value")), "0.77");
  json_decref(body);

  /* The same request id answers the same refund; more than what is left is refused. */
  char again_id[PAY_PP_ID_LEN + 1];
  assert_int_equal(papi_paypal_refund(PP, A, cap.capture_id, cents, refund_rid, again_id, &completed, &err), PAPI_OK);
  assert_string_equal(again_id, refund_id);
  assert_int_equal(papi_paypal_refund(PP, A, cap.capture_id, cap.amount_cents - cents + 1, unique("ref"), again_id,
                                      &completed, &err),
                   PAPI_REJECTED);
  assert_int_equal(err.http_status, 422);
  assert_string_equal(err.code, "REFUND_AMOUNT_EXCEEDED");
  assert_int_equal(papi_paypal_refund(PP, A, cap.capture_id, 0, unique("ref"), again_id, &completed, &err),
                   PAPI_INVALID);
}

static void test_paypal_token_is_cached_and_renewed_after_revocation(void **state) {
  (void)state;
  pay_paypal_created created;
  create_order(unique("pay"), &created); /* a token is cached from here on */
  size_t before = token_requests();
  create_order(unique("pay"), &created);
  assert_int_equal(token_requests(), before); /* the cached token served */

  json_t *revoked = control("PROVIDER_PAYPAL_CONTROL", "POST", "/tokens/revoke", "{}");
  assert_true(json_integer_value(json_object_get(revoked, "revoked")) >= 1);
  create_order(unique("pay"), &created); /* 401 invalid_token, a new token, the call again */
  assert_int_equal(token_requests(), before + 1);
  create_order(unique("pay"), &created);
  assert_int_equal(token_requests(), before + 1);
}

/* Threads creating orders at once after a revocation share one new token. */
enum { N_THREADS = 4, ORDERS_PER_THREAD = 3 };

static void *create_orders(void *arg) {
  papi_result *results = arg;
  arena *a = arena_create(8192);
  for (int i = 0; i < ORDERS_PER_THREAD; i++) {
    const char *payment_id = arena_printf(a, "thr-%d-%ld-%p-%d", (int)getpid(), (long)time(NULL), arg, i);
    pay_paypal_order o = order_for(payment_id);
    pay_paypal_created created;
    papi_error err;
    results[i] = papi_paypal_create_order(PP, a, &o, payment_id, &created, &err);
  }
  arena_destroy(a);
  return NULL;
}

static void test_paypal_threads_share_one_token(void **state) {
  (void)state;
  pay_paypal_created created;
  create_order(unique("pay"), &created); /* a token is cached */
  control("PROVIDER_PAYPAL_CONTROL", "POST", "/tokens/revoke", "{}");
  size_t before = token_requests();
  pthread_t threads[N_THREADS];
  papi_result results[N_THREADS][ORDERS_PER_THREAD];
  for (int t = 0; t < N_THREADS; t++) assert_int_equal(pthread_create(&threads[t], NULL, create_orders, results[t]), 0);
  for (int t = 0; t < N_THREADS; t++) pthread_join(threads[t], NULL);
  for (int t = 0; t < N_THREADS; t++)
    for (int i = 0; i < ORDERS_PER_THREAD; i++) assert_int_equal(results[t][i], PAPI_OK);
  assert_int_equal(token_requests(), before + 1);
}

static void test_paypal_down_then_up(void **state) {
  (void)state;
  pay_paypal_created created;
  create_order(unique("pay"), &created); /* the token is cached, so the 503 hits the order */
  control("PROVIDER_PAYPAL_CONTROL", "POST", "/down", "{\"mode\":\"503\",\"count\":1}");
  const char *payment_id = unique("pay");
  pay_paypal_order o = order_for(payment_id);
  papi_error err;
  assert_int_equal(papi_paypal_create_order(PP, A, &o, payment_id, &created, &err), PAPI_UNAVAILABLE);
  assert_int_equal(err.http_status, 503);
  assert_string_equal(err.code, "SERVICE_UNAVAILABLE");
  /* The retry with the same request id goes through (a 503 is not remembered). */
  assert_int_equal(papi_paypal_create_order(PP, A, &o, payment_id, &created, &err), PAPI_OK);

  /* The token endpoint down as well: the call is unavailable, then fine. */
  control("PROVIDER_PAYPAL_CONTROL", "POST", "/tokens/revoke", "{}");
  control("PROVIDER_PAYPAL_CONTROL", "POST", "/down", "{\"mode\":\"503\",\"count\":1,\"pathPrefix\":\"/v1/oauth2/\"}");
  payment_id = unique("pay");
  o = order_for(payment_id);
  assert_int_equal(papi_paypal_create_order(PP, A, &o, payment_id, &created, &err), PAPI_UNAVAILABLE);
  assert_int_equal(err.http_status, 503);
  assert_int_equal(papi_paypal_create_order(PP, A, &o, payment_id, &created, &err), PAPI_OK);
}

static void test_paypal_bad_credentials_are_unavailable(void **state) {
  (void)state;
  papi_paypal_config pc = {.api_base = env("METRO_PAYPAL_API_BASE"),
                           .client_id = env("METRO_PAYPAL_CLIENT_ID"),
                           .client_secret = "not-the-secret",
                           .webhook_id = env("METRO_PAYPAL_WEBHOOK_ID")};
  papi_paypal *bad = papi_paypal_new(&pc);
  assert_non_null(bad);
  const char *payment_id = unique("pay");
  pay_paypal_order o = order_for(payment_id);
  pay_paypal_created created;
  papi_error err;
  assert_int_equal(papi_paypal_create_order(bad, A, &o, payment_id, &created, &err), PAPI_UNAVAILABLE);
  assert_int_equal(err.http_status, 401);
  assert_string_equal(err.code, "invalid_client");
  assert_null(strstr(err.message, "not-the-secret"));
  papi_paypal_free(bad);

  pc.client_secret = NULL;
  assert_null(papi_paypal_new(&pc));
}

/* A webhook about order_id as the emulator sent it (to the dead merchant), with its headers. */
static void sent_webhook(const char *order_id, const char *tamper, pay_paypal_transmission *t, const char **body) {
  json_t *answer = control("PROVIDER_PAYPAL_CONTROL", "POST", "/webhooks/send",
                           arena_printf(A,
                                        "{\"orderId\":\"%s\",\"eventType\":\"PAYMENT.CAPTURE.COMPLETED\","
                                        "\"retry\":false%s%s%s}",
                                        order_id, tamper ? ",\"tamper\":\"" : "", tamper ? tamper : "",
                                        tamper ? "\"" : ""));
  json_t *delivery = json_array_get(json_object_get(answer, "deliveries"), 0);
  json_t *h = json_object_get(delivery, "requestHeaders");
  *t = (pay_paypal_transmission){.auth_algo = json_string_value(json_object_get(h, "PAYPAL-AUTH-ALGO")),
                                 .cert_url = json_string_value(json_object_get(h, "PAYPAL-CERT-URL")),
                                 .transmission_id = json_string_value(json_object_get(h, "PAYPAL-TRANSMISSION-ID")),
                                 .transmission_sig = json_string_value(json_object_get(h, "PAYPAL-TRANSMISSION-SIG")),
                                 .transmission_time =
                                     json_string_value(json_object_get(h, "PAYPAL-TRANSMISSION-TIME"))};
  *body = json_string_value(json_object_get(delivery, "requestBody"));
  assert_non_null(t->transmission_sig);
  assert_non_null(*body);
}

static void test_paypal_verify_webhook(void **state) {
  (void)state;
  pay_paypal_created created;
  pay_paypal_capture cap;
  captured_order(unique("pay"), &created, &cap);
  pay_paypal_transmission t;
  const char *body;
  bool verified;
  papi_error err;

  sent_webhook(created.id, NULL, &t, &body);
  assert_int_equal(papi_paypal_verify_webhook(PP, A, &t, body, strlen(body), &verified, &err), PAPI_OK);
  assert_true(verified);

  sent_webhook(created.id, "body", &t, &body);
  assert_int_equal(papi_paypal_verify_webhook(PP, A, &t, body, strlen(body), &verified, &err), PAPI_OK);
  assert_false(verified);

  sent_webhook(created.id, "signature", &t, &body);
  assert_int_equal(papi_paypal_verify_webhook(PP, A, &t, body, strlen(body), &verified, &err), PAPI_OK);
  assert_false(verified);

  t.transmission_sig = NULL; /* a header missing: nothing is sent */
  assert_int_equal(papi_paypal_verify_webhook(PP, A, &t, body, strlen(body), &verified, &err), PAPI_INVALID);
  assert_false(verified);
  sent_webhook(created.id, NULL, &t, &body);
  assert_int_equal(papi_paypal_verify_webhook(PP, A, &t, "[1]", 3, &verified, &err), PAPI_INVALID);
}

/* ---- VNPay ---------------------------------------------------------------------------------- */

typedef struct {
  const char *txn_ref;
  int64_t created;
  char create_date[PAY_VNP_DATE_LEN + 1];
  const char *transaction_no;
} vnpay_payment;

/* A payment at the VNPay emulator: the signed URL, GET by the buyer (302 to the return URL). */
static void vnpay_pay(vnpay_payment *p) {
  p->txn_ref = unique("TXN");
  p->created = time(NULL);
  assert_true(pay_vnpay_format_time(p->created, p->create_date));
  pay_vnpay_request r = {.pay_url = env("METRO_VNPAY_PAY_URL"),
                         .tmn_code = VN.tmn_code,
                         .hash_secret = VN.hash_secret,
                         .amount_vnd = AMOUNT_VND,
                         .txn_ref = p->txn_ref,
                         .order_info = "Payment for ticket test",
                         .return_url = DEAD_MERCHANT "/v1/payments/vnpay/return",
                         .ip_addr = "127.0.0.1",
                         .create_time = p->created,
                         .expire_time = p->created + 900};
  char *url;
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_OK);
  httpc_request req = {.method = "GET", .url = url};
  httpc_response res;
  assert_true(httpc_send(A, &req, &res));
  assert_int_equal(res.status, 302);
  json_t *order = control("PROVIDER_VNPAY_CONTROL", "GET", arena_printf(A, "/orders/%s", p->txn_ref), NULL);
  assert_string_equal(json_string_value(json_object_get(order, "status")), "paid");
  p->transaction_no =
      json_string_value(json_object_get(json_object_get(order, "result"), "vnp_TransactionNo"));
  assert_non_null(p->transaction_no);
}

static pay_vnpay_refund_request refund_of(const vnpay_payment *p, int64_t amount_vnd, bool full) {
  return (pay_vnpay_refund_request){.request_id = unique("R"),
                                    .txn_ref = p->txn_ref,
                                    .transaction_no = p->transaction_no,
                                    .transaction_date = p->create_date,
                                    .create_by = "metro-payment",
                                    .ip_addr = "127.0.0.1",
                                    .order_info = "Refund for ticket test",
                                    .amount_vnd = amount_vnd,
                                    .full = full,
                                    .create_time = time(NULL)};
}

static void test_vnpay_refund_full_then_again(void **state) {
  (void)state;
  vnpay_payment p;
  vnpay_pay(&p);
  pay_vnpay_refund_request r = refund_of(&p, AMOUNT_VND, true);
  pay_vnpay_refund_answer ans;
  papi_error err;
  assert_int_equal(papi_vnpay_refund(&VN, A, &r, &ans, &err), PAPI_OK);
  assert_string_equal(ans.response_code, "00");
  assert_string_equal(ans.txn_ref, p.txn_ref);
  assert_string_equal(ans.transaction_type, "02");
  assert_string_equal(ans.transaction_status, "05");
  assert_true(ans.transaction_no[0]);

  r = refund_of(&p, AMOUNT_VND, true); /* a new request id: VNPay says it is already refunded */
  assert_int_equal(papi_vnpay_refund(&VN, A, &r, &ans, &err), PAPI_OK);
  assert_string_equal(ans.response_code, "94");
}

static void test_vnpay_refund_refusals(void **state) {
  (void)state;
  vnpay_payment p;
  vnpay_pay(&p);
  pay_vnpay_refund_answer ans;
  papi_error err;

  pay_vnpay_refund_request r = refund_of(&p, AMOUNT_VND + 1000, false); /* more than was paid */
  assert_int_equal(papi_vnpay_refund(&VN, A, &r, &ans, &err), PAPI_REJECTED);
  assert_string_equal(err.code, "03");
  assert_int_equal(err.http_status, 200);

  r = refund_of(&p, AMOUNT_VND, true);
  r.txn_ref = unique("NOSUCH"); /* no such payment */
  assert_int_equal(papi_vnpay_refund(&VN, A, &r, &ans, &err), PAPI_REJECTED);
  assert_string_equal(err.code, "91");

  r = refund_of(&p, 0, true); /* nothing is sent for a malformed request */
  assert_int_equal(papi_vnpay_refund(&VN, A, &r, &ans, &err), PAPI_INVALID);
  assert_int_equal(err.http_status, 0);

  /* VNPay's own trouble (99) is worth retrying; the partial refund then goes through. */
  control("PROVIDER_VNPAY_CONTROL", "POST", "/outcome",
          arena_printf(A, "{\"txnRef\":\"%s\",\"refundResponseCode\":\"99\"}", p.txn_ref));
  r = refund_of(&p, 20000, false);
  assert_int_equal(papi_vnpay_refund(&VN, A, &r, &ans, &err), PAPI_UNAVAILABLE);
  assert_string_equal(err.code, "99");
  control("PROVIDER_VNPAY_CONTROL", "POST", "/outcome", arena_printf(A, "{\"txnRef\":\"%s\",\"clear\":true}", p.txn_ref));
  r = refund_of(&p, 20000, false);
  assert_int_equal(papi_vnpay_refund(&VN, A, &r, &ans, &err), PAPI_OK);
  assert_string_equal(ans.response_code, "00");
  assert_string_equal(ans.transaction_type, "03");
}

static void test_vnpay_answer_signed_with_another_secret_is_invalid(void **state) {
  (void)state;
  vnpay_payment p;
  vnpay_pay(&p);
  /* Our secret is wrong: VNPay answers 97 signed with its own, which we cannot verify. */
  papi_vnpay_config wrong = VN;
  wrong.hash_secret = "WRONGSECRETWRONGSECRETWRONGSECRE";
  pay_vnpay_refund_request r = refund_of(&p, AMOUNT_VND, true);
  pay_vnpay_refund_answer ans;
  papi_error err;
  assert_int_equal(papi_vnpay_refund(&wrong, A, &r, &ans, &err), PAPI_INVALID);
  assert_int_equal(err.http_status, 200);
  assert_string_equal(ans.response_code, "");
}

static void test_vnpay_down_is_unavailable(void **state) {
  (void)state;
  vnpay_payment p;
  vnpay_pay(&p);
  control("PROVIDER_VNPAY_CONTROL", "POST", "/down", "{\"mode\":\"503\",\"count\":1}");
  pay_vnpay_refund_request r = refund_of(&p, AMOUNT_VND, true);
  pay_vnpay_refund_answer ans;
  papi_error err;
  assert_int_equal(papi_vnpay_refund(&VN, A, &r, &ans, &err), PAPI_UNAVAILABLE);
  assert_int_equal(err.http_status, 503);
  r = refund_of(&p, AMOUNT_VND, true);
  assert_int_equal(papi_vnpay_refund(&VN, A, &r, &ans, &err), PAPI_OK);
  assert_string_equal(ans.response_code, "00");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_httpc_refuses_other_schemes),
      T(test_httpc_caps_the_answer),
      T(test_httpc_reports_a_closed_port),
      T(test_paypal_create_approve_capture),
      T(test_paypal_capture_again_returns_the_capture),
      T(test_paypal_capture_before_approval_is_rejected),
      T(test_paypal_refund_pro_rata),
      T(test_paypal_token_is_cached_and_renewed_after_revocation),
      T(test_paypal_threads_share_one_token),
      T(test_paypal_down_then_up),
      T(test_paypal_bad_credentials_are_unavailable),
      T(test_paypal_verify_webhook),
      T(test_vnpay_refund_full_then_again),
      T(test_vnpay_refund_refusals),
      T(test_vnpay_answer_signed_with_another_secret_is_invalid),
      T(test_vnpay_down_is_unavailable),
  };
  int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
  stop_providers(); /* when the group setup failed half-way */
  return failed;
}
