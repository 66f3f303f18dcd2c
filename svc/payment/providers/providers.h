/* The payment providers' wire protocols (domain spec §12.1) as pure functions: VNPay signed URLs,
 * callbacks, IPN answers and refunds; PayPal JSON and USD amounts; Sepay webhooks, Apikey and QR. */
#ifndef METRO_PAYMENT_PROVIDERS_H
#define METRO_PAYMENT_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"

/* One way to say how a codec call ended. Built strings live in the caller's arena; parsed fields
 * are copied into the caller's fixed-size structs, so nothing here needs freeing. */
typedef enum {
  PAY_OK = 0,
  PAY_ERR_INVALID,   /* malformed, wrong type, missing field, out of bounds or too long */
  PAY_ERR_SIGNATURE, /* the signature does not match (VNPay checksum, refund answer) */
  PAY_ERR_NOT_FOUND, /* the looked-for item (a link, a capture) is absent */
} pay_result;

/* What a provider's verdict means for the payment (§12 state table). */
typedef enum {
  PAY_OUTCOME_FAILED = 0,
  PAY_OUTCOME_COMPLETED,
  PAY_OUTCOME_CANCELLED,
  PAY_OUTCOME_APPROVED, /* PayPal: capture pending */
  PAY_OUTCOME_NONE,     /* no change (an event the payment ignores) */
} pay_outcome;

/* ---- Form encoding (application/x-www-form-urlencoded, Python's quote_plus) ---------------- */

/* A-Z a-z 0-9 _ . - ~ kept, space -> '+', every other byte -> %XX (uppercase). In the arena. */
char *pay_form_encode(arena *a, const char *s, size_t n);
/* Decodes '+' -> space and %XX (either case); false on a bad or truncated escape, an encoded NUL
 * or when the result (plus its NUL) does not fit in cap. *len gets the decoded length. */
bool pay_form_decode(const char *s, size_t n, char *out, size_t cap, size_t *len);

/* ---- VNPay (PAY 2.1.0) ---------------------------------------------------------------------- */

#define PAY_VNP_DATE_LEN 14        /* yyyyMMddHHmmss */
#define PAY_VNP_HASH_HEX_LEN 128   /* hex HMAC-SHA512 */
#define PAY_VNP_MAX_QUERY 4096     /* a callback query string longer than this is refused */
#define PAY_VNP_MAX_PARAMS 48      /* k=v pairs in one callback */
#define PAY_VNP_MAX_ORDER_INFO 255 /* characters of vnp_OrderInfo */
#define PAY_VNP_MAX_TXN_REF 100
#define PAY_VNP_MAX_AMOUNT_VND 999999999LL /* VNPay takes amounts below 1 billion VND */

/* unix seconds as yyyyMMddHHmmss in GMT+7 (VNPay's clock); false before 1970 or after 9999. */
bool pay_vnpay_format_time(int64_t unix_s, char out[PAY_VNP_DATE_LEN + 1]);

typedef struct {
  const char *pay_url;     /* METRO_VNPAY_PAY_URL */
  const char *tmn_code;    /* METRO_VNPAY_TMN_CODE */
  const char *hash_secret; /* METRO_VNPAY_HASH_SECRET */
  int64_t amount_vnd;      /* the payment amount in VND; sent as vnp_Amount = amount_vnd * 100 */
  const char *txn_ref;     /* 1-100 of [A-Za-z0-9_.:-] */
  const char *order_info;  /* printable ASCII only: non-ASCII is REJECTED, never transliterated */
  const char *return_url;  /* http(s) URL */
  const char *ip_addr;     /* the buyer's IP address */
  int64_t create_time;     /* unix seconds */
  int64_t expire_time;     /* unix seconds (the payment deadline), after create_time */
} pay_vnpay_request;

/* The signed payment URL {pay_url}?{sorted form-encoded vnp_* params}&vnp_SecureHash=<hex>, with
 * vnp_Version 2.1.0, vnp_Command pay, vnp_CurrCode VND, vnp_Locale vn, vnp_OrderType other.
 * PAY_ERR_INVALID when any input breaks the rules above (amount 1..PAY_VNP_MAX_AMOUNT_VND). */
pay_result pay_vnpay_build_url(arena *a, const pay_vnpay_request *r, char **url);

/* One key/value of a signed VNPay parameter set (decoded values). */
typedef struct {
  const char *key;
  const char *value;
} pay_kv;

