/* Payments and provider callbacks end to end (domain spec §9, §12): VNPay, PayPal and Sepay
 * through their emulators, review, late payment, refunds and retries, replays, a crash, admin. */
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/crypto.h"
#include "common/identity.h"
#include "common/rpc_client.h"
#include "harness.h"
#include "metro/ticket/v1/ticket.pb-c.h"
#include "payments.h"
#include "ticketing.h"

#define RESTART_WAIT_MS 60000 /* a restarted service rejoins its consumer group (Kafka: a rebalance) */

static char admin_token[2048];

/* ---- helpers ---- */

static bool one_of(const char *v, const char *a, const char *b) { return strcmp(v, a) == 0 || strcmp(v, b) == 0; }

static bool member_true(const http_response *r, const char *key) { return json_is_true(json_object_get(r->json, key)); }

static void expect_counts(const purchase *b, long completed, long activated) {
  assert_int_equal(outbox_count("payment", "payment.completed", b->ticket_id), completed);
  assert_int_equal(outbox_count("ticket", "ticket.activated", b->ticket_id), activated);
}

static http_response *cancel_ticket(const rider *p, const purchase *b) {
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s:cancel", b->ticket_id);
  http_response *r = call_ok("POST", path, "{}", p->access);
  assert_string_equal(json_at(r, "status"), "cancelled");
  return r;
}

static void expect_code(const rider *p, const purchase *b) {
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s/code", b->ticket_id);
  http_response *r = call_ok("GET", path, NULL, p->access);
  assert_true(strlen(json_at(r, "code")) > 0);
  http_response_free(r);
}

/* ---- VNPay: the emulator's buyer and IPN ---- */

static void vnpay_script(const char *txn_ref, const char *fields) {
  char body[512];
  snprintf(body, sizeof body, "{\"txnRef\":\"%s\"%s%s}", txn_ref, fields ? "," : "", fields ? fields : "");
  http_response_free(provider_ok("vnpay", "POST", "/outcome", body));
}

/* The buyer opens the payment link; VNPay sends the browser back to the return URL (302). */
static void vnpay_buyer(const purchase *b, char *ret, size_t cap) {
  long st = browse(b->link, ret, cap);
  if (st != 302) fprintf(stderr, "GET %s -> %ld\n", b->link, st);
  assert_int_equal(st, 302);
  assert_non_null(strstr(ret, "/v1/payments/vnpay/return?"));
}

/* The RspCode the merchant gave the first attempt of the order's first IPN. */
static const char *first_ipn_answer(const purchase *b, char *code, size_t cap) {
  char path[256];
  snprintf(path, sizeof path, "/deliveries?kind=ipn&key=%s", b->provider_ref);
  http_response *r = provider_ok("vnpay", "GET", path, NULL);
  json_t *first = json_array_get(json_object_get(r->json, "deliveries"), 0);
  assert_non_null(first);
  snprintf(code, cap, "%s", first_answer(first, "RspCode"));
  http_response_free(r);
  return code;
}

/* The first IPN was answered a or b (acknowledged with 00 or 02; 04 for a wrong amount...). */
static void expect_ipn_answer(const purchase *b, const char *a, const char *b2) {
  char code[16];
  first_ipn_answer(b, code, sizeof code);
  if (!one_of(code, a, b2)) fprintf(stderr, "first IPN of %s answered \"%s\"\n", b->provider_ref, code);
  assert_true(one_of(code, a, b2));
}

/* Every delivery of a control answer ({"deliveries": [...]}) got RspCode a or b first. */
static void expect_ipn_answers(const http_response *r, size_t n, const char *a, const char *b) {
  json_t *ds = json_object_get(r->json, "deliveries");
  assert_int_equal(json_array_size(ds), n);
  for (size_t i = 0; i < n; i++) {
    const char *code = first_answer(json_array_get(ds, i), "RspCode");
    if (!one_of(code, a, b)) fprintf(stderr, "IPN %zu answered \"%s\": %.600s\n", i, code, r->body);
    assert_true(one_of(code, a, b));
  }
}

/* A paid VNPay ticket: bought, paid at the emulator, payment COMPLETED and ticket active. */
static void pay_vnpay(const rider *p, purchase *b, char *ret, size_t cap) {
  buy_with(p, "vnpay", b);
  vnpay_buyer(b, ret, cap);
  expect_ipn_answer(b, "00", "02");
  http_response_free(wait_payment_status(admin_token, b->payment_id, "COMPLETED"));
  wait_ticket_status(p, b->ticket_id, "active");
}

/* An IPN signed with the merchant's secret for an order that does not exist. */
static http_response *signed_ipn_for_unknown_order(void) {
  const char *secret = harness_env("METRO_VNPAY_HASH_SECRET"), *tmn = harness_env("METRO_VNPAY_TMN_CODE");
  assert_non_null(secret);
  assert_non_null(tmn);
  uint8_t nonce[16];
  crypto_random_bytes(nonce, sizeof nonce);
  char txn[33], data[1024], hash[2 * CRYPTO_SHA512_LEN + 1], path[2048];
  crypto_hex(nonce, sizeof nonce, txn);
  /* Sorted by key, values that need no form encoding. */
  snprintf(data, sizeof data,
           "vnp_Amount=1000000&vnp_BankCode=NCB&vnp_CardType=ATM&vnp_OrderInfo=Unknown&vnp_PayDate=20260115103000&"
           "vnp_ResponseCode=00&vnp_TmnCode=%s&vnp_TransactionNo=14999999&vnp_TransactionStatus=00&vnp_TxnRef=%s",
           tmn, txn);
  crypto_hmac_sha512_hex(secret, strlen(secret), data, strlen(data), hash);
  snprintf(path, sizeof path, "/v1/webhooks/vnpay/ipn?%s&vnp_SecureHash=%s", data, hash);
  return http_call("GET", path, NULL, NULL);
}

/* ---- PayPal ---- */

static void paypal_script(const char *order_id, const char *fields) {
  char body[512];
  snprintf(body, sizeof body, "{\"orderId\":\"%s\",%s}", order_id, fields);
  http_response_free(provider_ok("paypal", "POST", "/outcome", body));
}

/* The buyer at the approve link: 302 back to the merchant (approved or cancelled). */
static void paypal_buyer(const purchase *b) {
  char location[4096];
  long st = browse(b->link, location, sizeof location);
  if (st != 302) fprintf(stderr, "GET %s -> %ld\n", b->link, st);
  assert_int_equal(st, 302);
  assert_non_null(strstr(location, b->provider_ref));
}

static http_response *paypal_capture(const rider *p, const purchase *b) {
  char path[160];
  snprintf(path, sizeof path, "/v1/payments/paypal/%s:capture", b->payment_id);
  return http_call("POST", path, "{}", p->access);
}

/* Waits until the emulator sent a webhook of event_type about the order and got a first answer;
 * returns that answer's HTTP status. */
