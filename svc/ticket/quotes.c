/* Quotes: validates what a purchase asks for (each error names its field), plans the
 * journey through transport, reads the catalog and prices it with fares.c into the Quote
 * message a ticket stores. Also decides a pass holder's passenger type. */
#include <stddef.h>
#include <string.h>

#include "common/pg.h"
#include "common/text.h"
#include "svc/ticket/ticket.h"

static rpc_status check_station(rpc_ctx *ctx, const char *field, const char *id) {
  if (!id || !*id) return rpc_invalid(ctx->arena, field, "FIELD_REQUIRED", "%s is required", field);
  if (!tk_is_slug(id)) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "no such station");
  return RPC_OK;
}

/* The six counts in enum order. */
static void counts_of(const Metro__Ticket__V1__PassengerCounts *p, int out[TK_N_PAX]) {
  out[TK_PAX_ADULT] = p->adult;
  out[TK_PAX_CHILD] = p->child;
  out[TK_PAX_TEENAGER] = p->teenager;
  out[TK_PAX_STUDENT] = p->student;
  out[TK_PAX_SENIOR] = p->senior;
  out[TK_PAX_ELDER] = p->elder;
}

static Metro__Ticket__V1__PassengerCounts *counts_msg(rpc_ctx *ctx, const int c[TK_N_PAX]) {
  Metro__Ticket__V1__PassengerCounts *p =
      RPC_NEW(ctx, Metro__Ticket__V1__PassengerCounts, metro__ticket__v1__passenger_counts__init);
  p->adult = c[TK_PAX_ADULT];
  p->child = c[TK_PAX_CHILD];
  p->teenager = c[TK_PAX_TEENAGER];
  p->student = c[TK_PAX_STUDENT];
  p->senior = c[TK_PAX_SENIOR];
  p->elder = c[TK_PAX_ELDER];
  return p;
}

static rpc_status bad_count(rpc_ctx *ctx) {
  return rpc_invalid(ctx->arena, "passengers", "INVALID_PASSENGER_COUNT",
                     "passenger counts must be 0 or more with 1-%d people in total", TK_MAX_PASSENGERS);
}

/* The request's shape: which kind of ticket, and its fields present or absent as that kind needs. */
static rpc_status check_shape(rpc_ctx *ctx, const Metro__Ticket__V1__CreateTicketRequest *r, tk_ticket_type *type) {
  if (r->pass_type && *r->pass_type) {
    if (!tk_ticket_type_parse(r->pass_type, type) || !tk_is_pass(*type))
      return rpc_invalid(ctx->arena, "passType", "INVALID_PASS_TYPE",
                         "passType must be day_pass, weekly_pass, monthly_pass, yearly_pass or lifetime_pass");
    static const struct {
      const char *field;
      size_t offset;
    } single_only[] = {
        {"originStationId", offsetof(Metro__Ticket__V1__CreateTicketRequest, origin_station_id)},
        {"destinationStationId", offsetof(Metro__Ticket__V1__CreateTicketRequest, destination_station_id)},
        {"tripType", offsetof(Metro__Ticket__V1__CreateTicketRequest, trip_type)},
    };
    for (size_t i = 0; i < sizeof single_only / sizeof single_only[0]; i++) {
      const char *v = *(char *const *)((const char *)r + single_only[i].offset);
      if (v && *v)
        return rpc_invalid(ctx->arena, single_only[i].field, "UNEXPECTED_FIELD", "a pass takes no %s",
                           single_only[i].field);
    }
    if (r->passengers)
      return rpc_invalid(ctx->arena, "passengers", "UNEXPECTED_FIELD",
                         "a pass has one holder, whose passenger type comes from the profile");
    return RPC_OK;
  }
  if (!r->trip_type || !*r->trip_type)
    return rpc_invalid(ctx->arena, "tripType", "FIELD_REQUIRED", "tripType (oneway or return) or passType is required");
  if (strcmp(r->trip_type, "oneway") == 0) *type = TK_ONEWAY;
  else if (strcmp(r->trip_type, "return") == 0) *type = TK_RETURN;
  else return rpc_invalid(ctx->arena, "tripType", "INVALID_TRIP_TYPE", "tripType must be oneway or return");
  rpc_status st = check_station(ctx, "originStationId", r->origin_station_id);
  if (rpc_ok(st)) st = check_station(ctx, "destinationStationId", r->destination_station_id);
  if (rpc_ok(st) && strcmp(r->origin_station_id, r->destination_station_id) == 0)
    st = rpc_invalid(ctx->arena, "destinationStationId", "SAME_STATION",
                     "the origin and the destination are the same station");
  if (!rpc_ok(st)) return st;
  if (!r->passengers) return bad_count(ctx);
  int c[TK_N_PAX], total = 0;
  counts_of(r->passengers, c);
  for (int i = 0; i < TK_N_PAX; i++) {
    if (c[i] < 0 || c[i] > TK_MAX_PASSENGERS) return bad_count(ctx);
    total += c[i];
  }
  if (total < 1 || total > TK_MAX_PASSENGERS) return bad_count(ctx);
  return RPC_OK;
}

