/* The management tables: instances (one row per service and address ever checked, vanished ones
 * kept), services (the poller's latest round over each) and gateways (each one's latest report). */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "svc/management/management.h"

static const char *status_text(Metro__Management__V1__InstanceStatus s) {
  switch (s) {
  case METRO__MANAGEMENT__V1__INSTANCE_STATUS__SERVING: return "SERVING";
  case METRO__MANAGEMENT__V1__INSTANCE_STATUS__NOT_SERVING: return "NOT_SERVING";
  default: return "UNREACHABLE";
  }
}

static Metro__Management__V1__InstanceStatus status_from(const char *s) {
  if (strcmp(s, "SERVING") == 0) return METRO__MANAGEMENT__V1__INSTANCE_STATUS__SERVING;
  if (strcmp(s, "NOT_SERVING") == 0) return METRO__MANAGEMENT__V1__INSTANCE_STATUS__NOT_SERVING;
  if (strcmp(s, "UNREACHABLE") == 0) return METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE;
  return METRO__MANAGEMENT__V1__INSTANCE_STATUS__INSTANCE_STATUS_UNSPECIFIED;
}

/* A PostgreSQL text[] literal of the items, each quoted (a parameter, never spliced into SQL). */
static const char *text_array(arena *a, const char *const *items, int n) {
  size_t cap = 3;
  for (int i = 0; i < n; i++) cap += 2 * strlen(items[i]) + 3;
  char *out = arena_alloc(a, cap), *p = out;
  *p++ = '{';
  for (int i = 0; i < n; i++) {
    if (i) *p++ = ',';
    *p++ = '"';
    for (const char *s = items[i]; *s; s++) {
      if (*s == '"' || *s == '\\') *p++ = '\\';
      *p++ = *s;
    }
    *p++ = '"';
  }
  *p++ = '}';
  *p = '\0';
  return out;
}

static int64_t num(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? 0 : atoll(PQgetvalue(res, row, col));
}

static char *dup(rpc_ctx *ctx, const PGresult *res, int row, int col) {
  return arena_strdup(ctx->arena, PQgetvalue(res, row, col));
}

rpc_status mgmt_store_round(rpc_ctx *ctx, const mgmt_service_cfg *svc, const mgmt_check *checks,
                            const char *const *check_targets, int n, const char *resolve_error) {
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  const char **addresses = arena_alloc(ctx->arena, sizeof *addresses * (size_t)(n ? n : 1));
  for (int i = 0; i < n && rpc_ok(st); i++) {
    const mgmt_check *c = &checks[i];
    addresses[i] = c->address;
    const char *params[] = {svc->name, c->address, check_targets[i], status_text(c->status), c->error,
                            arena_printf(ctx->arena, "%.3f", c->latency_ms)};
    /* last_seen moves only on SERVING; the latency of an unanswered check is not kept. */
    st = pg_exec(ctx->arena, NULL,
                 "INSERT INTO instances AS i (service, address, target, status, vanished, last_seen, last_checked, "
                 "last_error, latency_ms) VALUES ($1, $2, $3, $4, false, CASE WHEN $4 = 'SERVING' THEN now() END, "
                 "now(), $5, CASE WHEN $4 = 'UNREACHABLE' THEN 0 ELSE $6::double precision END) "
                 "ON CONFLICT (service, address) DO UPDATE SET target = EXCLUDED.target, status = EXCLUDED.status, "
                 "vanished = false, last_seen = coalesce(EXCLUDED.last_seen, i.last_seen), last_checked = now(), "
                 "last_error = EXCLUDED.last_error, latency_ms = CASE WHEN EXCLUDED.status = 'UNREACHABLE' "
                 "THEN i.latency_ms ELSE EXCLUDED.latency_ms END",
                 6, params);
  }
  if (rpc_ok(st)) {
    const char *target_list[MGMT_MAX_TARGETS];
    for (int i = 0; i < svc->n_targets; i++) target_list[i] = svc->targets[i];
    const char *params[] = {svc->name, text_array(ctx->arena, addresses, n),
                            text_array(ctx->arena, target_list, svc->n_targets)};
    /* Rows of this service the round did not check vanished: unreachable from now on, with
     * the reason written once, when they vanish. */
    st = pg_exec(ctx->arena, NULL,
                 "UPDATE instances SET status = 'UNREACHABLE', last_checked = now(), "
                 "last_error = CASE WHEN vanished THEN last_error "
                 "WHEN target = ANY($3::text[]) THEN target || ' no longer resolves to this address' "
                 "ELSE 'no longer in METRO_MANAGEMENT_SERVICES' END, vanished = true "
                 "WHERE service = $1 AND NOT (address = ANY($2::text[]))",
                 3, params);
  }
  if (rpc_ok(st)) {
    const char *params[] = {svc->name, resolve_error ? resolve_error : ""};
    st = pg_exec(ctx->arena, NULL,
                 "INSERT INTO services (name, last_checked, last_error) VALUES ($1, now(), $2) "
                 "ON CONFLICT (name) DO UPDATE SET last_checked = now(), last_error = EXCLUDED.last_error",
                 2, params);
  }
  if (!rpc_ok(st)) return pg_rollback(), st;
  return pg_commit(ctx->arena);
}

