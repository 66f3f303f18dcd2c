/* VNPay PAY 2.1.0 at the wire (§12.1, test/providers/README.md "VNPay"): the form encoding it signs,
 * the signed payment URL, callback verification, IPN answers, outcomes and the refund API. */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/crypto.h"
#include "svc/payment/providers/providers.h"

/* ---- Form encoding -------------------------------------------------------------------------- */

static bool form_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || c == '~';
}

char *pay_form_encode(arena *a, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  char *out = arena_alloc(a, 3 * n + 1), *o = out;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (form_unreserved(c)) {
      *o++ = (char)c;
    } else if (c == ' ') {
      *o++ = '+';
    } else {
      *o++ = '%';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
  }
  *o = '\0';
  return out;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool pay_form_decode(const char *s, size_t n, char *out, size_t cap, size_t *len) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (o + 1 >= cap) return false;
    char c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= n) return false; /* truncated escape */
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0 || (hi | lo) == 0) return false; /* a bad escape or an encoded NUL */
      c = (char)(hi << 4 | lo);
      i += 2;
    } else if (c == '\0') {
      return false;
    }
    out[o++] = c;
  }
  if (o >= cap) return false;
  out[o] = '\0';
  if (len) *len = o;
  return true;
}

/* ---- Dates and input rules ------------------------------------------------------------------ */

#define GMT7_OFFSET_S (7 * 3600)
#define YEAR_10000_UNIX 253402300800LL

bool pay_vnpay_format_time(int64_t unix_s, char out[PAY_VNP_DATE_LEN + 1]) {
  if (unix_s < 0 || unix_s + GMT7_OFFSET_S >= YEAR_10000_UNIX) return false;
  time_t t = (time_t)(unix_s + GMT7_OFFSET_S);
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return false;
  return strftime(out, PAY_VNP_DATE_LEN + 1, "%Y%m%d%H%M%S", &tm) == PAY_VNP_DATE_LEN;
}

static bool printable_ascii(const char *s, size_t max) {
  size_t n = 0;
  for (; s[n]; n++)
    if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e || n >= max) return false;
  return n > 0;
}

static bool txn_ref_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > PAY_VNP_MAX_TXN_REF) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("_.:-", s[i])) return false;
  return true;
}

static bool http_url(const char *s) {
  if (!s) return false;
  size_t p = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
  return p > 0 && s[p] != '\0' && printable_ascii(s, 2048) && !strchr(s, ' ');
}

static bool nonempty(const char *s) { return s && *s; }

/* ---- Signing -------------------------------------------------------------------------------- */

static int kv_cmp(const void *a, const void *b) {
  return strcmp(((const pay_kv *)a)->key, ((const pay_kv *)b)->key);
}

static bool signed_key(const pay_kv *kv) {
  return strncmp(kv->key, "vnp_", 4) == 0 && strcmp(kv->key, "vnp_SecureHash") != 0 &&
         strcmp(kv->key, "vnp_SecureHashType") != 0 && kv->value && kv->value[0] != '\0';
}

char *pay_vnpay_hash_data(arena *a, pay_kv *kv, size_t n) {
  qsort(kv, n, sizeof *kv, kv_cmp);
  char **enc = arena_alloc(a, (n ? n : 1) * sizeof *enc);
  size_t total = 1;
  for (size_t i = 0; i < n; i++) {
    if (!signed_key(&kv[i])) continue;
    enc[i] = pay_form_encode(a, kv[i].value, strlen(kv[i].value));
    total += strlen(kv[i].key) + 1 + strlen(enc[i]) + 1;
  }
  char *out = arena_alloc(a, total), *o = out;
  for (size_t i = 0; i < n; i++) {
    if (!enc[i]) continue;
    if (o != out) *o++ = '&';
    o = stpcpy(stpcpy(stpcpy(o, kv[i].key), "="), enc[i]);
  }
  *o = '\0';
  return out;
}

void pay_vnpay_sign(const char *secret, const char *data, char out[PAY_VNP_HASH_HEX_LEN + 1]) {
  crypto_hmac_sha512_hex(secret, strlen(secret), data, strlen(data), out);
}

