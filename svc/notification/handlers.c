/* The notification service's admin methods and their table: delivery records listed with
 * filters and keyset pages, read one by one, and a failed one queued again. */
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/page_token.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "svc/notification/service.h"

#define COLUMNS                                                                                                \
  "notification_id, event_id, event_type, template, channel, recipient, coalesce(user_id::text, ''), subject, " \
  "status, attempts, coalesce(provider_message_id, ''), coalesce(last_error, ''), " SQL_US("next_attempt_at")  \
  ", " SQL_US("created_at") ", " SQL_US("updated_at") ", coalesce(" SQL_US("sent_at") ", 0)"

static Metro__Notification__V1__Notification *row_at(rpc_ctx *ctx, const PGresult *r, int i) {
  Metro__Notification__V1__Notification *n =
      RPC_NEW(ctx, Metro__Notification__V1__Notification, metro__notification__v1__notification__init);
  int c = 0;
  n->notification_id = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->event_id = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->event_type = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->template_ = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->channel = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->recipient = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->user_id = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->subject = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->status = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->attempts = atoi(PQgetvalue(r, i, c++));
  n->provider_message_id = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->last_error = arena_strdup(ctx->arena, PQgetvalue(r, i, c++));
  n->next_attempt_at = pb_timestamp(ctx, atoll(PQgetvalue(r, i, c++)));
  n->create_time = pb_timestamp(ctx, atoll(PQgetvalue(r, i, c++)));
  n->update_time = pb_timestamp(ctx, atoll(PQgetvalue(r, i, c++)));
  n->sent_time = pb_timestamp(ctx, atoll(PQgetvalue(r, i, c++)));
  return n;
}

static rpc_status not_found(rpc_ctx *ctx) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "NOTIFICATION_NOT_FOUND", "no such notification");
}

static rpc_status list_notifications(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Notification__V1__ListNotificationsRequest *q = (const void *)msg;
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, "nt", q->page_size, q->page_token, 20, 100, &cur);
  if (!rpc_ok(st)) return st;
  if (*q->status && strcmp(q->status, "queued") && strcmp(q->status, "sent") && strcmp(q->status, "failed"))
    return rpc_invalid(ctx->arena, "status", "INVALID_STATUS", "status must be queued, sent or failed");
  if (strlen(q->recipient) > 254 || strlen(q->template_) > 64)
    return rpc_invalid(ctx->arena, "recipient", "INVALID_FILTER", "recipient or template is too long");
  const char *params[] = {*q->recipient ? q->recipient : NULL, *q->template_ ? q->template_ : NULL,
                          *q->status ? q->status : NULL, cur.after_us, cur.after_id,
                          arena_printf(ctx->arena, "%d", cur.page_size + 1)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "SELECT " COLUMNS " FROM notifications WHERE ($1::text IS NULL OR recipient = $1) "
               "AND ($2::text IS NULL OR template = $2) AND ($3::text IS NULL OR status = $3) "
               "AND ($4::bigint IS NULL OR (created_at, notification_id) < (" SQL_AT("$4") ", $5::uuid)) "
               "ORDER BY created_at DESC, notification_id DESC LIMIT $6::int",
               6, params);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(r), shown = n > cur.page_size ? cur.page_size : n;
  Metro__Notification__V1__ListNotificationsResponse *resp = RPC_NEW(
      ctx, Metro__Notification__V1__ListNotificationsResponse, metro__notification__v1__list_notifications_response__init);
  resp->notifications = arena_alloc(ctx->arena, sizeof *resp->notifications * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) resp->notifications[resp->n_notifications++] = row_at(ctx, r, i);
  if (n > cur.page_size) {
    const Metro__Notification__V1__Notification *last = resp->notifications[shown - 1];
    resp->next_page_token =
        (char *)page_token_make(ctx, "nt", pb_timestamp_us(last->create_time), last->notification_id);
  }
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_notification(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Notification__V1__GetNotificationRequest *q = (const void *)msg;
  if (!crypto_uuid_valid(q->notification_id)) return not_found(ctx);
  const char *params[] = {q->notification_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT " COLUMNS " FROM notifications WHERE notification_id = $1::uuid", 1,
                          params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) != 1) return not_found(ctx);
  *out = &row_at(ctx, r, 0)->base;
  return RPC_OK;
}

static rpc_status retry_notification(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Notification__V1__RetryNotificationRequest *q = (const void *)msg;
  if (!crypto_uuid_valid(q->notification_id)) return not_found(ctx);
  const char *params[] = {q->notification_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "UPDATE notifications SET status = 'queued', attempts = 0, next_attempt_at = now(), "
                          "updated_at = now() WHERE notification_id = $1::uuid AND status <> 'sent' "
                          "AND octet_length(message) > 0 RETURNING " COLUMNS,
                          1, params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 1) return *out = &row_at(ctx, r, 0)->base, RPC_OK;
  st = get_notification(ctx, msg, out);
  if (!rpc_ok(st)) return st;
  const Metro__Notification__V1__Notification *n = (const void *)*out;
  if (strcmp(n->status, "sent") == 0)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "NOTIFICATION_ALREADY_SENT", "it was sent already");
  return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "NOTIFICATION_NOT_SENDABLE",
                   "this message cannot be sent: %s", n->last_error);
}

static const rpc_method_impl methods[] = {
    {"ListNotifications", list_notifications, 0},
    {"GetNotification", get_notification, 0},
    {"RetryNotification", retry_notification, 0},
};

const rpc_service_impl notification_service_impl = {
    .descriptor = &metro__notification__v1__notification_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};
