/* The events that send messages (domain spec §14): each finds its person through the user
 * service and queues the template's email, in the consumer's transaction, so a redelivered
 * event queues nothing new. A profile not there yet (the user service applies user.created
 * in parallel) is retried, a bounded number of times. A scheduled report goes to plain
 * addresses instead (report_delivery.c). */
#include <stdio.h>
#include <string.h>

#include "common/pb_time.h"
#include "metro/events/v1/identity_events.pb-c.h"
#include "metro/events/v1/network_events.pb-c.h"
#include "metro/events/v1/payment_events.pb-c.h"
#include "metro/events/v1/report_events.pb-c.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "svc/notification/service.h"

#define VARS(...) ((const nt_var[]){__VA_ARGS__}), (sizeof((const nt_var[]){__VA_ARGS__}) / sizeof(nt_var))

/* The contact of user_id. An account with no profile yet is ABORTED: retried a bounded number
 * of times (the user service applies user.created in parallel) and then parked, since some
 * accounts never get one (a gate device's); the user service itself being down is UNAVAILABLE,
 * which the consumer waits out. */
static rpc_status contact_of(rpc_ctx *ctx, const char *user_id, Metro__User__V1__Contact **c) {
  rpc_status st = nt_contact(ctx, user_id, c);
  if (rpc_ok(st) && !*c)
    return rpc_error(ctx->arena, GRPC_STATUS_ABORTED, "PROFILE_NOT_READY", "account %s has no profile yet", user_id);
  return st;
}

/* Queues the template for a contact, adding its first name to the variables. */
static rpc_status email_to(rpc_ctx *ctx, const ev_event *ev, const char *template_name,
                           const Metro__User__V1__Contact *c, const char *qr_text, const nt_var *vars, size_t n_vars) {
  nt_var *all = arena_alloc(ctx->arena, sizeof *all * (n_vars + 1));
  if (n_vars) memcpy(all, vars, sizeof *all * n_vars);
  all[n_vars] = (nt_var){"first_name", c->first_name};
  nt_message m = {.ev = ev, .template_name = template_name, .to = c, .vars = all, .n_vars = n_vars + 1,
                  .qr_text = qr_text};
  return nt_queue_email(ctx, &m);
}

static rpc_status email(rpc_ctx *ctx, const ev_event *ev, const char *template_name, const char *user_id,
                        const char *qr_text, const nt_var *vars, size_t n_vars) {
  Metro__User__V1__Contact *c;
  rpc_status st = contact_of(ctx, user_id, &c);
  if (!rpc_ok(st)) return st;
  return email_to(ctx, ev, template_name, c, qr_text, vars, n_vars);
}

/* An account's own one-time link (verification, reset) goes to its profile's address, or, for
 * an account that has no profile (a gate device's, an admin's, or one the user service has not
 * applied yet), to the address the link was issued for, which auth put in the event for this. */
static rpc_status link_email(rpc_ctx *ctx, const ev_event *ev, const char *template_name, const char *user_id,
                             const char *event_email, const char *event_first_name, const char *event_last_name,
                             const nt_var *vars, size_t n_vars) {
  Metro__User__V1__Contact *c;
  rpc_status st = nt_contact(ctx, user_id, &c);
  if (!rpc_ok(st)) return st;
  if (!c) {
    c = RPC_NEW(ctx, Metro__User__V1__Contact, metro__user__v1__contact__init);
    c->user_id = (char *)user_id;
    c->email = (char *)event_email;
    c->first_name = (char *)event_first_name;
    c->last_name = (char *)event_last_name;
  }
  return email_to(ctx, ev, template_name, c, NULL, vars, n_vars);
}

static const char *local_time(rpc_ctx *ctx, const Google__Protobuf__Timestamp *t) {
  return t ? nt_format_local_time(ctx->arena, t->seconds) : "";
}

static bool has_role(char **roles, size_t n, const char *role) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(roles[i], role) == 0) return true;
  return false;
}

static rpc_status on_user_created(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__UserCreated *u = (const void *)ev->data;
  /* A verified account with a profile (an admin alone has none) is welcomed; a rider who
   * registers gets the verification email first. */
  if (!u->is_verified || !(has_role(u->roles, u->n_roles, "passenger") || has_role(u->roles, u->n_roles, "staff")))
    return RPC_OK;
  return email(ctx, ev, "welcome", u->user_id, NULL, NULL, 0);
}

