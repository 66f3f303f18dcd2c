/* The figures of a period (domain spec §15), computed in PostgreSQL over the read model: counts
 * from the hourly rollup, revenue from the money facts joined to their tickets; then flattened into
 * report items. C only walks the few grouped rows the queries return. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/pb_time.h"
#include "svc/report/report.h"

/* The hourly metrics that are totals, and where each goes. */
static const struct {
  const char *metric;
  size_t total; /* offset in Totals */
  size_t point; /* offset in SeriesPoint, 0 when not in the series */
} count_metrics[] = {
    {"registrations", offsetof(Metro__Report__V1__Totals, registrations),
     offsetof(Metro__Report__V1__SeriesPoint, registrations)},
    {"logins", offsetof(Metro__Report__V1__Totals, logins), offsetof(Metro__Report__V1__SeriesPoint, logins)},
    {"tickets_created", offsetof(Metro__Report__V1__Totals, tickets_created),
     offsetof(Metro__Report__V1__SeriesPoint, tickets_created)},
    {"tickets_activated", offsetof(Metro__Report__V1__Totals, tickets_activated),
     offsetof(Metro__Report__V1__SeriesPoint, tickets_activated)},
    {"tickets_used", offsetof(Metro__Report__V1__Totals, tickets_used),
     offsetof(Metro__Report__V1__SeriesPoint, tickets_used)},
    {"tickets_cancelled", offsetof(Metro__Report__V1__Totals, tickets_cancelled),
     offsetof(Metro__Report__V1__SeriesPoint, tickets_cancelled)},
    {"tickets_expired", offsetof(Metro__Report__V1__Totals, tickets_expired), 0},
    {"taps", offsetof(Metro__Report__V1__Totals, taps), offsetof(Metro__Report__V1__SeriesPoint, taps)},
    {"fare_adjustments", offsetof(Metro__Report__V1__Totals, fare_adjustments), 0},
};
#define N_COUNT_METRICS (sizeof count_metrics / sizeof count_metrics[0])

static int64_t cell_i64(const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return v ? strtoll(v, NULL, 10) : 0;
}

static int count_metric_index(const char *metric) {
  for (size_t i = 0; i < N_COUNT_METRICS; i++)
    if (strcmp(count_metrics[i].metric, metric) == 0) return (int)i;
  return -1;
}

static Metro__Report__V1__Breakdown *breakdown(rpc_ctx *ctx, const char *key, const char *name, int64_t count,
                                              int64_t amount) {
  Metro__Report__V1__Breakdown *b = RPC_NEW(ctx, Metro__Report__V1__Breakdown, metro__report__v1__breakdown__init);
  b->key = arena_strdup(ctx->arena, key ? key : "");
  b->name = arena_strdup(ctx->arena, name ? name : b->key);
  b->count = count;
  b->amount_vnd = amount;
  return b;
}

/* A growable array of breakdowns in the arena. */
typedef struct list {
  Metro__Report__V1__Breakdown **items;
  size_t n, cap;
} list;

static void list_push(arena *a, list *l, Metro__Report__V1__Breakdown *b) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    Metro__Report__V1__Breakdown **p = arena_alloc(a, cap * sizeof *p);
    if (l->n) memcpy(p, l->items, l->n * sizeof *p);
    l->items = p;
    l->cap = cap;
  }
  l->items[l->n++] = b;
}

/* The breakdown of key in l, appended (count and amount 0) when absent. */
static Metro__Report__V1__Breakdown *list_entry(rpc_ctx *ctx, list *l, const char *key, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i]->key, key) == 0) return l->items[i];
  list_push(ctx->arena, l, breakdown(ctx, key, name, 0, 0));
  return l->items[l->n - 1];
}

typedef struct period_params {
  const char *start, *end, *step; /* unix seconds as text */
} period_params;

/* The lists one query fills, in the order the rows come (largest first). */
typedef struct breakdown_lists {
  list stations, lines, adjustments, types, methods, revenue_lines;
} breakdown_lists;