void pay_vnpay_api_sign(arena *a, const char *secret, const char *const *values, size_t n,
                        char out[PAY_VNP_HASH_HEX_LEN + 1]) {
  size_t total = 1;
  for (size_t i = 0; i < n; i++) total += (values[i] ? strlen(values[i]) : 0) + 1;
  char *data = arena_alloc(a, total), *o = data;
  for (size_t i = 0; i < n; i++) {
    if (i) *o++ = '|';
    o = stpcpy(o, values[i] ? values[i] : "");
  }
  pay_vnpay_sign(secret, data, out);
}

/* ---- Payment URL ---------------------------------------------------------------------------- */

pay_result pay_vnpay_build_url(arena *a, const pay_vnpay_request *r, char **url) {
  char created[PAY_VNP_DATE_LEN + 1], expires[PAY_VNP_DATE_LEN + 1];
  if (!nonempty(r->pay_url) || !nonempty(r->tmn_code) || !nonempty(r->hash_secret) ||
      !nonempty(r->ip_addr) || r->amount_vnd <= 0 || r->amount_vnd > PAY_VNP_MAX_AMOUNT_VND ||
      !txn_ref_ok(r->txn_ref) || !r->order_info || !printable_ascii(r->order_info, PAY_VNP_MAX_ORDER_INFO) ||
      !http_url(r->return_url) || r->expire_time <= r->create_time ||
      !pay_vnpay_format_time(r->create_time, created) || !pay_vnpay_format_time(r->expire_time, expires))
    return PAY_ERR_INVALID;
  pay_kv kv[] = {
      {"vnp_Version", "2.1.0"},
      {"vnp_Command", "pay"},
      {"vnp_TmnCode", r->tmn_code},
      {"vnp_Amount", arena_printf(a, "%" PRId64, r->amount_vnd * 100)}, /* the one ×100 */
      {"vnp_CurrCode", "VND"},
      {"vnp_TxnRef", r->txn_ref},
      {"vnp_OrderInfo", r->order_info},
      {"vnp_OrderType", "other"},
      {"vnp_Locale", "vn"},
      {"vnp_ReturnUrl", r->return_url},
      {"vnp_IpAddr", r->ip_addr},
      {"vnp_CreateDate", created},
      {"vnp_ExpireDate", expires},
  };
  const char *data = pay_vnpay_hash_data(a, kv, sizeof kv / sizeof kv[0]);
  char hash[PAY_VNP_HASH_HEX_LEN + 1];
  pay_vnpay_sign(r->hash_secret, data, hash);
  *url = arena_printf(a, "%s%c%s&vnp_SecureHash=%s", r->pay_url, strchr(r->pay_url, '?') ? '&' : '?', data, hash);
  return PAY_OK;
}

/* ---- Callbacks (IPN and return URL) --------------------------------------------------------- */

/* Where each received vnp_* field lands in pay_vnpay_callback. */
static const struct {
  const char *key;
  size_t offset, size;
  bool required;
} callback_fields[] = {
#define CB(k, m, req) {k, offsetof(pay_vnpay_callback, m), sizeof(((pay_vnpay_callback *)0)->m), req}
    CB("vnp_TxnRef", txn_ref, true),
    CB("vnp_ResponseCode", response_code, true),
    CB("vnp_TransactionStatus", transaction_status, false),
    CB("vnp_TransactionNo", transaction_no, false),
    CB("vnp_BankCode", bank_code, false),
    CB("vnp_BankTranNo", bank_tran_no, false),
    CB("vnp_CardType", card_type, false),
    CB("vnp_PayDate", pay_date, false),
    CB("vnp_TmnCode", tmn_code, false),
    CB("vnp_OrderInfo", order_info, false),
#undef CB
};

static const char *kv_get(const pay_kv *kv, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(kv[i].key, key) == 0) return kv[i].value;
  return NULL;
}

