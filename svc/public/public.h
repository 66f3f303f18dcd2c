/* The public service's shared declarations: its settings, the request rules, the local
 * calendar, the calls to the transport and ticket services, and the events that invalidate
 * the cache. */
#ifndef METRO_PUBLIC_H
#define METRO_PUBLIC_H

#include <stdbool.h>
#include <stdint.h>

#include "common/events.h"
#include "common/rpc_server.h"
#include "metro/api/v1/http.pb-c.h"
#include "metro/public/v1/public.pb-c.h"
#include "metro/ticket/v1/ticket.pb-c.h"
#include "metro/transport/v1/transport.pb-c.h"
#include "svc/public/cache.h"

#define PUB_MAX_PAGE_SIZE 500
#define PUB_MAX_LIST_ITEMS 10000 /* bound on a whole list assembled from transport's pages */
#define PUB_MAX_PASSENGERS 20     /* people on one quote, in all (domain spec §6, §19) */

typedef struct pub_settings {
  char *transport_addr;
  int64_t transport_timeout_ms;  /* short, so a hung transport falls back to the cache quickly */
  int64_t gtfs_timeout_ms;
  char *ticket_addr;
  int64_t ticket_timeout_ms;     /* likewise for ticket (a quote includes ticket's call to transport) */
  int64_t cache_ttl_s;
  int64_t stale_ttl_s;
  bool gtfs_include_planned;     /* publish planned lines in the GTFS feeds too */
  int64_t gtfs_feed_days;        /* days of service in GET /gtfs/metro-hcmc.zip, from today */
} pub_settings;

typedef struct pub_state {
  pub_settings settings;
} pub_state;

/* ---- validation.c: request rules (input is hostile; keys are built from it) ---- */

/* Lower-case letters, digits and single '-' between them, 1-64 characters. */
bool pub_is_slug(const char *s);
/* A station or line id: required (FIELD_REQUIRED), else a slug of at most 64 characters;
 * anything else names nothing, so it is NOT_FOUND with `not_found_reason`. */
rpc_status pub_check_id(rpc_ctx *ctx, const char *field, const char *value, const char *not_found_reason,
                        const char *what);
/* "YYYY-MM-DD" (INVALID_DATE); *day = days since 1970-01-01. Empty is FIELD_REQUIRED
 * unless optional (then *day is untouched). */
rpc_status pub_check_date(rpc_ctx *ctx, const char *field, const char *value, bool optional, long *day);
/* "HH:MM" or "HH:MM:SS" up to 47:59:59 (INVALID_TIME); *seconds from midnight. */
rpc_status pub_check_clock(rpc_ctx *ctx, const char *field, const char *value, int *seconds);
/* A page token transport issued: at most 64 base64url characters (INVALID_PAGE_TOKEN). */
rpc_status pub_check_foreign_token(rpc_ctx *ctx, const char *value);
/* A public quote (QuoteFare), in this order: both stations as pub_check_id
 * (STATION_NOT_FOUND), different (SAME_STATION on destinationStationId), tripType "oneway" or
 * "return" (INVALID_TRIP_TYPE), passengers given with each count 0-20 and 1-20 in all
 * (INVALID_PASSENGER_COUNT on passengers). What passes is key-safe. */
rpc_status pub_check_quote(rpc_ctx *ctx, const Metro__Ticket__V1__QuoteFareRequest *r);
/* Paging over a whole cached list: page_size 0 = everything. */
rpc_status pub_page(rpc_ctx *ctx, int32_t page_size, const char *token, size_t total, size_t *offset, size_t *count);
/* The token of the page after [offset, offset + count), "" when it was the last. */
const char *pub_next_token(rpc_ctx *ctx, size_t offset, size_t count, size_t total);

/* ---- calendar.c: the business calendar (Asia/Ho_Chi_Minh, UTC+7) ---- */

#define PUB_LOCAL_UTC_OFFSET_S (7 * 3600)
/* Today's day number and the local time of day in seconds. */
void pub_local_now(long *day, int *seconds);
/* "YYYY-MM-DD" of a day number into out (at least 11 bytes). */
void pub_day_format(long day, char *out);