/* Everything the hourly rollup holds for the period: the totals, the top 10 stations by taps and
 * lines by journeys, every station's fare adjustments, and revenue by type, method and line. */
static rpc_status query_rollup(rpc_ctx *ctx, const period_params *pp, const rp_names *names,
                               Metro__Report__V1__Analytics *an, breakdown_lists *bl) {
  const char *p[] = {pp->start, pp->end};
  PGresult *r;
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "SELECT metric, key, g, n, amount FROM ("
      "  SELECT metric, key, GROUPING(key) AS g, sum(n)::bigint AS n, sum(amount)::bigint AS amount,"
      "         row_number() OVER (PARTITION BY metric, GROUPING(key) ORDER BY sum(n) DESC, key) AS rk"
      "  FROM hourly WHERE hour >= to_timestamp($1::bigint) AND hour < to_timestamp($2::bigint)"
      "  GROUP BY GROUPING SETS ((metric, key), (metric))) t "
      "WHERE g = 1 OR (metric IN ('taps', 'journeys') AND rk <= 10) "
      "   OR metric IN ('fare_adjustments', 'revenue_type', 'revenue_method', 'revenue_line') "
      "ORDER BY metric, g DESC, CASE WHEN metric LIKE 'revenue\\_%' THEN amount ELSE n END DESC, key",
      2, p);
  if (!rpc_ok(st)) return st;
  for (int i = 0; i < PQntuples(r); i++) {
    const char *metric = pg_value(r, i, 0), *key = pg_value(r, i, 1);
    bool total = strcmp(pg_value(r, i, 2), "1") == 0;
    int64_t n = cell_i64(r, i, 3), amount = cell_i64(r, i, 4);
    if (total) {
      int m = count_metric_index(metric);
      if (m >= 0) *(int64_t *)((char *)an->totals + count_metrics[m].total) = n;
      if (strcmp(metric, "fare_adjustments") == 0) an->totals->fare_adjustments_vnd = amount;
      if (strcmp(metric, "payments") == 0) an->totals->payments_vnd = amount;
      if (strcmp(metric, "refunds") == 0) an->totals->refunds_vnd = amount;
    } else if (strcmp(metric, "taps") == 0) {
      list_push(ctx->arena, &bl->stations, breakdown(ctx, key, rp_station_name(names, key), n, 0));
    } else if (strcmp(metric, "journeys") == 0) {
      list_push(ctx->arena, &bl->lines, breakdown(ctx, key, rp_line_name(names, key), n, 0));
    } else if (strcmp(metric, "fare_adjustments") == 0) {
      list_push(ctx->arena, &bl->adjustments, breakdown(ctx, key, rp_station_name(names, key), n, amount));
    } else if (strcmp(metric, "revenue_type") == 0) {
      list_push(ctx->arena, &bl->types, breakdown(ctx, key, NULL, n, amount));
    } else if (strcmp(metric, "revenue_method") == 0) {
      list_push(ctx->arena, &bl->methods, breakdown(ctx, key, NULL, n, amount));
    } else if (strcmp(metric, "revenue_line") == 0) {
      bool own = strcmp(key, "passes") == 0 || strcmp(key, "unassigned") == 0;
      list_push(ctx->arena, &bl->revenue_lines, breakdown(ctx, key, own ? key : rp_line_name(names, key), n, amount));
    }
  }
  an->totals->revenue_vnd = an->totals->payments_vnd - an->totals->refunds_vnd;
  return RPC_OK;
}

/* Money whose ticket.created has not arrived yet (usually none): under type "unknown", its own
 * method, and line "unassigned". */
