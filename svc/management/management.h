/* The management service's shared declarations: the METRO_MANAGEMENT_SERVICES configuration, DNS
 * resolution, health probes, the poller, the registry and gateway tables, report validation. */
#ifndef METRO_MANAGEMENT_H
#define METRO_MANAGEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc_server.h"
#include "metro/management/v1/management.pb-c.h"

/* ==== spec.c: METRO_MANAGEMENT_SERVICES (pure) ==== */

#define MGMT_MAX_SERVICES 64
#define MGMT_MAX_TARGETS 16     /* addresses of one service */
#define MGMT_NAME_MAX 32        /* a service name: [a-z][a-z0-9-]{0,31} */
#define MGMT_HOST_MAX 253       /* a DNS name */
#define MGMT_TARGET_MAX 272     /* "dns:///" + host + ":" + port, NUL included */
#define MGMT_ADDR_MAX 64        /* an instance: "host:port", "[v6]:port" */

typedef struct mgmt_service_cfg {
  char name[MGMT_NAME_MAX + 1];
  char targets[MGMT_MAX_TARGETS][MGMT_TARGET_MAX]; /* as configured */
  int n_targets;
} mgmt_service_cfg;

typedef struct mgmt_services {
  mgmt_service_cfg services[MGMT_MAX_SERVICES]; /* in order of first mention */
  int n;
} mgmt_services;

/* The default: the twelve services on 127.0.0.1 with their default ports. */
extern const char *const MGMT_DEFAULT_SERVICES;

/* Parses "auth=127.0.0.1:50051,transport=a:1|dns:///b:2" into *out: entries separated by ',',
 * addresses of one service by '|', blanks around either ignored. A name given twice adds its
 * addresses; an address given twice for one service counts once. Each address is host:port
 * (a DNS name, an IPv4 address or [IPv6]) or dns:///host:port. False with a message in err
 * (naming the entry) for anything else, an empty list, or more than MGMT_MAX_SERVICES
 * services or MGMT_MAX_TARGETS addresses of one. */
bool mgmt_services_parse(const char *spec, mgmt_services *out, char *err, size_t errlen);
/* The configured service of that name, or NULL. */
const mgmt_service_cfg *mgmt_services_find(const mgmt_services *s, const char *name);
/* Splits a parsed target: *dns true for "dns:///", host without brackets, port digits. */
bool mgmt_target_split(const char *target, bool *dns, char host[MGMT_HOST_MAX + 1], char port[6]);

/* ==== resolve.c ==== */

/* The addresses "a.b.c.d:port" / "[v6]:port" a dns:/// target's A/AAAA records give now, at
 * most max, without duplicates; -1 with the resolver's message in err when it gives none. */
int mgmt_resolve(const char *target, char out[][MGMT_ADDR_MAX], int max, char *err, size_t errlen);

/* ==== probe.c: grpc.health.v1.Health/Check on many addresses at once ==== */

typedef struct mgmt_check {
  char address[MGMT_TARGET_MAX];        /* in: what to call */
  Metro__Management__V1__InstanceStatus status; /* out */
  double latency_ms;                    /* out: until the answer (or the failure) */
  char error[256];                      /* out: "" when SERVING */
} mgmt_check;

typedef struct mgmt_prober mgmt_prober;

/* Channels are kept per address between rounds (reconnect back-off capped at
 * max_backoff_ms) and closed once an address is no longer checked. */
mgmt_prober *mgmt_prober_create(int max_backoff_ms);
/* Checks every address concurrently, each with its own deadline of timeout_ms. */
void mgmt_prober_run(mgmt_prober *p, mgmt_check *checks, int n, int timeout_ms);
void mgmt_prober_destroy(mgmt_prober *p);

/* ==== settings and state ==== */

typedef struct mgmt_settings {
  char *services_spec;       /* METRO_MANAGEMENT_SERVICES */
  int64_t poll_ms;           /* METRO_MANAGEMENT_POLL_MS */
  int64_t check_timeout_ms;  /* METRO_MANAGEMENT_CHECK_TIMEOUT_MS */
} mgmt_settings;

typedef struct mgmt_state {
  mgmt_settings settings;
  mgmt_services *services;   /* parsed at start, read-only afterwards */
} mgmt_state;

static inline mgmt_state *mgmt_st(const rpc_ctx *ctx) { return (mgmt_state *)ctx->state; }

/* ==== store.c: the instances, services and gateways tables ==== */

/* One round's result for a service: the instances checked (with the target each came from,
 * parallel to checks) replace their rows; the service's other rows become vanished. */
rpc_status mgmt_store_round(rpc_ctx *ctx, const mgmt_service_cfg *svc, const mgmt_check *checks,
                            const char *const *check_targets, int n, const char *resolve_error);
/* The configured services with their counts, in configuration order (n = s->n). */
rpc_status mgmt_services_summary(rpc_ctx *ctx, const mgmt_services *s, Metro__Management__V1__Service ***out);
/* A service's instances by address after after_address (NULL: from the start). */
rpc_status mgmt_instances_list(rpc_ctx *ctx, const char *service, const char *after_address, int limit,
                               Metro__Management__V1__Instance ***out, int *n);

/* Stores a validated report (name and last_seen_time cleared) as the instance's latest;
 * *last_seen_us gets the time it was stored. */
rpc_status mgmt_gateway_put(rpc_ctx *ctx, const Metro__Management__V1__GatewayInstance *g, int64_t *last_seen_us);
/* *out NULL when that instance never reported. */
rpc_status mgmt_gateway_get(rpc_ctx *ctx, const char *instance_id, Metro__Management__V1__GatewayInstance **out);
/* Newest report first, after the cursor (after_us NULL: from the start). */
rpc_status mgmt_gateways_list(rpc_ctx *ctx, const char *after_us, const char *after_id, int limit,
                              Metro__Management__V1__GatewayInstance ***out, int *n);

/* ==== report.c: what a gateway may report ==== */

#define MGMT_MAX_ROUTES 1000
#define MGMT_MAX_BACKENDS 64

bool mgmt_instance_id_valid(const char *id);
/* Every bound of ReportGateway's instance; INVALID_ARGUMENT naming the first bad field. */
rpc_status mgmt_report_validate(arena *a, const Metro__Management__V1__GatewayInstance *g);

/* ==== poller.c: the background health checks ==== */

bool mgmt_poller_start(mgmt_state *st);
void mgmt_poller_stop(void);

/* ==== handlers.c ==== */

extern const rpc_service_impl management_service_impl;
/* Registers the handlers' counters (start-up, before the metrics endpoint serves). */
void mgmt_handlers_metrics_init(void);

#endif