static long paypal_webhook_answered(const char *order_id, const char *event_type) {
  for (int waited = 0; waited <= PAYMENTS_WAIT_MS; waited += 100) {
    http_response *r = provider_ok("paypal", "GET", "/deliveries?kind=webhook", NULL);
    json_t *ds = json_object_get(r->json, "deliveries"), *d;
    size_t i;
    json_array_foreach(ds, i, d) {
      const char *type = json_string_value(json_object_get(d, "eventType"));
      const char *body = json_string_value(json_object_get(d, "requestBody"));
      json_t *first = json_array_get(json_object_get(d, "attempts"), 0);
      if (type && body && first && strcmp(type, event_type) == 0 && strstr(body, order_id)) {
        long status = (long)json_integer_value(json_object_get(first, "status"));
        http_response_free(r);
        return status;
      }
    }
    http_response_free(r);
    sleep_ms(100);
  }
  fprintf(stderr, "PayPal never sent %s for order %s\n", event_type, order_id);
  fail();
  return 0;
}

/* The id of the order's first capture at the emulator. */
static void paypal_capture_id(const char *order_id, char *out, size_t cap) {
  char path[160];
  snprintf(path, sizeof path, "/orders/%s", order_id);
  http_response *r = provider_ok("paypal", "GET", path, NULL);
  json_t *unit = json_array_get(json_object_get(r->json, "purchase_units"), 0);
  json_t *capture = json_array_get(json_object_get(json_object_get(unit, "payments"), "captures"), 0);
  const char *id = json_string_value(json_object_get(capture, "id"));
  assert_non_null(id);
  snprintf(out, cap, "%s", id);
  http_response_free(r);
}

static void pay_paypal(const rider *p, purchase *b) {
  buy_with(p, "paypal", b);
  paypal_buyer(b);
  http_response *r = paypal_capture(p, b);
  if (r->status != 200) fprintf(stderr, "capture %s -> %ld: %s\n", b->payment_id, r->status, r->body);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), "COMPLETED");
  http_response_free(r);
  wait_ticket_status(p, b->ticket_id, "active");
}

/* ---- Sepay ---- */

/* A transfer to the account naming the ticket; extra: more JSON members for the emulator. */
static http_response *sepay_transfer(const char *ticket_id, long amount, const char *extra) {
  char body[1024];
  snprintf(body, sizeof body, "{\"content\":\"Payment for ticket %s\",\"transferAmount\":%ld%s%s}", ticket_id, amount,
           extra ? "," : "", extra ? extra : "");
  return provider_ok("sepay", "POST", "/transfer", body);
}

static long delivery_status(json_t *d) {
  return (long)json_integer_value(json_object_get(json_array_get(json_object_get(d, "attempts"), 0), "status"));
}

/* Every delivery of a Sepay control answer was answered `status` first (200 with success:true). */
static void expect_sepay_answers(const http_response *r, size_t n, long status) {
  json_t *ds = json_object_get(r->json, "deliveries");
  assert_int_equal(json_array_size(ds), n);
  for (size_t i = 0; i < n; i++) {
    json_t *d = json_array_get(ds, i);
    if (delivery_status(d) != status) fprintf(stderr, "Sepay delivery %zu: %.600s\n", i, r->body);
    assert_int_equal(delivery_status(d), status);
    json_t *answer = json_object_get(json_array_get(json_object_get(d, "attempts"), 0), "json");
    if (status == 200) assert_true(json_is_true(json_object_get(answer, "success")));
  }
}

static void transfer_id_of(const http_response *r, char *out, size_t cap) {
  json_t *id = json_object_get(json_object_get(r->json, "transfer"), "id");
  assert_true(json_is_integer(id));
  snprintf(out, cap, "%lld", (long long)json_integer_value(id));
}

static void pay_sepay(const rider *p, purchase *b) {
  buy_with(p, "sepay", b);
  http_response *r = sepay_transfer(b->ticket_id, b->amount, NULL);
  expect_sepay_answers(r, 1, 200);
  http_response_free(r);
  http_response_free(wait_payment_status(admin_token, b->payment_id, "COMPLETED"));
  wait_ticket_status(p, b->ticket_id, "active");
}

/* The payment service's gRPC port (from METRO_PAYMENT_GRPC). */
static int payment_port(void) {
  const char *addr = harness_env("METRO_PAYMENT_GRPC");
  assert_non_null(addr);
  const char *colon = strrchr(addr, ':');
  assert_non_null(colon);
  return atoi(colon + 1);
}

static int read_pid(const char *path) {
  FILE *f = fopen(path, "r");
  int pid = 0;
  if (f) {
    if (fscanf(f, "%d", &pid) != 1) pid = 0;
    fclose(f);
  }
  return pid;
}

/* Starts the payment service again the way scripts/stack.sh did (DIR/run/payment.sh), detached
 * (its own session, no inherited output), so it outlives this test and the stack stops it. */
static void restart_payment(void) {
  char script[1024];
  snprintf(script, sizeof script, "%s/run/payment.sh", harness_env("METRO_STACK_DIR"));
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    if (fork() != 0) _exit(0);
    setsid();
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execl("/bin/bash", "bash", script, (char *)NULL);
    _exit(127);
  }
  waitpid(child, NULL, 0);
  assert_true(wait_port(payment_port(), 30000));
}

/* ---- setup ---- */

