/* PayPal at the wire (§12.1, test/providers/README.md "PayPal"): VND -> USD in integer cents, the
 * Orders v2 JSON (create, capture), webhook verification requests and the webhook events. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "svc/payment/providers/providers.h"

/* ---- Amounts -------------------------------------------------------------------------------- */

pay_result pay_paypal_vnd_to_cents(int64_t vnd, int64_t vnd_per_usd, int64_t *cents) {
  if (vnd <= 0 || vnd_per_usd <= 0 || vnd_per_usd > INT64_MAX / 2 || vnd > (INT64_MAX - vnd_per_usd) / 200)
    return PAY_ERR_INVALID;
  /* round(vnd * 100 / rate) half up = floor((2 * vnd * 100 + rate) / (2 * rate)) */
  int64_t c = (vnd * 200 + vnd_per_usd) / (2 * vnd_per_usd);
  *cents = c < 1 ? 1 : c;
  return PAY_OK;
}

void pay_paypal_format_cents(int64_t cents, char out[PAY_PP_MONEY_LEN]) {
  if (cents < 0) cents = 0;
  snprintf(out, PAY_PP_MONEY_LEN, "%" PRId64 ".%02" PRId64, cents / 100, cents % 100);
}

bool pay_paypal_parse_cents(const char *s, int64_t *cents) {
  if (!s) return false;
  int64_t units = 0, frac = 0;
  size_t i = 0, nd = 0;
  for (; s[i] >= '0' && s[i] <= '9'; i++, nd++) {
    if (nd == 15) return false;
    units = units * 10 + (s[i] - '0');
  }
  if (nd == 0) return false;
  if (s[i] == '.') {
    size_t nf = 0;
    for (i++; s[i] >= '0' && s[i] <= '9'; i++, nf++) {
      if (nf == 2) return false;
      frac = frac * 10 + (s[i] - '0');
    }
    if (nf == 0) return false;
    if (nf == 1) frac *= 10;
  }
  if (s[i] != '\0') return false;
  *cents = units * 100 + frac;
  return true;
}

pay_result pay_paypal_prorata_refund_cents(int64_t amount_usd_cents, int64_t amount_vnd, int64_t refund_vnd,
                                           int64_t *cents) {
  if (amount_usd_cents <= 0 || amount_vnd <= 0 || refund_vnd <= 0 || refund_vnd > amount_vnd ||
      amount_vnd > INT64_MAX / 4 || refund_vnd > (INT64_MAX / 4) / amount_usd_cents)
    return PAY_ERR_INVALID;
  int64_t c = (2 * amount_usd_cents * refund_vnd + amount_vnd) / (2 * amount_vnd);
  *cents = c < 1 ? 1 : c > amount_usd_cents ? amount_usd_cents : c;
  return PAY_OK;
}

/* ---- JSON helpers --------------------------------------------------------------------------- */

static void free_dump(void *p) { free(p); }

/* Dumps v compactly into the arena's care and drops v. */
static pay_result dump_into(arena *a, json_t *v, char **out) {
  char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
  json_decref(v);
  if (!s) return PAY_ERR_INVALID;
  arena_defer(a, free_dump, s);
  *out = s;
  return PAY_OK;
}

/* A string member into dst[cap]: absent leaves "" (false if required); not a string or too
 * long is false. */
static bool take_str(json_t *o, const char *key, char *dst, size_t cap, bool required) {
  json_t *v = json_object_get(o, key);
  dst[0] = '\0';
  if (!v || json_is_null(v)) return !required;
  if (!json_is_string(v) || json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v))
    return false;
  memcpy(dst, json_string_value(v), json_string_length(v) + 1);
  return true;
}

/* {currency_code, value} into cents and currency; an absent amount leaves cents -1. */
static bool take_amount(json_t *amount, int64_t *cents, char currency[4]) {
  *cents = -1;
  currency[0] = '\0';
  if (!amount) return true;
  char value[PAY_PP_MONEY_LEN];
  return json_is_object(amount) && take_str(amount, "currency_code", currency, 4, true) &&
         strlen(currency) == 3 && take_str(amount, "value", value, sizeof value, true) &&
         pay_paypal_parse_cents(value, cents);
}

static json_t *load_object(const char *json, size_t n) {
  if (!json || n > 1024 * 1024) return NULL;
  json_t *o = json_loadb(json, n, JSON_REJECT_DUPLICATES, NULL);
  if (json_is_object(o)) return o;
  json_decref(o);
  return NULL;
}

/* ---- Orders --------------------------------------------------------------------------------- */

