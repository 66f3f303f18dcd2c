/* The sender threads: each takes the next due delivery (FOR UPDATE SKIP LOCKED, so threads and
 * replicas never send one twice at once), sends it over SMTP or the SMS API, and records the
 * outcome: sent, due again after the next step of the retry schedule, or failed (counted in
 * metro_emails_total / metro_sms_total once recorded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/periodic.h"
#include "common/pg.h"
#include "svc/notification/service.h"

static periodic *senders;
static metric_family *m_emails, *m_sms;

typedef struct due {
  const char *id, *channel, *recipient;
  const uint8_t *message;
  size_t len;
  int attempts;
} due;

static nt_send_result send_one(arena *a, const nt_state *st, const due *d, char *provider_id, size_t id_cap,
                               char *err, size_t errlen) {
  if (strcmp(d->channel, "email") == 0)
    return nt_smtp_send(&st->smtp, d->recipient, (const char *)d->message, d->len, err, errlen);
  if (!*st->sms.api_url) return snprintf(err, errlen, "SMS is not configured"), NT_REJECTED;
  char *text = arena_strndup(a, (const char *)d->message, d->len);
  return nt_sms_send(a, &st->sms, d->recipient, text, provider_id, id_cap, err, errlen);
}

/* Records the outcome of one attempt in the transaction that holds the row; *status is "sent",
 * "failed" or "queued" (to be retried). */
static rpc_status record(arena *a, const nt_state *st, const due *d, nt_send_result res, const char *provider_id,
                         const char *err, const char **status_out) {
  int attempt = d->attempts + 1;
  bool failed = res == NT_REJECTED || (res == NT_RETRY && attempt > st->n_retries);
  const char *status = res == NT_SENT ? "sent" : failed ? "failed" : "queued";
  *status_out = status;
  int64_t delay = res == NT_RETRY && !failed ? st->retry_s[attempt - 1] : 0;
  const char *params[] = {d->id, status, arena_printf(a, "%lld", (long long)delay), res == NT_SENT ? NULL : err,
                          *provider_id ? provider_id : NULL};
  if (res != NT_SENT)
    log_warn("notification %s (%s): %s: %s (%s)", d->id, d->channel, failed ? "failed" : "will retry",
             err, status);
  return pg_exec(a, NULL,
                 "UPDATE notifications SET status = $2, attempts = attempts + 1, updated_at = now(), "
                 "last_error = $4, provider_message_id = coalesce($5, provider_message_id), "
                 "sent_at = CASE WHEN $2 = 'sent' THEN now() END, "
                 "next_attempt_at = now() + $3::bigint * interval '1 second' WHERE notification_id = $1::uuid",
                 5, params);
}

/* Sends the next due delivery; *found false when none is due. */
static rpc_status send_next(arena *a, const nt_state *st, bool *found) {
  *found = false;
  const char *channel = NULL, *status = NULL;
  rpc_status s = pg_begin(a);
  if (!rpc_ok(s)) return s;
  PGresult *r;
  s = pg_exec(a, &r,
              "SELECT notification_id, channel, recipient, message, attempts FROM notifications "
              "WHERE status = 'queued' AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT 1 "
              "FOR UPDATE SKIP LOCKED",
              0, NULL);
  if (rpc_ok(s) && PQntuples(r) == 1) {
    *found = true;
    size_t len;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 3), &len);
    due d = {.id = arena_strdup(a, PQgetvalue(r, 0, 0)), .channel = arena_strdup(a, PQgetvalue(r, 0, 1)),
             .recipient = arena_strdup(a, PQgetvalue(r, 0, 2)), .attempts = atoi(PQgetvalue(r, 0, 4))};
    uint8_t *copy = arena_alloc(a, len + 1);
    if (bytes) memcpy(copy, bytes, len);
    PQfreemem(bytes);
    d.message = copy;
    d.len = bytes ? len : 0;
    char provider_id[128] = "", err[512] = "";
    nt_send_result res = send_one(a, st, &d, provider_id, sizeof provider_id, err, sizeof err);
    s = record(a, st, &d, res, provider_id, err, &status);
    channel = d.channel;
  }
  if (!rpc_ok(s)) {
    pg_rollback();
    return s;
  }
  s = pg_commit(a);
  if (rpc_ok(s) && channel && strcmp(status, "queued") != 0)
    metrics_add(strcmp(channel, "email") == 0 ? m_emails : m_sms, status, NULL, 1);
  return s;
}

/* One round: the next due delivery, if any (a found one lets the next round start at once). */
static bool send_round(periodic *p, void *arg) {
  (void)p;
  arena *a = arena_create(64 * 1024);
  bool found = false;
  rpc_status s = send_next(a, arg, &found);
  if (!rpc_ok(s)) log_warn("notification sender: %s", s.message);
  arena_destroy(a);
  return found && rpc_ok(s);
}

bool nt_sender_start(nt_state *st) {
  m_emails = metrics_counter("metro_emails_total", "Emails delivered or given up, by outcome (sent, failed)",
                             "outcome", NULL);
  m_sms = metrics_counter("metro_sms_total", "Text messages delivered or given up, by outcome (sent, failed)",
                          "outcome", NULL);
  static const char *const outcomes[] = {"sent", "failed"};
  for (int i = 0; i < 2; i++) {
    metrics_add(m_emails, outcomes[i], NULL, 0);
    metrics_add(m_sms, outcomes[i], NULL, 0);
  }
  senders = periodic_start("notification sender", (int)st->settings.senders, st->settings.poll_ms, send_round, st);
  return senders != NULL;
}

void nt_sender_stop(void) {
  periodic_stop(senders);
  senders = NULL;
}