/* NO_ROUTE because the origin or destination is served only by lines out of service is a
 * ROUTE_INACTIVE conflict; any other NO_ROUTE stays as transport said. */
static rpc_status explain_no_route(rpc_ctx *ctx, const char *origin, const char *dest, rpc_status no_route) {
  Metro__Transport__V1__ListLinesResponse *lines;
  if (!rpc_ok(tk_transport_lines(ctx, &lines))) return no_route;
  const char *ends[2] = {origin, dest};
  for (int e = 0; e < 2; e++) {
    bool on_line = false, on_active = false;
    for (size_t i = 0; i < lines->n_lines; i++)
      for (size_t k = 0; k < lines->lines[i]->n_stations; k++)
        if (strcmp(lines->lines[i]->stations[k]->station_id, ends[e]) == 0) {
          on_line = true;
          on_active = on_active || lines->lines[i]->is_active;
        }
    if (on_line && !on_active)
      return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "ROUTE_INACTIVE",
                       "every line through station %s is out of service", ends[e]);
  }
  return no_route;
}

static rpc_status plan(rpc_ctx *ctx, const char *origin, const char *dest, Metro__Transport__V1__JourneyPlan **out) {
  Metro__Transport__V1__PlanJourneyRequest req = METRO__TRANSPORT__V1__PLAN_JOURNEY_REQUEST__INIT;
  req.origin_station_id = (char *)origin;
  req.destination_station_id = (char *)dest;
  ProtobufCMessage *m;
  rpc_status st = tk_call(ctx, tk_cfg(ctx)->transport_addr, "/metro.transport.v1.TransportService/PlanJourney",
                          &req.base, &metro__transport__v1__journey_plan__descriptor, &m);
  if (!rpc_ok(st) && st.reason && strcmp(st.reason, "NO_ROUTE") == 0) return explain_no_route(ctx, origin, dest, st);
  if (!rpc_ok(st)) return st;
  *out = (Metro__Transport__V1__JourneyPlan *)m;
  if ((*out)->n_segments == 0 || (*out)->n_segments > TK_MAX_SEGMENTS)
    return rpc_internal("ticket: transport planned a journey with no or too many segments");
  return RPC_OK;
}

rpc_status tk_pass_holder_type(rpc_ctx *ctx, const tk_catalog *c, tk_ticket_type pass, const char *date_of_birth,
                               const char *student_verified_until, tk_pax *out) {
  long today = tk_local_day(tk_now_us()), dob = 0, student_until = 0;
  bool has_dob = date_of_birth && *date_of_birth && text_parse_date(date_of_birth, &dob);
  tk_pax by_age = tk_pax_for_age(has_dob, dob, today);
  *out = by_age;
  if (student_verified_until && *student_verified_until && text_parse_date(student_verified_until, &student_until) &&
      student_until >= today) {
    int64_t now = tk_now_us(), price = c->passes[pass].price;
    if (tk_discounted(&c->discounts[TK_PAX_STUDENT], price, 1, now) < tk_discounted(&c->discounts[by_age], price, 1, now))
      *out = TK_PAX_STUDENT;
  }
  (void)ctx;
  return RPC_OK;
}

static Metro__Ticket__V1__FareBreakdown *breakdown(rpc_ctx *ctx, const tk_price_input *in, const tk_price *p,
                                                   const Metro__Transport__V1__JourneyPlan *journey,
                                                   const tk_promo_row *promo) {
  Metro__Ticket__V1__FareBreakdown *b =
      RPC_NEW(ctx, Metro__Ticket__V1__FareBreakdown, metro__ticket__v1__fare_breakdown__init);
  if (journey) {
    b->segments = arena_alloc(ctx->arena, sizeof *b->segments * journey->n_segments);
    for (size_t i = 0; i < journey->n_segments; i++) {
      const Metro__Transport__V1__JourneySegment *s = journey->segments[i];
      Metro__Ticket__V1__SegmentPrice *sp =
          RPC_NEW(ctx, Metro__Ticket__V1__SegmentPrice, metro__ticket__v1__segment_price__init);
      sp->route_id = s->route_id;
      sp->from_station_id = s->from_station_id;
      sp->to_station_id = s->to_station_id;
      sp->station_count = s->station_count;
      sp->base_price = (int32_t)in->segments[i].base_price;
      sp->multiplier_percent = p->seg_percent[i];
      sp->price = (int32_t)p->seg_price[i];
      b->segments[b->n_segments++] = sp;
    }
  }
  b->journey_price = (int32_t)p->journey_price;
  b->trip_factor_percent = p->trip_factor_percent;
  b->price_per_journey = (int32_t)p->per_journey;
  b->passengers = arena_alloc(ctx->arena, sizeof *b->passengers * TK_N_PAX);
  for (int t = 0; t < TK_N_PAX; t++) {
    int count = in->type == TK_ONEWAY || in->type == TK_RETURN ? in->counts[t] : (t == (int)in->pass_pax);
    if (count == 0) continue;
    Metro__Ticket__V1__PassengerPrice *pp =
        RPC_NEW(ctx, Metro__Ticket__V1__PassengerPrice, metro__ticket__v1__passenger_price__init);
    pp->type = (char *)tk_pax_name((tk_pax)t);
    pp->count = count;
    pp->price_per_person = (int32_t)p->per_person[t];
    pp->subtotal = (int32_t)p->pax_subtotal[t];
    b->passengers[b->n_passengers++] = pp;
  }
  b->subtotal = (int32_t)p->subtotal;
  if (promo) {
    b->promotion_code = promo->code;
    b->promotion_type = (char *)tk_promo_kind_name(promo->promo.kind);
    b->promotion_eligible_base = (int32_t)p->promo_base;
  }
  return b;
}