static rpc_status query_unattributed(rpc_ctx *ctx, const period_params *pp, breakdown_lists *bl) {
  const char *p[] = {pp->start, pp->end};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT coalesce(nullif(method, ''), 'unknown'), count(*) FILTER (WHERE kind = 'payment'),"
                          "       sum(amount)::bigint "
                          "FROM money WHERE NOT attributed AND at >= to_timestamp($1::bigint) "
                          "AND at < to_timestamp($2::bigint) GROUP BY 1",
                          2, p);
  if (!rpc_ok(st)) return st;
  for (int i = 0; i < PQntuples(r); i++) {
    int64_t n = cell_i64(r, i, 1), amount = cell_i64(r, i, 2);
    Metro__Report__V1__Breakdown *lists[] = {list_entry(ctx, &bl->types, "unknown", NULL),
                                             list_entry(ctx, &bl->methods, pg_value(r, i, 0), NULL),
                                             list_entry(ctx, &bl->revenue_lines, "unassigned", NULL)};
    for (size_t k = 0; k < 3; k++) lists[k]->count += k < 2 ? n : 0, lists[k]->amount_vnd += amount;
  }
  return RPC_OK;
}

/* "2026-12-03 08:00" (hourly) or "2026-12-03" (daily) for a step starting at unix second s. */
static char *step_label(arena *a, int64_t s, bool hourly) {
  char day[11];
  rp_date_format(rp_local_day(s), day);
  if (!hourly) return arena_strdup(a, day);
  int64_t local = s + RP_TZ_OFFSET_S;
  int hour = (int)(((local % 86400) + 86400) % 86400 / 3600);
  return arena_printf(a, "%s %02d:00", day, hour);
}

/* One point per hour (a day) or day (longer), empty steps included; revenue is the step's
 * payments minus its refunds. */
static rpc_status query_series(rpc_ctx *ctx, const period_params *pp, bool hourly, Metro__Report__V1__Analytics *an) {
  const char *p[] = {pp->start, pp->end, pp->step};
  PGresult *r;
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "WITH steps AS (SELECT generate_series($1::bigint, $2::bigint - $3::bigint, $3::bigint) AS s),"
      " h AS (SELECT (floor((extract(epoch FROM hour) + 25200) / $3::bigint) * $3::bigint - 25200)::bigint AS s,"
      "              metric, sum(n)::bigint AS n, sum(amount)::bigint AS amount"
      "       FROM hourly WHERE hour >= to_timestamp($1::bigint) AND hour < to_timestamp($2::bigint)"
      "       AND metric IN ('registrations', 'logins', 'tickets_created', 'tickets_activated', 'tickets_used',"
      "                      'tickets_cancelled', 'taps', 'payments', 'refunds')"
      "       GROUP BY 1, 2) "
      "SELECT steps.s, h.metric, h.n, h.amount FROM steps LEFT JOIN h ON h.s = steps.s ORDER BY steps.s, h.metric",
      3, p);
  if (!rpc_ok(st)) return st;
  int rows = PQntuples(r);
  an->series = arena_alloc(ctx->arena, (size_t)(rows ? rows : 1) * sizeof *an->series);
  an->n_series = 0;
  Metro__Report__V1__SeriesPoint *pt = NULL;
  int64_t at = INT64_MIN;
  for (int i = 0; i < rows; i++) {
    int64_t s = cell_i64(r, i, 0);
    if (!pt || s != at) {
      at = s;
      pt = RPC_NEW(ctx, Metro__Report__V1__SeriesPoint, metro__report__v1__series_point__init);
      pt->start_time = pb_timestamp(ctx, s * 1000000);
      pt->label = step_label(ctx->arena, s, hourly);
      an->series[an->n_series++] = pt;
    }
    const char *metric = pg_value(r, i, 1);
    if (!metric) continue;
    if (strcmp(metric, "payments") == 0) {
      pt->revenue_vnd += cell_i64(r, i, 3);
    } else if (strcmp(metric, "refunds") == 0) {
      pt->revenue_vnd -= cell_i64(r, i, 3);
    } else {
      int m = count_metric_index(metric);
      if (m >= 0 && count_metrics[m].point) *(int64_t *)((char *)pt + count_metrics[m].point) = cell_i64(r, i, 2);
    }
  }
  return RPC_OK;
}

