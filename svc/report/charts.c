/* A report's charts (issue 13): each named chart is one section of the stored analytics drawn by
 * svg.c, a line chart over time or a bar chart over stations and lines. */
#include <string.h>

#include "svc/report/report.h"

typedef enum { FROM_REVENUE_BY_DAY, FROM_TOP_STATIONS, FROM_TOP_LINES, FROM_SERIES_TAPS } chart_source;

static const struct {
  const char *name, *title, *y_label;
  bool bars;
  chart_source source;
} charts[] = {
    {"revenue-by-day", "Doanh thu theo ngày (VND)", "VND", false, FROM_REVENUE_BY_DAY},
    {"taps-by-station", "Lượt quẹt theo ga (top 10)", "lượt", true, FROM_TOP_STATIONS},
    {"journeys-by-line", "Hành trình theo tuyến (top 10)", "hành trình", true, FROM_TOP_LINES},
    {"activity", "Lượt quẹt theo thời gian", "lượt", false, FROM_SERIES_TAPS},
};
#define N_CHARTS (sizeof charts / sizeof charts[0])

size_t rp_chart_count(void) { return N_CHARTS; }

const char *rp_chart_name(size_t i) { return i < N_CHARTS ? charts[i].name : NULL; }

bool rp_chart_known(const char *name) {
  for (size_t i = 0; i < N_CHARTS; i++)
    if (strcmp(charts[i].name, name) == 0) return true;
  return false;
}

static rp_point *points_of(arena *a, Metro__Report__V1__Breakdown *const *rows, size_t n, bool amounts) {
  rp_point *pts = arena_alloc(a, (n ? n : 1) * sizeof *pts);
  for (size_t i = 0; i < n; i++) pts[i] = (rp_point){rows[i]->name, amounts ? rows[i]->amount_vnd : rows[i]->count};
  return pts;
}

char *rp_chart_render(arena *a, const char *name, const Metro__Report__V1__Analytics *an, size_t *len) {
  for (size_t i = 0; i < N_CHARTS; i++) {
    if (strcmp(charts[i].name, name) != 0) continue;
    rp_point *pts;
    size_t n;
    switch (charts[i].source) {
      case FROM_REVENUE_BY_DAY:
        n = an->n_revenue_by_day;
        pts = points_of(a, an->revenue_by_day, n, true);
        break;
      case FROM_TOP_STATIONS:
        n = an->n_top_stations;
        pts = points_of(a, an->top_stations, n, false);
        break;
      case FROM_TOP_LINES:
        n = an->n_top_lines;
        pts = points_of(a, an->top_lines, n, false);
        break;
      default:
        n = an->n_series;
        pts = arena_alloc(a, (n ? n : 1) * sizeof *pts);
        for (size_t k = 0; k < n; k++) pts[k] = (rp_point){an->series[k]->label, an->series[k]->taps};
        break;
    }
    return charts[i].bars ? rp_svg_bar_chart(a, charts[i].title, charts[i].y_label, pts, n, len)
                          : rp_svg_line_chart(a, charts[i].title, charts[i].y_label, pts, n, len);
  }
  return NULL;
}
