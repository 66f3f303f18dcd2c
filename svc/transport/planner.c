/* Journey planner (domain spec §4): the graph is one state per (line, position); rides
 * join neighbouring positions, transfers join the states of one station. Dijkstra runs on
 * integer costs with a lexicographic label (cost, transfers, lines, transfer stations). */
#include "svc/transport/planner.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pl_state {
  int station; /* index into the sorted station table */
  int line;    /* network order */
  int pos;     /* 0-based position on the line */
} pl_state;

struct planner {
  int n_stations, n_lines, n_states, penalty;
  char **station_ids;       /* sorted, so index order is id order */
  bool *station_active;
  char **route_ids;
  int *line_first, *line_len; /* states of line l: line_first[l] .. + line_len[l] */
  pl_state *states;
  int *at_station_first, *at_station;  /* states at station s: at_station[at_station_first[s] ..
                                          at_station_first[s + 1]) */
};

/* What the search knows about the best path into a state. */
typedef struct pl_label {
  int cost;        /* -1 = unreached */
  int transfers;
  uint8_t lines[PLANNER_MAX_LEGS];
  uint16_t via[PLANNER_MAX_LEGS]; /* transfer stations */
} pl_label;

typedef struct pl_heap_item {
  int cost, state;
} pl_heap_item;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int station_index(const planner *p, const char *id) {
  if (!id) return -1;
  char *const *hit = bsearch(&id, p->station_ids, (size_t)p->n_stations, sizeof(char *), cmp_str);
  return hit ? (int)(hit - p->station_ids) : -1;
}

void planner_free(planner *p) {
  if (!p) return;
  for (int i = 0; i < p->n_stations; i++) free(p->station_ids[i]);
  for (int i = 0; i < p->n_lines; i++) free(p->route_ids[i]);
  free(p->station_ids);
  free(p->station_active);
  free(p->route_ids);
  free(p->line_first);
  free(p->line_len);
  free(p->states);
  free(p->at_station_first);
  free(p->at_station);
  free(p);
}

/* Collects every station id (given or named by a line), sorted and unique. */
static bool collect_stations(planner *p, const planner_station_def *stations, int n_stations,
                             const planner_line_def *lines, int n_lines) {
  int cap = n_stations;
  for (int l = 0; l < n_lines; l++) cap += lines[l].n_stations;
  p->station_ids = calloc((size_t)cap + 1, sizeof(char *));
  if (!p->station_ids) return false;
  int n = 0;
  for (int i = 0; i < n_stations; i++) p->station_ids[n++] = strdup(stations[i].station_id);
  for (int l = 0; l < n_lines; l++)
    for (int k = 0; k < lines[l].n_stations; k++) p->station_ids[n++] = strdup(lines[l].station_ids[k]);
  for (int i = 0; i < n; i++)
    if (!p->station_ids[i]) return false;
  qsort(p->station_ids, (size_t)n, sizeof(char *), cmp_str);
  int u = 0;
  for (int i = 0; i < n; i++) {
    if (u > 0 && strcmp(p->station_ids[u - 1], p->station_ids[i]) == 0) {
      free(p->station_ids[i]);
      continue;
    }
    p->station_ids[u++] = p->station_ids[i];
  }
  p->n_stations = u;
  if (u > UINT16_MAX) return false;
  p->station_active = calloc((size_t)u + 1, sizeof(bool));
  if (!p->station_active) return false;
  for (int i = 0; i < n_stations; i++) p->station_active[station_index(p, stations[i].station_id)] = stations[i].is_active;
  return true;
}