static int setup(void **state) {
  (void)state;
  static const char *const providers[] = {"vnpay", "paypal", "sepay"};
  for (size_t i = 0; i < 3; i++) {
    http_response *r = provider_call(providers[i], "GET", "/health", NULL);
    if (r->status != 200) {
      fprintf(stderr, "the %s emulator does not answer (%ld): start the stack with METRO_STACK_PROVIDERS=1\n",
              providers[i], r->status);
      return -1;
    }
    http_response_free(r);
  }
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", getenv("METRO_TEST_ADMIN_EMAIL"),
           getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(admin_token, sizeof admin_token, "%s", json_at(r, "accessToken"));
  http_response_free(r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rpc_client_shutdown();
  return 0;
}

/* After a test that takes a provider down: up again, whatever happened. */
static int providers_back_up(void **state) {
  (void)state;
  providers_up();
  return 0;
}

/* After the crash test: the payment service runs again, whatever happened. */
static int payment_running(void **state) {
  (void)state;
  if (!wait_port(payment_port(), 0)) restart_payment();
  return 0;
}

/* ---- VNPay ---- */

static void test_a_vnpay_payment_activates_the_ticket(void **state) {
  (void)state;
  rider p, other;
  new_rider(&p);
  new_rider(&other);
  purchase b;
  buy_with(&p, "vnpay", &b);
  /* The link is VNPay's signed page for exactly this order: TxnRef = paymentId without dashes,
   * vnp_Amount = amount x 100. */
  char ref[64] = "", *o = ref;
  for (const char *s = b.payment_id; *s; s++)
    if (*s != '-') *o++ = *s;
  assert_string_equal(b.provider_ref, ref);
  assert_true(strncmp(b.link, harness_env("METRO_VNPAY_PAY_URL"), strlen(harness_env("METRO_VNPAY_PAY_URL"))) == 0);
  char want[128];
  snprintf(want, sizeof want, "vnp_TxnRef=%s", ref);
  assert_non_null(strstr(b.link, want));
  snprintf(want, sizeof want, "vnp_Amount=%ld&", b.amount * 100);
  assert_non_null(strstr(b.link, want));
  /* Someone else's ticket has no payment to see. */
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s/payment", b.ticket_id);
  expect_error("GET", path, NULL, other.access, 404, NULL, NULL);

  char ret[4096];
  vnpay_buyer(&b, ret, sizeof ret);
  expect_ipn_answer(&b, "00", "02");
  http_response *r = wait_payment_status(admin_token, b.payment_id, "COMPLETED");
  assert_true(strlen(json_at(r, "providerTransactionId")) > 0);
  assert_false(member_true(r, "reviewRequired"));
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "active");
  expect_code(&p, &b);
  r = call_ok("GET", path, NULL, p.access);
  assert_string_equal(json_at(r, "status"), "COMPLETED");
  http_response_free(r);

  /* The return page shows the verified result; a tampered one is refused. */
  r = http_call_at(ret, "GET", "", NULL, NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_true(member_true(r, "verified"));
  assert_string_equal(json_at(r, "outcome"), "completed");
  assert_string_equal(json_at(r, "paymentStatus"), "COMPLETED");
  assert_string_equal(json_at(r, "paymentId"), b.payment_id);
  http_response_free(r);
  char *code = strstr(ret, "vnp_ResponseCode=00");
  assert_non_null(code);
  memcpy(code + strlen("vnp_ResponseCode="), "24", 2);
  r = http_call_at(ret, "GET", "", NULL, NULL, NULL);
  assert_int_equal(r->status, 400);
  assert_false(member_true(r, "verified"));
  http_response_free(r);
  expect_counts(&b, 1, 1);
}

/* §12.1: the IPN that confirms a payment is answered 00 ("Confirm Success"); only a copy of an
 * IPN already confirmed gets 02. Twenty payments, so that a race between the inline answer and the
 * webhook.received copy of the same callback (which then makes the inline one a duplicate) shows. */
static void test_the_ipn_that_confirms_a_payment_is_answered_00(void **state) {
  (void)state;
  enum { N = 20 };
  rider p;
  new_rider(&p);
  int wrong = 0;
  for (int i = 0; i < N; i++) {
    purchase b;
    char ret[4096], code[16];
    buy_with(&p, "vnpay", &b);
    vnpay_buyer(&b, ret, sizeof ret);
    if (strcmp(first_ipn_answer(&b, code, sizeof code), "00") != 0) {
      fprintf(stderr, "payment %s: the IPN that confirmed it was answered \"%s\"\n", b.payment_id, code);
      wrong++;
    }
    http_response_free(wait_payment_status(admin_token, b.payment_id, "COMPLETED"));
  }
  assert_int_equal(wrong, 0);
}

static void test_the_vnpay_return_page_never_changes_a_payment(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "vnpay", &b);
  /* The buyer pays, but the IPN is held back (10 minutes): only the browser comes back. */
  vnpay_script(b.provider_ref, "\"ipnDelayMs\":600000");
  char ret[4096];
  vnpay_buyer(&b, ret, sizeof ret);
  for (int i = 0; i < 3; i++) {
    http_response *r = http_call_at(ret, "GET", "", NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(member_true(r, "verified"));
    assert_string_equal(json_at(r, "outcome"), "completed");
    assert_string_equal(json_at(r, "paymentStatus"), "PENDING");
    http_response_free(r);
  }
  http_response *r = admin_payment(admin_token, b.payment_id);
  assert_string_equal(json_at(r, "status"), "PENDING");
  http_response_free(r);
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s", b.ticket_id);
  r = call_ok("GET", path, NULL, p.access);
  assert_string_equal(json_at(r, "status"), "pending_payment");
  http_response_free(r);
  expect_counts(&b, 0, 0);
  /* The IPN is what completes it. */
  char body[256];
  snprintf(body, sizeof body, "{\"txnRef\":\"%s\",\"retry\":false}", b.provider_ref);
  r = provider_ok("vnpay", "POST", "/ipn/replay", body);
  expect_ipn_answers(r, 1, "00", "02");
  http_response_free(r);
  http_response_free(wait_payment_status(admin_token, b.payment_id, "COMPLETED"));
  r = http_call_at(ret, "GET", "", NULL, NULL, NULL);
  assert_string_equal(json_at(r, "paymentStatus"), "COMPLETED");
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "active");
  expect_counts(&b, 1, 1);
}

static void test_a_vnpay_ipn_with_a_bad_checksum_changes_nothing(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "vnpay", &b);
  vnpay_script(b.provider_ref, "\"ipnDelayMs\":600000");
  char ret[4096], body[256];
  vnpay_buyer(&b, ret, sizeof ret);
  static const char *const tampers[] = {"hash", "amount"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(body, sizeof body, "{\"txnRef\":\"%s\",\"tamper\":\"%s\",\"retry\":false}", b.provider_ref, tampers[i]);
    http_response *r = provider_ok("vnpay", "POST", "/ipn/replay", body);
    expect_ipn_answers(r, 1, "97", "97");
    http_response_free(r);
  }
  /* A correctly signed IPN for an order nobody created: 01. */
  http_response *r = signed_ipn_for_unknown_order();
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "RspCode"), "01");
  http_response_free(r);
  r = admin_payment(admin_token, b.payment_id);
  assert_string_equal(json_at(r, "status"), "PENDING");
  http_response_free(r);
  assert_int_equal(sql_count("SELECT count(*) FROM webhook.callbacks WHERE provider = 'vnpay' AND payment_ref = $1",
                             b.provider_ref),
                   0);
  expect_counts(&b, 0, 0);
  /* The genuine IPN still goes through. */
  snprintf(body, sizeof body, "{\"txnRef\":\"%s\",\"retry\":false}", b.provider_ref);
  r = provider_ok("vnpay", "POST", "/ipn/replay", body);
  expect_ipn_answers(r, 1, "00", "02");
  http_response_free(r);
  http_response_free(wait_payment_status(admin_token, b.payment_id, "COMPLETED"));
  wait_ticket_status(&p, b.ticket_id, "active");
}

static void test_a_vnpay_buyer_who_cancels_cancels_the_ticket(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "vnpay", &b);
  vnpay_script(b.provider_ref, "\"responseCode\":\"24\"");
  char ret[4096];
  vnpay_buyer(&b, ret, sizeof ret);
  expect_ipn_answer(&b, "00", "02");
  http_response_free(wait_payment_status(admin_token, b.payment_id, "CANCELLED"));
  wait_ticket_status(&p, b.ticket_id, "cancelled");
  http_response *r = http_call_at(ret, "GET", "", NULL, NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "outcome"), "cancelled");
  assert_string_equal(json_at(r, "paymentStatus"), "CANCELLED");
  http_response_free(r);
  assert_int_equal(outbox_count("payment", "payment.cancelled", b.ticket_id), 1);
  expect_counts(&b, 0, 0);
}