/* Digits only, at most 18 of them, into *v. */
static bool parse_digits(const char *s, int64_t *v) {
  size_t n = strlen(s);
  if (n == 0 || n > 18) return false;
  int64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return true;
}

/* Splits the query into decoded vnp_* pairs; false on a bad escape, an empty key, a repeated
 * vnp_* key or too many pairs. Other keys are not signed and are dropped. */
static bool split_query(arena *a, const char *q, pay_kv *kv, size_t *n) {
  *n = 0;
  for (const char *p = q; *p;) {
    const char *end = strchr(p, '&');
    size_t seg = end ? (size_t)(end - p) : strlen(p);
    if (seg > 0) {
      const char *eq = memchr(p, '=', seg);
      size_t klen = eq ? (size_t)(eq - p) : seg, vlen = eq ? seg - klen - 1 : 0;
      char *key = arena_alloc(a, klen + 1), *val = arena_alloc(a, vlen + 1);
      if (klen == 0 || !pay_form_decode(p, klen, key, klen + 1, NULL) ||
          !pay_form_decode(eq ? eq + 1 : "", vlen, val, vlen + 1, NULL))
        return false;
      if (strncmp(key, "vnp_", 4) == 0) {
        if (*n == PAY_VNP_MAX_PARAMS || kv_get(kv, *n, key)) return false;
        kv[(*n)++] = (pay_kv){key, val};
      }
    }
    p += seg + (end ? 1 : 0);
  }
  return true;
}

pay_result pay_vnpay_verify_callback(arena *a, const char *query, const char *hash_secret,
                                     pay_vnpay_callback *out) {
  memset(out, 0, sizeof *out);
  out->amount_x100 = -1;
  if (!query || !nonempty(hash_secret) || strnlen(query, PAY_VNP_MAX_QUERY + 1) > PAY_VNP_MAX_QUERY)
    return PAY_ERR_INVALID;
  pay_kv kv[PAY_VNP_MAX_PARAMS];
  size_t n;
  if (!split_query(a, query, kv, &n)) return PAY_ERR_INVALID;

  const char *given = kv_get(kv, n, "vnp_SecureHash");
  if (!given || strlen(given) != PAY_VNP_HASH_HEX_LEN) return PAY_ERR_SIGNATURE;
  char lower[PAY_VNP_HASH_HEX_LEN + 1], expected[PAY_VNP_HASH_HEX_LEN + 1];
  for (size_t i = 0; i <= PAY_VNP_HASH_HEX_LEN; i++) lower[i] = (char)tolower((unsigned char)given[i]);
  pay_vnpay_sign(hash_secret, pay_vnpay_hash_data(a, kv, n), expected);
  if (!crypto_ct_streq(lower, expected)) return PAY_ERR_SIGNATURE;

  for (size_t f = 0; f < sizeof callback_fields / sizeof callback_fields[0]; f++) {
    const char *v = kv_get(kv, n, callback_fields[f].key);
    if (!v || !*v) {
      if (callback_fields[f].required) return PAY_ERR_INVALID;
      continue;
    }
    if (strlen(v) >= callback_fields[f].size) return PAY_ERR_INVALID;
    strcpy((char *)out + callback_fields[f].offset, v);
  }
  const char *amount = kv_get(kv, n, "vnp_Amount");
  if (!amount || !parse_digits(amount, &out->amount_x100) || strlen(out->response_code) != 2)
    return PAY_ERR_INVALID;
  return PAY_OK;
}

bool pay_vnpay_amount_matches(const pay_vnpay_callback *cb, int64_t amount_vnd) {
  return amount_vnd >= 0 && amount_vnd <= INT64_MAX / 100 && cb->amount_x100 == amount_vnd * 100;
}

/* ---- IPN answers and outcomes --------------------------------------------------------------- */

