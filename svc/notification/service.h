/* The notification service's own machinery (beside notification.h's message building):
 * settings and state, contacts from the user service, the delivery records, the sender
 * thread, the event consumers and the admin methods. */
#ifndef METRO_NOTIFICATION_SERVICE_H
#define METRO_NOTIFICATION_SERVICE_H

#include "metro/user/v1/user.pb-c.h"
#include "svc/notification/notification.h"

#define NT_MAX_RETRIES 8

typedef struct nt_settings {
  char *smtp_url, *smtp_user, *smtp_password, *mail_from, *mail_from_name, *message_id_domain;
  bool smtp_require_tls;
  char *sms_api_url, *sms_api_key, *sms_sender;
  char *user_addr, *ticket_addr, *transport_addr;
  char *retry_schedule;           /* "30,120,600": seconds before each retry */
  int64_t send_timeout_ms, poll_ms, call_timeout_ms, qr_module_px, senders;
} nt_settings;

typedef struct nt_state {
  nt_settings settings;
  int64_t retry_s[NT_MAX_RETRIES]; /* parsed retry_schedule */
  int n_retries;
  nt_smtp_config smtp;
  nt_sms_config sms;              /* api_url "" = SMS off */
} nt_state;

static inline const nt_state *nt_st(const rpc_ctx *ctx) { return (const nt_state *)ctx->state; }

/* ==== contacts.c ==== */

/* The person behind an account (user service, as service "notification"). *out NULL when the
 * account has no profile; UNAVAILABLE when the user service did not answer. */
rpc_status nt_contact(rpc_ctx *ctx, const char *user_id, Metro__User__V1__Contact **out);
/* A station's display name (transport service); its id when transport does not answer. */
const char *nt_station_name(rpc_ctx *ctx, const char *station_id);

/* ==== queue.c: delivery records ==== */

/* What one message needs besides its template's variables. */
typedef struct nt_message {
  const ev_event *ev;             /* the cause: event id and type */
  const char *template_name;
  const Metro__User__V1__Contact *to;
  const nt_var *vars;
  size_t n_vars;
  const char *qr_text;            /* email: an inline QR PNG of this text (cid "qr"), or NULL */
  const nt_part *parts;           /* email: more inline images and attachments, after the QR */
  size_t n_parts;
} nt_message;

/* Renders and queues an email (unique per event, template and recipient: a redelivered
 * event queues nothing new). INVALID_ARGUMENT when the template or address is unusable. */
rpc_status nt_queue_email(rpc_ctx *ctx, const nt_message *m);
/* The same for an SMS (the template's text) to the contact's phone; nothing when SMS is off. */
rpc_status nt_queue_sms(rpc_ctx *ctx, const nt_message *m);

/* ==== sender.c: the thread that sends due deliveries ==== */

bool nt_sender_start(nt_state *st);
void nt_sender_stop(void);

/* ==== consumers.c, fanout.c, report_delivery.c ==== */

extern const ev_subscription nt_subscriptions[];
extern const size_t nt_n_subscriptions;
rpc_status nt_on_station_deactivated(rpc_ctx *ctx, const ev_event *ev);
/* report_delivery.c: report.delivery_requested, the scheduled report to its recipients. */
rpc_status nt_on_report_delivery_requested(rpc_ctx *ctx, const ev_event *ev);

/* ==== handlers.c ==== */

extern const rpc_service_impl notification_service_impl;

#endif
