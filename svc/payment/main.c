/* metro-payment: one payment per ticket with its provider link, callbacks applied once,
 * PayPal capture, refunds and review (domain spec §12). Serves metro.payment.v1.PaymentService,
 * consumes ticket.* and webhook.received, publishes payment.* and ticket.payment_ready. */
#include <string.h>

#include "common/http_client.h"
#include "common/log.h"
#include "common/service.h"
#include "svc/payment/payment.h"

extern const pg_migration *const payment_migrations;

static pm_state state;

static bool payment_init(void *p, const service_settings *common) {
  (void)common;
  pm_state *st = p;
  pm_settings *s = &st->settings;
  if (!httpc_global_init()) return false;
  pm_metrics_init();
  if (*s->paypal_api_base && *s->paypal_client_id && *s->paypal_client_secret) {
    papi_paypal_config pc = {.api_base = s->paypal_api_base, .client_id = s->paypal_client_id,
                             .client_secret = s->paypal_client_secret, .webhook_id = "",
                             .timeout_ms = (int)s->provider_timeout_ms};
    st->paypal = papi_paypal_new(&pc);
  }
  st->vnpay_api = (papi_vnpay_config){.api_url = s->vnpay_api_url, .tmn_code = s->vnpay_tmn_code,
                                      .hash_secret = s->vnpay_hash_secret, .timeout_ms = (int)s->provider_timeout_ms};
  log_info("payment: vnpay %s, paypal %s, sepay %s", *s->vnpay_pay_url && *s->vnpay_hash_secret ? "on" : "off",
           st->paypal ? "on" : "off", *s->sepay_qr_base && *s->sepay_account ? "on" : "off");
  return pm_refund_worker_start(st);
}

static void payment_stop(void *p) {
  pm_state *st = p;
  pm_refund_worker_stop();
  papi_paypal_free(st->paypal);
  st->paypal = NULL;
}

int main(void) {
  pm_settings *s = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_PUBLIC_BASE_URL", CFG_STRING, "http://127.0.0.1:8080", false, 0, 0, &s->public_base_url,
       "the public REST base providers send buyers back to (VNPay return URL)"},
      {"METRO_PAYMENT_SERVER_IP", CFG_STRING, "127.0.0.1", false, 0, 0, &s->server_ip,
       "the address sent to VNPay as vnp_IpAddr"},
      {"METRO_VNPAY_PAY_URL", CFG_STRING, "", false, 0, 0, &s->vnpay_pay_url,
       "VNPay payment page (https://sandbox.vnpayment.vn/paymentv2/vpcpay.html); empty = VNPay off"},
      {"METRO_VNPAY_API_URL", CFG_STRING, "", false, 0, 0, &s->vnpay_api_url,
       "VNPay merchant_webapi/api/transaction (refunds)"},
      {"METRO_VNPAY_TMN_CODE", CFG_STRING, "", false, 0, 0, &s->vnpay_tmn_code, "VNPay terminal code"},
      {"METRO_VNPAY_HASH_SECRET", CFG_SECRET, "", false, 0, 0, &s->vnpay_hash_secret, "VNPay hash secret"},
      {"METRO_VNPAY_REFUND_API", CFG_BOOL, "true", false, 0, 0, &s->vnpay_refund_api,
       "refund through VNPay's API (false: an admin refunds by hand and confirms)"},
      {"METRO_PAYPAL_API_BASE", CFG_STRING, "", false, 0, 0, &s->paypal_api_base,
       "PayPal REST base (https://api-m.sandbox.paypal.com); empty = PayPal off"},
      {"METRO_PAYPAL_CLIENT_ID", CFG_STRING, "", false, 0, 0, &s->paypal_client_id, "PayPal client id"},
      {"METRO_PAYPAL_CLIENT_SECRET", CFG_SECRET, "", false, 0, 0, &s->paypal_client_secret, "PayPal client secret"},
      {"METRO_PAYPAL_RETURN_URL", CFG_STRING, "http://127.0.0.1:8080/pay/paypal/return", false, 0, 0,
       &s->paypal_return_url, "where PayPal sends the buyer after approval (the app then captures)"},
      {"METRO_PAYPAL_CANCEL_URL", CFG_STRING, "http://127.0.0.1:8080/pay/paypal/cancel", false, 0, 0,
       &s->paypal_cancel_url, "where PayPal sends a buyer who cancelled"},
      {"METRO_PAYPAL_VND_PER_USD", CFG_INT, "26000", false, 1, 1000000, &s->vnd_per_usd,
       "the exchange rate PayPal amounts use"},
      {"METRO_SEPAY_QR_BASE", CFG_STRING, "https://qr.sepay.vn", false, 0, 0, &s->sepay_qr_base,
       "Sepay VietQR image base"},
      {"METRO_SEPAY_BANK", CFG_STRING, "", false, 0, 0, &s->sepay_bank, "the bank of the receiving account"},
      {"METRO_SEPAY_ACCOUNT", CFG_STRING, "", false, 0, 0, &s->sepay_account,
       "the receiving account number; empty = Sepay off"},
      {"METRO_PROVIDER_TIMEOUT_MS", CFG_INT, "10000", false, 100, 120000, &s->provider_timeout_ms,
       "deadline of one call to a provider"},
      {"METRO_REFUND_RETRY_S", CFG_INT, "900", false, 1, 86400, &s->refund_retry_s,
       "a failed provider refund is due again after this"},
      {"METRO_REFUND_GIVE_UP_S", CFG_INT, "86400", false, 1, 2592000, &s->refund_give_up_s,
       "after this long failing, a refund goes to an admin"},
      {"METRO_REFUND_POLL_MS", CFG_INT, "1000", false, 50, 600000, &s->refund_poll_ms,
       "how often the first attempt of new refunds is looked for"},
  };
  const ev_consumer_config group = {.group = "payment", .subs = pm_subscriptions, .n_subs = pm_n_subscriptions,
                                    .state = &state, .max_attempts = 8};
  service_def def = {
      .name = "payment",
      .default_grpc_addr = "127.0.0.1:50056",
      .default_metrics_port = 9106,
      .migrations = payment_migrations,
      .services = &payment_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = payment_init,
      .stop = payment_stop,
      .state = &state,
      .produces_events = true,
      .consumers = &group,
      .n_consumers = 1,
  };
  return service_run(&def);
}
