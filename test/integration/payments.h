/* Helpers the payment integration tests share: a purchase that waits for its pay link, polling
 * a JSON field until it has a value, the payment-provider emulators' control APIs (test/providers),
 * a browser GET that does not follow redirects, and counting a ticket's events in the outboxes. */
#ifndef METRO_TEST_PAYMENTS_H
#define METRO_TEST_PAYMENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness.h"
#include "ticketing.h"

#define PAYMENTS_WAIT_MS 20000

/* A ticket bought by a rider and the payment the payment service made for it. */
typedef struct purchase {
  char ticket_id[64];
  char payment_id[64];
  char provider_ref[128]; /* VNPay TxnRef, PayPal order id, Sepay: the ticket id */
  char link[4096];        /* paymentUrl (VNPay), approveUrl (PayPal) or qrImageUrl (Sepay) */
  long amount;            /* VND */
} purchase;

/* A ben-thanh -> ba-son single for one adult, paid with `method`: out gets the ticket id and
 * its price (the payment fields stay empty). */
void buy_ticket(const rider *p, const char *method, purchase *out);
/* buy_ticket, then waits (bounded) until GET /v1/tickets/{id}/payment answers the payment
 * with its link. */
void buy_with(const rider *p, const char *method, purchase *out);
/* Waits for the link of a ticket already bought (wait_ms bounds it). */
void wait_payment_link(const rider *p, const char *method, purchase *out, int wait_ms);

/* GETs path (through the gateway) with bearer until the string at the dotted `field` equals
 * want; fails the test after wait_ms. Returns the last answer (the caller frees it). */
http_response *wait_field(const char *path, const char *bearer, const char *field, const char *want, int wait_ms);
/* The payment as an admin sees it (GET /v1/payments/{id}); must answer 200. */
http_response *admin_payment(const char *admin, const char *payment_id);
/* Polls the admin view of a payment until its status is want; returns the last answer. */
http_response *wait_payment_status(const char *admin, const char *payment_id, const char *want);
/* Polls GET /v1/tickets/{id} as the rider until its status is want. */
void wait_ticket_status(const rider *p, const char *ticket_id, const char *want);

/* A control call to an emulator: provider is "vnpay", "paypal" or "sepay", path is under its
 * /_control (for example "/outcome"), body is JSON or NULL (GET). */
http_response *provider_call(const char *provider, const char *method, const char *path, const char *body);
/* The same, which must answer 200 (the caller frees the answer). */
http_response *provider_ok(const char *provider, const char *method, const char *path, const char *body);
/* Every emulator's provider endpoints up again (ends any /_control/down). */
void providers_up(void);

/* The buyer's browser: GET url without following redirects; the Location (if any) is copied
 * into location. Returns the HTTP status (-1 when nothing answered). */
long browse(const char *url, char *location, size_t cap);
/* The JSON value at attempts[0].json.<key> of a delivery, or "" (e.g. the IPN's RspCode). */
const char *first_answer(json_t *delivery, const char *key);

/* How many events of `type` the outbox of `schema` holds for the key (payment and ticket
 * events are keyed by the ticket id). */
long outbox_count(const char *schema, const char *type, const char *key);
/* Waits until the consumer service has applied every `type` event with this key that the
 * producer's outbox holds (each recorded in <consumer>.processed_events), so what follows sees
 * the asynchronous copies too (e.g. webhook.received after the inline hand-over). */
void wait_consumed(const char *producer, const char *type, const char *key, const char *consumer);

#endif