static void test_a_vnpay_bank_refusal_fails_the_payment(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "vnpay", &b);
  vnpay_script(b.provider_ref, "\"responseCode\":\"51\"");
  char ret[4096];
  vnpay_buyer(&b, ret, sizeof ret);
  expect_ipn_answer(&b, "00", "02");
  http_response *r = wait_payment_status(admin_token, b.payment_id, "FAILED");
  assert_true(strlen(json_at(r, "failureReason")) > 0);
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "cancelled");
  assert_int_equal(outbox_count("payment", "payment.failed", b.ticket_id), 1);
  expect_counts(&b, 0, 0);
}

static void test_a_wrong_vnpay_amount_is_kept_for_review(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "vnpay", &b);
  char fields[128];
  snprintf(fields, sizeof fields, "\"amountOverride\":\"%ld\"", (b.amount - 1000) * 100);
  vnpay_script(b.provider_ref, fields);
  char ret[4096];
  vnpay_buyer(&b, ret, sizeof ret);
  expect_ipn_answer(&b, "04", "04");
  char path[160];
  snprintf(path, sizeof path, "/v1/payments/%s", b.payment_id);
  http_response *r = wait_field(path, admin_token, "reviewRequired", "true", PAYMENTS_WAIT_MS);
  assert_string_equal(json_at(r, "status"), "PENDING");
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/tickets/%s", b.ticket_id);
  r = call_ok("GET", path, NULL, p.access);
  assert_string_equal(json_at(r, "status"), "pending_payment");
  http_response_free(r);
  expect_counts(&b, 0, 0);
}

static void test_a_suspicious_vnpay_payment_completes_for_review(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "vnpay", &b);
  vnpay_script(b.provider_ref, "\"responseCode\":\"07\"");
  char ret[4096];
  vnpay_buyer(&b, ret, sizeof ret);
  expect_ipn_answer(&b, "00", "02");
  http_response *r = wait_payment_status(admin_token, b.payment_id, "COMPLETED");
  assert_true(member_true(r, "reviewRequired"));
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "active");
  assert_true(sql_count("SELECT count(*) FROM payment.admin_alerts WHERE payment_id = $1::uuid", b.payment_id) >= 1);
  expect_counts(&b, 1, 1);
}

static void test_a_late_vnpay_payment_is_refunded_and_never_activates(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "vnpay", &b);
  /* The buyer opens the page and walks away; the deadline passes. */
  vnpay_script(b.provider_ref, "\"abandon\":true");
  char page[4096];
  assert_int_equal(browse(b.link, page, sizeof page), 200);
  sql_exec("UPDATE ticket.tickets SET payment_deadline = now() - interval '1 minute' WHERE ticket_id = $1::uuid "
           "RETURNING 1",
           b.ticket_id);
  assert_true(run_ticket_job("ExpireUnpaid") >= 1);
  wait_ticket_status(&p, b.ticket_id, "expired");
  http_response_free(wait_payment_status(admin_token, b.payment_id, "CANCELLED"));
  /* Then pays after all: the money goes back, the ticket stays expired. */
  char body[256];
  snprintf(body, sizeof body, "{\"txnRef\":\"%s\",\"responseCode\":\"00\"}", b.provider_ref);
  http_response *r = provider_ok("vnpay", "POST", "/pay", body);
  expect_ipn_answers(r, 1, "00", "02");
  http_response_free(r);
  r = wait_payment_status(admin_token, b.payment_id, "REFUNDED");
  assert_string_equal(json_at(r, "refundReason"), "late_payment");
  assert_int_equal(json_int(r, "refundAmount"), b.amount);
  http_response_free(r);
  char path[160];
  snprintf(path, sizeof path, "/orders/%s", b.provider_ref);
  r = provider_ok("vnpay", "GET", path, NULL);
  json_t *refunds = json_object_get(r->json, "refunds");
  assert_int_equal(json_array_size(refunds), 1);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(refunds, 0), "amount")), b.amount * 100);
  http_response_free(r);
  assert_int_equal(outbox_count("payment", "payment.refunded", b.ticket_id), 1);
  wait_consumed("payment", "payment.refunded", b.ticket_id, "ticket");
  snprintf(path, sizeof path, "/v1/tickets/%s", b.ticket_id);
  r = call_ok("GET", path, NULL, p.access);
  assert_string_equal(json_at(r, "status"), "expired");
  http_response_free(r);
  expect_counts(&b, 0, 0);
}

static void test_cancelling_a_paid_vnpay_ticket_refunds_it_through_vnpay(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  char ret[4096];
  pay_vnpay(&p, &b, ret, sizeof ret);
  http_response *r = cancel_ticket(&p, &b);
  assert_int_equal(json_int(r, "refundAmount"), b.amount);
  http_response_free(r);
  r = wait_payment_status(admin_token, b.payment_id, "REFUNDED");
  assert_int_equal(json_int(r, "refundAmount"), b.amount);
  assert_string_equal(json_at(r, "refundReason"), "cancellation");
  http_response_free(r);
  char path[160];
  snprintf(path, sizeof path, "/orders/%s", b.provider_ref);
  r = provider_ok("vnpay", "GET", path, NULL);
  json_t *refunds = json_object_get(r->json, "refunds");
  assert_int_equal(json_array_size(refunds), 1);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(refunds, 0), "amount")), b.amount * 100);
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "refunded");
  assert_int_equal(outbox_count("payment", "payment.refunded", b.ticket_id), 1);
}

