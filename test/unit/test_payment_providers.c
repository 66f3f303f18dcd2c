/* The payment providers' wire codecs (svc/payment: vnpay.c, paypal_codec.c, sepay.c) against
 * vectors computed outside this code (see each test) and documents shaped like the emulators'. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "svc/payment/providers/providers.h"

#define SECRET "SECRETKEYFORTESTS0123456789ABCDE"
#define TXN "0f8fad5bd9cb469fa16570867728950e"
#define TICKET "0f8fad5b-d9cb-469f-a165-70867728950e"
#define T_CREATE 1768447800LL /* 2026-01-15 10:30:00 GMT+7 */

static arena *A;

static int setup(void **state) {
  (void)state;
  A = arena_create(4096);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  arena_destroy(A);
  return 0;
}

/* ---- Form encoding -------------------------------------------------------------------------- */

static void test_form_encode(void **state) {
  (void)state;
  const char *s = "a Z09_.-~/:?&=+%\xc3\xa9";
  assert_string_equal(pay_form_encode(A, s, strlen(s)), "a+Z09_.-~%2F%3A%3F%26%3D%2B%25%C3%A9");
  assert_string_equal(pay_form_encode(A, "", 0), "");
  char out[64];
  size_t n;
  assert_true(pay_form_decode("a+b%2fc%C3%A9", 13, out, sizeof out, &n));
  assert_string_equal(out, "a b/c\xc3\xa9");
  assert_int_equal(n, 7);
  assert_false(pay_form_decode("%2", 2, out, sizeof out, &n)); /* truncated */
  assert_false(pay_form_decode("%zz", 3, out, sizeof out, &n));
  assert_false(pay_form_decode("%00", 3, out, sizeof out, &n)); /* encoded NUL */
  assert_false(pay_form_decode("abcd", 4, out, 4, &n));         /* no room for the NUL */
  assert_true(pay_form_decode("abc", 3, out, 4, &n));
}

/* ---- VNPay ---------------------------------------------------------------------------------- */

/* test/providers/README.md's vector; the hash was recomputed with
 * `printf '%s' "$S" | openssl dgst -sha512 -hmac SECRETKEYFORTESTS0123456789ABCDE`. */
#define README_S                                                                                                  \
  "vnp_Amount=1200000&vnp_Command=pay&vnp_CreateDate=20260115103000&vnp_CurrCode=VND&vnp_ExpireDate="            \
  "20260115104500&vnp_IpAddr=127.0.0.1&vnp_Locale=vn&vnp_OrderInfo=Payment+for+ticket+" TICKET                   \
  "&vnp_OrderType=other&vnp_ReturnUrl=http%3A%2F%2F127.0.0.1%3A8080%2Fv1%2Fpayments%2Fvnpay%2Freturn&vnp_"        \
  "TmnCode=METRO001&vnp_TxnRef=" TXN "&vnp_Version=2.1.0"
#define README_HASH                                                                                               \
  "87dd5850c7785340c56f8f9f60cfad7644d168d30ea93b77b47402d15a715394c35db62b02148c005c76ef9b52538336fbbe84936cc2" \
  "7e6f10e046f5a7d7235f"

static pay_vnpay_request readme_request(void) {
  return (pay_vnpay_request){.pay_url = "http://127.0.0.1:9001/paymentv2/vpcpay.html",
                             .tmn_code = "METRO001",
                             .hash_secret = SECRET,
                             .amount_vnd = 12000,
                             .txn_ref = TXN,
                             .order_info = "Payment for ticket " TICKET,
                             .return_url = "http://127.0.0.1:8080/v1/payments/vnpay/return",
                             .ip_addr = "127.0.0.1",
                             .create_time = T_CREATE,
                             .expire_time = T_CREATE + 900};
}

static void test_vnpay_time_gmt7(void **state) {
  (void)state;
  char d[PAY_VNP_DATE_LEN + 1];
  assert_true(pay_vnpay_format_time(T_CREATE, d));
  assert_string_equal(d, "20260115103000");
  assert_true(pay_vnpay_format_time(0, d));
  assert_string_equal(d, "19700101070000");
  assert_true(pay_vnpay_format_time(1768410000LL, d)); /* 2026-01-14 17:00:00Z crosses midnight in GMT+7 */
  assert_string_equal(d, "20260115000000");
  assert_false(pay_vnpay_format_time(-1, d));
}

static void test_vnpay_readme_vector(void **state) {
  (void)state;
  char h[PAY_VNP_HASH_HEX_LEN + 1];
  pay_vnpay_sign(SECRET, README_S, h);
  assert_string_equal(h, README_HASH);
  char *url;
  pay_vnpay_request r = readme_request();
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_OK);
  assert_string_equal(url, "http://127.0.0.1:9001/paymentv2/vpcpay.html?" README_S "&vnp_SecureHash=" README_HASH);
}

static void test_vnpay_amount_times_100_once(void **state) {
  (void)state;
  pay_vnpay_request r = readme_request();
  r.amount_vnd = 36000;
  char *url;
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_OK);
  assert_non_null(strstr(url, "vnp_Amount=3600000&"));
  assert_null(strstr(url, "vnp_Amount=360000000"));
  /* The callback's amount compares with the stored VND once ×100, never twice. */
  pay_vnpay_callback cb = {.amount_x100 = 3600000};
  assert_true(pay_vnpay_amount_matches(&cb, 36000));
  assert_false(pay_vnpay_amount_matches(&cb, 3600000));
  assert_false(pay_vnpay_amount_matches(&cb, 360));
}

static void test_vnpay_build_refuses_bad_input(void **state) {
  (void)state;
  char *url = NULL;
  pay_vnpay_request r = readme_request();
  r.order_info = "Thanh to\xc3\xa1n v\xc3\xa9"; /* non-ASCII is rejected, not transliterated */
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_ERR_INVALID);
  r = readme_request();
  r.order_info = "tab\there";
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_ERR_INVALID);
  r = readme_request();
  r.amount_vnd = 0;
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_ERR_INVALID);
  r.amount_vnd = PAY_VNP_MAX_AMOUNT_VND + 1;
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_ERR_INVALID);
  r = readme_request();
  r.txn_ref = "bad ref";
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_ERR_INVALID);
  r = readme_request();
  r.return_url = "ftp://x";
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_ERR_INVALID);
  r = readme_request();
  r.expire_time = r.create_time;
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_ERR_INVALID);
  assert_null(url);
}