planner *planner_build(const planner_station_def *stations, int n_stations, const planner_line_def *lines,
                       int n_lines, int transfer_penalty) {
  if (transfer_penalty < 1 || n_stations < 0 || n_lines < 0 || n_lines > UINT8_MAX) return NULL;
  for (int i = 0; i < n_stations; i++)
    if (!stations[i].station_id) return NULL;
  for (int l = 0; l < n_lines; l++) {
    if (!lines[l].route_id || lines[l].n_stations < 0) return NULL;
    for (int k = 0; k < lines[l].n_stations; k++)
      if (!lines[l].station_ids[k]) return NULL;
  }
  planner *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->penalty = transfer_penalty;
  p->n_lines = n_lines;
  p->route_ids = calloc((size_t)n_lines + 1, sizeof(char *));
  p->line_first = calloc((size_t)n_lines + 1, sizeof(int));
  p->line_len = calloc((size_t)n_lines + 1, sizeof(int));
  if (!p->route_ids || !p->line_first || !p->line_len || !collect_stations(p, stations, n_stations, lines, n_lines)) {
    planner_free(p);
    return NULL;
  }
  for (int l = 0; l < n_lines; l++) {
    p->route_ids[l] = strdup(lines[l].route_id);
    p->line_first[l] = p->n_states;
    p->line_len[l] = lines[l].n_stations;
    p->n_states += lines[l].n_stations;
  }
  p->states = calloc((size_t)p->n_states + 1, sizeof(pl_state));
  p->at_station_first = calloc((size_t)p->n_stations + 2, sizeof(int));
  p->at_station = calloc((size_t)p->n_states + 1, sizeof(int));
  if (!p->states || !p->at_station_first || !p->at_station) {
    planner_free(p);
    return NULL;
  }
  for (int l = 0; l < n_lines; l++) {
    if (!p->route_ids[l]) {
      planner_free(p);
      return NULL;
    }
    for (int k = 0; k < lines[l].n_stations; k++) {
      pl_state *s = &p->states[p->line_first[l] + k];
      s->station = station_index(p, lines[l].station_ids[k]);
      s->line = l;
      s->pos = k;
      p->at_station_first[s->station + 1]++;
    }
  }
  for (int i = 0; i < p->n_stations; i++) p->at_station_first[i + 1] += p->at_station_first[i];
  int *fill = calloc((size_t)p->n_stations + 1, sizeof(int));
  if (!fill) {
    planner_free(p);
    return NULL;
  }
  /* States are visited in line order, so each station's list is in network order. */
  for (int i = 0; i < p->n_states; i++) {
    int s = p->states[i].station;
    p->at_station[p->at_station_first[s] + fill[s]++] = i;
  }
  free(fill);
  return p;
}

int planner_station_count(const planner *p) { return p->n_stations; }
const char *planner_station_id(const planner *p, int i) { return i >= 0 && i < p->n_stations ? p->station_ids[i] : NULL; }

/* <0 when a is the better path, 0 when equal, >0 when b is. */
static int label_cmp(const pl_label *a, const pl_label *b) {
  if (a->cost != b->cost) return a->cost < b->cost ? -1 : 1;
  if (a->transfers != b->transfers) return a->transfers < b->transfers ? -1 : 1;
  for (int i = 0; i <= a->transfers; i++)
    if (a->lines[i] != b->lines[i]) return a->lines[i] < b->lines[i] ? -1 : 1;
  for (int i = 0; i < a->transfers; i++)
    if (a->via[i] != b->via[i]) return a->via[i] < b->via[i] ? -1 : 1;
  return 0;
}

/* ---- a binary min-heap of (cost, state) with lazy deletion ---- */
typedef struct pl_heap {
  pl_heap_item *items;
  int n;
} pl_heap;

static void heap_push(pl_heap *h, int cost, int state) {
  int i = h->n++;
  while (i > 0) {
    int parent = (i - 1) / 2;
    if (h->items[parent].cost <= cost) break;
    h->items[i] = h->items[parent];
    i = parent;
  }
  h->items[i] = (pl_heap_item){cost, state};
}

static pl_heap_item heap_pop(pl_heap *h) {
  pl_heap_item top = h->items[0], last = h->items[--h->n];
  int i = 0;
  for (;;) {
    int child = 2 * i + 1;
    if (child >= h->n) break;
    if (child + 1 < h->n && h->items[child + 1].cost < h->items[child].cost) child++;
    if (h->items[child].cost >= last.cost) break;
    h->items[i] = h->items[child];
    i = child;
  }
  if (h->n > 0) h->items[i] = last;
  return top;
}

/* Offers `cand` to state v; pushes it when it is better than what v holds. */
static void relax(pl_label *labels, bool *settled, pl_heap *h, int v, const pl_label *cand) {
  if (settled[v]) return;
  if (labels[v].cost >= 0 && label_cmp(cand, &labels[v]) >= 0) return;
  bool cost_changed = labels[v].cost != cand->cost;
  labels[v] = *cand;
  if (cost_changed) heap_push(h, cand->cost, v);
}

static int position_on(const planner *p, int station, int line) {
  for (int i = p->at_station_first[station]; i < p->at_station_first[station + 1]; i++)
    if (p->states[p->at_station[i]].line == line) return p->states[p->at_station[i]].pos;
  return -1;
}