/* Every local day of the period: its payments (count) and its revenue. */
static rpc_status query_revenue_by_day(rpc_ctx *ctx, const period_params *pp, const rp_period *period,
                                       Metro__Report__V1__Analytics *an) {
  const char *p[] = {pp->start, pp->end};
  PGresult *r;
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "SELECT ((extract(epoch FROM hour)::bigint + 25200) / 86400)::int AS day,"
      "       coalesce(sum(n) FILTER (WHERE metric = 'payments'), 0)::bigint,"
      "       (coalesce(sum(amount) FILTER (WHERE metric = 'payments'), 0)"
      "        - coalesce(sum(amount) FILTER (WHERE metric = 'refunds'), 0))::bigint "
      "FROM hourly WHERE hour >= to_timestamp($1::bigint) AND hour < to_timestamp($2::bigint)"
      " AND metric IN ('payments', 'refunds') GROUP BY 1",
      2, p);
  if (!rpc_ok(st)) return st;
  int32_t n_days = period->last_day - period->first_day + 1;
  an->revenue_by_day = arena_alloc(ctx->arena, (size_t)n_days * sizeof *an->revenue_by_day);
  an->n_revenue_by_day = (size_t)n_days;
  for (int32_t d = 0; d < n_days; d++) {
    char day[11];
    rp_date_format(period->first_day + d, day);
    an->revenue_by_day[d] = breakdown(ctx, day, day, 0, 0);
  }
  for (int i = 0; i < PQntuples(r); i++) {
    int32_t day = (int32_t)cell_i64(r, i, 0);
    if (day < period->first_day || day > period->last_day) continue;
    an->revenue_by_day[day - period->first_day]->count = cell_i64(r, i, 1);
    an->revenue_by_day[day - period->first_day]->amount_vnd = cell_i64(r, i, 2);
  }
  return RPC_OK;
}

rpc_status rp_analytics(rpc_ctx *ctx, const rp_period *p, int64_t now_unix, Metro__Report__V1__Analytics **out) {
  Metro__Report__V1__Analytics *an = RPC_NEW(ctx, Metro__Report__V1__Analytics, metro__report__v1__analytics__init);
  an->totals = RPC_NEW(ctx, Metro__Report__V1__Totals, metro__report__v1__totals__init);
  char first[11], last[11];
  rp_date_format(p->first_day, first);
  rp_date_format(p->last_day, last);
  an->period = (char *)rp_period_kind_name(p->kind);
  an->start_date = arena_strdup(ctx->arena, first);
  an->end_date = arena_strdup(ctx->arena, last);
  an->start_time = pb_timestamp(ctx, p->start_unix * 1000000);
  an->end_time = pb_timestamp(ctx, p->end_unix * 1000000);
  an->partial = now_unix < p->end_unix;
  bool hourly = p->first_day == p->last_day;
  an->granularity = hourly ? "hour" : "day";
  period_params pp = {arena_printf(ctx->arena, "%lld", (long long)p->start_unix),
                      arena_printf(ctx->arena, "%lld", (long long)p->end_unix), hourly ? "3600" : "86400"};
  const rp_names *names = rp_names_load(ctx);
  breakdown_lists bl = {0};
  rpc_status st;
  /* JIT compiles for longer than these grouped scans run (bench/RESULTS.md). */
  if (!rpc_ok(st = pg_exec(ctx->arena, NULL, "SET LOCAL jit = off", 0, NULL)) ||
      !rpc_ok(st = query_rollup(ctx, &pp, names, an, &bl)) || !rpc_ok(st = query_unattributed(ctx, &pp, &bl)) ||
      !rpc_ok(st = query_series(ctx, &pp, hourly, an)) || !rpc_ok(st = query_revenue_by_day(ctx, &pp, p, an)))
    return st;
  an->top_stations = bl.stations.items, an->n_top_stations = bl.stations.n;
  an->top_lines = bl.lines.items, an->n_top_lines = bl.lines.n;
  an->fare_adjustments = bl.adjustments.items, an->n_fare_adjustments = bl.adjustments.n;
  an->revenue_by_ticket_type = bl.types.items, an->n_revenue_by_ticket_type = bl.types.n;
  an->revenue_by_payment_method = bl.methods.items, an->n_revenue_by_payment_method = bl.methods.n;
  an->revenue_by_line = bl.revenue_lines.items, an->n_revenue_by_line = bl.revenue_lines.n;
  an->generate_time = pb_timestamp(ctx, (int64_t)now_unix * 1000000);
  *out = an;
  return RPC_OK;
}