pay_result pay_paypal_order_json(arena *a, const pay_paypal_order *o, char **json) {
  if (!o->payment_id || !*o->payment_id || strlen(o->payment_id) > PAY_PP_CUSTOM_ID_LEN || o->amount_cents <= 0 ||
      !o->return_url || !*o->return_url || !o->cancel_url || !*o->cancel_url)
    return PAY_ERR_INVALID;
  char value[PAY_PP_MONEY_LEN];
  pay_paypal_format_cents(o->amount_cents, value);
  json_t *unit = json_pack("{s:s, s:{s:s, s:s}}", "custom_id", o->payment_id, "amount", "currency_code", "USD",
                           "value", value);
  if (unit && o->description && *o->description)
    json_object_set_new(unit, "description", json_string(o->description));
  json_t *body = unit ? json_pack("{s:s, s:[o], s:{s:s, s:s, s:s, s:s}}", "intent", "CAPTURE", "purchase_units",
                                  unit, "application_context", "return_url", o->return_url, "cancel_url",
                                  o->cancel_url, "user_action", "PAY_NOW", "shipping_preference", "NO_SHIPPING")
                      : NULL;
  return dump_into(a, body, json);
}

/* The href of the first link whose rel is one of rels. */
static const char *find_link(json_t *links, const char *const *rels, size_t n_rels) {
  size_t i;
  json_t *l;
  json_array_foreach(links, i, l) {
    const char *rel = json_string_value(json_object_get(l, "rel"));
    const char *href = json_string_value(json_object_get(l, "href"));
    for (size_t r = 0; rel && href && r < n_rels; r++)
      if (strcmp(rel, rels[r]) == 0) return href;
  }
  return NULL;
}

pay_result pay_paypal_parse_created(const char *json, size_t n, pay_paypal_created *out) {
  static const char *const approve_rels[] = {"approve", "payer-action"};
  memset(out, 0, sizeof *out);
  json_t *o = load_object(json, n);
  pay_result rc = PAY_ERR_INVALID;
  if (!o || !take_str(o, "id", out->id, sizeof out->id, true) || !out->id[0] ||
      !take_str(o, "status", out->status, sizeof out->status, false))
    goto done;
  const char *href = find_link(json_object_get(o, "links"), approve_rels, 2);
  rc = PAY_ERR_NOT_FOUND;
  if (!href) goto done;
  rc = PAY_ERR_INVALID;
  if (strlen(href) >= sizeof out->approve_url) goto done;
  strcpy(out->approve_url, href);
  rc = PAY_OK;
done:
  json_decref(o);
  return rc;
}

pay_result pay_paypal_parse_capture(const char *json, size_t n, pay_paypal_capture *out) {
  memset(out, 0, sizeof *out);
  out->amount_cents = -1;
  json_t *o = load_object(json, n);
  pay_result rc = PAY_ERR_INVALID;
  if (!o || !take_str(o, "id", out->order_id, sizeof out->order_id, true) ||
      !take_str(o, "status", out->order_status, sizeof out->order_status, false))
    goto done;
  json_t *unit = json_array_get(json_object_get(o, "purchase_units"), 0);
  json_t *cap = json_array_get(json_object_get(json_object_get(unit, "payments"), "captures"), 0);
  rc = PAY_ERR_NOT_FOUND;
  if (!json_is_object(cap)) goto done;
  rc = PAY_ERR_INVALID;
  if (!take_str(cap, "id", out->capture_id, sizeof out->capture_id, true) ||
      !take_str(cap, "status", out->capture_status, sizeof out->capture_status, true) ||
      !take_str(json_object_get(cap, "status_details"), "reason", out->pending_reason, sizeof out->pending_reason,
                false) ||
      !take_amount(json_object_get(cap, "amount"), &out->amount_cents, out->currency) ||
      !take_str(cap, "custom_id", out->custom_id, sizeof out->custom_id, false))
    goto done;
  if (!out->custom_id[0] && !take_str(unit, "custom_id", out->custom_id, sizeof out->custom_id, false)) goto done;
  rc = PAY_OK;
done:
  json_decref(o);
  return rc;
}

pay_outcome pay_paypal_capture_outcome(const char *capture_status) {
  if (capture_status && strcmp(capture_status, "COMPLETED") == 0) return PAY_OUTCOME_COMPLETED;
  if (capture_status && strcmp(capture_status, "PENDING") == 0) return PAY_OUTCOME_APPROVED;
  return PAY_OUTCOME_FAILED;
}

/* ---- Webhook verification ------------------------------------------------------------------- */

pay_result pay_paypal_verify_request(arena *a, const pay_paypal_transmission *t, const char *webhook_id,
                                     const char *raw_event, size_t n, char **json) {
  const char *fields[] = {t->auth_algo, t->cert_url, t->transmission_id, t->transmission_sig,
                          t->transmission_time, webhook_id};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (!fields[i] || !*fields[i]) return PAY_ERR_INVALID;
  json_t *event = load_object(raw_event, n);
  if (!event) return PAY_ERR_INVALID;
  json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "auth_algo", t->auth_algo, "cert_url", t->cert_url,
                           "transmission_id", t->transmission_id, "transmission_sig", t->transmission_sig,
                           "transmission_time", t->transmission_time, "webhook_id", webhook_id, "webhook_event",
                           event);
  return dump_into(a, body, json);
}