static void test_a_failed_vnpay_refund_is_retried_once_vnpay_is_back(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  char ret[4096];
  pay_vnpay(&p, &b, ret, sizeof ret);
  http_response_free(provider_ok("vnpay", "POST", "/down", "{\"mode\":\"503\",\"pathPrefix\":\"/merchant_webapi\"}"));
  http_response_free(cancel_ticket(&p, &b));
  /* The first attempt fails and is recorded; the payment waits. */
  char path[160];
  snprintf(path, sizeof path, "/v1/payments/%s", b.payment_id);
  http_response *r = NULL;
  for (int waited = 0;; waited += 100) {
    r = call_ok("GET", path, NULL, admin_token);
    if (json_int(r, "refundAttempts") >= 1) break;
    assert_true(waited < PAYMENTS_WAIT_MS);
    http_response_free(r);
    sleep_ms(100);
  }
  assert_string_equal(json_at(r, "status"), "REFUND_PENDING");
  assert_true(strlen(json_at(r, "refundError")) > 0);
  http_response_free(r);
  http_response_free(provider_ok("vnpay", "POST", "/down", "{\"mode\":\"up\"}"));
  /* The retry job (the scheduler's, here called by an admin) refunds it once it is due again. */
  char last[64] = "";
  for (int waited = 0; waited <= PAYMENTS_WAIT_MS && strcmp(last, "REFUNDED") != 0; waited += 200) {
    http_response_free(call_ok("POST", "/v1/payments:retryRefunds", "{}", admin_token));
    r = call_ok("GET", path, NULL, admin_token);
    snprintf(last, sizeof last, "%s", json_at(r, "status"));
    http_response_free(r);
    if (strcmp(last, "REFUNDED") != 0) sleep_ms(200);
  }
  assert_string_equal(last, "REFUNDED");
  wait_ticket_status(&p, b.ticket_id, "refunded");
  /* VNPay saw the refused attempt and the one that went through. */
  r = provider_ok("vnpay", "GET", "/requests?path=/merchant_webapi", NULL);
  json_t *reqs = json_object_get(r->json, "requests"), *q;
  size_t i;
  int refused = 0, served = 0;
  json_array_foreach(reqs, i, q) {
    const char *reqbody = json_string_value(json_object_get(q, "body"));
    if (!reqbody || !strstr(reqbody, b.provider_ref)) continue;
    long st = (long)json_integer_value(json_object_get(q, "status"));
    if (st == 503) refused++;
    else if (st == 200) served++;
  }
  http_response_free(r);
  assert_true(refused >= 1);
  assert_true(served >= 1);
  assert_int_equal(outbox_count("payment", "payment.refunded", b.ticket_id), 1);
}

static void test_replayed_vnpay_ipns_complete_the_payment_once(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  char ret[4096], body[256];
  pay_vnpay(&p, &b, ret, sizeof ret);
  snprintf(body, sizeof body, "{\"txnRef\":\"%s\",\"count\":100,\"waitMs\":60000}", b.provider_ref);
  http_response *r = provider_ok("vnpay", "POST", "/ipn/replay", body);
  expect_ipn_answers(r, 100, "00", "02");
  http_response_free(r);
  wait_consumed("webhook", "webhook.received", b.provider_ref, "payment");
  assert_int_equal(sql_count("SELECT count(*) FROM webhook.callbacks WHERE provider = 'vnpay' AND payment_ref = $1",
                             b.provider_ref),
                   1);
  r = admin_payment(admin_token, b.payment_id);
  assert_string_equal(json_at(r, "status"), "COMPLETED");
  http_response_free(r);
  expect_counts(&b, 1, 1);
}

/* ---- PayPal ---- */

static void test_a_paypal_approval_and_capture_activate_the_ticket(void **state) {
  (void)state;
  rider p, other;
  new_rider(&p);
  new_rider(&other);
  purchase b;
  buy_with(&p, "paypal", &b);
  char want[256];
  snprintf(want, sizeof want, "%s/checkoutnow?token=%s", harness_env("METRO_PAYPAL_API_BASE"), b.provider_ref);
  assert_string_equal(b.link, want);
  /* amountUsd = amount / 26,000 rounded half up to cents. */
  http_response *r = admin_payment(admin_token, b.payment_id);
  long cents = (b.amount * 100 + 13000) / 26000;
  snprintf(want, sizeof want, "%ld.%02ld", cents / 100, cents % 100);
  assert_string_equal(json_at(r, "amountUsd"), want);
  assert_int_equal(json_int(r, "vndPerUsd"), 26000);
  http_response_free(r);

  char path[160];
  snprintf(path, sizeof path, "/v1/payments/paypal/%s:capture", b.payment_id);
  expect_error("POST", path, "{}", p.access, 409, "PAYMENT_NOT_APPROVED", NULL);
  paypal_buyer(&b);
  expect_error("POST", path, "{}", other.access, 404, NULL, NULL);
  r = paypal_capture(&p, &b);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), "COMPLETED");
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "active");
  expect_code(&p, &b);
  /* Capturing again answers the same payment; PayPal's webhook of the capture changes nothing. */
  r = paypal_capture(&p, &b);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), "COMPLETED");
  http_response_free(r);
  assert_int_equal(paypal_webhook_answered(b.provider_ref, "PAYMENT.CAPTURE.COMPLETED"), 200);
  wait_consumed("webhook", "webhook.received", b.payment_id, "payment");
  expect_counts(&b, 1, 1);
}

static void test_a_paypal_buyer_who_cancels_cancels_the_ticket(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "paypal", &b);
  paypal_script(b.provider_ref, "\"approval\":\"cancel\"");
  paypal_buyer(&b);
  assert_int_equal(paypal_webhook_answered(b.provider_ref, "CHECKOUT.ORDER.CANCELLED"), 200);
  http_response_free(wait_payment_status(admin_token, b.payment_id, "CANCELLED"));
  wait_ticket_status(&p, b.ticket_id, "cancelled");
  char path[160];
  snprintf(path, sizeof path, "/v1/payments/paypal/%s:capture", b.payment_id);
  expect_error("POST", path, "{}", p.access, 409, "PAYMENT_NOT_OPEN", NULL);
  expect_counts(&b, 0, 0);
}

static void test_a_wrong_paypal_amount_is_kept_for_review(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "paypal", &b);
  paypal_script(b.provider_ref, "\"amountOverride\":\"0.01\"");
  paypal_buyer(&b);
  http_response *r = paypal_capture(&p, &b);
  if (r->status != 200) fprintf(stderr, "capture -> %ld: %s\n", r->status, r->body);
  assert_int_equal(r->status, 200);
  assert_true(one_of(json_at(r, "status"), "PENDING", "APPROVED"));
  http_response_free(r);
  /* PayPal's webhook of the same capture does not complete it either. */
  assert_int_equal(paypal_webhook_answered(b.provider_ref, "PAYMENT.CAPTURE.COMPLETED"), 200);
  wait_consumed("webhook", "webhook.received", b.payment_id, "payment");
  r = admin_payment(admin_token, b.payment_id);
  assert_true(one_of(json_at(r, "status"), "PENDING", "APPROVED"));
  assert_true(member_true(r, "reviewRequired"));
  http_response_free(r);
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s", b.ticket_id);
  r = call_ok("GET", path, NULL, p.access);
  assert_string_equal(json_at(r, "status"), "pending_payment");
  http_response_free(r);
  expect_counts(&b, 0, 0);
}

