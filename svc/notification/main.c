/* metro-notification: email over SMTP and SMS over an HTTP API from events (domain spec §14),
 * with templates, inline QR codes, delivery records and retries. Serves
 * metro.notification.v1.NotificationService (admin reads and retries). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_client.h"
#include "common/log.h"
#include "common/service.h"
#include "svc/notification/service.h"

extern const pg_migration *const notification_migrations;

static nt_state state;

/* "30,120,600" -> the retry delays; false on anything else (1-8 steps of 1-86400 s). */
static bool parse_schedule(nt_state *st) {
  char *copy = strdup(st->settings.retry_schedule), *save = NULL;
  st->n_retries = 0;
  bool ok = copy != NULL;
  for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; ok && tok; tok = strtok_r(NULL, ",", &save)) {
    char *end;
    long v = strtol(tok, &end, 10);
    ok = *end == '\0' && v >= 1 && v <= 86400 && st->n_retries < NT_MAX_RETRIES;
    if (ok) st->retry_s[st->n_retries++] = v;
  }
  free(copy);
  return ok && st->n_retries > 0;
}

static bool notification_init(void *p, const service_settings *common) {
  (void)common;
  nt_state *st = p;
  nt_settings *s = &st->settings;
  if (!parse_schedule(st)) {
    log_error("METRO_NOTIFY_RETRY_SCHEDULE_S must be 1-%d comma-separated seconds (1-86400)", NT_MAX_RETRIES);
    return false;
  }
  if (!httpc_global_init()) return false;
  st->smtp = (nt_smtp_config){.url = s->smtp_url, .user = s->smtp_user, .password = s->smtp_password,
                              .require_tls = s->smtp_require_tls, .from_addr = s->mail_from,
                              .timeout_ms = (int)s->send_timeout_ms};
  st->sms = (nt_sms_config){.api_url = s->sms_api_url, .api_key = s->sms_api_key, .sender = s->sms_sender,
                            .timeout_ms = (int)s->send_timeout_ms};
  if (*s->sms_api_url && !*s->sms_api_key) {
    log_error("METRO_SMS_API_URL is set without METRO_SMS_API_KEY: set both to send SMS, or neither");
    return false;
  }
  if (!nt_address_valid(s->mail_from)) {
    log_error("METRO_MAIL_FROM is not an email address");
    return false;
  }
  log_info("notification: smtp %s, sms %s, %d retries", s->smtp_url, *s->sms_api_url ? "on" : "off", st->n_retries);
  return nt_sender_start(st);
}

static void notification_stop(void *p) {
  (void)p;
  nt_sender_stop();
}

int main(void) {
  nt_settings *s = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_SMTP_URL", CFG_STRING, "smtp://127.0.0.1:1025", false, 0, 0, &s->smtp_url,
       "the SMTP server: smtp://host:port (STARTTLS when offered) or smtps://host:port"},
      {"METRO_SMTP_USER", CFG_STRING, "", false, 0, 0, &s->smtp_user, "SMTP AUTH user (empty: no AUTH)"},
      {"METRO_SMTP_PASSWORD", CFG_SECRET, "", false, 0, 0, &s->smtp_password, "SMTP AUTH password"},
      {"METRO_SMTP_REQUIRE_TLS", CFG_BOOL, "false", false, 0, 0, &s->smtp_require_tls,
       "refuse to send mail without TLS (set true in production)"},
      {"METRO_MAIL_FROM", CFG_STRING, "no-reply@metro.local", false, 0, 0, &s->mail_from, "the sender address"},
      {"METRO_MAIL_FROM_NAME", CFG_STRING, "Metro TP.HCM", false, 0, 0, &s->mail_from_name, "the sender's name"},
      {"METRO_MESSAGE_ID_DOMAIN", CFG_STRING, "metro.local", false, 0, 0, &s->message_id_domain,
       "the domain of the Message-IDs"},
      {"METRO_SMS_API_URL", CFG_STRING, "", false, 0, 0, &s->sms_api_url, "the SMS provider's send URL (empty: SMS off)"},
      {"METRO_SMS_API_KEY", CFG_SECRET, "", false, 0, 0, &s->sms_api_key, "the SMS provider's bearer key"},
      {"METRO_SMS_SENDER", CFG_STRING, "METRO", false, 0, 0, &s->sms_sender, "the SMS sender name"},
      {"METRO_USER_GRPC", CFG_STRING, "127.0.0.1:50052", false, 0, 0, &s->user_addr, "the user service (contacts)"},
      {"METRO_TRANSPORT_GRPC", CFG_STRING, "127.0.0.1:50053", false, 0, 0, &s->transport_addr,
       "the transport service (station names)"},
      {"METRO_TICKET_GRPC", CFG_STRING, "127.0.0.1:50054", false, 0, 0, &s->ticket_addr,
       "the ticket service (holders a station closure concerns)"},
      {"METRO_NOTIFY_RETRY_SCHEDULE_S", CFG_STRING, "30,120,600", false, 0, 0, &s->retry_schedule,
       "seconds before each retry of a delivery, then it is failed"},
      {"METRO_NOTIFY_SEND_TIMEOUT_MS", CFG_INT, "15000", false, 100, 120000, &s->send_timeout_ms,
       "deadline of one SMTP or SMS delivery"},
      {"METRO_NOTIFY_POLL_MS", CFG_INT, "200", false, 10, 60000, &s->poll_ms, "how often idle senders look for work"},
      {"METRO_NOTIFY_SENDERS", CFG_INT, "2", false, 1, 16, &s->senders, "sender threads"},
      {"METRO_NOTIFY_CALL_TIMEOUT_MS", CFG_INT, "5000", false, 50, 60000, &s->call_timeout_ms,
       "deadline of a call to the user or ticket service"},
      {"METRO_QR_MODULE_PX", CFG_INT, "6", false, 1, 20, &s->qr_module_px, "pixels per module of the QR image"},
  };
  const ev_consumer_config group = {.group = "notification", .subs = nt_subscriptions, .n_subs = nt_n_subscriptions,
                                    .state = &state, .max_attempts = 8};
  service_def def = {
      .name = "notification",
      .default_grpc_addr = "127.0.0.1:50058",
      .default_metrics_port = 9108,
      .migrations = notification_migrations,
      .services = &notification_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = notification_init,
      .stop = notification_stop,
      .state = &state,
      .consumers = &group,
      .n_consumers = 1,
  };
  return service_run(&def);
}
