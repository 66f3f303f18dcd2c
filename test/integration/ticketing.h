/* Helpers the ticket and gate integration tests share: calls that must succeed or fail in a
 * given way, SQL counts, verified riders with passenger profiles, payment events injected
 * through the ticket schema's outbox, and waiting for a ticket's status. */
#ifndef METRO_TEST_TICKETING_H
#define METRO_TEST_TICKETING_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "harness.h"

#define TICKETING_PASSWORD "Saigon-Metro-2026"
#define TICKETING_WAIT_MS 20000

typedef struct rider {
  char access[2048];
  char user_id[64];
  char passenger_id[64];
} rider;

void sleep_ms(int ms);
/* The first column of the first row as a number; the query must return one. */
long sql_count(const char *query, const char *param);
void sql_exec(const char *query, const char *param);
long json_int(const http_response *r, const char *key);
/* A call that must answer 200 (the caller frees the answer). */
http_response *call_ok(const char *method, const char *path, const char *body, const char *bearer);
/* A call that must fail with status, reason and field (NULL = not checked). */
void expect_error(const char *method, const char *path, const char *body, const char *bearer, long status,
                  const char *reason, const char *field);
/* A self-registered passenger with a verified email and a passenger profile. */
void new_rider(rider *p);
/* A job of the ticket service ("ExpireUnpaid", ...) called over gRPC as an admin, the
 * scheduler's way; the number of rows it processed. */
int run_ticket_job(const char *method);

/* Publishes a payment event as the payment service would, through the ticket schema's outbox,
 * so it travels over the stack's real backend (Kafka or the PostgreSQL log). */
void inject_payment_event(const char *type, const ProtobufCMessage *data, const char *ticket_id);
/* payment.completed for the amount. */
void pay(const char *ticket_id, int amount);
/* Local time in Ho Chi Minh City (UTC+7, no daylight saving): minutes since midnight. */
int local_minute_now(void);

/* A station's opening hours as a test found them, and whether the test widened them. */
typedef struct station_hours {
  char station_id[64];
  char open[8], close[8];
  bool widened;
} station_hours;
/* Entries need an open station: when station_id is closed now or closes within 5 minutes (a
 * run at night), its hours become 00:00-23:59 until station_hours_restore. Tests that do this
 * to the same stations hold the RESOURCE_LOCK metro_station_hours. */
void station_keep_open(const char *station_id, const char *admin_token, station_hours *saved);
void station_hours_restore(const station_hours *saved, const char *admin_token);

/* Polls GET /v1/tickets/{id} with the bearer until the ticket has `status`. */
void wait_status(const char *bearer, const char *id, const char *status);

#endif