/* ---- report items ---- */

/* The sections whose rows are breakdowns: the list, and the metric names of count and amount
 * (NULL: not reported). */
static const struct {
  const char *section;
  size_t items, n;
  const char *count_metric, *amount_metric;
} breakdown_sections[] = {
    {"revenue_by_day", offsetof(Metro__Report__V1__Analytics, revenue_by_day),
     offsetof(Metro__Report__V1__Analytics, n_revenue_by_day), "payments", "revenue_vnd"},
    {"revenue_by_ticket_type", offsetof(Metro__Report__V1__Analytics, revenue_by_ticket_type),
     offsetof(Metro__Report__V1__Analytics, n_revenue_by_ticket_type), "payments", "revenue_vnd"},
    {"revenue_by_payment_method", offsetof(Metro__Report__V1__Analytics, revenue_by_payment_method),
     offsetof(Metro__Report__V1__Analytics, n_revenue_by_payment_method), "payments", "revenue_vnd"},
    {"revenue_by_line", offsetof(Metro__Report__V1__Analytics, revenue_by_line),
     offsetof(Metro__Report__V1__Analytics, n_revenue_by_line), NULL, "revenue_vnd"},
    {"top_stations", offsetof(Metro__Report__V1__Analytics, top_stations),
     offsetof(Metro__Report__V1__Analytics, n_top_stations), "taps", NULL},
    {"top_lines", offsetof(Metro__Report__V1__Analytics, top_lines),
     offsetof(Metro__Report__V1__Analytics, n_top_lines), "journeys", NULL},
    {"fare_adjustments", offsetof(Metro__Report__V1__Analytics, fare_adjustments),
     offsetof(Metro__Report__V1__Analytics, n_fare_adjustments), "count", "amount_vnd"},
};
#define N_BREAKDOWN_SECTIONS (sizeof breakdown_sections / sizeof breakdown_sections[0])

/* The totals and series fields, by their proto names. */
static const struct {
  const char *metric;
  size_t offset;
} total_fields[] = {
    {"registrations", offsetof(Metro__Report__V1__Totals, registrations)},
    {"logins", offsetof(Metro__Report__V1__Totals, logins)},
    {"tickets_created", offsetof(Metro__Report__V1__Totals, tickets_created)},
    {"tickets_activated", offsetof(Metro__Report__V1__Totals, tickets_activated)},
    {"tickets_used", offsetof(Metro__Report__V1__Totals, tickets_used)},
    {"tickets_cancelled", offsetof(Metro__Report__V1__Totals, tickets_cancelled)},
    {"tickets_expired", offsetof(Metro__Report__V1__Totals, tickets_expired)},
    {"taps", offsetof(Metro__Report__V1__Totals, taps)},
    {"payments_vnd", offsetof(Metro__Report__V1__Totals, payments_vnd)},
    {"refunds_vnd", offsetof(Metro__Report__V1__Totals, refunds_vnd)},
    {"revenue_vnd", offsetof(Metro__Report__V1__Totals, revenue_vnd)},
    {"fare_adjustments", offsetof(Metro__Report__V1__Totals, fare_adjustments)},
    {"fare_adjustments_vnd", offsetof(Metro__Report__V1__Totals, fare_adjustments_vnd)},
}, series_fields[] = {
    {"registrations", offsetof(Metro__Report__V1__SeriesPoint, registrations)},
    {"logins", offsetof(Metro__Report__V1__SeriesPoint, logins)},
    {"tickets_created", offsetof(Metro__Report__V1__SeriesPoint, tickets_created)},
    {"tickets_activated", offsetof(Metro__Report__V1__SeriesPoint, tickets_activated)},
    {"tickets_used", offsetof(Metro__Report__V1__SeriesPoint, tickets_used)},
    {"tickets_cancelled", offsetof(Metro__Report__V1__SeriesPoint, tickets_cancelled)},
    {"taps", offsetof(Metro__Report__V1__SeriesPoint, taps)},
    {"revenue_vnd", offsetof(Metro__Report__V1__SeriesPoint, revenue_vnd)},
};