/* The string VNPay signs for a parameter set: every vnp_* key but vnp_SecureHash and
 * vnp_SecureHashType with a non-empty value, sorted by key (byte order), key=form(value),
 * joined with '&'. Sorts kv in place. */
char *pay_vnpay_hash_data(arena *a, pay_kv *kv, size_t n);
/* Lowercase hex HMAC-SHA512(secret, data). */
void pay_vnpay_sign(const char *secret, const char *data, char out[PAY_VNP_HASH_HEX_LEN + 1]);

/* The fields of a verified IPN or return URL. Strings are NUL-terminated and bounded. */
typedef struct {
  char txn_ref[PAY_VNP_MAX_TXN_REF + 1];
  int64_t amount_x100; /* vnp_Amount as sent: VND * 100 */
  char response_code[3];
  char transaction_status[3]; /* "" when absent */
  char transaction_no[32];
  char bank_code[32];
  char bank_tran_no[64];
  char card_type[32];
  char pay_date[PAY_VNP_DATE_LEN + 1];
  char tmn_code[32];
  char order_info[PAY_VNP_MAX_ORDER_INFO + 1];
} pay_vnpay_callback;

/* Verifies a callback's raw query string exactly as received (no leading '?'): every k=v pair is
 * form-decoded, the vnp_* ones (empty values left out) are signed as pay_vnpay_hash_data does, and
 * vnp_SecureHash is compared case-insensitively in constant time. A repeated vnp_* key is refused.
 * PAY_ERR_SIGNATURE for a missing or wrong hash (RspCode 97); PAY_ERR_INVALID for a malformed or
 * oversized query, or, once the hash matched, a missing/malformed TxnRef, Amount or ResponseCode. */
pay_result pay_vnpay_verify_callback(arena *a, const char *query, const char *hash_secret,
                                     pay_vnpay_callback *out);
/* vnp_Amount == amount_vnd * 100 (the ×100 is applied here, once). */
bool pay_vnpay_amount_matches(const pay_vnpay_callback *cb, int64_t amount_vnd);

/* The IPN answers of §12.1, in the order the checks run. */
typedef enum {
  PAY_VNP_RSP_INVALID_CHECKSUM, /* 97 */
  PAY_VNP_RSP_ORDER_NOT_FOUND,  /* 01 */
  PAY_VNP_RSP_INVALID_AMOUNT,   /* 04 */
  PAY_VNP_RSP_ALREADY_CONFIRMED,/* 02 */
  PAY_VNP_RSP_CONFIRM_SUCCESS,  /* 00 */
  PAY_VNP_RSP_UNKNOWN_ERROR,    /* 99 */
  PAY_VNP_RSP_COUNT
} pay_vnpay_rsp;

/* The IPN answer body {"RspCode":"..","Message":".."} (a static string). */
const char *pay_vnpay_ipn_answer(pay_vnpay_rsp rsp);
/* The RspCode alone ("97", "01", ...). */
const char *pay_vnpay_rsp_code(pay_vnpay_rsp rsp);

/* ResponseCode + TransactionStatus -> outcome: 00+00 completed; 07 (either field) completed with
 * *review set; 24, 11 cancelled; anything else failed. */
pay_outcome pay_vnpay_outcome(const char *response_code, const char *transaction_status, bool *review);

/* merchant_webapi: '|'-joined signature of n values (NULL counts as ""), lowercase hex. */
void pay_vnpay_api_sign(arena *a, const char *secret, const char *const *values, size_t n,
                        char out[PAY_VNP_HASH_HEX_LEN + 1]);

typedef struct {
  const char *tmn_code, *hash_secret;
  const char *request_id;       /* unique per call (vnp_RequestId) */
  const char *txn_ref;          /* the payment's TxnRef */
  const char *transaction_no;   /* the payment's vnp_TransactionNo, or NULL */
  const char *transaction_date; /* the payment's vnp_CreateDate (yyyyMMddHHmmss) */
  const char *create_by;        /* who asks (vnp_CreateBy) */
  const char *ip_addr;          /* the server's address */
  const char *order_info;       /* printable ASCII */
  int64_t amount_vnd;           /* the refund, VND; sent ×100 */
  bool full;                    /* vnp_TransactionType 02 (full) or 03 (partial) */
  int64_t create_time;          /* unix seconds of this request (vnp_CreateDate) */
} pay_vnpay_refund_request;