rpc_status tk_quote(rpc_ctx *ctx, const Metro__Ticket__V1__CreateTicketRequest *req, tk_pax pass_pax,
                    const tk_promo_row *promo, Metro__Ticket__V1__Quote **out) {
  tk_ticket_type type;
  rpc_status st = check_shape(ctx, req, &type);
  if (!rpc_ok(st)) return st;
  Metro__Transport__V1__JourneyPlan *journey = NULL;
  bool pass = tk_is_pass(type);
  if (!pass && !rpc_ok(st = plan(ctx, req->origin_station_id, req->destination_station_id, &journey))) return st;
  tk_catalog cat;
  if (!rpc_ok(st = tk_catalog_load(ctx, &cat))) return st;

  tk_price_input in = {.type = type,
                       .return_factor_percent = (int)tk_cfg(ctx)->return_factor_percent,
                       .discounts = cat.discounts,
                       .now_us = tk_now_us(),
                       .promo = promo ? &promo->promo : NULL,
                       .pass_pax = pass_pax};
  tk_segment segs[TK_MAX_SEGMENTS];
  if (pass) {
    const tk_pass_row *row = &cat.passes[type];
    if (!row->is_active || !row->priced)
      return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "PASS_NOT_AVAILABLE", "%s is not on sale",
                       tk_ticket_type_name(type));
    in.pass_price = row->price;
  } else {
    for (size_t i = 0; i < journey->n_segments; i++)
      segs[i] = (tk_segment){.route_id = journey->segments[i]->route_id,
                             .station_count = journey->segments[i]->station_count,
                             .base_price = tk_catalog_base_price(ctx, &cat, journey->segments[i]->route_id)};
    in.segments = segs;
    in.n_segments = journey->n_segments;
    counts_of(req->passengers, in.counts);
  }
  tk_price p;
  switch (tk_price_compute(&in, &p)) {
    case TK_PRICE_OK: break;
    case TK_PRICE_BAD_COUNT: return bad_count(ctx);
    case TK_PRICE_TOO_MANY_SEGMENTS: return rpc_internal("ticket: too many segments");
    case TK_PRICE_PROMO_NOT_APPLICABLE:
      return rpc_invalid(ctx->arena, "promotionCode", "PROMOTION_NOT_APPLICABLE",
                         "promotion %s does not apply to this purchase", promo ? promo->code : "");
  }

  Metro__Ticket__V1__Quote *q = RPC_NEW(ctx, Metro__Ticket__V1__Quote, metro__ticket__v1__quote__init);
  q->ticket_type = (char *)tk_ticket_type_name(type);
  if (pass) {
    int c[TK_N_PAX] = {0};
    c[pass_pax] = 1;
    q->passengers = counts_msg(ctx, c);
    q->passenger_type = (char *)tk_pax_name(pass_pax);
  } else {
    q->origin_station_id = req->origin_station_id;
    q->destination_station_id = req->destination_station_id;
    q->segments = journey->segments;
    q->n_segments = journey->n_segments;
    /* Distinct stations: a transfer station ends one segment and starts the next. */
    for (size_t i = 0; i < journey->n_segments; i++) q->station_count += journey->segments[i]->station_count;
    q->station_count -= (int32_t)journey->n_segments - 1;
    q->passengers = counts_msg(ctx, in.counts);
  }
  q->total_passengers = p.total_passengers;
  q->original_price = (int32_t)p.original;
  q->passenger_discount_amount = (int32_t)p.passenger_discount;
  q->promotion_discount_amount = (int32_t)p.promo_discount;
  q->total_price = (int32_t)p.total;
  q->fare_breakdown = breakdown(ctx, &in, &p, journey, promo);
  *out = q;
  return RPC_OK;
}
