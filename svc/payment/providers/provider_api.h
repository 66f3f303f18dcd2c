/* The providers' HTTP APIs the services call (domain spec §12.1), on common/http_client:
 * PayPal (OAuth2 token cache, Orders v2, captures, refunds, webhook verification) and the
 * VNPay merchant_webapi refund. Wire formats come from providers.h; nothing here logs secrets. */
#ifndef METRO_PAYMENT_PROVIDER_API_H
#define METRO_PAYMENT_PROVIDER_API_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "svc/payment/providers/providers.h"

/* How a provider call ended. */
typedef enum {
  PAPI_OK = 0,
  PAPI_UNAVAILABLE, /* no answer, 5xx, 429, a timeout, or a 401 that a fresh token did not cure
                       (our credentials): worth retrying later */
  PAPI_REJECTED,    /* the provider said no (4xx other than 401/429, or a refusal code) */
  PAPI_INVALID,     /* an answer that does not parse or fails its signature, or arguments that
                       cannot be sent (a malformed id, amount or request id) */
} papi_result;

/* "ok", "unavailable", "rejected", "invalid" (for logs). */
const char *papi_result_name(papi_result r);

typedef struct papi_error {
  long http_status;       /* 0 when none came */
  char code[64];          /* PayPal issue/name ("ORDER_NOT_APPROVED"), VNPay ResponseCode, or "" */
  char message[256];      /* for logs and refund_error; never holds a secret */
} papi_error;

/* ---- PayPal ---- */

typedef struct papi_paypal_config {
  const char *api_base;      /* METRO_PAYPAL_API_BASE, e.g. https://api-m.sandbox.paypal.com */
  const char *client_id;     /* METRO_PAYPAL_CLIENT_ID */
  const char *client_secret; /* METRO_PAYPAL_CLIENT_SECRET */
  const char *webhook_id;    /* METRO_PAYPAL_WEBHOOK_ID */
  int timeout_ms;            /* per HTTP call */
} papi_paypal_config;

/* A process-wide client: the access token is cached until 60 s before expires_in and shared
 * by every thread (a mutex; one thread fetches while others wait); a 401 invalid_token answer
 * drops it, fetches a new one and retries the call once. */
typedef struct papi_paypal papi_paypal;

/* Copies cfg's strings; NULL when api_base, client_id or client_secret is missing. */
papi_paypal *papi_paypal_new(const papi_paypal_config *cfg);
void papi_paypal_free(papi_paypal *p);

/* POST /v2/checkout/orders with PayPal-Request-Id: request_id (the payment id, so a retry
 * answers the same order). */
papi_result papi_paypal_create_order(papi_paypal *p, arena *a, const pay_paypal_order *order,
                                     const char *request_id, pay_paypal_created *out, papi_error *err);
/* POST /v2/checkout/orders/{id}/capture with PayPal-Request-Id: request_id. ORDER_ALREADY_CAPTURED
 * is answered by reading the order (GET) so a retried capture returns the capture. */
papi_result papi_paypal_capture(papi_paypal *p, arena *a, const char *order_id, const char *request_id,
                                pay_paypal_capture *out, papi_error *err);
/* POST /v2/payments/captures/{id}/refund {amount: USD cents} with PayPal-Request-Id: request_id;
 * out_refund_id gets the refund id, *completed whether its status is COMPLETED. */
papi_result papi_paypal_refund(papi_paypal *p, arena *a, const char *capture_id, int64_t cents,
                               const char *request_id, char out_refund_id[PAY_PP_ID_LEN + 1], bool *completed,
                               papi_error *err);
/* POST /v1/notifications/verify-webhook-signature for one delivery; *verified only for SUCCESS.
 * PAPI_INVALID when a transmission header is missing or the body is not a JSON object. */
papi_result papi_paypal_verify_webhook(papi_paypal *p, arena *a, const pay_paypal_transmission *t,
                                       const char *raw_body, size_t n, bool *verified, papi_error *err);

/* ---- VNPay ---- */

typedef struct papi_vnpay_config {
  const char *api_url;     /* METRO_VNPAY_API_URL (merchant_webapi/api/transaction) */
  const char *tmn_code;
  const char *hash_secret;
  int timeout_ms;
} papi_vnpay_config;

/* POST the refund (pay_vnpay_refund_body, signed with cfg's tmn_code and hash_secret, which
 * replace r's when non-empty), verify the signed answer. ResponseCode 00 ->
 * PAPI_OK; 94 (already refunded) -> PAPI_OK as well; 99/timeout/5xx -> PAPI_UNAVAILABLE;
 * other codes -> PAPI_REJECTED with err->code; a bad answer signature -> PAPI_INVALID. */
papi_result papi_vnpay_refund(const papi_vnpay_config *cfg, arena *a, const pay_vnpay_refund_request *r,
                              pay_vnpay_refund_answer *out, papi_error *err);

#endif
