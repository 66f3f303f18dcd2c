/* metro-webhook: the providers' callback endpoints (domain spec §12): VNPay IPN, PayPal and
 * Sepay webhooks checked, stored with webhook.received, and handed to payment inline. */
#include <string.h>

#include "common/http_client.h"
#include "common/log.h"
#include "common/service.h"
#include "svc/webhook/webhook.h"

extern const pg_migration *const webhook_migrations;

static wh_state state;

/* PayPal needs all four settings or none; some of them is a mistake worth refusing to start on. */
static bool paypal_init(wh_state *s) {
  const wh_settings *c = &s->settings;
  const struct {
    const char *name, *value;
  } need[] = {{"METRO_PAYPAL_API_BASE", c->paypal_api_base},
              {"METRO_PAYPAL_CLIENT_ID", c->paypal_client_id},
              {"METRO_PAYPAL_CLIENT_SECRET", c->paypal_client_secret},
              {"METRO_PAYPAL_WEBHOOK_ID", c->paypal_webhook_id}};
  size_t set = 0, n = sizeof need / sizeof need[0];
  for (size_t i = 0; i < n; i++) set += need[i].value[0] != '\0';
  if (set == 0) {
    log_warn("paypal: not configured (METRO_PAYPAL_*); its webhook answers 503");
    return true;
  }
  for (size_t i = 0; i < n; i++)
    if (need[i].value[0] == '\0') {
      log_error("paypal: %s is empty while other METRO_PAYPAL_* settings are set", need[i].name);
      return false;
    }
  if (strncmp(c->paypal_api_base, "https://", 8) != 0 && strncmp(c->paypal_api_base, "http://", 7) != 0) {
    log_error("paypal: METRO_PAYPAL_API_BASE must be an http(s) URL");
    return false;
  }
  papi_paypal_config pc = {.api_base = c->paypal_api_base,
                           .client_id = c->paypal_client_id,
                           .client_secret = c->paypal_client_secret,
                           .webhook_id = c->paypal_webhook_id,
                           .timeout_ms = (int)c->provider_timeout_ms};
  s->paypal = papi_paypal_new(&pc);
  if (!s->paypal) log_error("paypal: cannot create the API client");
  return s->paypal != NULL;
}

static bool webhook_init(void *st, const service_settings *common) {
  (void)common;
  wh_state *s = st;
  if (!httpc_global_init()) {
    log_error("cannot initialise the HTTP client");
    return false;
  }
  wh_metrics_init();
  if (!s->settings.vnpay_hash_secret[0])
    log_warn("vnpay: not configured (METRO_VNPAY_HASH_SECRET); its IPN answers 503");
  if (!s->settings.sepay_api_key[0]) log_warn("sepay: not configured (METRO_SEPAY_API_KEY); its webhook answers 503");
  return paypal_init(s);
}

int main(void) {
  wh_settings *w = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_PAYMENT_GRPC", CFG_STRING, "127.0.0.1:50056", false, 0, 0, &w->payment_addr,
       "the payment service (ApplyCallback)"},
      {"METRO_VNPAY_TMN_CODE", CFG_STRING, "", false, 0, 0, &w->vnpay_tmn_code,
       "VNPay terminal code an IPN must name (empty = not checked)"},
      {"METRO_VNPAY_HASH_SECRET", CFG_SECRET, "", false, 0, 0, &w->vnpay_hash_secret,
       "VNPay hash secret (empty = the IPN answers 503)"},
      {"METRO_PAYPAL_API_BASE", CFG_STRING, "", false, 0, 0, &w->paypal_api_base,
       "PayPal REST base URL, e.g. https://api-m.sandbox.paypal.com (empty = the webhook answers 503)"},
      {"METRO_PAYPAL_CLIENT_ID", CFG_STRING, "", false, 0, 0, &w->paypal_client_id, "PayPal client id"},
      {"METRO_PAYPAL_CLIENT_SECRET", CFG_SECRET, "", false, 0, 0, &w->paypal_client_secret, "PayPal client secret"},
      {"METRO_PAYPAL_WEBHOOK_ID", CFG_STRING, "", false, 0, 0, &w->paypal_webhook_id,
       "the PayPal webhook id deliveries are verified against"},
      {"METRO_SEPAY_API_KEY", CFG_SECRET, "", false, 0, 0, &w->sepay_api_key,
       "Sepay webhook Apikey (empty = the webhook answers 503)"},
      {"METRO_PROVIDER_TIMEOUT_MS", CFG_INT, "10000", false, 100, 120000, &w->provider_timeout_ms,
       "deadline of one call to a provider's API (PayPal verify-webhook-signature)"},
      {"METRO_APPLY_TIMEOUT_MS", CFG_INT, "5000", false, 50, 60000, &w->apply_timeout_ms,
       "deadline of the inline ApplyCallback call to payment"},
  };
  service_def def = {
      .name = "webhook",
      .default_grpc_addr = "127.0.0.1:50057",
      .default_metrics_port = 9107,
      .migrations = webhook_migrations,
      .services = &webhook_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = webhook_init,
      .state = &state,
      .produces_events = true,
  };
  int rc = service_run(&def);
  if (state.paypal) papi_paypal_free(state.paypal);
  return rc;
}