static const struct {
  const char *code, *body;
} ipn_answers[PAY_VNP_RSP_COUNT] = {
    [PAY_VNP_RSP_INVALID_CHECKSUM] = {"97", "{\"RspCode\":\"97\",\"Message\":\"Invalid Checksum\"}"},
    [PAY_VNP_RSP_ORDER_NOT_FOUND] = {"01", "{\"RspCode\":\"01\",\"Message\":\"Order not found\"}"},
    [PAY_VNP_RSP_INVALID_AMOUNT] = {"04", "{\"RspCode\":\"04\",\"Message\":\"Invalid amount\"}"},
    [PAY_VNP_RSP_ALREADY_CONFIRMED] = {"02", "{\"RspCode\":\"02\",\"Message\":\"Order already confirmed\"}"},
    [PAY_VNP_RSP_CONFIRM_SUCCESS] = {"00", "{\"RspCode\":\"00\",\"Message\":\"Confirm Success\"}"},
    [PAY_VNP_RSP_UNKNOWN_ERROR] = {"99", "{\"RspCode\":\"99\",\"Message\":\"Unknown error\"}"},
};

const char *pay_vnpay_ipn_answer(pay_vnpay_rsp rsp) {
  return ipn_answers[(unsigned)rsp < PAY_VNP_RSP_COUNT ? rsp : PAY_VNP_RSP_UNKNOWN_ERROR].body;
}

const char *pay_vnpay_rsp_code(pay_vnpay_rsp rsp) {
  return ipn_answers[(unsigned)rsp < PAY_VNP_RSP_COUNT ? rsp : PAY_VNP_RSP_UNKNOWN_ERROR].code;
}

/* First matching row wins; NULL matches anything. No row: failed. */
static const struct {
  const char *response_code, *transaction_status;
  pay_outcome outcome;
  bool review;
} outcomes[] = {
    {"00", "00", PAY_OUTCOME_COMPLETED, false},
    {"00", "07", PAY_OUTCOME_COMPLETED, true},
    {"07", NULL, PAY_OUTCOME_COMPLETED, true},
    {"24", NULL, PAY_OUTCOME_CANCELLED, false},
    {"11", NULL, PAY_OUTCOME_CANCELLED, false},
};

pay_outcome pay_vnpay_outcome(const char *response_code, const char *transaction_status, bool *review) {
  *review = false;
  for (size_t i = 0; response_code && i < sizeof outcomes / sizeof outcomes[0]; i++) {
    if (strcmp(outcomes[i].response_code, response_code) != 0) continue;
    if (outcomes[i].transaction_status &&
        (!transaction_status || strcmp(outcomes[i].transaction_status, transaction_status) != 0))
      continue;
    *review = outcomes[i].review;
    return outcomes[i].outcome;
  }
  return PAY_OUTCOME_FAILED;
}

/* ---- Refund API ----------------------------------------------------------------------------- */

static void json_free_string(void *p) { free(p); }