pay_result pay_paypal_parse_verification(const char *json, size_t n, bool *success) {
  *success = false;
  json_t *o = load_object(json, n);
  char status[32];
  pay_result rc = o && take_str(o, "verification_status", status, sizeof status, true) ? PAY_OK : PAY_ERR_INVALID;
  *success = rc == PAY_OK && strcmp(status, "SUCCESS") == 0;
  json_decref(o);
  return rc;
}

/* ---- Webhook events ------------------------------------------------------------------------- */

typedef enum { RES_NONE, RES_CAPTURE, RES_REFUND, RES_ORDER } resource_kind;

/* The §12.1 event table. */
static const struct {
  const char *name;
  pay_paypal_event_type type;
  resource_kind resource;
  pay_outcome outcome;
} event_types[] = {
    {"PAYMENT.CAPTURE.COMPLETED", PAY_PP_EVENT_CAPTURE_COMPLETED, RES_CAPTURE, PAY_OUTCOME_COMPLETED},
    {"PAYMENT.CAPTURE.DENIED", PAY_PP_EVENT_CAPTURE_DENIED, RES_CAPTURE, PAY_OUTCOME_FAILED},
    {"PAYMENT.CAPTURE.PENDING", PAY_PP_EVENT_CAPTURE_PENDING, RES_CAPTURE, PAY_OUTCOME_APPROVED},
    {"PAYMENT.CAPTURE.REFUNDED", PAY_PP_EVENT_CAPTURE_REFUNDED, RES_REFUND, PAY_OUTCOME_NONE},
    {"CHECKOUT.ORDER.CANCELLED", PAY_PP_EVENT_ORDER_CANCELLED, RES_ORDER, PAY_OUTCOME_CANCELLED},
    {"CHECKOUT.ORDER.VOIDED", PAY_PP_EVENT_ORDER_VOIDED, RES_ORDER, PAY_OUTCOME_CANCELLED},
};

/* The last path segment of href into dst (a refund's "up" link names its capture). */
static bool last_segment(const char *href, char *dst, size_t cap) {
  const char *slash = strrchr(href, '/');
  const char *seg = slash ? slash + 1 : href;
  if (strlen(seg) >= cap) return false;
  strcpy(dst, seg);
  return true;
}

static bool take_resource(json_t *r, resource_kind kind, pay_paypal_event *out) {
  static const char *const up_rel[] = {"up"};
  json_t *unit = json_array_get(json_object_get(r, "purchase_units"), 0);
  switch (kind) {
  case RES_CAPTURE:
    return take_str(r, "id", out->capture_id, sizeof out->capture_id, true) &&
           take_str(json_object_get(json_object_get(r, "supplementary_data"), "related_ids"), "order_id",
                    out->order_id, sizeof out->order_id, false) &&
           take_str(r, "custom_id", out->custom_id, sizeof out->custom_id, false) &&
           take_amount(json_object_get(r, "amount"), &out->amount_cents, out->currency);
  case RES_REFUND: {
    const char *up = find_link(json_object_get(r, "links"), up_rel, 1);
    return take_str(r, "id", out->refund_id, sizeof out->refund_id, true) &&
           take_str(r, "custom_id", out->custom_id, sizeof out->custom_id, false) &&
           take_amount(json_object_get(r, "amount"), &out->amount_cents, out->currency) &&
           (!up || last_segment(up, out->capture_id, sizeof out->capture_id));
  }
  case RES_ORDER:
    return take_str(r, "id", out->order_id, sizeof out->order_id, true) &&
           take_str(unit, "custom_id", out->custom_id, sizeof out->custom_id, false) &&
           take_amount(json_object_get(unit, "amount"), &out->amount_cents, out->currency);
  case RES_NONE:
    break;
  }
  return true;
}

pay_result pay_paypal_parse_event(const char *json, size_t n, pay_paypal_event *out) {
  memset(out, 0, sizeof *out);
  out->amount_cents = -1;
  out->outcome = PAY_OUTCOME_NONE;
  json_t *o = load_object(json, n);
  pay_result rc = PAY_ERR_INVALID;
  json_t *resource = json_object_get(o, "resource");
  if (!o || !take_str(o, "id", out->event_id, sizeof out->event_id, true) || !out->event_id[0] ||
      !take_str(o, "event_type", out->event_type_name, sizeof out->event_type_name, true) ||
      !json_is_object(resource))
    goto done;
  resource_kind kind = RES_NONE;
  for (size_t i = 0; i < sizeof event_types / sizeof event_types[0]; i++) {
    if (strcmp(event_types[i].name, out->event_type_name) != 0) continue;
    out->type = event_types[i].type;
    out->outcome = event_types[i].outcome;
    kind = event_types[i].resource;
  }
  if (!take_resource(resource, kind, out)) goto done;
  rc = PAY_OK;
done:
  json_decref(o);
  return rc;
}