static void test_a_paypal_webhook_that_fails_verification_changes_nothing(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "paypal", &b);
  /* The capture is pending at PayPal (no webhook yet): the payment is APPROVED. */
  paypal_script(b.provider_ref, "\"captureStatus\":\"PENDING\",\"webhook\":false");
  paypal_buyer(&b);
  http_response *r = paypal_capture(&p, &b);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), "APPROVED");
  http_response_free(r);
  char capture[64], body[512];
  paypal_capture_id(b.provider_ref, capture, sizeof capture);
  static const char *const tampers[] = {"body", "signature", "webhook_id", "cert_url"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(body, sizeof body,
             "{\"captureId\":\"%s\",\"eventType\":\"PAYMENT.CAPTURE.COMPLETED\",\"tamper\":\"%s\",\"retry\":false}",
             capture, tampers[i]);
    r = provider_ok("paypal", "POST", "/webhooks/send", body);
    json_t *d = json_array_get(json_object_get(r->json, "deliveries"), 0);
    if (delivery_status(d) != 400) fprintf(stderr, "tamper %s: %.600s\n", tampers[i], r->body);
    assert_int_equal(delivery_status(d), 400);
    assert_int_equal(sql_count("SELECT count(*) FROM webhook.callbacks WHERE provider = 'paypal' AND "
                               "provider_event_id = $1",
                               json_string_value(json_object_get(r->json, "eventId"))),
                     0);
    http_response_free(r);
  }
  r = admin_payment(admin_token, b.payment_id);
  assert_string_equal(json_at(r, "status"), "APPROVED");
  http_response_free(r);
  expect_counts(&b, 0, 0);
  /* The capture clears at PayPal: its genuine webhook completes the payment. */
  char path[160];
  snprintf(path, sizeof path, "/captures/%s/settle", capture);
  r = provider_ok("paypal", "POST", path, "{\"status\":\"COMPLETED\"}");
  json_t *d = json_array_get(json_object_get(r->json, "deliveries"), 0);
  assert_int_equal(delivery_status(d), 200);
  http_response_free(r);
  http_response_free(wait_payment_status(admin_token, b.payment_id, "COMPLETED"));
  wait_ticket_status(&p, b.ticket_id, "active");
  expect_counts(&b, 1, 1);
}

static long paypal_orders_refused(void) {
  http_response *r = provider_ok("paypal", "GET", "/requests?path=/v2/checkout/orders", NULL);
  json_t *q;
  size_t i;
  long n = 0;
  json_array_foreach(json_object_get(r->json, "requests"), i, q) {
    const char *path = json_string_value(json_object_get(q, "path"));
    if (path && strcmp(path, "/v2/checkout/orders") == 0 && json_integer_value(json_object_get(q, "status")) == 503)
      n++;
  }
  http_response_free(r);
  return n;
}

static void test_a_paypal_order_is_created_once_paypal_answers_again(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  long refused_before = paypal_orders_refused();
  http_response_free(
      provider_ok("paypal", "POST", "/down", "{\"mode\":\"503\",\"pathPrefix\":\"/v2/checkout/orders\"}"));
  purchase b;
  buy_ticket(&p, "paypal", &b);
  /* The payment service keeps asking while PayPal answers 503... */
  long refused = 0;
  for (int waited = 0; waited <= PAYMENTS_WAIT_MS; waited += 100) {
    if ((refused = paypal_orders_refused() - refused_before) >= 2) break;
    sleep_ms(100);
  }
  assert_true(refused >= 2);
  http_response_free(provider_ok("paypal", "POST", "/down", "{\"mode\":\"up\"}"));
  /* ...and the link appears once PayPal is back. */
  wait_payment_link(&p, "paypal", &b, PAYMENTS_WAIT_MS);
  char path[160];
  snprintf(path, sizeof path, "/orders/%s", b.provider_ref);
  http_response *r = provider_ok("paypal", "GET", path, NULL);
  json_t *unit = json_array_get(json_object_get(r->json, "purchase_units"), 0);
  assert_string_equal(json_string_value(json_object_get(unit, "custom_id")), b.payment_id);
  http_response_free(r);
  /* Exactly one order for this payment, however often it was asked for. */
  r = provider_ok("paypal", "GET", "/orders", NULL);
  json_t *o;
  size_t i;
  int orders = 0;
  json_array_foreach(json_object_get(r->json, "orders"), i, o) {
    const char *custom = json_string_value(json_object_get(json_array_get(json_object_get(o, "purchase_units"), 0),
                                                           "custom_id"));
    if (custom && strcmp(custom, b.payment_id) == 0) orders++;
  }
  http_response_free(r);
  assert_int_equal(orders, 1);
  paypal_buyer(&b);
  r = paypal_capture(&p, &b);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), "COMPLETED");
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "active");
}

static void test_cancelling_a_paid_paypal_ticket_refunds_it_through_paypal(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  pay_paypal(&p, &b);
  http_response *r = cancel_ticket(&p, &b);
  assert_int_equal(json_int(r, "refundAmount"), b.amount);
  http_response_free(r);
  r = wait_payment_status(admin_token, b.payment_id, "REFUNDED");
  assert_string_equal(json_at(r, "refundReason"), "cancellation");
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "refunded");
  char path[160];
  snprintf(path, sizeof path, "/orders/%s", b.provider_ref);
  r = provider_ok("paypal", "GET", path, NULL);
  json_t *unit = json_array_get(json_object_get(r->json, "purchase_units"), 0);
  json_t *cap = json_array_get(json_object_get(json_object_get(unit, "payments"), "captures"), 0);
  assert_string_equal(json_string_value(json_object_get(cap, "status")), "REFUNDED");
  http_response_free(r);
  assert_int_equal(outbox_count("payment", "payment.refunded", b.ticket_id), 1);
}

/* ---- Sepay ---- */

static void test_a_sepay_transfer_activates_the_ticket(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "sepay", &b);
  assert_string_equal(b.provider_ref, b.ticket_id);
  char want[256];
  snprintf(want, sizeof want, "%s/img?", harness_env("METRO_SEPAY_QR_BASE"));
  assert_true(strncmp(b.link, want, strlen(want)) == 0);
  snprintf(want, sizeof want, "amount=%ld", b.amount);
  assert_non_null(strstr(b.link, want));
  assert_non_null(strstr(b.link, harness_env("METRO_SEPAY_ACCOUNT")));
  assert_non_null(strstr(b.link, b.ticket_id));
  assert_int_equal(browse(b.link, NULL, 0), 200);
  http_response *r = sepay_transfer(b.ticket_id, b.amount, NULL);
  expect_sepay_answers(r, 1, 200);
  http_response_free(r);
  r = wait_payment_status(admin_token, b.payment_id, "COMPLETED");
  assert_false(member_true(r, "reviewRequired"));
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "active");
  expect_code(&p, &b);
  expect_counts(&b, 1, 1);
}

static void test_a_sepay_webhook_with_a_wrong_key_changes_nothing(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "sepay", &b);
  http_response *r = sepay_transfer(b.ticket_id, b.amount, "\"wrongKey\":true,\"retry\":false");
  expect_sepay_answers(r, 1, 401);
  http_response_free(r);
  r = sepay_transfer(b.ticket_id, b.amount, "\"noAuth\":true,\"retry\":false");
  expect_sepay_answers(r, 1, 401);
  http_response_free(r);
  r = admin_payment(admin_token, b.payment_id);
  assert_string_equal(json_at(r, "status"), "PENDING");
  http_response_free(r);
  assert_int_equal(sql_count("SELECT count(*) FROM webhook.callbacks WHERE provider = 'sepay' AND payment_ref = $1",
                             b.ticket_id),
                   0);
  expect_counts(&b, 0, 0);
  r = sepay_transfer(b.ticket_id, b.amount, NULL);
  expect_sepay_answers(r, 1, 200);
  http_response_free(r);
  http_response_free(wait_payment_status(admin_token, b.payment_id, "COMPLETED"));
  wait_ticket_status(&p, b.ticket_id, "active");
}