/* An IPN as the emulator sends it: signed with test/providers/vnpay.py's own hash_data/sign. */
#define IPN_QUERY                                                                                                 \
  "vnp_Amount=1200000&vnp_BankCode=NCB&vnp_BankTranNo=VNP14012345&vnp_CardType=ATM&vnp_OrderInfo=Payment+for+"    \
  "ticket+" TICKET "&vnp_PayDate=20260115103512&vnp_ResponseCode=00&vnp_TmnCode=METRO001&vnp_TransactionNo="       \
  "14012345&vnp_TransactionStatus=00&vnp_TxnRef=" TXN                                                             \
  "&vnp_SecureHash=2e2d922e8ff2c862517a98f015fa769c682a7c9f2c698676b0a586dd204486362369b969ecc69425bc0861fe3f16b6" \
  "53f4c6df63c4433710324040d1f084328a"

/* Same generator: an empty vnp_BankTranNo (left out of the hash), vnp_SecureHashType, uppercase hash. */
#define IPN_CANCELLED                                                                                             \
  "vnp_Amount=1200000&vnp_BankCode=NCB&vnp_BankTranNo=&vnp_CardType=ATM&vnp_OrderInfo=Payment+for+ticket+" TICKET \
  "&vnp_PayDate=20260115103512&vnp_ResponseCode=24&vnp_TmnCode=METRO001&vnp_TransactionNo=0&vnp_"                 \
  "TransactionStatus=02&vnp_TxnRef=" TXN "&vnp_SecureHashType=HmacSHA512&vnp_SecureHash="                          \
  "707465FBFBF7D12010C8E1C46DE8114E1D5EE290D16BFBA86825144BFF037658F6D7D7BB790E536B54287721C524E445B57B358F4CF0A" \
  "A807290D6D8668A71B0"

static void test_vnpay_verify_emulator_ipn(void **state) {
  (void)state;
  pay_vnpay_callback cb;
  assert_int_equal(pay_vnpay_verify_callback(A, IPN_QUERY, SECRET, &cb), PAY_OK);
  assert_string_equal(cb.txn_ref, TXN);
  assert_int_equal(cb.amount_x100, 1200000);
  assert_true(pay_vnpay_amount_matches(&cb, 12000));
  assert_string_equal(cb.response_code, "00");
  assert_string_equal(cb.transaction_status, "00");
  assert_string_equal(cb.transaction_no, "14012345");
  assert_string_equal(cb.bank_code, "NCB");
  assert_string_equal(cb.bank_tran_no, "VNP14012345");
  assert_string_equal(cb.card_type, "ATM");
  assert_string_equal(cb.pay_date, "20260115103512");
  assert_string_equal(cb.order_info, "Payment for ticket " TICKET);

  assert_int_equal(pay_vnpay_verify_callback(A, IPN_CANCELLED, SECRET, &cb), PAY_OK);
  assert_string_equal(cb.response_code, "24");
  assert_string_equal(cb.bank_tran_no, "");
  bool review;
  assert_int_equal(pay_vnpay_outcome(cb.response_code, cb.transaction_status, &review), PAY_OUTCOME_CANCELLED);
}