static void fill_journey(const planner *p, const pl_label *best, int origin, int dest, planner_journey *out) {
  memset(out, 0, sizeof *out);
  out->cost = best->cost;
  out->transfers = best->transfers;
  out->n_segments = best->transfers + 1;
  for (int i = 0; i <= best->transfers; i++) {
    int from = i == 0 ? origin : best->via[i - 1];
    int to = i == best->transfers ? dest : best->via[i];
    int line = best->lines[i];
    int a = position_on(p, from, line), b = position_on(p, to, line);
    out->segments[i] = (planner_segment){p->route_ids[line], p->station_ids[from], p->station_ids[to],
                                         (a > b ? a - b : b - a) + 1};
    if (i < best->transfers) out->transfer_station_ids[i] = p->station_ids[best->via[i]];
  }
}

planner_result planner_plan(const planner *p, const char *origin, const char *destination, planner_journey *out) {
  if (origin && destination && strcmp(origin, destination) == 0) return PLANNER_SAME_STATION;
  int o = station_index(p, origin), d = station_index(p, destination);
  if (o < 0) return PLANNER_ORIGIN_NOT_FOUND;
  if (d < 0) return PLANNER_DESTINATION_NOT_FOUND;
  if (!p->station_active[o]) return PLANNER_ORIGIN_INACTIVE;
  if (!p->station_active[d]) return PLANNER_DESTINATION_INACTIVE;
  if (p->n_states == 0) return PLANNER_NO_ROUTE;

  size_t n = (size_t)p->n_states;
  /* Each state is pushed at most once per cost improvement; bounded by its in-degree + 1. */
  size_t heap_cap = n * 4 + (size_t)p->at_station_first[p->n_stations] * (size_t)p->n_lines + 16;
  char *mem = malloc(n * sizeof(pl_label) + n * sizeof(bool) + heap_cap * sizeof(pl_heap_item));
  if (!mem) return PLANNER_NO_ROUTE;
  pl_label *labels = (pl_label *)mem;
  pl_heap h = {(pl_heap_item *)(mem + n * sizeof(pl_label)), 0};
  bool *settled = (bool *)(mem + n * sizeof(pl_label) + heap_cap * sizeof(pl_heap_item));
  for (size_t i = 0; i < n; i++) {
    labels[i].cost = -1;
    settled[i] = false;
  }
  for (int i = p->at_station_first[o]; i < p->at_station_first[o + 1]; i++) {
    int v = p->at_station[i];
    pl_label start = {.cost = 0, .transfers = 0};
    start.lines[0] = (uint8_t)p->states[v].line;
    relax(labels, settled, &h, v, &start);
  }
  while (h.n > 0) {
    pl_heap_item it = heap_pop(&h);
    int u = it.state;
    if (settled[u] || labels[u].cost != it.cost) continue;
    settled[u] = true;
    const pl_state *su = &p->states[u];
    pl_label cand = labels[u];
    cand.cost = labels[u].cost + 1;
    if (su->pos > 0) relax(labels, settled, &h, u - 1, &cand);
    if (su->pos + 1 < p->line_len[su->line]) relax(labels, settled, &h, u + 1, &cand);
    if (!p->station_active[su->station] || labels[u].transfers + 1 >= PLANNER_MAX_LEGS) continue;
    for (int i = p->at_station_first[su->station]; i < p->at_station_first[su->station + 1]; i++) {
      int v = p->at_station[i];
      if (v == u) continue;
      cand = labels[u];
      cand.cost = labels[u].cost + p->penalty;
      cand.transfers = labels[u].transfers + 1;
      cand.lines[cand.transfers] = (uint8_t)p->states[v].line;
      cand.via[cand.transfers - 1] = (uint16_t)su->station;
      relax(labels, settled, &h, v, &cand);
    }
  }
  const pl_label *best = NULL;
  for (int i = p->at_station_first[d]; i < p->at_station_first[d + 1]; i++) {
    const pl_label *l = &labels[p->at_station[i]];
    if (l->cost >= 0 && (!best || label_cmp(l, best) < 0)) best = l;
  }
  planner_result r = best ? PLANNER_OK : PLANNER_NO_ROUTE;
  if (best) fill_journey(p, best, o, d, out);
  free(mem);
  return r;
}
