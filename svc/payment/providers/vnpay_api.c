/* VNPay's merchant_webapi refund on common/http_client (§12.1): the signed JSON request, the
 * signed answer verified before it is believed, and its ResponseCode mapped to a papi_result. */
#include <stdio.h>
#include <string.h>

#include "common/http_client.h"
#include "common/log.h"
#include "svc/payment/providers/provider_api.h"

#define VNPAY_MAX_ANSWER (64 * 1024)

/* ResponseCodes that are not a refusal: done now (00) or done before (94), or VNPay's own
 * trouble (99, worth retrying). */
static const struct {
  const char *code;
  papi_result result;
} refund_codes[] = {
    {"00", PAPI_OK},
    {"94", PAPI_OK},
    {"99", PAPI_UNAVAILABLE},
};

static papi_result code_result(const char *code) {
  for (size_t i = 0; i < sizeof refund_codes / sizeof refund_codes[0]; i++)
    if (strcmp(refund_codes[i].code, code) == 0) return refund_codes[i].result;
  return PAPI_REJECTED;
}

static papi_result fail(papi_error *err, papi_result r, const char *code, const char *message) {
  if (code) snprintf(err->code, sizeof err->code, "%s", code);
  if (message) snprintf(err->message, sizeof err->message, "%s", message);
  return r;
}

/* Warns about a failed refund (status and ResponseCode; never the secret). */
static papi_result logged(const char *txn_ref, papi_result r, const papi_error *err) {
  if (r != PAPI_OK)
    log_warn("vnpay refund %s: %s (HTTP %ld%s%s): %s", txn_ref ? txn_ref : "?", papi_result_name(r),
             err->http_status, err->code[0] ? ", ResponseCode " : "", err->code, err->message);
  return r;
}

/* The answer's HTTP status: VNPay answers 200 for everything it understood. */
static papi_result classify(const httpc_response *res, papi_error *err) {
  err->http_status = res->status;
  if (res->status == 0) return fail(err, PAPI_UNAVAILABLE, NULL, res->error);
  if (res->status >= 500 || res->status == 429) return fail(err, PAPI_UNAVAILABLE, NULL, "VNPay is unavailable");
  if (res->status < 200 || res->status >= 300) return fail(err, PAPI_REJECTED, NULL, "unexpected HTTP status");
  return PAPI_OK;
}

papi_result papi_vnpay_refund(const papi_vnpay_config *cfg, arena *a, const pay_vnpay_refund_request *r,
                              pay_vnpay_refund_answer *out, papi_error *err) {
  memset(out, 0, sizeof *out);
  out->amount_x100 = -1;
  memset(err, 0, sizeof *err);
  pay_vnpay_refund_request signed_req = *r;
  if (cfg->tmn_code && *cfg->tmn_code) signed_req.tmn_code = cfg->tmn_code;
  if (cfg->hash_secret && *cfg->hash_secret) signed_req.hash_secret = cfg->hash_secret;
  char *body;
  if (!cfg->api_url || pay_vnpay_refund_body(a, &signed_req, &body) != PAY_OK)
    return logged(r->txn_ref, fail(err, PAPI_INVALID, NULL, "bad refund request"), err);

  httpc_request req = {.method = "POST",
                       .url = cfg->api_url,
                       .headers = {"Content-Type: application/json", "Accept: application/json"},
                       .body = body,
                       .body_len = strlen(body),
                       .timeout_ms = cfg->timeout_ms,
                       .max_body = VNPAY_MAX_ANSWER};
  httpc_response res;
  httpc_send(a, &req, &res);
  papi_result result = classify(&res, err);
  if (result != PAPI_OK) return logged(r->txn_ref, result, err);

  switch (pay_vnpay_refund_verify(res.body, res.body_len, signed_req.hash_secret, out)) {
  case PAY_OK:
    break;
  case PAY_ERR_SIGNATURE:
    return logged(r->txn_ref, fail(err, PAPI_INVALID, NULL, "answer signature does not match"), err);
  default:
    return logged(r->txn_ref, fail(err, PAPI_INVALID, NULL, "answer does not parse"), err);
  }
  if (out->txn_ref[0] && strcmp(out->txn_ref, r->txn_ref) != 0)
    return logged(r->txn_ref, fail(err, PAPI_INVALID, NULL, "answer names another TxnRef"), err);
  result = code_result(out->response_code);
  if (result != PAPI_OK) fail(err, result, out->response_code, out->message);
  return logged(r->txn_ref, result, err);
}