static rpc_status on_verification_requested(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__VerificationRequested *v = (const void *)ev->data;
  return link_email(ctx, ev, "verify_email", v->user_id, v->email, v->first_name, v->last_name,
                    VARS({"verify_url", v->verify_url}));
}

static rpc_status on_password_reset_requested(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__PasswordResetRequested *v = (const void *)ev->data;
  return link_email(ctx, ev, "reset_password", v->user_id, v->email, v->first_name, v->last_name,
                    VARS({"reset_url", v->reset_url}));
}

static bool is_journey(const char *ticket_type) {
  return strcmp(ticket_type, "oneway") == 0 || strcmp(ticket_type, "return") == 0;
}

static rpc_status on_ticket_activated(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketActivated *t = (const void *)ev->data;
  if (!*t->qr_token)
    return rpc_invalid(ctx->arena, "qrToken", "INVALID_EVENT", "ticket.activated %s carries no token", t->ticket_id);
  bool journey = is_journey(t->ticket_type);
  return email(ctx, ev, journey ? "ticket_activated_single" : "ticket_activated_pass", t->user_id, t->qr_token,
               VARS({"ticket_name", nt_ticket_display(ctx->arena, t->ticket_type, t->total_passengers)},
                    {"origin", nt_station_name(ctx, t->origin_station_id)},
                    {"destination", nt_station_name(ctx, t->destination_station_id)},
                    {"valid_from", local_time(ctx, t->valid_from)}, {"valid_until", local_time(ctx, t->valid_until)},
                    {"total_price", nt_format_vnd(ctx->arena, t->total_price)}, {"ticket_id", t->ticket_id}));
}

static rpc_status on_ticket_cancelled(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketCancelled *t = (const void *)ev->data;
  if (!*t->user_id) return RPC_OK; /* an event from before tickets named their buyer */
  return email(ctx, ev, "ticket_cancelled", t->user_id, NULL,
               VARS({"ticket_name", nt_ticket_display(ctx->arena, t->ticket_type, 1)}, {"ticket_id", t->ticket_id},
                    {"refund_amount", nt_format_vnd(ctx->arena, t->refund_amount)}, {"reason", t->reason}));
}

static rpc_status on_payment_refunded(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__PaymentRefunded *p = (const void *)ev->data;
  if (!*p->user_id) return RPC_OK;
  return email(ctx, ev, "payment_refunded", p->user_id, NULL,
               VARS({"ticket_id", p->ticket_id}, {"refund_amount", nt_format_vnd(ctx->arena, p->refund_amount)}));
}

static rpc_status on_ticket_expiring_soon(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketExpiringSoon *t = (const void *)ev->data;
  return email(ctx, ev, "ticket_expiring_soon", t->user_id, NULL,
               VARS({"ticket_name", nt_ticket_display(ctx->arena, t->ticket_type, 1)},
                    {"valid_until", local_time(ctx, t->valid_until)},
                    {"days_left", arena_printf(ctx->arena, "%d", t->days_left)}));
}

const ev_subscription nt_subscriptions[] = {
    {"user.created", &metro__events__v1__user_created__descriptor, on_user_created},
    {"auth.verification_requested", &metro__events__v1__verification_requested__descriptor, on_verification_requested},
    {"auth.password_reset_requested", &metro__events__v1__password_reset_requested__descriptor,
     on_password_reset_requested},
    {"ticket.activated", &metro__events__v1__ticket_activated__descriptor, on_ticket_activated},
    {"ticket.cancelled", &metro__events__v1__ticket_cancelled__descriptor, on_ticket_cancelled},
    {"ticket.expiring_soon", &metro__events__v1__ticket_expiring_soon__descriptor, on_ticket_expiring_soon},
    {"payment.refunded", &metro__events__v1__payment_refunded__descriptor, on_payment_refunded},
    {"station.deactivated", &metro__events__v1__station_deactivated__descriptor, nt_on_station_deactivated},
    {"report.delivery_requested", &metro__events__v1__report_delivery_requested__descriptor,
     nt_on_report_delivery_requested},
};
const size_t nt_n_subscriptions = sizeof nt_subscriptions / sizeof nt_subscriptions[0];