pay_result pay_vnpay_refund_body(arena *a, const pay_vnpay_refund_request *r, char **json) {
  char created[PAY_VNP_DATE_LEN + 1];
  if (!nonempty(r->tmn_code) || !nonempty(r->hash_secret) || !nonempty(r->request_id) ||
      !txn_ref_ok(r->txn_ref) || !r->transaction_date || strlen(r->transaction_date) != PAY_VNP_DATE_LEN ||
      !nonempty(r->create_by) || !nonempty(r->ip_addr) || !r->order_info ||
      !printable_ascii(r->order_info, PAY_VNP_MAX_ORDER_INFO) || r->amount_vnd <= 0 ||
      r->amount_vnd > PAY_VNP_MAX_AMOUNT_VND || !pay_vnpay_format_time(r->create_time, created))
    return PAY_ERR_INVALID;
  /* The refund request list of the README, in its signing order. */
  const char *keys[] = {"vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType",
                        "vnp_TxnRef", "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate",
                        "vnp_CreateBy", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo"};
  const char *values[] = {r->request_id, "2.1.0", "refund", r->tmn_code, r->full ? "02" : "03", r->txn_ref,
                          arena_printf(a, "%" PRId64, r->amount_vnd * 100), r->transaction_no,
                          r->transaction_date, r->create_by, created, r->ip_addr, r->order_info};
  char hash[PAY_VNP_HASH_HEX_LEN + 1];
  pay_vnpay_api_sign(a, r->hash_secret, values, sizeof keys / sizeof keys[0], hash);
  json_t *o = json_object();
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (values[i]) json_object_set_new(o, keys[i], json_string(values[i]));
  json_object_set_new(o, "vnp_SecureHash", json_string(hash));
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (!s) return PAY_ERR_INVALID;
  arena_defer(a, json_free_string, s);
  *json = s;
  return PAY_OK;
}

/* The refund answer list of the README, in its signing order, and where each field lands. */
static const struct {
  const char *key;
  size_t offset, size; /* size 0: signed, not kept */
} refund_answer_fields[] = {
#define RF(k, m) {k, offsetof(pay_vnpay_refund_answer, m), sizeof(((pay_vnpay_refund_answer *)0)->m)}
    {"vnp_ResponseId", 0, 0},
    {"vnp_Command", 0, 0},
    RF("vnp_ResponseCode", response_code),
    RF("vnp_Message", message),
    {"vnp_TmnCode", 0, 0},
    RF("vnp_TxnRef", txn_ref),
    {"vnp_Amount", 0, 0},
    {"vnp_BankCode", 0, 0},
    RF("vnp_PayDate", pay_date),
    RF("vnp_TransactionNo", transaction_no),
    RF("vnp_TransactionType", transaction_type),
    RF("vnp_TransactionStatus", transaction_status),
    {"vnp_OrderInfo", 0, 0},
#undef RF
};
#define N_REFUND_ANSWER_FIELDS (sizeof refund_answer_fields / sizeof refund_answer_fields[0])

/* A field of the answer as a string: absent or null is "", anything but a string is NULL. */
static const char *answer_string(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v)) return "";
  return json_is_string(v) ? json_string_value(v) : NULL;
}

pay_result pay_vnpay_refund_verify(const char *json, size_t n, const char *hash_secret,
                                   pay_vnpay_refund_answer *out) {
  memset(out, 0, sizeof *out);
  out->amount_x100 = -1;
  if (!json || !nonempty(hash_secret) || n > PAY_VNP_MAX_QUERY) return PAY_ERR_INVALID;
  json_t *o = json_loadb(json, n, JSON_REJECT_DUPLICATES, NULL);
  pay_result rc = PAY_ERR_INVALID;
  const char *values[N_REFUND_ANSWER_FIELDS];
  if (!json_is_object(o)) goto done;
  for (size_t i = 0; i < N_REFUND_ANSWER_FIELDS; i++)
    if (!(values[i] = answer_string(o, refund_answer_fields[i].key))) goto done;
  const char *given = answer_string(o, "vnp_SecureHash");
  if (!given) goto done;
  rc = PAY_ERR_SIGNATURE;
  if (strlen(given) != PAY_VNP_HASH_HEX_LEN) goto done;
  char lower[PAY_VNP_HASH_HEX_LEN + 1], expected[PAY_VNP_HASH_HEX_LEN + 1];
  for (size_t i = 0; i <= PAY_VNP_HASH_HEX_LEN; i++) lower[i] = (char)tolower((unsigned char)given[i]);
  arena *scratch = arena_create(1024);
  pay_vnpay_api_sign(scratch, hash_secret, values, N_REFUND_ANSWER_FIELDS, expected);
  arena_destroy(scratch);
  if (!crypto_ct_streq(lower, expected)) goto done;
  rc = PAY_ERR_INVALID;
  for (size_t i = 0; i < N_REFUND_ANSWER_FIELDS; i++) {
    if (!refund_answer_fields[i].size) continue;
    if (strlen(values[i]) >= refund_answer_fields[i].size) goto done;
    strcpy((char *)out + refund_answer_fields[i].offset, values[i]);
  }
  const char *amount = answer_string(o, "vnp_Amount");
  if (*amount && !parse_digits(amount, &out->amount_x100)) goto done;
  if (strlen(out->response_code) != 2) goto done;
  rc = PAY_OK;
done:
  json_decref(o);
  return rc;
}
