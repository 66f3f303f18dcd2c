/* Delivery records: a message is rendered from its template, built (MIME with the inline QR
 * and any other images and attachments for email, plain text for SMS) and stored once per
 * (event, template, recipient); the sender thread sends what is queued. An unusable address is
 * recorded as failed, not retried. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "svc/notification/service.h"

#define QR_CID "qr"

typedef struct nt_row {
  const char *channel, *recipient, *subject;
  const uint8_t *message;
  size_t len;
  const char *message_id, *failure;
} nt_row;

static rpc_status insert(rpc_ctx *ctx, const nt_message *m, const nt_row *row) {
  const char *params[] = {m->ev->envelope->event_id,
                          m->ev->envelope->type,
                          m->template_name,
                          row->channel,
                          row->recipient,
                          *m->to->user_id ? m->to->user_id : NULL,
                          row->subject,
                          pg_bytea_literal(ctx->arena, row->message, row->len),
                          row->message_id,
                          row->failure ? "failed" : "queued",
                          row->failure};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "INSERT INTO notifications (event_id, event_type, template, channel, recipient, user_id, "
                          "subject, message, provider_message_id, status, last_error) VALUES ($1::uuid, $2, $3, $4, "
                          "$5, $6::uuid, $7, $8::bytea, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING notification_id",
                          11, params);
  if (rpc_ok(st) && PQntuples(r) == 1)
    log_info("notification %s: %s %s for %s queued%s%s", PQgetvalue(r, 0, 0), row->channel, m->template_name,
             m->ev->envelope->type, row->failure ? " as failed: " : "", row->failure ? row->failure : "");
  return st;
}

/* The template's variables plus the inline image's cid. */
static const nt_var *with_cid(rpc_ctx *ctx, const nt_message *m, size_t *n) {
  nt_var *vars = arena_alloc(ctx->arena, sizeof *vars * (m->n_vars + 1));
  if (m->n_vars) memcpy(vars, m->vars, sizeof *vars * m->n_vars);
  vars[m->n_vars] = (nt_var){"qr_cid", QR_CID};
  *n = m->n_vars + 1;
  return vars;
}

static rpc_status render_failed(rpc_ctx *ctx, const char *template_name) {
  return rpc_invalid(ctx->arena, "template", "TEMPLATE_INVALID", "template %s cannot be rendered", template_name);
}

rpc_status nt_queue_email(rpc_ctx *ctx, const nt_message *m) {
  const nt_settings *cfg = &nt_st(ctx)->settings;
  const nt_template *t = nt_template_get(m->template_name);
  if (!t) return rpc_invalid(ctx->arena, "template", "TEMPLATE_NOT_FOUND", "no template %s", m->template_name);
  size_t n_vars;
  const nt_var *vars = with_cid(ctx, m, &n_vars);
  char *subject, *text, *html;
  if (!nt_render(ctx->arena, t->subject, vars, n_vars, false, &subject) ||
      !nt_render(ctx->arena, t->text, vars, n_vars, false, &text) ||
      !nt_render(ctx->arena, t->html, vars, n_vars, true, &html))
    return render_failed(ctx, m->template_name);
  char uuid[CRYPTO_UUID_LEN + 1];
  crypto_uuid_v4(uuid);
  nt_row row = {.channel = "email", .recipient = m->to->email, .subject = subject,
                .message_id = arena_printf(ctx->arena, "<%s@%s>", uuid, cfg->message_id_domain)};
  nt_part *parts = arena_alloc(ctx->arena, sizeof *parts * (m->n_parts + 1));
  size_t n_parts = 0;
  if (m->qr_text) {
    uint8_t *png = NULL;
    size_t png_len = 0;
    if (!nt_qr_png(ctx->arena, m->qr_text, (int)cfg->qr_module_px, &png, &png_len))
      return rpc_invalid(ctx->arena, "qrToken", "QR_INVALID", "the ticket's token cannot be drawn as a QR code");
    parts[n_parts++] = (nt_part){.kind = NT_PART_INLINE, .content_type = "image/png", .content_id = QR_CID,
                                 .filename = "ticket-qr.png", .data = png, .len = png_len};
  }
  if (m->n_parts) memcpy(parts + n_parts, m->parts, sizeof *parts * m->n_parts);
  n_parts += m->n_parts;
  nt_email e = {.from_name = cfg->mail_from_name, .from_addr = cfg->mail_from,
                .to_name = arena_printf(ctx->arena, "%s%s%s", m->to->first_name,
                                        *m->to->first_name && *m->to->last_name ? " " : "", m->to->last_name),
                .to_addr = m->to->email, .subject = subject, .text = text, .html = html, .parts = parts,
                .n_parts = n_parts, .message_id = row.message_id, .date_unix = (int64_t)time(NULL)};
  char *message = NULL;
  size_t len = 0;
  if (!nt_address_valid(m->to->email) || !nt_mime_build(ctx->arena, &e, &message, &len)) {
    row.failure = nt_address_valid(m->to->email) ? "the message cannot be built" : "the address cannot receive email";
    message = "";
    len = 0;
  }
  row.message = (const uint8_t *)message;
  row.len = len;
  return insert(ctx, m, &row);
}

/* '+' then 9-15 digits, or 9-15 digits. */
static bool phone_valid(const char *p) {
  size_t n = 0;
  if (*p == '+') p++;
  for (; *p; p++, n++)
    if (*p < '0' || *p > '9') return false;
  return n >= 9 && n <= 15;
}

rpc_status nt_queue_sms(rpc_ctx *ctx, const nt_message *m) {
  if (!*nt_st(ctx)->sms.api_url || !m->to->phone_number || !*m->to->phone_number) return RPC_OK;
  const nt_template *t = nt_template_get(m->template_name);
  if (!t) return rpc_invalid(ctx->arena, "template", "TEMPLATE_NOT_FOUND", "no template %s", m->template_name);
  char *text;
  if (!nt_render(ctx->arena, t->text, m->vars, m->n_vars, false, &text)) return render_failed(ctx, m->template_name);
  nt_row row = {.channel = "sms", .recipient = m->to->phone_number, .subject = "",
                .message = (const uint8_t *)text, .len = strlen(text)};
  if (!phone_valid(m->to->phone_number)) row.failure = "the phone number cannot receive SMS";
  return insert(ctx, m, &row);
}