/* The JSON body of POST {api_url} for vnp_Command=refund, with its '|'-joined vnp_SecureHash. */
pay_result pay_vnpay_refund_body(arena *a, const pay_vnpay_refund_request *r, char **json);

typedef struct {
  char response_code[3];
  char message[256];
  char txn_ref[PAY_VNP_MAX_TXN_REF + 1];
  int64_t amount_x100; /* -1 when absent or empty */
  char transaction_no[32];
  char transaction_type[3];
  char transaction_status[3];
  char pay_date[PAY_VNP_DATE_LEN + 1];
} pay_vnpay_refund_answer;

/* Verifies the signed refund answer (every value a JSON string, a missing field counting as "").
 * PAY_ERR_SIGNATURE on a bad hash, PAY_ERR_INVALID on malformed JSON or oversized fields. */
pay_result pay_vnpay_refund_verify(const char *json, size_t n, const char *hash_secret,
                                   pay_vnpay_refund_answer *out);

/* ---- PayPal (Orders v2, webhooks) ----------------------------------------------------------- */

#define PAY_PP_DEFAULT_VND_PER_USD 26000
#define PAY_PP_MONEY_LEN 24 /* "92233720368547758.07" and its NUL fit */
#define PAY_PP_ID_LEN 64
#define PAY_PP_CUSTOM_ID_LEN 127
#define PAY_PP_URL_LEN 1024

/* vnd / vnd_per_usd in US cents, rounded half up, at least 1 cent. PAY_ERR_INVALID for vnd <= 0,
 * vnd_per_usd <= 0, or an overflow. Integer arithmetic only. */
pay_result pay_paypal_vnd_to_cents(int64_t vnd, int64_t vnd_per_usd, int64_t *cents);
/* cents >= 0 as "D.CC" ("0.01", "38.46"). */
void pay_paypal_format_cents(int64_t cents, char out[PAY_PP_MONEY_LEN]);
/* "12", "12.3", "12.34" -> cents; false on anything else (sign, 3 decimals, junk, overflow). */
bool pay_paypal_parse_cents(const char *s, int64_t *cents);
/* The USD refund for refund_vnd of a payment of amount_vnd that was paid amount_usd_cents:
 * amount_usd_cents * refund_vnd / amount_vnd rounded half up, capped at amount_usd_cents. */
pay_result pay_paypal_prorata_refund_cents(int64_t amount_usd_cents, int64_t amount_vnd,
                                           int64_t refund_vnd, int64_t *cents);

typedef struct {
  const char *payment_id; /* custom_id (the PayPal-Request-Id header is the service's job) */
  int64_t amount_cents;   /* USD */
  const char *return_url, *cancel_url;
  const char *description; /* optional */
} pay_paypal_order;

/* The POST /v2/checkout/orders body: intent CAPTURE, one purchase unit with custom_id and
 * amount {USD, "D.CC"}, application_context {return_url, cancel_url, user_action PAY_NOW}. */
pay_result pay_paypal_order_json(arena *a, const pay_paypal_order *o, char **json);

typedef struct {
  char id[PAY_PP_ID_LEN + 1];
  char status[32];
  char approve_url[PAY_PP_URL_LEN + 1]; /* the rel "approve" or "payer-action" link */
} pay_paypal_created;

/* The create-order answer; PAY_ERR_NOT_FOUND when it has no approve/payer-action link. */
pay_result pay_paypal_parse_created(const char *json, size_t n, pay_paypal_created *out);

typedef struct {
  char order_id[PAY_PP_ID_LEN + 1];
  char order_status[32];
  char capture_id[PAY_PP_ID_LEN + 1];
  char capture_status[32]; /* COMPLETED, PENDING, DECLINED... */
  char pending_reason[64]; /* status_details.reason, "" when none */
  int64_t amount_cents;
  char currency[4];
  char custom_id[PAY_PP_CUSTOM_ID_LEN + 1];
} pay_paypal_capture;

/* The capture answer (the whole order, purchase_units[0].payments.captures[0]); PAY_ERR_NOT_FOUND
 * when the order holds no capture. */
pay_result pay_paypal_parse_capture(const char *json, size_t n, pay_paypal_capture *out);
/* A capture's outcome: COMPLETED -> completed, PENDING -> approved, anything else -> failed. */
pay_outcome pay_paypal_capture_outcome(const char *capture_status);

