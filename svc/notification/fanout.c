/* A station closure's fan-out (domain spec §14): the ticket service lists, page by page, the
 * open tickets that use the station or a closed line and every open pass; each holder of an
 * affected journey gets one email (and an SMS when opted in), pass holders only when they
 * asked for station alerts. One message per person, however many tickets they hold. */
#include <string.h>

#include "common/rpc_client.h"
#include "metro/events/v1/network_events.pb-c.h"
#include "metro/ticket/v1/ticket.pb-c.h"
#include "svc/notification/service.h"

enum { PAGE = 500 };

/* The people already handled for this event (open addressing over their user ids). */
typedef struct seen_set {
  const char **slots;
  size_t cap, n;
} seen_set;

/* Adds user_id; false when it was there already (only_check: look, do not add). */
static bool seen_add_or_check(rpc_ctx *ctx, seen_set *s, const char *user_id, bool only_check);

static bool seen_add(rpc_ctx *ctx, seen_set *s, const char *user_id) { return seen_add_or_check(ctx, s, user_id, false); }
static bool seen_has(rpc_ctx *ctx, seen_set *s, const char *user_id) { return !seen_add_or_check(ctx, s, user_id, true); }

static bool seen_add_or_check(rpc_ctx *ctx, seen_set *s, const char *user_id, bool only_check) {
  if (s->n * 2 >= s->cap) { /* grow */
    seen_set bigger = {.cap = s->cap ? s->cap * 2 : 1024};
    bigger.slots = arena_alloc(ctx->arena, sizeof *bigger.slots * bigger.cap);
    for (size_t i = 0; i < s->cap; i++)
      if (s->slots[i]) seen_add(ctx, &bigger, s->slots[i]);
    *s = bigger;
  }
  size_t h = 5381;
  for (const char *p = user_id; *p; p++) h = h * 33 + (unsigned char)*p;
  for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (!s->slots[i]) {
      if (only_check) return true;
      s->slots[i] = user_id;
      s->n++;
      return true;
    }
    if (strcmp(s->slots[i], user_id) == 0) return false;
  }
}

static rpc_status list_page(rpc_ctx *ctx, const Metro__Events__V1__StationDeactivated *d, const char *token,
                            Metro__Ticket__V1__ListAffectedHoldersResponse **out) {
  Metro__Ticket__V1__ListAffectedHoldersRequest req = METRO__TICKET__V1__LIST_AFFECTED_HOLDERS_REQUEST__INIT;
  req.station_id = d->station_id;
  req.route_ids = d->affected_route_ids;
  req.n_route_ids = d->n_affected_route_ids;
  req.page_size = PAGE;
  req.page_token = (char *)token;
  rpc_channel *ch = rpc_channel_get(nt_st(ctx)->settings.ticket_addr);
  if (!ch) return rpc_internal("notification: no channel to the ticket service");
  rpc_call_meta meta = rpc_meta_as_service(ctx, "notification");
  ProtobufCMessage *resp;
  rpc_status st = rpc_call_unary(ch, ctx->arena, "/metro.ticket.v1.TicketService/ListAffectedHolders", &meta,
                                 &req.base, &metro__ticket__v1__list_affected_holders_response__descriptor, &resp,
                                 (int)nt_st(ctx)->settings.call_timeout_ms, INT64_MAX);
  if (rpc_ok(st)) *out = (Metro__Ticket__V1__ListAffectedHoldersResponse *)resp;
  return st;
}

/* Messages one holder; *done when they were messaged (a pass holder without station alerts is
 * not, and may still be reached through a journey ticket later in the list). */
static rpc_status notify_holder(rpc_ctx *ctx, const ev_event *ev, const Metro__Events__V1__StationDeactivated *d,
                                const Metro__Ticket__V1__AffectedHolder *h, bool *done) {
  *done = false;
  Metro__User__V1__Contact *c;
  rpc_status st = nt_contact(ctx, h->user_id, &c);
  if (!rpc_ok(st) || !c) return st; /* no profile: nobody to reach */
  bool alerts = c->preferences && c->preferences->station_alerts;
  if (h->is_pass && !alerts) return RPC_OK;
  *done = true;
  const nt_var vars[] = {{"first_name", c->first_name}, {"station_name", d->station_name}, {"reason", d->reason}};
  nt_message m = {.ev = ev, .template_name = "station_closed", .to = c, .vars = vars,
                  .n_vars = sizeof vars / sizeof vars[0]};
  st = nt_queue_email(ctx, &m);
  if (!rpc_ok(st) || !c->preferences || !c->preferences->sms) return st;
  m.template_name = "station_closed_sms";
  return nt_queue_sms(ctx, &m);
}

rpc_status nt_on_station_deactivated(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__StationDeactivated *d = (const void *)ev->data;
  seen_set seen = {0};
  const char *token = "";
  do {
    Metro__Ticket__V1__ListAffectedHoldersResponse *page = NULL;
    rpc_status st = list_page(ctx, d, token, &page);
    if (!rpc_ok(st)) return st;
    for (size_t i = 0; i < page->n_holders; i++) {
      const Metro__Ticket__V1__AffectedHolder *h = page->holders[i];
      bool done;
      if (seen_has(ctx, &seen, h->user_id)) continue;
      if (!rpc_ok(st = notify_holder(ctx, ev, d, h, &done))) return st;
      if (done) seen_add(ctx, &seen, h->user_id);
    }
    token = page->next_page_token;
  } while (token && *token);
  return RPC_OK;
}