bool rp_section_known(const char *section) {
  if (strcmp(section, "totals") == 0 || strcmp(section, "series") == 0) return true;
  for (size_t i = 0; i < N_BREAKDOWN_SECTIONS; i++)
    if (strcmp(breakdown_sections[i].section, section) == 0) return true;
  return false;
}

static bool wanted(const char *section, char *const *sections, size_t n) {
  if (n == 0) return true;
  for (size_t i = 0; i < n; i++)
    if (strcmp(sections[i], section) == 0) return true;
  return false;
}

typedef struct items {
  Metro__Report__V1__ReportItem **v;
  size_t n, cap;
} items;

static void item(rpc_ctx *ctx, items *it, const char *section, const char *metric, const char *dimension,
                 const char *name, int64_t value) {
  if (it->n == it->cap) {
    size_t cap = it->cap ? it->cap * 2 : 64;
    Metro__Report__V1__ReportItem **p = arena_alloc(ctx->arena, cap * sizeof *p);
    if (it->n) memcpy(p, it->v, it->n * sizeof *p);
    it->v = p;
    it->cap = cap;
  }
  Metro__Report__V1__ReportItem *x = RPC_NEW(ctx, Metro__Report__V1__ReportItem, metro__report__v1__report_item__init);
  x->section = (char *)section;
  x->metric = (char *)metric;
  x->dimension = (char *)(dimension ? dimension : "");
  x->dimension_name = (char *)(name ? name : x->dimension);
  x->value = value;
  it->v[it->n++] = x;
}

Metro__Report__V1__ReportItem **rp_analytics_items(rpc_ctx *ctx, const Metro__Report__V1__Analytics *an,
                                                  char *const *sections, size_t n_sections, size_t *n_items) {
  items it = {0};
  if (wanted("totals", sections, n_sections) && an->totals)
    for (size_t i = 0; i < sizeof total_fields / sizeof total_fields[0]; i++)
      item(ctx, &it, "totals", total_fields[i].metric, "", "",
           *(const int64_t *)((const char *)an->totals + total_fields[i].offset));
  if (wanted("series", sections, n_sections))
    for (size_t k = 0; k < an->n_series; k++)
      for (size_t i = 0; i < sizeof series_fields / sizeof series_fields[0]; i++)
        item(ctx, &it, "series", series_fields[i].metric, an->series[k]->label, an->series[k]->label,
             *(const int64_t *)((const char *)an->series[k] + series_fields[i].offset));
  for (size_t s = 0; s < N_BREAKDOWN_SECTIONS; s++) {
    if (!wanted(breakdown_sections[s].section, sections, n_sections)) continue;
    Metro__Report__V1__Breakdown *const *rows =
        *(Metro__Report__V1__Breakdown *const *const *)((const char *)an + breakdown_sections[s].items);
    size_t n = *(const size_t *)((const char *)an + breakdown_sections[s].n);
    for (size_t k = 0; k < n; k++) {
      if (breakdown_sections[s].count_metric)
        item(ctx, &it, breakdown_sections[s].section, breakdown_sections[s].count_metric, rows[k]->key, rows[k]->name,
             rows[k]->count);
      if (breakdown_sections[s].amount_metric)
        item(ctx, &it, breakdown_sections[s].section, breakdown_sections[s].amount_metric, rows[k]->key,
             rows[k]->name, rows[k]->amount_vnd);
    }
  }
  *n_items = it.n;
  return it.v;
}