/* Replaces the first occurrence of from in s by to (in the arena). */
static char *replace(const char *s, const char *from, const char *to) {
  const char *p = strstr(s, from);
  assert_non_null(p);
  return arena_printf(A, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
}

static void test_vnpay_tampering_refused(void **state) {
  (void)state;
  pay_vnpay_callback cb;
  const char *tampered[] = {
      replace(IPN_QUERY, "vnp_Amount=1200000", "vnp_Amount=1200100"),
      replace(IPN_QUERY, "vnp_ResponseCode=00", "vnp_ResponseCode=07"),
      replace(IPN_QUERY, "vnp_SecureHash=2e", "vnp_SecureHash=3e"),
      replace(IPN_QUERY, "&vnp_SecureHash=", "&vnp_Extra=1&vnp_SecureHash="), /* an added signed key */
      replace(IPN_QUERY, "vnp_BankCode=NCB&", ""),                           /* a removed one */
      replace(IPN_QUERY, "&vnp_SecureHash=2e2d922e8ff2c862517a98f015fa769c682a7c9f2c698676b0a586dd20448636", "&x="),
  };
  for (size_t i = 0; i < sizeof tampered / sizeof tampered[0]; i++)
    assert_int_equal(pay_vnpay_verify_callback(A, tampered[i], SECRET, &cb), PAY_ERR_SIGNATURE);
  assert_int_equal(pay_vnpay_verify_callback(A, IPN_QUERY, "OTHERSECRET", &cb), PAY_ERR_SIGNATURE);
  /* Non-vnp parameters are not signed and do not matter. */
  assert_int_equal(pay_vnpay_verify_callback(A, arena_printf(A, "utm=x&%s", IPN_QUERY), SECRET, &cb), PAY_OK);
  /* A repeated vnp_* key, a bad escape, an oversized query: refused before any hashing. */
  assert_int_equal(pay_vnpay_verify_callback(A, arena_printf(A, "vnp_Amount=1&%s", IPN_QUERY), SECRET, &cb),
                   PAY_ERR_INVALID);
  assert_int_equal(pay_vnpay_verify_callback(A, replace(IPN_QUERY, "NCB", "%G1"), SECRET, &cb), PAY_ERR_INVALID);
  char big[PAY_VNP_MAX_QUERY + 2];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(pay_vnpay_verify_callback(A, big, SECRET, &cb), PAY_ERR_INVALID);
  assert_int_equal(pay_vnpay_verify_callback(A, "", SECRET, &cb), PAY_ERR_SIGNATURE);
}

static void test_vnpay_round_trip(void **state) {
  (void)state;
  pay_vnpay_request r = readme_request();
  r.order_info = "Payment for ticket #1 (A&B) 100% ~ok";
  r.return_url = "https://metro.example/v1/payments/vnpay/return?x=1&y=a b";
  char *url;
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_ERR_INVALID); /* a space in the URL */
  r.return_url = "https://metro.example/v1/payments/vnpay/return?x=1&y=2";
  assert_int_equal(pay_vnpay_build_url(A, &r, &url), PAY_OK);
  /* The URL's own query verifies: the hash passes (a wrong one would be PAY_ERR_SIGNATURE) and only
   * the result fields a payment request lacks (vnp_ResponseCode) are missing. */
  const char *query = strchr(url, '?') + 1;
  pay_vnpay_callback cb;
  assert_int_equal(pay_vnpay_verify_callback(A, query, SECRET, &cb), PAY_ERR_INVALID);
  assert_int_equal(pay_vnpay_verify_callback(A, replace(query, "%23", "%24"), SECRET, &cb), PAY_ERR_SIGNATURE);
  /* The emulator's answer: the request's parameters plus the result ones, signed the same way. */
  const char *back = arena_printf(A, "%.*s&vnp_BankTranNo=&vnp_ResponseCode=00&vnp_TransactionNo=123&"
                                     "vnp_TransactionStatus=00",
                                  (int)(strstr(query, "&vnp_SecureHash=") - query), query);
  pay_kv kv[PAY_VNP_MAX_PARAMS];
  size_t n = 0;
  for (char *save = NULL, *pair = strtok_r(arena_strdup(A, back), "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(pair, '=');
    *eq = '\0';
    char *val = arena_alloc(A, strlen(eq + 1) + 1);
    assert_true(pay_form_decode(eq + 1, strlen(eq + 1), val, strlen(eq + 1) + 1, NULL));
    kv[n++] = (pay_kv){pair, val};
  }
  const char *data = pay_vnpay_hash_data(A, kv, n);
  assert_null(strstr(data, "BankTranNo"));
  assert_non_null(strstr(data, "vnp_OrderInfo=Payment+for+ticket+%231+%28A%26B%29+100%25+~ok&"));
  char h[PAY_VNP_HASH_HEX_LEN + 1];
  pay_vnpay_sign(SECRET, data, h);
  assert_int_equal(pay_vnpay_verify_callback(A, arena_printf(A, "%s&vnp_SecureHash=%s", back, h), SECRET, &cb), PAY_OK);
  assert_string_equal(cb.order_info, r.order_info);
  assert_string_equal(cb.txn_ref, TXN);
  assert_true(pay_vnpay_amount_matches(&cb, r.amount_vnd));
  bool review;
  assert_int_equal(pay_vnpay_outcome(cb.response_code, cb.transaction_status, &review), PAY_OUTCOME_COMPLETED);
}

static void test_vnpay_ipn_answers(void **state) {
  (void)state;
  static const struct {
    pay_vnpay_rsp rsp;
    const char *code, *body;
  } rows[] = {
      {PAY_VNP_RSP_INVALID_CHECKSUM, "97", "{\"RspCode\":\"97\",\"Message\":\"Invalid Checksum\"}"},
      {PAY_VNP_RSP_ORDER_NOT_FOUND, "01", "{\"RspCode\":\"01\",\"Message\":\"Order not found\"}"},
      {PAY_VNP_RSP_INVALID_AMOUNT, "04", "{\"RspCode\":\"04\",\"Message\":\"Invalid amount\"}"},
      {PAY_VNP_RSP_ALREADY_CONFIRMED, "02", "{\"RspCode\":\"02\",\"Message\":\"Order already confirmed\"}"},
      {PAY_VNP_RSP_CONFIRM_SUCCESS, "00", "{\"RspCode\":\"00\",\"Message\":\"Confirm Success\"}"},
      {PAY_VNP_RSP_UNKNOWN_ERROR, "99", "{\"RspCode\":\"99\",\"Message\":\"Unknown error\"}"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    assert_string_equal(pay_vnpay_ipn_answer(rows[i].rsp), rows[i].body);
    assert_string_equal(pay_vnpay_rsp_code(rows[i].rsp), rows[i].code);
  }
  assert_string_equal(pay_vnpay_rsp_code(PAY_VNP_RSP_COUNT), "99");
}

static void test_vnpay_outcomes(void **state) {
  (void)state;
  static const struct {
    const char *rc, *ts;
    pay_outcome outcome;
    bool review;
  } rows[] = {
      {"00", "00", PAY_OUTCOME_COMPLETED, false}, {"00", "07", PAY_OUTCOME_COMPLETED, true},
      {"07", "07", PAY_OUTCOME_COMPLETED, true},  {"07", "", PAY_OUTCOME_COMPLETED, true},
      {"24", "02", PAY_OUTCOME_CANCELLED, false}, {"11", "02", PAY_OUTCOME_CANCELLED, false},
      {"51", "02", PAY_OUTCOME_FAILED, false},    {"65", "02", PAY_OUTCOME_FAILED, false},
      {"75", "02", PAY_OUTCOME_FAILED, false},    {"00", "02", PAY_OUTCOME_FAILED, false},
      {"00", "", PAY_OUTCOME_FAILED, false},      {"99", "00", PAY_OUTCOME_FAILED, false},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    bool review = !rows[i].review;
    assert_int_equal(pay_vnpay_outcome(rows[i].rc, rows[i].ts, &review), rows[i].outcome);
    assert_int_equal(review, rows[i].review);
  }
}

/* The querydr vector of test/providers/README.md (also checked with openssl dgst -hmac). */
static void test_vnpay_api_vector(void **state) {
  (void)state;
  const char *v[] = {"R1", "2.1.0", "querydr", "METRO001", TXN, "20260115103000", "20260115120000", "127.0.0.1",
                     "Query"};
  char h[PAY_VNP_HASH_HEX_LEN + 1];
  pay_vnpay_api_sign(A, SECRET, v, 9, h);
  assert_string_equal(h, "6a054ae80f67cc4ca34e9111d964c1199f66498d4259476a6d969b2bf5a5b0aa64aff40ecf7e52b4a13b3e09dcf"
                         "28f27fc9fa9a6219a5fb9009815e53d8dd99a");
}

#define REFUND_INFO "Refund for ticket " TICKET

/* Hash computed with: printf '%s' 'RF1|2.1.0|refund|METRO001|03|<TXN>|500000|14012345|20260115103000|admin|
 * 20260115120000|127.0.0.1|<REFUND_INFO>' | openssl dgst -sha512 -hmac SECRETKEYFORTESTS0123456789ABCDE */
static void test_vnpay_refund_body(void **state) {
  (void)state;
  pay_vnpay_refund_request r = {.tmn_code = "METRO001", .hash_secret = SECRET, .request_id = "RF1", .txn_ref = TXN,
                                .transaction_no = "14012345", .transaction_date = "20260115103000",
                                .create_by = "admin", .ip_addr = "127.0.0.1", .order_info = REFUND_INFO,
                                .amount_vnd = 5000, .full = false, .create_time = T_CREATE + 5400};
  char *json;
  assert_int_equal(pay_vnpay_refund_body(A, &r, &json), PAY_OK);
  assert_string_equal(
      json, "{\"vnp_RequestId\":\"RF1\",\"vnp_Version\":\"2.1.0\",\"vnp_Command\":\"refund\",\"vnp_TmnCode\":"
            "\"METRO001\",\"vnp_TransactionType\":\"03\",\"vnp_TxnRef\":\"" TXN "\",\"vnp_Amount\":\"500000\","
            "\"vnp_TransactionNo\":\"14012345\",\"vnp_TransactionDate\":\"20260115103000\",\"vnp_CreateBy\":"
            "\"admin\",\"vnp_CreateDate\":\"20260115120000\",\"vnp_IpAddr\":\"127.0.0.1\",\"vnp_OrderInfo\":\"" REFUND_INFO
            "\",\"vnp_SecureHash\":\"462b5ed4707b2708d1daa8e0b324bf1ff938f66f6bbabca48baec58e2bacb4db17db0085d722bb5557d"
            "a3ffed14570a509c2f9f00a4bc9e97d692a9bdd3f2f25\"}");
  r.full = true;
  assert_int_equal(pay_vnpay_refund_body(A, &r, &json), PAY_OK);
  assert_non_null(strstr(json, "\"vnp_TransactionType\":\"02\""));
  r.order_info = "Ho\xc3\xa0n ti\xe1\xbb\x81n";
  assert_int_equal(pay_vnpay_refund_body(A, &r, &json), PAY_ERR_INVALID);
}

/* Hash computed with openssl dgst -hmac over the refund-response list joined with '|'. */
#define REFUND_ANSWER_HASH                                                                                        \
  "a50ce82d603c84f87435a72385bd056e60c69197db4adfacf1d95f61ea584a0c0bd4e123b78961440592354fae5dc2e35ddbdbadfed36" \
  "8ad42d1335f1d6f8648"
#define REFUND_ANSWER(amount, hash)                                                                               \
  "{\"vnp_ResponseId\":\"abc123\",\"vnp_Command\":\"refund\",\"vnp_ResponseCode\":\"00\",\"vnp_Message\":"      \
  "\"Refund success\",\"vnp_TmnCode\":\"METRO001\",\"vnp_TxnRef\":\"" TXN "\",\"vnp_Amount\":\"" amount "\","     \
  "\"vnp_BankCode\":\"NCB\",\"vnp_PayDate\":\"20260115120005\",\"vnp_TransactionNo\":\"2\","                      \
  "\"vnp_TransactionType\":\"03\",\"vnp_TransactionStatus\":\"05\",\"vnp_OrderInfo\":\"" REFUND_INFO "\","         \
  "\"vnp_SecureHash\":\"" hash "\"}"

static void test_vnpay_refund_answer(void **state) {
  (void)state;
  pay_vnpay_refund_answer ans;
  const char *ok = REFUND_ANSWER("500000", REFUND_ANSWER_HASH);
  assert_int_equal(pay_vnpay_refund_verify(ok, strlen(ok), SECRET, &ans), PAY_OK);
  assert_string_equal(ans.response_code, "00");
  assert_string_equal(ans.message, "Refund success");
  assert_string_equal(ans.txn_ref, TXN);
  assert_int_equal(ans.amount_x100, 500000);
  assert_string_equal(ans.transaction_no, "2");
  assert_string_equal(ans.transaction_type, "03");
  assert_string_equal(ans.transaction_status, "05");
  assert_string_equal(ans.pay_date, "20260115120005");
  const char *forged = REFUND_ANSWER("5000000", REFUND_ANSWER_HASH);
  assert_int_equal(pay_vnpay_refund_verify(forged, strlen(forged), SECRET, &ans), PAY_ERR_SIGNATURE);
  assert_int_equal(pay_vnpay_refund_verify(ok, strlen(ok), "OTHER", &ans), PAY_ERR_SIGNATURE);
  const char *bad = "{\"vnp_ResponseCode\":0}";
  assert_int_equal(pay_vnpay_refund_verify(bad, strlen(bad), SECRET, &ans), PAY_ERR_INVALID);
  assert_int_equal(pay_vnpay_refund_verify("[", 1, SECRET, &ans), PAY_ERR_INVALID);
  /* A round trip through our own signer: an error answer with missing fields counting as "". */
  const char *v[13] = {"id9", "refund", "94", "Transaction already refunded", "METRO001", TXN};
  char h[PAY_VNP_HASH_HEX_LEN + 1];
  pay_vnpay_api_sign(A, SECRET, v, 13, h);
  const char *err = arena_printf(A,
                                 "{\"vnp_ResponseId\":\"id9\",\"vnp_Command\":\"refund\",\"vnp_ResponseCode\":\"94\","
                                 "\"vnp_Message\":\"Transaction already refunded\",\"vnp_TmnCode\":\"METRO001\","
                                 "\"vnp_TxnRef\":\"" TXN "\",\"vnp_Amount\":\"\",\"vnp_SecureHash\":\"%s\"}",
                                 h);
  assert_int_equal(pay_vnpay_refund_verify(err, strlen(err), SECRET, &ans), PAY_OK);
  assert_string_equal(ans.response_code, "94");
  assert_int_equal(ans.amount_x100, -1);
}

/* ---- PayPal --------------------------------------------------------------------------------- */

static const char *usd(int64_t vnd) {
  int64_t c = 0;
  assert_int_equal(pay_paypal_vnd_to_cents(vnd, PAY_PP_DEFAULT_VND_PER_USD, &c), PAY_OK);
  char *s = arena_alloc(A, PAY_PP_MONEY_LEN);
  pay_paypal_format_cents(c, s);
  return s;
}

static void test_paypal_usd_rounding(void **state) {
  (void)state;
  assert_string_equal(usd(130), "0.01");    /* 0.005 -> 0.01 */
  assert_string_equal(usd(1), "0.01");      /* minimum */
  assert_string_equal(usd(25999), "1.00");  /* 0.99996 */
  assert_string_equal(usd(13000), "0.50");
  assert_string_equal(usd(12870), "0.50");  /* 0.495 rounds half up */
  assert_string_equal(usd(12869), "0.49");
  assert_string_equal(usd(1000000), "38.46");
  assert_string_equal(usd(36000), "1.38");
  assert_string_equal(usd(26000), "1.00");
  assert_string_equal(usd(999999999), "38461.54");
  int64_t c;
  assert_int_equal(pay_paypal_vnd_to_cents(0, 26000, &c), PAY_ERR_INVALID);
  assert_int_equal(pay_paypal_vnd_to_cents(-5, 26000, &c), PAY_ERR_INVALID);
  assert_int_equal(pay_paypal_vnd_to_cents(100, 0, &c), PAY_ERR_INVALID);
  assert_int_equal(pay_paypal_vnd_to_cents(INT64_MAX / 100, 26000, &c), PAY_ERR_INVALID);
  assert_int_equal(pay_paypal_vnd_to_cents(25000, 25000, &c), PAY_OK);
  assert_int_equal(c, 100);
}

static void test_paypal_parse_cents(void **state) {
  (void)state;
  static const struct {
    const char *s;
    bool ok;
    int64_t cents;
  } rows[] = {{"1.38", true, 138}, {"0.01", true, 1}, {"12", true, 1200}, {"12.3", true, 1230},
              {"007.50", true, 750}, {"1.234", false, 0}, {"-1.00", false, 0}, {"1.", false, 0},
              {".5", false, 0},     {"1e2", false, 0},   {"", false, 0},     {"1.00 ", false, 0},
              {"1234567890123456", false, 0}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int64_t c = -1;
    assert_int_equal(pay_paypal_parse_cents(rows[i].s, &c), rows[i].ok);
    if (rows[i].ok) assert_int_equal(c, rows[i].cents);
  }
}

static void test_paypal_prorata(void **state) {
  (void)state;
  int64_t c;
  assert_int_equal(pay_paypal_prorata_refund_cents(138, 36000, 36000, &c), PAY_OK);
  assert_int_equal(c, 138);
  assert_int_equal(pay_paypal_prorata_refund_cents(138, 36000, 18000, &c), PAY_OK);
  assert_int_equal(c, 69);
  assert_int_equal(pay_paypal_prorata_refund_cents(3846, 1000000, 700000, &c), PAY_OK);
  assert_int_equal(c, 2692); /* 2692.2 */
  assert_int_equal(pay_paypal_prorata_refund_cents(3, 36000, 18000, &c), PAY_OK);
  assert_int_equal(c, 2); /* 1.5 half up */
  assert_int_equal(pay_paypal_prorata_refund_cents(1, 36000, 100, &c), PAY_OK);
  assert_int_equal(c, 1); /* never 0 */
  assert_int_equal(pay_paypal_prorata_refund_cents(138, 36000, 36001, &c), PAY_ERR_INVALID);
  assert_int_equal(pay_paypal_prorata_refund_cents(138, 36000, 0, &c), PAY_ERR_INVALID);
  assert_int_equal(pay_paypal_prorata_refund_cents(INT64_MAX / 2, INT64_MAX / 8, INT64_MAX / 8, &c), PAY_ERR_INVALID);
}

static void test_paypal_order_json(void **state) {
  (void)state;
  pay_paypal_order o = {.payment_id = "pay-1", .amount_cents = 138, .return_url = "http://m/ok?a=1",
                        .cancel_url = "http://m/cancel"};
  char *json;
  assert_int_equal(pay_paypal_order_json(A, &o, &json), PAY_OK);
  assert_string_equal(json, "{\"intent\":\"CAPTURE\",\"purchase_units\":[{\"custom_id\":\"pay-1\",\"amount\":{"
                            "\"currency_code\":\"USD\",\"value\":\"1.38\"}}],\"application_context\":{\"return_url\":"
                            "\"http://m/ok?a=1\",\"cancel_url\":\"http://m/cancel\",\"user_action\":\"PAY_NOW\","
                            "\"shipping_preference\":\"NO_SHIPPING\"}}");
  o.amount_cents = 0;
  assert_int_equal(pay_paypal_order_json(A, &o, &json), PAY_ERR_INVALID);
}

static void test_paypal_parse_created(void **state) {
  (void)state;
  const char *created = "{\"id\":\"5O190127TN364715T\",\"status\":\"CREATED\",\"links\":["
                        "{\"href\":\"http://127.0.0.1:9002/v2/checkout/orders/5O190127TN364715T\",\"rel\":\"self\","
                        "\"method\":\"GET\"},{\"href\":\"http://127.0.0.1:9002/checkoutnow?token=5O190127TN364715T\","
                        "\"rel\":\"approve\",\"method\":\"GET\"},{\"href\":\"x\",\"rel\":\"capture\",\"method\":"
                        "\"POST\"}]}";
  pay_paypal_created c;
  assert_int_equal(pay_paypal_parse_created(created, strlen(created), &c), PAY_OK);
  assert_string_equal(c.id, "5O190127TN364715T");
  assert_string_equal(c.status, "CREATED");
  assert_string_equal(c.approve_url, "http://127.0.0.1:9002/checkoutnow?token=5O190127TN364715T");
  const char *action = "{\"id\":\"X1\",\"status\":\"PAYER_ACTION_REQUIRED\",\"links\":[{\"href\":\"http://p/"
                       "checkoutnow?token=X1\",\"rel\":\"payer-action\",\"method\":\"GET\"}]}";
  assert_int_equal(pay_paypal_parse_created(action, strlen(action), &c), PAY_OK);
  assert_string_equal(c.approve_url, "http://p/checkoutnow?token=X1");
  const char *nolink = "{\"id\":\"X1\",\"status\":\"CREATED\",\"links\":[]}";
  assert_int_equal(pay_paypal_parse_created(nolink, strlen(nolink), &c), PAY_ERR_NOT_FOUND);
  const char *noid = "{\"status\":\"CREATED\"}";
  assert_int_equal(pay_paypal_parse_created(noid, strlen(noid), &c), PAY_ERR_INVALID);
}

/* A capture answer shaped like paypal.py's render_order with one capture. */
#define CAPTURE_ANSWER(status, extra)                                                                             \
  "{\"id\":\"5O190127TN364715T\",\"intent\":\"CAPTURE\",\"status\":\"COMPLETED\",\"purchase_units\":[{"          \
  "\"reference_id\":\"default\",\"amount\":{\"currency_code\":\"USD\",\"value\":\"1.38\"},\"custom_id\":\"pay-1\"," \
  "\"payments\":{\"captures\":[{\"id\":\"3C679366HH908993F\",\"status\":\"" status "\"," extra "\"amount\":{"      \
  "\"currency_code\":\"USD\",\"value\":\"1.38\"},\"final_capture\":true,\"seller_receivable_breakdown\":{"        \
  "\"gross_amount\":{\"currency_code\":\"USD\",\"value\":\"1.38\"}},\"custom_id\":\"pay-1\",\"links\":[]}]}}],"     \
  "\"links\":[]}"

static void test_paypal_parse_capture(void **state) {
  (void)state;
  const char *done = CAPTURE_ANSWER("COMPLETED", "");
  pay_paypal_capture c;
  assert_int_equal(pay_paypal_parse_capture(done, strlen(done), &c), PAY_OK);
  assert_string_equal(c.order_id, "5O190127TN364715T");
  assert_string_equal(c.order_status, "COMPLETED");
  assert_string_equal(c.capture_id, "3C679366HH908993F");
  assert_string_equal(c.capture_status, "COMPLETED");
  assert_int_equal(c.amount_cents, 138);
  assert_string_equal(c.currency, "USD");
  assert_string_equal(c.custom_id, "pay-1");
  assert_int_equal(pay_paypal_capture_outcome(c.capture_status), PAY_OUTCOME_COMPLETED);
  const char *pending = CAPTURE_ANSWER("PENDING", "\"status_details\":{\"reason\":\"PENDING_REVIEW\"},");
  assert_int_equal(pay_paypal_parse_capture(pending, strlen(pending), &c), PAY_OK);
  assert_string_equal(c.pending_reason, "PENDING_REVIEW");
  assert_int_equal(pay_paypal_capture_outcome(c.capture_status), PAY_OUTCOME_APPROVED);
  assert_int_equal(pay_paypal_capture_outcome("DECLINED"), PAY_OUTCOME_FAILED);
  const char *none = "{\"id\":\"O\",\"status\":\"APPROVED\",\"purchase_units\":[{}]}";
  assert_int_equal(pay_paypal_parse_capture(none, strlen(none), &c), PAY_ERR_NOT_FOUND);
  const char *badamt = "{\"id\":\"O\",\"purchase_units\":[{\"payments\":{\"captures\":[{\"id\":\"C\",\"status\":"
                       "\"COMPLETED\",\"amount\":{\"currency_code\":\"USD\",\"value\":1.38}}]}}]}";
  assert_int_equal(pay_paypal_parse_capture(badamt, strlen(badamt), &c), PAY_ERR_INVALID);
}

#define EVENT_CAPTURE(type)                                                                                       \
  "{\"id\":\"WH-58D329510W468432D-8HN650336L201105X\",\"event_version\":\"1.0\",\"create_time\":"                 \
  "\"2026-01-15T03:30:00Z\",\"resource_type\":\"capture\",\"resource_version\":\"2.0\",\"event_type\":\"" type    \
  "\",\"summary\":\"Payment completed for $ 1.38 USD\",\"resource\":{\"id\":\"3C679366HH908993F\",\"status\":"    \
  "\"COMPLETED\",\"amount\":{\"currency_code\":\"USD\",\"value\":\"1.38\"},\"final_capture\":true,\"custom_id\":" \
  "\"pay-1\",\"supplementary_data\":{\"related_ids\":{\"order_id\":\"5O190127TN364715T\"}},\"links\":[]},"        \
  "\"links\":[]}"

static void test_paypal_events(void **state) {
  (void)state;
  static const struct {
    const char *json;
    pay_paypal_event_type type;
    pay_outcome outcome;
  } rows[] = {
      {EVENT_CAPTURE("PAYMENT.CAPTURE.COMPLETED"), PAY_PP_EVENT_CAPTURE_COMPLETED, PAY_OUTCOME_COMPLETED},
      {EVENT_CAPTURE("PAYMENT.CAPTURE.DENIED"), PAY_PP_EVENT_CAPTURE_DENIED, PAY_OUTCOME_FAILED},
      {EVENT_CAPTURE("PAYMENT.CAPTURE.PENDING"), PAY_PP_EVENT_CAPTURE_PENDING, PAY_OUTCOME_APPROVED},
      {EVENT_CAPTURE("PAYMENT.SALE.COMPLETED"), PAY_PP_EVENT_OTHER, PAY_OUTCOME_NONE},
  };
  pay_paypal_event e;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    assert_int_equal(pay_paypal_parse_event(rows[i].json, strlen(rows[i].json), &e), PAY_OK);
    assert_int_equal(e.type, rows[i].type);
    assert_int_equal(e.outcome, rows[i].outcome);
    assert_string_equal(e.event_id, "WH-58D329510W468432D-8HN650336L201105X");
  }
  const char *completed = rows[0].json;
  assert_int_equal(pay_paypal_parse_event(completed, strlen(completed), &e), PAY_OK);
  assert_string_equal(e.capture_id, "3C679366HH908993F");
  assert_string_equal(e.order_id, "5O190127TN364715T");
  assert_string_equal(e.custom_id, "pay-1");
  assert_int_equal(e.amount_cents, 138);
  assert_string_equal(e.currency, "USD");

  const char *cancelled = "{\"id\":\"WH-2\",\"event_type\":\"CHECKOUT.ORDER.CANCELLED\",\"resource_type\":"
                          "\"checkout-order\",\"resource\":{\"id\":\"5O1\",\"status\":\"CREATED\",\"purchase_units\":"
                          "[{\"reference_id\":\"default\",\"amount\":{\"currency_code\":\"USD\",\"value\":\"1.38\"},"
                          "\"custom_id\":\"pay-2\"}]}}";
  assert_int_equal(pay_paypal_parse_event(cancelled, strlen(cancelled), &e), PAY_OK);
  assert_int_equal(e.type, PAY_PP_EVENT_ORDER_CANCELLED);
  assert_int_equal(e.outcome, PAY_OUTCOME_CANCELLED);
  assert_string_equal(e.order_id, "5O1");
  assert_string_equal(e.custom_id, "pay-2");
  assert_int_equal(e.amount_cents, 138);

  const char *refunded = "{\"id\":\"WH-3\",\"event_type\":\"PAYMENT.CAPTURE.REFUNDED\",\"resource\":{\"id\":"
                         "\"1JU08902781691411\",\"status\":\"COMPLETED\",\"amount\":{\"currency_code\":\"USD\","
                         "\"value\":\"0.69\"},\"links\":[{\"href\":\"http://p/v2/payments/refunds/1JU08902781691411\","
                         "\"rel\":\"self\"},{\"href\":\"http://p/v2/payments/captures/3C679366HH908993F\",\"rel\":"
                         "\"up\"}]}}";
  assert_int_equal(pay_paypal_parse_event(refunded, strlen(refunded), &e), PAY_OK);
  assert_int_equal(e.type, PAY_PP_EVENT_CAPTURE_REFUNDED);
  assert_string_equal(e.refund_id, "1JU08902781691411");
  assert_string_equal(e.capture_id, "3C679366HH908993F");
  assert_int_equal(e.amount_cents, 69);

  const char *bad[] = {"{\"event_type\":\"X\",\"resource\":{}}", "{\"id\":\"W\",\"resource\":{}}",
                       "{\"id\":\"W\",\"event_type\":\"X\"}", "{\"id\":\"W\",\"id\":\"V\",\"event_type\":\"X\","
                       "\"resource\":{}}",
                       "{\"id\":\"W\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\",\"resource\":{\"amount\":{}}}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(pay_paypal_parse_event(bad[i], strlen(bad[i]), &e), PAY_ERR_INVALID);
}

static void test_paypal_verify_request(void **state) {
  (void)state;
  pay_paypal_transmission t = {.auth_algo = "SHA256withRSA", .cert_url = "http://p/v1/notifications/certs/CERT-1",
                               .transmission_id = "b2384410-f8d2-11ee-9c3e-0242ac120002",
                               .transmission_sig = "c2lnbmF0dXJl", .transmission_time = "2026-01-15T03:30:00Z"};
  const char *raw = "{\"id\":\"WH-1\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\",\"resource\":{\"amount\":{"
                    "\"value\":\"1.38\"}},\"n\":[1,2]}";
  char *json;
  assert_int_equal(pay_paypal_verify_request(A, &t, "WHID-9", raw, strlen(raw), &json), PAY_OK);
  assert_string_equal(json, "{\"auth_algo\":\"SHA256withRSA\",\"cert_url\":\"http://p/v1/notifications/certs/CERT-1\","
                            "\"transmission_id\":\"b2384410-f8d2-11ee-9c3e-0242ac120002\",\"transmission_sig\":"
                            "\"c2lnbmF0dXJl\",\"transmission_time\":\"2026-01-15T03:30:00Z\",\"webhook_id\":\"WHID-9\","
                            "\"webhook_event\":{\"id\":\"WH-1\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\","
                            "\"resource\":{\"amount\":{\"value\":\"1.38\"}},\"n\":[1,2]}}");
  assert_int_equal(pay_paypal_verify_request(A, &t, "WHID-9", "[1]", 3, &json), PAY_ERR_INVALID);
  assert_int_equal(pay_paypal_verify_request(A, &t, "WHID-9", "{\"a\":", 5, &json), PAY_ERR_INVALID);
  assert_int_equal(pay_paypal_verify_request(A, &t, "", raw, strlen(raw), &json), PAY_ERR_INVALID);
  t.transmission_sig = NULL;
  assert_int_equal(pay_paypal_verify_request(A, &t, "WHID-9", raw, strlen(raw), &json), PAY_ERR_INVALID);

  bool ok;
  const char *s = "{\"verification_status\":\"SUCCESS\"}", *f = "{\"verification_status\":\"FAILURE\"}";
  assert_int_equal(pay_paypal_parse_verification(s, strlen(s), &ok), PAY_OK);
  assert_true(ok);
  assert_int_equal(pay_paypal_parse_verification(f, strlen(f), &ok), PAY_OK);
  assert_false(ok);
  assert_int_equal(pay_paypal_parse_verification("{}", 2, &ok), PAY_ERR_INVALID);
  assert_false(ok);
}

/* ---- Sepay ---------------------------------------------------------------------------------- */

#define SEPAY_BODY                                                                                                \
  "{\"id\": 92704, \"gateway\": \"MBBank\", \"transactionDate\": \"2026-01-15 10:30:00\", \"accountNumber\": "   \
  "\"012345678901\", \"subAccount\": null, \"code\": null, \"content\": \"Payment for ticket " TICKET "\", "        \
  "\"transferType\": \"in\", \"transferAmount\": 36000, \"accumulated\": 36000, \"referenceCode\": "              \
  "\"FT26015ABCDEF\", \"description\": \"BankAPINotify Payment for ticket " TICKET "\"}"

static void test_sepay_webhook(void **state) {
  (void)state;
  pay_sepay_transfer t;
  assert_int_equal(pay_sepay_parse_webhook(SEPAY_BODY, strlen(SEPAY_BODY), &t), PAY_OK);
  assert_int_equal(t.id, 92704);
  assert_string_equal(t.gateway, "MBBank");
  assert_string_equal(t.transaction_date, "2026-01-15 10:30:00");
  assert_string_equal(t.account_number, "012345678901");
  assert_string_equal(t.sub_account, "");
  assert_string_equal(t.content, "Payment for ticket " TICKET);
  assert_true(t.incoming);
  assert_int_equal(t.transfer_amount, 36000);
  assert_int_equal(t.accumulated, 36000);
  assert_string_equal(t.reference_code, "FT26015ABCDEF");

  const char *out = "{\"id\":1,\"gateway\":\"MBBank\",\"transactionDate\":\"2026-01-15 10:30:00\",\"accountNumber\":"
                    "\"1\",\"content\":\"x\",\"transferType\":\"out\",\"transferAmount\":5}";
  assert_int_equal(pay_sepay_parse_webhook(out, strlen(out), &t), PAY_OK);
  assert_false(t.incoming);

  /* Strict types and bounds. */
  const char *bad[] = {
      replace(SEPAY_BODY, "\"id\": 92704", "\"id\": \"92704\""),
      replace(SEPAY_BODY, "\"transferAmount\": 36000", "\"transferAmount\": 36000.0"),
      replace(SEPAY_BODY, "\"transferAmount\": 36000", "\"transferAmount\": \"36000\""),
      replace(SEPAY_BODY, "\"transferAmount\": 36000", "\"transferAmount\": -1"),
      replace(SEPAY_BODY, "\"transferType\": \"in\"", "\"transferType\": \"IN\""),
      replace(SEPAY_BODY, "\"id\": 92704", "\"id\": 0"),
      replace(SEPAY_BODY, "\"content\": \"Payment", "\"content\": null, \"x\": \"Payment"),
      replace(SEPAY_BODY, "2026-01-15 10:30:00", "2026-01-15T10:30:00"),
      replace(SEPAY_BODY, "\"gateway\": \"MBBank\"", "\"gateway\": \"MBBank\", \"gateway\": \"VCB\""),
      replace(SEPAY_BODY, "\"id\": 92704", "\"id\": 99999999999999999999"),
      "[]",
      "{",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(pay_sepay_parse_webhook(bad[i], strlen(bad[i]), &t), PAY_ERR_INVALID);
  char *longc = arena_alloc(A, PAY_SEPAY_MAX_CONTENT + 2);
  memset(longc, 'x', PAY_SEPAY_MAX_CONTENT + 1);
  const char *toolong = replace(SEPAY_BODY, "\"content\": \"Payment for", arena_printf(A, "\"content\": \"%s", longc));
  assert_int_equal(pay_sepay_parse_webhook(toolong, strlen(toolong), &t), PAY_ERR_INVALID);
}

static void test_sepay_find_uuid(void **state) {
  (void)state;
  static const struct {
    const char *content, *uuid; /* NULL: not found */
  } rows[] = {
      {"Payment for ticket " TICKET, TICKET},
      {"Payment for ticket 0f8fad5bd9cb469fa16570867728950e", TICKET},
      {"PAYMENT FOR TICKET 0F8FAD5B-D9CB-469F-A165-70867728950E", TICKET},
      {"PAYMENT FOR TICKET 0F8FAD5BD9CB469FA16570867728950E", TICKET},
      {"MBVCB.1234.ticket" TICKET ".CT tu 0123 toi 4567", TICKET},
      {"xyz-0f8fad5bd9cb469fa16570867728950e-FT26015", TICKET},
      {TICKET, TICKET},
      {"a " TICKET " and 6ba7b810-9dad-11d1-80b4-00c04fd430c8", TICKET},
      {"6ba7b8109dad11d180b400c04fd430c8 then " TICKET, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
      {"Payment for ticket", NULL},
      {"", NULL},
      {"0f8fad5bd9cb469fa16570867728950", NULL},   /* 31 digits */
      {"a0f8fad5bd9cb469fa16570867728950e", NULL}, /* 33 hex digits: glued */
      {"0f8fad5b-d9cb-469f-a165-70867728950", NULL},
      {"0f8fad5b-d9cb469f-a165-70867728950e", NULL}, /* dashes half-way */
      {"0f8fad5b_d9cb_469f_a165_70867728950e", NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char out[PAY_SEPAY_UUID_LEN + 1];
    bool found = pay_sepay_find_uuid(rows[i].content, out);
    assert_int_equal(found, rows[i].uuid != NULL);
    if (rows[i].uuid) assert_string_equal(out, rows[i].uuid);
  }
}

static void test_sepay_auth(void **state) {
  (void)state;
  const char *key = "K3Y0123456789ABCDEFGHIJKLMNOPQRS";
  assert_true(pay_sepay_check_auth("Apikey K3Y0123456789ABCDEFGHIJKLMNOPQRS", key));
  assert_true(pay_sepay_check_auth("apikey K3Y0123456789ABCDEFGHIJKLMNOPQRS", key));
  assert_false(pay_sepay_check_auth("Apikey K3Y0123456789ABCDEFGHIJKLMNOPQRT", key));
  assert_false(pay_sepay_check_auth("Apikey K3Y0123456789ABCDEFGHIJKLMNOPQR", key));
  assert_false(pay_sepay_check_auth("Apikey K3Y0123456789ABCDEFGHIJKLMNOPQRS ", key));
  assert_false(pay_sepay_check_auth("Bearer K3Y0123456789ABCDEFGHIJKLMNOPQRS", key));
  assert_false(pay_sepay_check_auth("K3Y0123456789ABCDEFGHIJKLMNOPQRS", key));
  assert_false(pay_sepay_check_auth("Apikey ", key));
  assert_false(pay_sepay_check_auth(NULL, key));
  assert_false(pay_sepay_check_auth("Apikey ", ""));
  assert_false(pay_sepay_check_auth("Apikey x", NULL));
}

static void test_sepay_qr_url(void **state) {
  (void)state;
  char *url;
  assert_int_equal(pay_sepay_qr_url(A, "https://qr.sepay.vn/", "MBBank", "012345678901", 36000, TICKET, &url), PAY_OK);
  assert_string_equal(url, "https://qr.sepay.vn/img?bank=MBBank&acc=012345678901&amount=36000&des=Payment+for+ticket+"
                           TICKET);
  assert_int_equal(pay_sepay_qr_url(A, "http://127.0.0.1:9003", "MB Bank&Co", "0123", 5000, "t/1", &url), PAY_OK);
  assert_string_equal(url, "http://127.0.0.1:9003/img?bank=MB+Bank%26Co&acc=0123&amount=5000&des=Payment+for+ticket+t%2F1");
  assert_int_equal(pay_sepay_qr_url(A, "http://q", "MB", "1", 0, TICKET, &url), PAY_ERR_INVALID);
  assert_int_equal(pay_sepay_qr_url(A, "http://q", "", "1", 10, TICKET, &url), PAY_ERR_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_form_encode),
      cmocka_unit_test(test_vnpay_time_gmt7),
      cmocka_unit_test(test_vnpay_readme_vector),
      cmocka_unit_test(test_vnpay_amount_times_100_once),
      cmocka_unit_test(test_vnpay_build_refuses_bad_input),
      cmocka_unit_test(test_vnpay_verify_emulator_ipn),
      cmocka_unit_test(test_vnpay_tampering_refused),
      cmocka_unit_test(test_vnpay_round_trip),
      cmocka_unit_test(test_vnpay_ipn_answers),
      cmocka_unit_test(test_vnpay_outcomes),
      cmocka_unit_test(test_vnpay_api_vector),
      cmocka_unit_test(test_vnpay_refund_body),
      cmocka_unit_test(test_vnpay_refund_answer),
      cmocka_unit_test(test_paypal_usd_rounding),
      cmocka_unit_test(test_paypal_parse_cents),
      cmocka_unit_test(test_paypal_prorata),
      cmocka_unit_test(test_paypal_order_json),
      cmocka_unit_test(test_paypal_parse_created),
      cmocka_unit_test(test_paypal_parse_capture),
      cmocka_unit_test(test_paypal_events),
      cmocka_unit_test(test_paypal_verify_request),
      cmocka_unit_test(test_sepay_webhook),
      cmocka_unit_test(test_sepay_find_uuid),
      cmocka_unit_test(test_sepay_auth),
      cmocka_unit_test(test_sepay_qr_url),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
