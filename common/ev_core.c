/* Set-up of the event backbone: ev_init picks the backend (Kafka when brokers are
 * configured, else the embedded PostgreSQL log) and owns it until ev_shutdown. */
#include <stdio.h>

#include "common/ev_internal.h"
#include "common/log.h"

static ev_backend *g_backend;

bool ev_init(const ev_settings *s, char *err, size_t errlen) {
  if (g_backend) {
    snprintf(err, errlen, "events: already initialised");
    return false;
  }
  if (!ev_names_configure(s->service, s->topic_prefix)) {
    snprintf(err, errlen, "events: service and topic prefix must be lowercase names");
    return false;
  }
  bool kafka = s->kafka_brokers && *s->kafka_brokers;
  g_backend = kafka ? ev_kafka_open(s->kafka_brokers, s->kafka_partitions > 0 ? s->kafka_partitions : 3,
                                    s->kafka_replication > 0 ? s->kafka_replication : 1, err, errlen)
                    : ev_pglog_open(err, errlen);
  if (!g_backend) return false;
  log_info("events: %s backend", g_backend->ops->name);
  return true;
}

void ev_shutdown(void) {
  if (g_backend) g_backend->ops->close(g_backend);
  g_backend = NULL;
}

const char *ev_backend_name(void) { return g_backend ? g_backend->ops->name : "none"; }

ev_backend *ev_backend_current(void) { return g_backend; }