rpc_status mgmt_services_summary(rpc_ctx *ctx, const mgmt_services *s, Metro__Management__V1__Service ***out) {
  const char **names = arena_alloc(ctx->arena, sizeof *names * (size_t)(s->n ? s->n : 1));
  for (int i = 0; i < s->n; i++) names[i] = s->services[i].name;
  const char *params[] = {text_array(ctx->arena, names, s->n)};
  PGresult *res;
  /* worst: 1 SERVING, 2 NOT_SERVING, 3 UNREACHABLE among present instances. */
  rpc_status st = pg_exec(
      ctx->arena, &res,
      "SELECT c.name, " SQL_US("v.last_checked") ", coalesce(v.last_error, ''), "
      "count(i.address) FILTER (WHERE NOT i.vanished), "
      "count(i.address) FILTER (WHERE NOT i.vanished AND i.status = 'SERVING'), "
      "count(i.address) FILTER (WHERE i.vanished), "
      "coalesce(max(CASE i.status WHEN 'SERVING' THEN 1 WHEN 'NOT_SERVING' THEN 2 ELSE 3 END) "
      "FILTER (WHERE NOT i.vanished), 0) "
      "FROM unnest($1::text[]) WITH ORDINALITY AS c(name, ord) "
      "LEFT JOIN services v ON v.name = c.name LEFT JOIN instances i ON i.service = c.name "
      "GROUP BY c.name, c.ord, v.last_checked, v.last_error ORDER BY c.ord",
      1, params);
  if (!rpc_ok(st)) return st;
  int rows = PQntuples(res);
  if (rows != s->n) return rpc_internal("management: the services summary lost rows");
  Metro__Management__V1__Service **list = arena_alloc(ctx->arena, sizeof *list * (size_t)(rows ? rows : 1));
  for (int r = 0; r < rows; r++) {
    Metro__Management__V1__Service *m =
        RPC_NEW(ctx, Metro__Management__V1__Service, metro__management__v1__service__init);
    const mgmt_service_cfg *cfg = &s->services[r];
    m->name = (char *)cfg->name;
    m->n_targets = (size_t)cfg->n_targets;
    m->targets = arena_alloc(ctx->arena, sizeof *m->targets * (size_t)(cfg->n_targets ? cfg->n_targets : 1));
    for (int k = 0; k < cfg->n_targets; k++) m->targets[k] = (char *)cfg->targets[k];
    int64_t checked = num(res, r, 1);
    m->last_check_time = pb_timestamp(ctx, checked);
    m->last_error = dup(ctx, res, r, 2);
    m->instance_count = (int32_t)num(res, r, 3);
    m->serving_count = (int32_t)num(res, r, 4);
    m->vanished_count = (int32_t)num(res, r, 5);
    int64_t worst = num(res, r, 6);
    if (!checked)
      m->status = METRO__MANAGEMENT__V1__INSTANCE_STATUS__INSTANCE_STATUS_UNSPECIFIED;
    else if (m->instance_count == 0)
      m->status = METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE;
    else
      m->status = worst == 1   ? METRO__MANAGEMENT__V1__INSTANCE_STATUS__SERVING
                  : worst == 2 ? METRO__MANAGEMENT__V1__INSTANCE_STATUS__NOT_SERVING
                               : METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE;
    list[r] = m;
  }
  *out = list;
  return RPC_OK;
}

