/* metro-event-probe: a test-only service (schema probe) that consumes user.created and
 * probe.* events and records each one it applies, failing on command to prove the DLQ. */
#include <string.h>

#include "common/ev_internal.h"
#include "common/service.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "metro/events/v1/identity_events.pb-c.h"

typedef struct probe_state {
  char *fail_type;   /* handler fails with INTERNAL (retried, then parked) */
  char *reject_type; /* handler fails with FAILED_PRECONDITION (parked at once) */
} probe_state;

static probe_state state;

/* outbox and processed_events as every service has them; applied records each event the
 * probe applied, and counts how often (more than once would be a broken dedupe). */
static const pg_migration probe_migrations[] = {
    {"001_probe",
     "CREATE TABLE outbox ("
     " id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, topic text NOT NULL, event_type text NOT NULL,"
     " event_key text NOT NULL, envelope bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),"
     " published_at timestamptz, attempts integer NOT NULL DEFAULT 0, last_error text);"
     "CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;"
     "CREATE TABLE processed_events ("
     " event_id uuid PRIMARY KEY, event_type text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now());"
     "CREATE TABLE applied ("
     " event_id uuid NOT NULL UNIQUE, event_type text NOT NULL, subject text NOT NULL, label text NOT NULL,"
     " event_time timestamptz NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
     " times_applied integer NOT NULL DEFAULT 1);"
     "CREATE INDEX applied_label_idx ON applied (label);"},
    {NULL, NULL},
};

static rpc_status probe_apply(rpc_ctx *ctx, const ev_event *ev) {
  const probe_state *s = ctx->state;
  const Metro__Events__V1__EventEnvelope *env = ev->envelope;
  const char *label = ev->data->descriptor == &google__protobuf__string_value__descriptor
                          ? ((const Google__Protobuf__StringValue *)ev->data)->value
                          : ((const Metro__Events__V1__UserCreated *)ev->data)->email;
  const char *params[5] = {env->event_id, env->type, env->subject, label,
                           arena_printf(ctx->arena, "%lld", (long long)ev_envelope_time_us(env))};
  rpc_status st = pg_exec(ctx->arena, NULL,
                          "INSERT INTO applied (event_id, event_type, subject, label, event_time)"
                          " VALUES ($1::uuid, $2, $3, $4, timestamptz 'epoch' + $5::bigint * interval '1 microsecond')"
                          " ON CONFLICT (event_id) DO UPDATE SET times_applied = applied.times_applied + 1",
                          5, params);
  if (!rpc_ok(st)) return st;
  /* The row above must vanish with the rollback these failures cause. */
  if (*s->fail_type && strcmp(env->type, s->fail_type) == 0)
    return rpc_error(ctx->arena, GRPC_STATUS_INTERNAL, "PROBE_TOLD_TO_FAIL", "probe fails %s", env->type);
  if (*s->reject_type && strcmp(env->type, s->reject_type) == 0)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "PROBE_TOLD_TO_REJECT", "probe rejects %s", env->type);
  return RPC_OK;
}

static const ev_subscription probe_subscriptions[] = {
    {"user.created", &metro__events__v1__user_created__descriptor, probe_apply},
    {"probe.tick", &google__protobuf__string_value__descriptor, probe_apply},
    {"probe.fail", &google__protobuf__string_value__descriptor, probe_apply},
    {"probe.reject", &google__protobuf__string_value__descriptor, probe_apply},
};

int main(void) {
  const cfg_setting settings[] = {
      {"METRO_PROBE_FAIL_TYPE", CFG_STRING, "", false, 0, 0, &state.fail_type, "event type whose handler fails"},
      {"METRO_PROBE_REJECT_TYPE", CFG_STRING, "", false, 0, 0, &state.reject_type,
       "event type whose handler rejects it as never applicable"},
  };
  const ev_consumer_config consumer = {
      .group = "probe",
      .subs = probe_subscriptions,
      .n_subs = sizeof probe_subscriptions / sizeof probe_subscriptions[0],
      .state = &state,
      .max_attempts = 3,
      .retry_base_ms = 50,
  };
  service_def def = {
      .name = "probe",
      .default_grpc_addr = "127.0.0.1:0",
      .default_metrics_port = 0,
      .migrations = probe_migrations,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .state = &state,
      .produces_events = true, /* relays what the tests write into probe.outbox */
      .consumers = &consumer,
      .n_consumers = 1,
  };
  return service_run(&def);
}