/* ---- feed_http.c: the GTFS download's HTTP caching rules (RFC 9110) ---- */

#define PUB_ETAG_LEN 35      /* a quoted 32-hex-digit tag and its NUL */
#define PUB_HTTP_DATE_LEN 30 /* "Sun, 06 Nov 1994 08:49:37 GMT" and its NUL */

/* A strong entity tag of the bytes: the first 128 bits of their SHA-256 in hex, quoted. */
void pub_etag(const void *data, size_t len, char out[PUB_ETAG_LEN]);
/* The IMF-fixdate of a Unix time. */
void pub_http_date(int64_t unix_s, char out[PUB_HTTP_DATE_LEN]);
/* Any of the three HTTP-date forms (IMF-fixdate, RFC 850, asctime) -> Unix time; false otherwise. */
bool pub_http_date_parse(const char *s, int64_t *unix_s);
/* Whether an If-None-Match field value lists etag (weak comparison) or is "*". */
bool pub_etag_listed(const char *field, const char *etag);
/* Whether a GET of a representation with this etag and last change is answered 304: any
 * If-None-Match field decides alone; else one If-Modified-Since that parses and is not older
 * than last_modified. */
bool pub_not_modified(const Metro__Api__V1__HttpRequest *req, const char *etag, int64_t last_modified);

/* ---- transport_source.c: the reads behind the cache ---- */

/* One call to metro.transport.v1.TransportService/<method>, forwarding the caller's
 * metadata, with the short transport deadline (or timeout_ms when > 0). */
rpc_status pub_transport_call(rpc_ctx *ctx, const char *method, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *resp_type, ProtobufCMessage **resp, int timeout_ms);
/* Every station / line, gathered from transport's pages (arg unused). */
rpc_status pub_fetch_all_stations(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
rpc_status pub_fetch_all_lines(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
/* arg: the station id / route id. */
rpc_status pub_fetch_station(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
rpc_status pub_fetch_line(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
/* arg: a Metro__Transport__V1__PlanJourneyRequest / ListLineTripsRequest / ListDeparturesRequest
 * / ExportGtfsRequest; the answer is transport's message, except the GTFS one, which is a
 * Metro__Public__V1__GtfsFeedFile. */
rpc_status pub_fetch_journey(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
rpc_status pub_fetch_line_trips(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
rpc_status pub_fetch_departures(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
rpc_status pub_fetch_gtfs(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);

/* ---- ticket_source.c: the fares, passes and discounts behind the cache ---- */

/* One call to metro.ticket.v1.TicketService/<method>, forwarding the caller's metadata,
 * with the short ticket deadline (or timeout_ms when > 0). */
rpc_status pub_ticket_call(rpc_ctx *ctx, const char *method, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp_type, ProtobufCMessage **resp, int timeout_ms);
/* arg unused; the answers are ticket's ListFaresResponse / ListPassesResponse /
 * ListPassengerDiscountsResponse. */
rpc_status pub_fetch_fares(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
rpc_status pub_fetch_passes(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
rpc_status pub_fetch_discounts(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);
/* arg: a Metro__Ticket__V1__QuoteFareRequest; the answer is a Metro__Ticket__V1__Quote. */
rpc_status pub_fetch_quote(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);

/* ---- invalidation.c: which cached kinds (and scopes) an event makes stale ---- */

#define PUB_MAX_INVALIDATIONS 16

typedef struct pub_invalidation {
  pub_kind kind;
  const char *scope; /* NULL = the whole kind */
} pub_invalidation;

/* Fills out[] (at most PUB_MAX_INVALIDATIONS) for an event of `type` with its unpacked data
 * and returns how many (0 for a type that touches nothing cached). Never fails: an event
 * too malformed to name its scope invalidates its kinds whole. */
int pub_invalidations_for(arena *a, const char *type, const ProtobufCMessage *data, pub_invalidation *out);

/* ---- consumers.c / handlers.c ---- */

extern const ev_subscription pub_subscriptions[];
extern const size_t pub_n_subscriptions;
extern const rpc_service_impl public_service_impl;

#endif