rpc_status mgmt_instances_list(rpc_ctx *ctx, const char *service, const char *after_address, int limit,
                               Metro__Management__V1__Instance ***out, int *n) {
  const char *params[] = {service, after_address, arena_printf(ctx->arena, "%d", limit)};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res,
                          "SELECT service, address, target, status, vanished, " SQL_US("last_seen") ", " SQL_US(
                              "last_checked") ", last_error, latency_ms FROM instances WHERE service = $1 "
                                              "AND ($2::text IS NULL OR address COLLATE \"C\" > $2) "
                                              "ORDER BY address COLLATE \"C\" LIMIT $3::int",
                          3, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(res);
  *out = arena_alloc(ctx->arena, sizeof **out * (size_t)(*n ? *n : 1));
  for (int r = 0; r < *n; r++) {
    Metro__Management__V1__Instance *m =
        RPC_NEW(ctx, Metro__Management__V1__Instance, metro__management__v1__instance__init);
    m->service = dup(ctx, res, r, 0);
    m->address = dup(ctx, res, r, 1);
    m->target = dup(ctx, res, r, 2);
    m->status = status_from(PQgetvalue(res, r, 3));
    m->vanished = PQgetvalue(res, r, 4)[0] == 't';
    m->last_seen_time = pb_timestamp(ctx, num(res, r, 5));
    m->last_check_time = pb_timestamp(ctx, num(res, r, 6));
    m->last_error = dup(ctx, res, r, 7);
    m->latency_ms = strtod(PQgetvalue(res, r, 8), NULL);
    (*out)[r] = m;
  }
  return RPC_OK;
}

rpc_status mgmt_gateway_put(rpc_ctx *ctx, const Metro__Management__V1__GatewayInstance *g, int64_t *last_seen_us) {
  Metro__Management__V1__GatewayInstance copy = *g;
  copy.name = (char *)"";
  copy.last_seen_time = NULL;
  size_t len = protobuf_c_message_get_packed_size(&copy.base);
  uint8_t *buf = arena_alloc(ctx->arena, len ? len : 1);
  protobuf_c_message_pack(&copy.base, buf);
  const char *params[] = {g->instance_id, pg_bytea_literal(ctx->arena, buf, len)};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res,
                          "INSERT INTO gateways (instance_id, report, last_seen) VALUES ($1, $2::bytea, now()) "
                          "ON CONFLICT (instance_id) DO UPDATE SET report = EXCLUDED.report, last_seen = now() "
                          "RETURNING " SQL_US("last_seen"),
                          2, params);
  if (!rpc_ok(st)) return st;
  *last_seen_us = num(res, 0, 0);
  return RPC_OK;
}

/* A stored report unpacked into the call's arena, with its output-only fields filled. */
static Metro__Management__V1__GatewayInstance *gateway_from(rpc_ctx *ctx, const PGresult *res, int row, int col) {
  size_t len = 0;
  unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &len);
  if (!raw) return NULL;
  Metro__Management__V1__GatewayInstance *g = (Metro__Management__V1__GatewayInstance *)protobuf_c_message_unpack(
      &metro__management__v1__gateway_instance__descriptor, &ctx->alloc, len, raw);
  PQfreemem(raw);
  if (!g) {
    log_warn("management: a stored gateway report does not unpack");
    return NULL;
  }
  g->name = arena_printf(ctx->arena, "gateways/%s", g->instance_id);
  g->last_seen_time = pb_timestamp(ctx, num(res, row, col + 1));
  return g;
}

rpc_status mgmt_gateway_get(rpc_ctx *ctx, const char *instance_id, Metro__Management__V1__GatewayInstance **out) {
  const char *params[] = {instance_id};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res,
                          "SELECT report, " SQL_US("last_seen") " FROM gateways WHERE instance_id = $1", 1, params);
  if (!rpc_ok(st)) return st;
  *out = NULL;
  if (PQntuples(res) == 0) return RPC_OK;
  if (!(*out = gateway_from(ctx, res, 0, 0))) return rpc_internal("management: unreadable gateway report");
  return RPC_OK;
}

rpc_status mgmt_gateways_list(rpc_ctx *ctx, const char *after_us, const char *after_id, int limit,
                              Metro__Management__V1__GatewayInstance ***out, int *n) {
  const char *params[] = {after_us, after_id, arena_printf(ctx->arena, "%d", limit)};
  PGresult *res;
  rpc_status st = pg_exec(ctx->arena, &res,
                          "SELECT report, " SQL_US("last_seen") " FROM gateways "
                          "WHERE ($1::bigint IS NULL OR (last_seen, instance_id) < (" SQL_AT("$1") ", $2)) "
                          "ORDER BY last_seen DESC, instance_id DESC LIMIT $3::int",
                          3, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(res);
  *out = arena_alloc(ctx->arena, sizeof **out * (size_t)(*n ? *n : 1));
  for (int r = 0; r < *n; r++)
    if (!((*out)[r] = gateway_from(ctx, res, r, 0))) return rpc_internal("management: unreadable gateway report");
  return RPC_OK;
}
