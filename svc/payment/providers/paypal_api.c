/* PayPal's REST API on common/http_client (§12.1): the OAuth2 access token shared by every thread,
 * Orders v2 create and capture, refunds and webhook verification, with one mapping of answers. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/http_client.h"
#include "common/log.h"
#include "common/text.h"
#include "svc/payment/providers/provider_api.h"

#define TOKEN_MARGIN_S 60      /* a token is renewed this long before PayPal says it expires */
#define REQUEST_ID_MAX 108     /* PayPal-Request-Id's documented limit */
#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

struct papi_paypal {
  char *api_base, *client_id, *client_secret, *webhook_id; /* owned copies */
  int timeout_ms;
  pthread_mutex_t lock; /* guards token and token_until; held while a token is fetched */
  char *token;          /* the cached access token (malloc'ed), NULL when none */
  int64_t token_until;  /* monotonic seconds; the token is not used from then on */
};

/* One authorised call to the API. */
typedef struct {
  const char *method;
  const char *path;       /* appended to api_base */
  const char *body;       /* JSON, or NULL */
  const char *request_id; /* PayPal-Request-Id, or NULL */
} pp_call;

const char *papi_result_name(papi_result r) {
  static const char *const names[] = {[PAPI_OK] = "ok", [PAPI_UNAVAILABLE] = "unavailable",
                                      [PAPI_REJECTED] = "rejected", [PAPI_INVALID] = "invalid"};
  return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

/* ---- Lifetime ------------------------------------------------------------------------------- */

static void free_secret(char *s) {
  if (!s) return;
  explicit_bzero(s, strlen(s));
  free(s);
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

papi_paypal *papi_paypal_new(const papi_paypal_config *cfg) {
  if (!cfg->api_base || !*cfg->api_base || !cfg->client_id || !*cfg->client_id || !cfg->client_secret ||
      !*cfg->client_secret)
    return NULL;
  papi_paypal *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->api_base = dup_or_empty(cfg->api_base);
  p->client_id = dup_or_empty(cfg->client_id);
  p->client_secret = dup_or_empty(cfg->client_secret);
  p->webhook_id = dup_or_empty(cfg->webhook_id);
  p->timeout_ms = cfg->timeout_ms;
  if (!p->api_base || !p->client_id || !p->client_secret || !p->webhook_id ||
      pthread_mutex_init(&p->lock, NULL) != 0) {
    free(p->api_base);
    free(p->client_id);
    free_secret(p->client_secret);
    free(p->webhook_id);
    free(p);
    return NULL;
  }
  size_t n = strlen(p->api_base);
  while (n > 0 && p->api_base[n - 1] == '/') p->api_base[--n] = '\0';
  return p;
}

void papi_paypal_free(papi_paypal *p) {
  if (!p) return;
  pthread_mutex_destroy(&p->lock);
  free(p->api_base);
  free(p->client_id);
  free_secret(p->client_secret);
  free(p->webhook_id);
  free_secret(p->token);
  free(p);
}

/* ---- Errors --------------------------------------------------------------------------------- */

static papi_result fail(papi_error *err, papi_result r, const char *code, const char *message) {
  if (code) snprintf(err->code, sizeof err->code, "%s", code);
  if (message) snprintf(err->message, sizeof err->message, "%s", message);
  return r;
}

/* A string member of o, or NULL. */
static const char *member(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

/* PayPal's error body {name, message, details[{issue, description}]} or OAuth's
 * {error, error_description} into err->code and err->message. */
static void take_error_body(const httpc_response *res, papi_error *err) {
  json_t *o = json_loadb(res->body, res->body_len, 0, NULL);
  json_t *detail = json_array_get(json_object_get(o, "details"), 0);
  const char *code = member(detail, "issue");
  if (!code) code = member(o, "name");
  if (!code) code = member(o, "error");
  const char *message = member(detail, "description"); /* says more than the generic message */
  if (!message) message = member(o, "message");
  if (!message) message = member(o, "error_description");
  fail(err, PAPI_REJECTED, code, message);
  json_decref(o);
}

/* How an HTTP exchange ended: a 2xx is PAPI_OK; no answer, 5xx, 429 and 401 (our credentials,
 * after the token retry) are worth retrying later; other 4xx are a refusal. */
static papi_result classify(const httpc_response *res, papi_error *err) {
  err->http_status = res->status;
  if (res->status == 0) return fail(err, PAPI_UNAVAILABLE, NULL, res->error);
  if (res->status >= 200 && res->status < 300) return PAPI_OK;
  take_error_body(res, err);
  if (res->status >= 500 || res->status == 429 || res->status == 401) return PAPI_UNAVAILABLE;
  if (res->status >= 400) return PAPI_REJECTED;
  return fail(err, PAPI_INVALID, NULL, "unexpected HTTP status");
}

static papi_result bad_argument(papi_error *err, const char *what) { return fail(err, PAPI_INVALID, NULL, what); }

static papi_result unparsable(papi_error *err) { return fail(err, PAPI_INVALID, NULL, "answer does not parse"); }

/* Warns about a failed call (status, code and PayPal's message; never a token or a secret). */
static papi_result logged(const char *what, papi_result r, const papi_error *err) {
  if (r != PAPI_OK)
    log_warn("paypal %s: %s (HTTP %ld%s%s): %s", what, papi_result_name(r), err->http_status,
             err->code[0] ? ", " : "", err->code, err->message);
  return r;
}

/* ---- The access token ----------------------------------------------------------------------- */

static int64_t now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec;
}

/* {access_token, expires_in} of the token answer; the token goes into a header, so no control
 * characters. */
static bool parse_token(const httpc_response *res, char **token, int64_t *ttl_s) {
  json_t *o = json_loadb(res->body, res->body_len, 0, NULL);
  const char *t = member(o, "access_token");
  json_t *expires = json_object_get(o, "expires_in");
  bool ok = t && *t && !text_has_control(t) && json_is_integer(expires) && json_integer_value(expires) > 0;
  if (ok) {
    *token = strdup(t);
    *ttl_s = json_integer_value(expires);
    ok = *token != NULL;
  }
  json_decref(o);
  return ok;
}

/* POST /v1/oauth2/token with the client credentials; caches the answer. Called with p->lock held. */
static papi_result token_fetch_locked(papi_paypal *p, arena *a, papi_error *err) {
  static const char form[] = "grant_type=client_credentials";
  httpc_request req = {.method = "POST",
                       .url = arena_printf(a, "%s/v1/oauth2/token", p->api_base),
                       .headers = {"Accept: application/json", "Content-Type: application/x-www-form-urlencoded"},
                       .body = form,
                       .body_len = sizeof form - 1,
                       .basic_user = p->client_id,
                       .basic_password = p->client_secret,
                       .timeout_ms = p->timeout_ms};
  httpc_response res;
  httpc_send(a, &req, &res);
  papi_result r = classify(&res, err);
  char *token = NULL;
  int64_t ttl_s = 0;
  if (r == PAPI_OK && !parse_token(&res, &token, &ttl_s)) r = unparsable(err);
  if (r != PAPI_OK) {
    /* The caller logs the failure under its own name; say it was the token that failed. */
    char message[sizeof err->message];
    if (snprintf(message, sizeof message, "token request: %s", err->message) < 0) message[0] = '\0';
    memcpy(err->message, message, sizeof message); /* cut to fit, as every message is */
    return r;
  }
  free_secret(p->token);
  p->token = token;
  p->token_until = now_s() + ttl_s - TOKEN_MARGIN_S;
  return PAPI_OK;
}

/* The cached token (fetched when missing or near its expiry) copied into the arena. */
static papi_result token_get(papi_paypal *p, arena *a, const char **token, papi_error *err) {
  pthread_mutex_lock(&p->lock);
  papi_result r = PAPI_OK;
  if (!p->token || now_s() >= p->token_until) r = token_fetch_locked(p, a, err);
  if (r == PAPI_OK) *token = arena_strdup(a, p->token);
  pthread_mutex_unlock(&p->lock);
  return r;
}

/* Forgets the cached token if it is still the one PayPal refused (another thread may already
 * have replaced it). */
static void token_drop(papi_paypal *p, const char *refused) {
  pthread_mutex_lock(&p->lock);
  if (p->token && strcmp(p->token, refused) == 0) {
    free_secret(p->token);
    p->token = NULL;
  }
  pthread_mutex_unlock(&p->lock);
}

/* ---- Calls ---------------------------------------------------------------------------------- */

static void send_authed(papi_paypal *p, arena *a, const pp_call *c, const char *token, httpc_response *res) {
  httpc_request req = {.method = c->method,
                       .url = arena_printf(a, "%s%s", p->api_base, c->path),
                       .body = c->body,
                       .body_len = c->body ? strlen(c->body) : 0,
                       .timeout_ms = p->timeout_ms};
  size_t n = 0;
  req.headers[n++] = arena_printf(a, "Authorization: Bearer %s", token);
  req.headers[n++] = "Accept: application/json";
  if (c->body) {
    req.headers[n++] = "Content-Type: application/json";
    req.headers[n++] = "Prefer: return=representation";
  }
  if (c->request_id) req.headers[n++] = arena_printf(a, "PayPal-Request-Id: %s", c->request_id);
  httpc_send(a, &req, res);
}

static bool invalid_token(const httpc_response *res) {
  if (res->status != 401) return false;
  papi_error e = {0};
  take_error_body(res, &e);
  return strcmp(e.code, "invalid_token") == 0;
}

/* One call with the cached token; a 401 invalid_token drops it, fetches another and tries once
 * more. PAPI_OK when a 2xx answer is in res. */
static papi_result pp_send(papi_paypal *p, arena *a, const pp_call *c, httpc_response *res, papi_error *err) {
  for (int attempt = 0;; attempt++) {
    const char *token;
    papi_result r = token_get(p, a, &token, err);
    if (r != PAPI_OK) return r;
    send_authed(p, a, c, token, res);
    if (attempt > 0 || !invalid_token(res)) break;
    token_drop(p, token);
  }
  return classify(res, err);
}

static bool id_ok(const char *id) {
  return id && *id && strlen(id) <= PAY_PP_ID_LEN && text_only_chars(id, ID_CHARS);
}

static bool request_id_ok(const char *rid) {
  return rid && *rid && strlen(rid) <= REQUEST_ID_MAX && !text_has_control(rid);
}

/* ---- Orders --------------------------------------------------------------------------------- */

papi_result papi_paypal_create_order(papi_paypal *p, arena *a, const pay_paypal_order *order,
                                     const char *request_id, pay_paypal_created *out, papi_error *err) {
  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  char *body;
  if (!request_id_ok(request_id) || pay_paypal_order_json(a, order, &body) != PAY_OK)
    return logged("create order", bad_argument(err, "bad order or request id"), err);
  pp_call c = {"POST", "/v2/checkout/orders", body, request_id};
  httpc_response res;
  papi_result r = pp_send(p, a, &c, &res, err);
  if (r == PAPI_OK && pay_paypal_parse_created(res.body, res.body_len, out) != PAY_OK) r = unparsable(err);
  return logged("create order", r, err);
}

papi_result papi_paypal_capture(papi_paypal *p, arena *a, const char *order_id, const char *request_id,
                                pay_paypal_capture *out, papi_error *err) {
  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  if (!id_ok(order_id) || !request_id_ok(request_id))
    return logged("capture", bad_argument(err, "bad order or request id"), err);
  pp_call c = {"POST", arena_printf(a, "/v2/checkout/orders/%s/capture", order_id), "{}", request_id};
  httpc_response res;
  papi_result r = pp_send(p, a, &c, &res, err);
  if (r == PAPI_REJECTED && strcmp(err->code, "ORDER_ALREADY_CAPTURED") == 0) {
    /* A retried capture: the order holds the capture made the first time. */
    memset(err, 0, sizeof *err);
    pp_call get = {"GET", arena_printf(a, "/v2/checkout/orders/%s", order_id), NULL, NULL};
    r = pp_send(p, a, &get, &res, err);
  }
  if (r == PAPI_OK && pay_paypal_parse_capture(res.body, res.body_len, out) != PAY_OK) r = unparsable(err);
  return logged("capture", r, err);
}

/* ---- Refunds -------------------------------------------------------------------------------- */

/* {id, status} of a refund answer. */
static bool parse_refund(const httpc_response *res, char id[PAY_PP_ID_LEN + 1], bool *completed) {
  json_t *o = json_loadb(res->body, res->body_len, 0, NULL);
  const char *rid = member(o, "id"), *status = member(o, "status");
  bool ok = rid && status && id_ok(rid);
  if (ok) {
    strcpy(id, rid);
    *completed = strcmp(status, "COMPLETED") == 0;
  }
  json_decref(o);
  return ok;
}

papi_result papi_paypal_refund(papi_paypal *p, arena *a, const char *capture_id, int64_t cents,
                               const char *request_id, char out_refund_id[PAY_PP_ID_LEN + 1], bool *completed,
                               papi_error *err) {
  out_refund_id[0] = '\0';
  *completed = false;
  memset(err, 0, sizeof *err);
  if (!id_ok(capture_id) || !request_id_ok(request_id) || cents <= 0)
    return logged("refund", bad_argument(err, "bad capture id, amount or request id"), err);
  char value[PAY_PP_MONEY_LEN];
  pay_paypal_format_cents(cents, value);
  pp_call c = {"POST", arena_printf(a, "/v2/payments/captures/%s/refund", capture_id),
               arena_printf(a, "{\"amount\":{\"currency_code\":\"USD\",\"value\":\"%s\"}}", value), request_id};
  httpc_response res;
  papi_result r = pp_send(p, a, &c, &res, err);
  if (r == PAPI_OK && !parse_refund(&res, out_refund_id, completed)) r = unparsable(err);
  return logged("refund", r, err);
}

/* ---- Webhook verification ------------------------------------------------------------------- */

papi_result papi_paypal_verify_webhook(papi_paypal *p, arena *a, const pay_paypal_transmission *t,
                                       const char *raw_body, size_t n, bool *verified, papi_error *err) {
  *verified = false;
  memset(err, 0, sizeof *err);
  char *body;
  if (pay_paypal_verify_request(a, t, p->webhook_id, raw_body, n, &body) != PAY_OK)
    return logged("verify webhook", bad_argument(err, "missing transmission header or event not a JSON object"),
                  err);
  pp_call c = {"POST", "/v1/notifications/verify-webhook-signature", body, NULL};
  httpc_response res;
  papi_result r = pp_send(p, a, &c, &res, err);
  if (r == PAPI_OK && pay_paypal_parse_verification(res.body, res.body_len, verified) != PAY_OK) r = unparsable(err);
  return logged("verify webhook", r, err);
}