/* The unmatched transfer with this id (as staff see it), or fails. */
static json_t *unmatched(const char *transfer_id) {
  for (int waited = 0; waited <= PAYMENTS_WAIT_MS; waited += 100) {
    http_response *r = call_ok("GET", "/v1/payments/unmatched?pageSize=100", NULL, admin_token);
    json_t *t;
    size_t i;
    json_array_foreach(json_object_get(r->json, "transfers"), i, t) {
      const char *id = json_string_value(json_object_get(t, "transferId"));
      if (id && strcmp(id, transfer_id) == 0) {
        json_incref(t);
        http_response_free(r);
        return t;
      }
    }
    http_response_free(r);
    sleep_ms(100);
  }
  fprintf(stderr, "transfer %s is not among the unmatched transfers\n", transfer_id);
  fail();
  return NULL;
}

static void test_wrong_sepay_amounts_and_unknown_transfers_are_kept_for_staff(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "sepay", &b);
  /* 1,000 VND short: answered, not completed, kept for review. */
  http_response *r = sepay_transfer(b.ticket_id, b.amount - 1000, NULL);
  expect_sepay_answers(r, 1, 200);
  char short_id[32];
  transfer_id_of(r, short_id, sizeof short_id);
  http_response_free(r);
  char path[160];
  snprintf(path, sizeof path, "/v1/payments/%s", b.payment_id);
  r = wait_field(path, admin_token, "reviewRequired", "true", PAYMENTS_WAIT_MS);
  assert_string_equal(json_at(r, "status"), "PENDING");
  http_response_free(r);
  json_t *t = unmatched(short_id);
  assert_string_equal(json_string_value(json_object_get(t, "reason")), "AMOUNT_MISMATCH");
  assert_string_equal(json_string_value(json_object_get(t, "ticketId")), b.ticket_id);
  assert_int_equal(json_integer_value(json_object_get(t, "amount")), b.amount - 1000);
  json_decref(t);
  expect_counts(&b, 0, 0);

  /* A transfer that names no ticket, and one naming a ticket that does not exist. */
  r = provider_ok("sepay", "POST", "/transfer", "{\"content\":\"chuyen tien an trua\",\"transferAmount\":50000}");
  expect_sepay_answers(r, 1, 200);
  char no_ticket[32];
  transfer_id_of(r, no_ticket, sizeof no_ticket);
  http_response_free(r);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char ghost[64];
  snprintf(ghost, sizeof ghost, "00000000-0000-4000-8000-%012llx",
           (unsigned long long)(((unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec) &
                                0xffffffffffffULL));
  r = sepay_transfer(ghost, 14000, NULL);
  expect_sepay_answers(r, 1, 200);
  char unknown[32];
  transfer_id_of(r, unknown, sizeof unknown);
  http_response_free(r);
  t = unmatched(no_ticket);
  assert_string_equal(json_string_value(json_object_get(t, "reason")), "NO_TICKET_IN_CONTENT");
  json_decref(t);
  t = unmatched(unknown);
  assert_string_equal(json_string_value(json_object_get(t, "reason")), "UNKNOWN_TICKET");
  json_decref(t);
  /* Staff only. */
  expect_error("GET", "/v1/payments/unmatched", NULL, p.access, 403, NULL, NULL);
}

static void test_a_sepay_refund_waits_for_an_admin_to_confirm_it(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  pay_sepay(&p, &b);
  http_response *r = cancel_ticket(&p, &b);
  assert_int_equal(json_int(r, "refundAmount"), b.amount);
  http_response_free(r);
  http_response_free(wait_payment_status(admin_token, b.payment_id, "REFUND_PENDING"));
  /* No provider API refunds a bank transfer: the refund job leaves it to an admin. */
  http_response_free(call_ok("POST", "/v1/payments:retryRefunds", "{}", admin_token));
  r = admin_payment(admin_token, b.payment_id);
  assert_string_equal(json_at(r, "status"), "REFUND_PENDING");
  http_response_free(r);
  char path[160], long_note[700];
  snprintf(path, sizeof path, "/v1/payments/%s:confirmRefund", b.payment_id);
  expect_error("POST", path, "{\"note\":\"bank ref 123\"}", p.access, 403, NULL, NULL);
  int n = snprintf(long_note, sizeof long_note, "{\"note\":\"");
  memset(long_note + n, 'x', 501);
  snprintf(long_note + n + 501, sizeof long_note - (size_t)n - 501, "\"}");
  expect_error("POST", path, long_note, admin_token, 400, "INVALID_NOTE", "note");
  r = call_ok("POST", path, "{\"note\":\"bank ref 123\"}", admin_token);
  assert_string_equal(json_at(r, "status"), "REFUNDED");
  http_response_free(r);
  wait_ticket_status(&p, b.ticket_id, "refunded");
  expect_error("POST", path, "{\"note\":\"bank ref 123\"}", admin_token, 409, "PAYMENT_NOT_REFUND_PENDING", NULL);
  assert_int_equal(outbox_count("payment", "payment.refunded", b.ticket_id), 1);
}

static void test_replayed_sepay_transfers_complete_the_payment_once(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "sepay", &b);
  /* The same transfer (one id) delivered 100 times at once. */
  http_response *r = sepay_transfer(b.ticket_id, b.amount, "\"repeat\":100,\"waitMs\":60000");
  expect_sepay_answers(r, 100, 200);
  char transfer[32], delivery[64], path[160];
  transfer_id_of(r, transfer, sizeof transfer);
  snprintf(delivery, sizeof delivery, "%s",
           json_string_value(json_object_get(json_array_get(json_object_get(r->json, "deliveries"), 0), "id")));
  http_response_free(r);
  http_response_free(wait_payment_status(admin_token, b.payment_id, "COMPLETED"));
  wait_ticket_status(&p, b.ticket_id, "active");
  /* And redelivered later, byte for byte. */
  snprintf(path, sizeof path, "/deliveries/%s/redeliver", delivery);
  r = provider_ok("sepay", "POST", path, "{\"count\":20,\"waitMs\":60000}");
  expect_sepay_answers(r, 20, 200);
  http_response_free(r);
  wait_consumed("webhook", "webhook.received", b.ticket_id, "payment");
  assert_int_equal(sql_count("SELECT count(*) FROM webhook.callbacks WHERE provider = 'sepay' AND provider_event_id = $1",
                             transfer),
                   1);
  expect_counts(&b, 1, 1);
}

/* ---- a crash ---- */

