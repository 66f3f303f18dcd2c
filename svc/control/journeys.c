/* Where a completed journey rode, pure: the network as transport describes it (lines and their
 * ordered stations), and the legs of a journey (line and direction) from its entry and exit
 * stations and the lines the ticket names, or from a planned journey's segments. */
#include <string.h>

#include "svc/control/control.h"

ct_network *ct_network_from_lines(arena *a, Metro__Transport__V1__Line *const *lines, int n) {
  ct_network *net = arena_alloc(a, sizeof *net);
  net->lines = arena_alloc(a, sizeof(ct_line) * (size_t)(n ? n : 1));
  net->n_lines = n;
  for (int i = 0; i < n; i++) {
    const Metro__Transport__V1__Line *src = lines[i];
    ct_line *l = &net->lines[i];
    l->route_id = arena_strdup(a, src->route_id);
    l->duration_min = src->duration_min;
    l->is_active = src->is_active;
    l->n_stations = (int)src->n_stations;
    l->stations = arena_alloc(a, sizeof(char *) * (src->n_stations + 1));
    l->station_lines = arena_alloc(a, sizeof(int) * (src->n_stations + 1));
    for (size_t k = 0; k < src->n_stations; k++) l->stations[k] = arena_strdup(a, src->stations[k]->station_id);
  }
  /* Big interchanges count the active lines through a station, as transport's demo seed does. */
  for (int i = 0; i < n; i++)
    for (int k = 0; k < net->lines[i].n_stations; k++) {
      int count = 0;
      for (int j = 0; j < n; j++)
        count += net->lines[j].is_active && ct_line_position(&net->lines[j], net->lines[i].stations[k]) >= 0;
      net->lines[i].station_lines[k] = count;
    }
  return net;
}

const ct_line *ct_network_line(const ct_network *net, const char *route_id) {
  for (int i = 0; route_id && i < net->n_lines; i++)
    if (strcmp(net->lines[i].route_id, route_id) == 0) return &net->lines[i];
  return NULL;
}

int ct_line_position(const ct_line *l, const char *station_id) {
  for (int k = 0; station_id && k < l->n_stations; k++)
    if (strcmp(l->stations[k], station_id) == 0) return k;
  return -1;
}

/* A station of `a` that `b` also serves, the nearest to position `from` on `a`; NULL if none. */
static const char *shared_station(const ct_line *a, const ct_line *b, int from) {
  const char *best = NULL;
  int best_dist = 0;
  for (int k = 0; k < a->n_stations; k++) {
    if (ct_line_position(b, a->stations[k]) < 0) continue;
    int dist = k > from ? k - from : from - k;
    if (!best || dist < best_dist) best = a->stations[k], best_dist = dist;
  }
  return best;
}

/* Appends the leg from -> to on l (nothing when they are the same station); false when either is not on it. */
static bool add_leg(const ct_line *l, const char *from, const char *to, ct_leg *out, int cap, int *n) {
  int pf = ct_line_position(l, from), pt = ct_line_position(l, to);
  if (pf < 0 || pt < 0) return false;
  if (pf == pt) return true;
  if (*n >= cap) return false;
  out[(*n)++] = (ct_leg){.line = l, .inbound = pt < pf};
  return true;
}

int ct_journey_legs(const ct_network *net, const char *entry, const char *exit, char *const *route_ids, size_t n,
                    ct_leg *out, int cap) {
  if (n == 0 || n > CT_MAX_LEGS) return -1;
  const ct_line *lines[CT_MAX_LEGS];
  for (size_t i = 0; i < n; i++)
    if (!(lines[i] = ct_network_line(net, route_ids[i]))) return -1;
  /* A return journey rides the ticket's lines backwards. */
  bool reversed = ct_line_position(lines[0], entry) < 0;
  if (reversed && ct_line_position(lines[n - 1], entry) < 0) return -1;
  int count = 0;
  const char *from = entry;
  for (size_t i = 0; i < n; i++) {
    const ct_line *l = lines[reversed ? n - 1 - i : i];
    const char *to = exit;
    if (i + 1 < n) {
      const ct_line *next = lines[reversed ? n - 2 - i : i + 1];
      int pf = ct_line_position(l, from);
      if (pf < 0 || !(to = shared_station(l, next, pf))) return -1;
    }
    if (!add_leg(l, from, to, out, cap, &count)) return -1;
    from = to;
  }
  return count;
}

int ct_plan_legs(const ct_network *net, const Metro__Transport__V1__JourneyPlan *plan, ct_leg *out, int cap) {
  int count = 0;
  for (size_t i = 0; i < plan->n_segments; i++) {
    const Metro__Transport__V1__JourneySegment *s = plan->segments[i];
    const ct_line *l = ct_network_line(net, s->route_id);
    if (!l || !add_leg(l, s->from_station_id, s->to_station_id, out, cap, &count)) return -1;
  }
  return count;
}
