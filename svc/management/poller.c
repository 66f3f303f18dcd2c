/* The poller thread: every METRO_MANAGEMENT_POLL_MS, resolves the dns:/// targets, health-checks
 * every instance of every configured service at once, and records the round service by service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/periodic.h"
#include "svc/management/management.h"

#define MAX_RESOLVED 64      /* instances one dns:/// target may stand for */
#define MAX_REMEMBERED 1024  /* instances whose last status the log compares against */

static periodic *poller;
static mgmt_prober *prober;
static metric_family *m_instances, *m_check_seconds;

/* The status each instance had in the previous round (poller thread only): changes are logged. */
static struct {
  char key[MGMT_NAME_MAX + MGMT_TARGET_MAX + 2];
  Metro__Management__V1__InstanceStatus status;
} remembered[MAX_REMEMBERED];
static int n_remembered;

static const char *status_name(Metro__Management__V1__InstanceStatus s) {
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&metro__management__v1__instance_status__descriptor, (int)s);
  return v ? v->name : "?";
}

static void log_change(const char *service, const mgmt_check *c) {
  char key[sizeof remembered[0].key];
  snprintf(key, sizeof key, "%s %s", service, c->address);
  for (int i = 0; i < n_remembered; i++)
    if (strcmp(remembered[i].key, key) == 0) {
      if (remembered[i].status != c->status)
        log_info("management: %s %s is %s (was %s)%s%s", service, c->address, status_name(c->status),
                 status_name(remembered[i].status), *c->error ? ": " : "", c->error);
      remembered[i].status = c->status;
      return;
    }
  if (n_remembered == MAX_REMEMBERED) n_remembered = 0; /* far more instances than expected: start over */
  snprintf(remembered[n_remembered].key, sizeof remembered[0].key, "%s", key);
  remembered[n_remembered++].status = c->status;
  if (c->status != METRO__MANAGEMENT__V1__INSTANCE_STATUS__SERVING)
    log_warn("management: %s %s is %s%s%s", service, c->address, status_name(c->status), *c->error ? ": " : "",
             c->error);
}

/* Each service's resolution errors of the previous round (poller thread only): changes are logged. */
static char resolve_errors[MGMT_MAX_SERVICES][512];

/* One service's slice of the round. */
typedef struct svc_round {
  int first, count;
  char error[512]; /* resolution failures, "" when none */
} svc_round;

static void append_error(svc_round *r, const char *msg) {
  size_t used = strlen(r->error);
  snprintf(r->error + used, sizeof r->error - used, "%s%s", used ? "; " : "", msg);
}

static bool poll_round(periodic *p, void *arg) {
  mgmt_state *st = arg;
  const mgmt_services *svcs = st->services;
  int cap = 0;
  for (int s = 0; s < svcs->n; s++)
    for (int t = 0; t < svcs->services[s].n_targets; t++)
      cap += strncmp(svcs->services[s].targets[t], "dns:///", 7) == 0 ? MAX_RESOLVED : 1;
  mgmt_check *checks = calloc(cap > 0 ? (size_t)cap : 1, sizeof *checks);
  const char **targets = calloc(cap > 0 ? (size_t)cap : 1, sizeof *targets);
  svc_round *rounds = calloc(svcs->n > 0 ? (size_t)svcs->n : 1, sizeof *rounds);
  if (!checks || !targets || !rounds) {
    log_error("management: out of memory for a poll round");
    free(checks);
    free(targets);
    free(rounds);
    return false;
  }
  int n = 0;
  for (int s = 0; s < svcs->n && !periodic_stopping(p); s++) {
    const mgmt_service_cfg *svc = &svcs->services[s];
    rounds[s].first = n;
    for (int t = 0; t < svc->n_targets; t++) {
      const char *target = svc->targets[t];
      if (strncmp(target, "dns:///", 7) != 0) {
        snprintf(checks[n].address, sizeof checks[n].address, "%s", target);
        targets[n++] = target;
        continue;
      }
      char resolved[MAX_RESOLVED][MGMT_ADDR_MAX], err[300];
      int k = mgmt_resolve(target, resolved, MAX_RESOLVED, err, sizeof err);
      if (k < 0) append_error(&rounds[s], err);
      for (int i = 0; i < k; i++) {
        bool dup = false;
        for (int j = rounds[s].first; j < n && !dup; j++) dup = strcmp(checks[j].address, resolved[i]) == 0;
        if (dup) continue;
        snprintf(checks[n].address, sizeof checks[n].address, "%.*s", MGMT_ADDR_MAX - 1, resolved[i]);
        targets[n++] = target;
      }
    }
    rounds[s].count = n - rounds[s].first;
  }
  if (!periodic_stopping(p)) mgmt_prober_run(prober, checks, n, (int)st->settings.check_timeout_ms);

  arena *a = arena_create(64 * 1024);
  rpc_ctx ctx = {.arena = a, .alloc = arena_protobuf_allocator(a), .state = st, .deadline_ms = INT64_MAX,
                 .request_id = "management-poller"};
  for (int s = 0; s < svcs->n && !periodic_stopping(p); s++) {
    const mgmt_service_cfg *svc = &svcs->services[s];
    const svc_round *r = &rounds[s];
    int by_status[4] = {0};
    for (int i = r->first; i < r->first + r->count; i++) {
      log_change(svc->name, &checks[i]);
      if (checks[i].status > 0 && checks[i].status < 4) by_status[checks[i].status]++;
      if (checks[i].status != METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE)
        metrics_observe(m_check_seconds, svc->name, NULL, checks[i].latency_ms / 1000.0);
    }
    for (int k = 1; k < 4; k++)
      metrics_set(m_instances, svc->name, status_name((Metro__Management__V1__InstanceStatus)k), by_status[k]);
    if (strcmp(resolve_errors[s], r->error) != 0) {
      if (*r->error) log_warn("management: %s: %s", svc->name, r->error);
      else log_info("management: %s: every DNS name resolves again", svc->name);
      snprintf(resolve_errors[s], sizeof resolve_errors[s], "%s", r->error);
    }
    rpc_status rs = mgmt_store_round(&ctx, svc, checks + r->first, targets + r->first, r->count,
                                     *r->error ? r->error : NULL);
    if (!rpc_ok(rs)) log_warn("management: cannot record the round of %s: %s", svc->name, rs.message);
  }
  arena_destroy(a);
  free(checks);
  free(targets);
  free(rounds);
  return false;
}

bool mgmt_poller_start(mgmt_state *st) {
  m_instances = metrics_gauge("metro_management_instances",
                              "Present instances of each configured service by health status (latest round)", "service",
                              "status");
  m_check_seconds = metrics_histogram("metro_management_health_check_seconds",
                                      "Latency of answered grpc.health.v1 checks, by service", "service", NULL);
  int backoff = st->settings.poll_ms < 1000 ? 1000 : (int)st->settings.poll_ms;
  prober = mgmt_prober_create(backoff);
  if (!prober) return false;
  poller = periodic_start("management poller", 1, st->settings.poll_ms, poll_round, st);
  if (!poller) {
    mgmt_prober_destroy(prober);
    prober = NULL;
  }
  return poller != NULL;
}

void mgmt_poller_stop(void) {
  periodic_stop(poller);
  poller = NULL;
  mgmt_prober_destroy(prober);
  prober = NULL;
}
