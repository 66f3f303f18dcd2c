/* Which cached answers an event makes stale (domain spec §13, §18): catalog.changed and
 * station.* from transport (quotes are priced over the network, so fares go too),
 * catalog.changed from ticket (fares, passes, discounts; promotions touch nothing cached), and
 * schedule.generated from control (or catalog.changed "trips"), which touch one line and date. */
#include <string.h>

#include "common/text.h"
#include "metro/events/v1/network_events.pb-c.h"
#include "metro/events/v1/schedule_events.pb-c.h"
#include "svc/public/public.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const pub_kind network_kinds[] = {PUB_KIND_STATIONS,   PUB_KIND_LINES, PUB_KIND_JOURNEYS, PUB_KIND_TRIPS,
                                         PUB_KIND_DEPARTURES, PUB_KIND_GTFS,  PUB_KIND_FARES};
static const pub_kind station_state_kinds[] = {PUB_KIND_STATIONS, PUB_KIND_LINES, PUB_KIND_JOURNEYS, PUB_KIND_GTFS,
                                               PUB_KIND_FARES};
static const pub_kind timetable_kinds[] = {PUB_KIND_TRIPS, PUB_KIND_DEPARTURES, PUB_KIND_GTFS};
static const pub_kind fare_kinds[] = {PUB_KIND_FARES};
static const pub_kind pass_kinds[] = {PUB_KIND_PASSES};
static const pub_kind discount_kinds[] = {PUB_KIND_DISCOUNTS, PUB_KIND_FARES};

/* catalog.changed: the entity names what moved. Unknown entities invalidate everything;
 * a known one without kinds, nothing. */
static const struct {
  const char *entity;
  const pub_kind *kinds;
  int n;
} catalog_entities[] = {
    {"network", network_kinds, N(network_kinds)},       /* transport's seed and GTFS import */
    {"station", network_kinds, N(network_kinds)},       {"line", network_kinds, N(network_kinds)},
    {"line_stations", network_kinds, N(network_kinds)}, {"gtfs", network_kinds, N(network_kinds)},
    {"train", timetable_kinds, N(timetable_kinds)},     {"fare", fare_kinds, N(fare_kinds)},
    {"pass", pass_kinds, N(pass_kinds)},                {"discount", discount_kinds, N(discount_kinds)},
    {"passenger_type", discount_kinds, N(discount_kinds)},
    {"promotion", NULL, 0}, /* public quotes carry no promotion */
};

static int whole(const pub_kind *kinds, int n, pub_invalidation *out) {
  for (int i = 0; i < n; i++) out[i] = (pub_invalidation){kinds[i], NULL};
  return n;
}

static int every_kind(pub_invalidation *out) {
  for (int k = 0; k < PUB_N_KINDS; k++) out[k] = (pub_invalidation){(pub_kind)k, NULL};
  return PUB_N_KINDS;
}

/* The trips of (line, date); the departures of that date and of the next one (trips
 * running past midnight are listed there); the feed. A malformed event still invalidates,
 * only more broadly. */
static int line_date_timetables(arena *a, const char *route_id, const char *date, pub_invalidation *out) {
  long day;
  if (!route_id || !pub_is_slug(route_id) || !date || strlen(date) != 10 || !text_parse_date(date, &day))
    return whole(timetable_kinds, N(timetable_kinds), out);
  char next[11];
  pub_day_format(day + 1, next);
  out[0] = (pub_invalidation){PUB_KIND_TRIPS, arena_printf(a, "%s:%s", route_id, date)};
  out[1] = (pub_invalidation){PUB_KIND_DEPARTURES, arena_strdup(a, date)};
  out[2] = (pub_invalidation){PUB_KIND_DEPARTURES, arena_strdup(a, next)};
  out[3] = (pub_invalidation){PUB_KIND_GTFS, NULL};
  return 4;
}

static int catalog_changed(arena *a, const Metro__Events__V1__CatalogChanged *ev, pub_invalidation *out) {
  /* Trips written for one line and date: id "<routeId>:<date>". */
  if (ev->entity && strcmp(ev->entity, "trips") == 0) {
    const char *colon = ev->id ? strchr(ev->id, ':') : NULL;
    if (!colon) return whole(timetable_kinds, N(timetable_kinds), out);
    return line_date_timetables(a, arena_strndup(a, ev->id, (size_t)(colon - ev->id)), colon + 1, out);
  }
  for (int i = 0; ev->entity && i < N(catalog_entities); i++)
    if (strcmp(ev->entity, catalog_entities[i].entity) == 0)
      return whole(catalog_entities[i].kinds, catalog_entities[i].n, out);
  return every_kind(out);
}

int pub_invalidations_for(arena *a, const char *type, const ProtobufCMessage *data, pub_invalidation *out) {
  if (strcmp(type, "catalog.changed") == 0) return catalog_changed(a, (const void *)data, out);
  if (strcmp(type, "station.status_changed") == 0 || strcmp(type, "station.deactivated") == 0)
    return whole(station_state_kinds, N(station_state_kinds), out);
  if (strcmp(type, "schedule.generated") == 0) {
    const Metro__Events__V1__ScheduleGenerated *ev = (const void *)data;
    return line_date_timetables(a, ev->route_id, ev->service_date, out);
  }
  return 0;
}