static void test_a_transfer_while_the_payment_service_is_down_is_not_lost(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b;
  buy_with(&p, "sepay", &b);
  char pidfile[1024];
  snprintf(pidfile, sizeof pidfile, "%s/pids/payment.pid", harness_env("METRO_STACK_DIR"));
  int old = read_pid(pidfile);
  assert_true(old > 0);
  assert_int_equal(kill(old, SIGKILL), 0);
  int port = payment_port();
  for (int waited = 0; wait_port(port, 0); waited += 50) {
    assert_true(waited < PAYMENTS_WAIT_MS);
    sleep_ms(50);
  }
  /* The webhook service keeps the transfer and acknowledges it although payment is gone. */
  http_response *r = sepay_transfer(b.ticket_id, b.amount, NULL);
  expect_sepay_answers(r, 1, 200);
  char transfer[32];
  transfer_id_of(r, transfer, sizeof transfer);
  http_response_free(r);
  assert_int_equal(sql_count("SELECT count(*) FROM webhook.callbacks WHERE provider = 'sepay' AND provider_event_id = $1",
                             transfer),
                   1);
  char *status = sql_value("SELECT status FROM payment.payments WHERE payment_id = $1::uuid", b.payment_id);
  assert_non_null(status);
  assert_string_equal(status, "PENDING");
  free(status);
  /* Payment comes back and applies it from webhook.received. */
  restart_payment();
  int now = read_pid(pidfile);
  assert_true(now > 0 && now != old);
  char path[160];
  snprintf(path, sizeof path, "/v1/payments/%s", b.payment_id);
  http_response_free(wait_field(path, admin_token, "status", "COMPLETED", RESTART_WAIT_MS));
  snprintf(path, sizeof path, "/v1/tickets/%s", b.ticket_id);
  http_response_free(wait_field(path, p.access, "status", "active", RESTART_WAIT_MS));
  expect_counts(&b, 1, 1);
}

/* ---- administration ---- */

static void test_admins_list_and_read_payments_and_riders_cannot(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  purchase b[3];
  for (int i = 0; i < 3; i++) buy_with(&p, "vnpay", &b[i]);
  char path[1024], token[512] = "";
  int seen = 0, pages = 0;
  do {
    snprintf(path, sizeof path, "/v1/payments?method=vnpay&passengerId=%s&pageSize=2&pageToken=%s", p.passenger_id,
             token);
    http_response *r = call_ok("GET", path, NULL, admin_token);
    json_t *list = json_object_get(r->json, "payments"), *x;
    size_t i;
    assert_true(json_array_size(list) <= 2);
    json_array_foreach(list, i, x) {
      assert_string_equal(json_string_value(json_object_get(x, "method")), "vnpay");
      assert_string_equal(json_string_value(json_object_get(x, "passengerId")), p.passenger_id);
      seen++;
    }
    snprintf(token, sizeof token, "%s", json_at(r, "nextPageToken"));
    http_response_free(r);
    pages++;
  } while (*token && pages < 5);
  assert_int_equal(seen, 3);
  assert_int_equal(pages, 2);
  /* Across every passenger too, a page of two says there is more. */
  http_response *r = call_ok("GET", "/v1/payments?method=vnpay&pageSize=2", NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "payments")), 2);
  assert_true(strlen(json_at(r, "nextPageToken")) > 0);
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/payments?ticketId=%s", b[1].ticket_id);
  r = call_ok("GET", path, NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "payments")), 1);
  http_response_free(r);
  r = admin_payment(admin_token, b[0].payment_id);
  assert_string_equal(json_at(r, "ticketId"), b[0].ticket_id);
  assert_string_equal(json_at(r, "userId"), p.user_id);
  assert_int_equal(json_int(r, "amount"), b[0].amount);
  assert_string_equal(json_at(r, "currency"), "VND");
  http_response_free(r);
  expect_error("GET", "/v1/payments/00000000-0000-4000-8000-000000000000", NULL, admin_token, 404,
               "PAYMENT_NOT_FOUND", NULL);
  expect_error("GET", "/v1/payments?pageToken=garbage", NULL, admin_token, 400, "INVALID_PAGE_TOKEN", "pageToken");
  /* Riders see their own ticket's payment, nothing of the admin API. */
  snprintf(path, sizeof path, "/v1/payments/%s", b[0].payment_id);
  expect_error("GET", "/v1/payments", NULL, p.access, 403, NULL, NULL);
  expect_error("GET", path, NULL, p.access, 403, NULL, NULL);
  expect_error("POST", "/v1/payments:retryRefunds", "{}", p.access, 403, NULL, NULL);
  expect_error("GET", "/v1/payments", NULL, NULL, 401, NULL, NULL);
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_vnpay_payment_activates_the_ticket),
      cmocka_unit_test(test_the_ipn_that_confirms_a_payment_is_answered_00),
      cmocka_unit_test(test_the_vnpay_return_page_never_changes_a_payment),
      cmocka_unit_test(test_a_vnpay_ipn_with_a_bad_checksum_changes_nothing),
      cmocka_unit_test(test_a_vnpay_buyer_who_cancels_cancels_the_ticket),
      cmocka_unit_test(test_a_vnpay_bank_refusal_fails_the_payment),
      cmocka_unit_test(test_a_wrong_vnpay_amount_is_kept_for_review),
      cmocka_unit_test(test_a_suspicious_vnpay_payment_completes_for_review),
      cmocka_unit_test(test_a_late_vnpay_payment_is_refunded_and_never_activates),
      cmocka_unit_test(test_cancelling_a_paid_vnpay_ticket_refunds_it_through_vnpay),
      cmocka_unit_test_teardown(test_a_failed_vnpay_refund_is_retried_once_vnpay_is_back, providers_back_up),
      cmocka_unit_test(test_replayed_vnpay_ipns_complete_the_payment_once),
      cmocka_unit_test(test_a_paypal_approval_and_capture_activate_the_ticket),
      cmocka_unit_test(test_a_paypal_buyer_who_cancels_cancels_the_ticket),
      cmocka_unit_test(test_a_wrong_paypal_amount_is_kept_for_review),
      cmocka_unit_test(test_a_paypal_webhook_that_fails_verification_changes_nothing),
      cmocka_unit_test_teardown(test_a_paypal_order_is_created_once_paypal_answers_again, providers_back_up),
      cmocka_unit_test(test_cancelling_a_paid_paypal_ticket_refunds_it_through_paypal),
      cmocka_unit_test(test_a_sepay_transfer_activates_the_ticket),
      cmocka_unit_test(test_a_sepay_webhook_with_a_wrong_key_changes_nothing),
      cmocka_unit_test(test_wrong_sepay_amounts_and_unknown_transfers_are_kept_for_staff),
      cmocka_unit_test(test_a_sepay_refund_waits_for_an_admin_to_confirm_it),
      cmocka_unit_test(test_replayed_sepay_transfers_complete_the_payment_once),
      cmocka_unit_test_teardown(test_a_transfer_while_the_payment_service_is_down_is_not_lost, payment_running),
      cmocka_unit_test(test_admins_list_and_read_payments_and_riders_cannot),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
