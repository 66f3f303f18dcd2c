/* Journey planning (domain spec §4): Dijkstra over (station, line) states on an immutable
 * in-memory graph, with the transfer penalty and the spec's tie-break rules. */
#ifndef METRO_TRANSPORT_PLANNER_H
#define METRO_TRANSPORT_PLANNER_H

#include <stdbool.h>

/* A journey has at most this many line segments (so PLANNER_MAX_LEGS - 1 transfers);
 * longer paths are not considered. */
#define PLANNER_MAX_LEGS 32

typedef struct planner planner;

typedef struct planner_station_def {
  const char *station_id;
  bool is_active; /* an inactive station cannot start, end or transfer a journey */
} planner_station_def;

typedef struct planner_line_def {
  const char *route_id;
  const char *const *station_ids; /* in sequence order (1..n) */
  int n_stations;
} planner_line_def;

/* Builds the graph of the given lines, in network order (the tie-break order); pass only
 * the lines in service. Every string is copied. Stations a line names but `stations`
 * lacks are treated as inactive. transfer_penalty must be >= 1. NULL on bad input. */
planner *planner_build(const planner_station_def *stations, int n_stations, const planner_line_def *lines,
                       int n_lines, int transfer_penalty);
void planner_free(planner *p);

typedef enum planner_result {
  PLANNER_OK,
  PLANNER_SAME_STATION,
  PLANNER_ORIGIN_NOT_FOUND,
  PLANNER_DESTINATION_NOT_FOUND,
  PLANNER_ORIGIN_INACTIVE,
  PLANNER_DESTINATION_INACTIVE,
  PLANNER_NO_ROUTE,
} planner_result;

typedef struct planner_segment {
  const char *route_id;      /* strings belong to the planner */
  const char *from_station_id;
  const char *to_station_id;
  int station_count;         /* inclusive of both ends */
} planner_segment;

typedef struct planner_journey {
  int cost;
  int transfers;
  int n_segments;            /* transfers + 1 */
  planner_segment segments[PLANNER_MAX_LEGS];
  const char *transfer_station_ids[PLANNER_MAX_LEGS];
} planner_journey;

/* The cheapest journey: rides cost 1 either way, a transfer the penalty; equal costs go to
 * fewer transfers, then the earlier lines in network order, then the smaller transfer
 * station ids. Thread-safe on a shared planner (all state is on the stack). */
planner_result planner_plan(const planner *p, const char *origin, const char *destination, planner_journey *out);

/* Stations known to the planner (for tests and benchmarks). */
int planner_station_count(const planner *p);
const char *planner_station_id(const planner *p, int i);

#endif
