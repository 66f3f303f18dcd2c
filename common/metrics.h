/* Prometheus metrics: counter, gauge and histogram families with up to two bounded
 * labels, rendered in the text exposition format, and the small HTTP endpoint every
 * process serves (/metrics, /healthz, /readyz). */
#ifndef METRO_METRICS_H
#define METRO_METRICS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct metric_family metric_family;

/* Families are registered once at start-up (not thread-safe against rendering).
 * label names may be NULL when unused. Series are created on first use, at most
 * METRICS_MAX_SERIES per family; later label values are folded into "other". */
#define METRICS_MAX_SERIES 512
metric_family *metrics_counter(const char *name, const char *help, const char *label1, const char *label2);
metric_family *metrics_gauge(const char *name, const char *help, const char *label1, const char *label2);
/* Latency histogram in seconds with default buckets from 0.5 ms to 10 s. */
metric_family *metrics_histogram(const char *name, const char *help, const char *label1, const char *label2);

void metrics_add(metric_family *f, const char *v1, const char *v2, double by);  /* counters, gauges */
void metrics_set(metric_family *f, const char *v1, const char *v2, double value); /* gauges */
void metrics_observe(metric_family *f, const char *v1, const char *v2, double value); /* histograms */

/* The exposition text; the caller frees it. */
char *metrics_render(void);

/* Serves GET /metrics, /healthz (200 while the process runs) and /readyz (200 when
 * ready() returns true, 503 otherwise; ready may be NULL) on addr:port in a thread.
 * Returns false with a message when the port cannot be bound. Port 0 picks a free
 * port, which metrics_port() then returns (0 while not serving). */
bool metrics_serve(const char *addr, int port, bool (*ready)(void), char *err, size_t errlen);
int metrics_port(void);
void metrics_stop(void);

#endif