/* The PAYPAL-* transmission headers of a webhook delivery. */
typedef struct {
  const char *auth_algo, *cert_url, *transmission_id, *transmission_sig, *transmission_time;
} pay_paypal_transmission;

/* The POST /v1/notifications/verify-webhook-signature body; the raw event is parsed (duplicate
 * keys refused, must be an object) and embedded as a JSON value. PAY_ERR_INVALID for a missing
 * header or a raw event that is not a JSON object. */
pay_result pay_paypal_verify_request(arena *a, const pay_paypal_transmission *t, const char *webhook_id,
                                     const char *raw_event, size_t n, char **json);
/* The verify answer: *success only for verification_status "SUCCESS". */
pay_result pay_paypal_parse_verification(const char *json, size_t n, bool *success);

typedef enum {
  PAY_PP_EVENT_OTHER = 0, /* acknowledged, ignored */
  PAY_PP_EVENT_CAPTURE_COMPLETED,
  PAY_PP_EVENT_CAPTURE_DENIED,
  PAY_PP_EVENT_CAPTURE_PENDING,
  PAY_PP_EVENT_CAPTURE_REFUNDED,
  PAY_PP_EVENT_ORDER_CANCELLED,
  PAY_PP_EVENT_ORDER_VOIDED,
} pay_paypal_event_type;

typedef struct {
  char event_id[PAY_PP_ID_LEN + 1];
  char event_type_name[64];
  pay_paypal_event_type type;
  pay_outcome outcome;                   /* what §12.1 makes of it */
  char capture_id[PAY_PP_ID_LEN + 1];    /* capture events ("" otherwise) */
  char refund_id[PAY_PP_ID_LEN + 1];     /* PAYMENT.CAPTURE.REFUNDED */
  char order_id[PAY_PP_ID_LEN + 1];      /* order events, or the capture's related order */
  char custom_id[PAY_PP_CUSTOM_ID_LEN + 1];
  int64_t amount_cents; /* -1 when the resource has no amount */
  char currency[4];
} pay_paypal_event;

/* A webhook body (verify it first). PAY_ERR_INVALID when id/event_type/resource are missing. */
pay_result pay_paypal_parse_event(const char *json, size_t n, pay_paypal_event *out);

/* ---- Sepay (VietQR bank transfers) ---------------------------------------------------------- */

#define PAY_SEPAY_MAX_BODY 16384
#define PAY_SEPAY_MAX_CONTENT 1024
#define PAY_SEPAY_UUID_LEN 36

typedef struct {
  int64_t id;              /* the transfer id (the event id) */
  char gateway[64];
  char transaction_date[20]; /* "YYYY-MM-DD HH:MM:SS", GMT+7 */
  char account_number[64];
  char sub_account[64];    /* "" when null */
  char code[64];           /* "" when null */
  char content[PAY_SEPAY_MAX_CONTENT + 1];
  bool incoming;           /* transferType "in" (else "out") */
  int64_t transfer_amount; /* VND */
  int64_t accumulated;     /* 0 when absent or null */
  char reference_code[64]; /* "" when absent or null */
  char description[PAY_SEPAY_MAX_CONTENT + 1];
} pay_sepay_transfer;

/* The webhook body with strict types: id and transferAmount integers (id > 0, amount >= 0),
 * strings where strings are due (subAccount, code, referenceCode, description may be null),
 * transferType "in" or "out", every string within its bound. */
pay_result pay_sepay_parse_webhook(const char *json, size_t n, pay_sepay_transfer *out);

/* The first UUID in content: 8-4-4-4-12 with dashes or 32 hex digits without, any case, with
 * anything but a hex digit (or nothing) on either side, so a longer hex run never matches.
 * Canonical lowercase with dashes in out ("" and false when there is none). */
bool pay_sepay_find_uuid(const char *content, char out[PAY_SEPAY_UUID_LEN + 1]);

/* The Authorization header is "Apikey <api_key>" (scheme case-insensitive), the key compared in
 * constant time. False for NULL, another scheme or an empty configured key. */
bool pay_sepay_check_auth(const char *authorization, const char *api_key);

/* {qr_base}/img?bank=..&acc=..&amount=<VND>&des=Payment+for+ticket+<ticketId>, form-encoded. */
pay_result pay_sepay_qr_url(arena *a, const char *qr_base, const char *bank, const char *account,
                            int64_t amount_vnd, const char *ticket_id, char **url);

#endif
