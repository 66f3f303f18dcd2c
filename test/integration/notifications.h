/* Helpers the notification tests share: Mailpit's API and restarts on its ports, the SMS emulator's log,
 * delivery records (notification.notifications), templates rendered as the service does, QR decoding. */
#ifndef METRO_TEST_NOTIFICATIONS_H
#define METRO_TEST_NOTIFICATIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define MAIL_WAIT_MS 30000

/* ---- Mailpit ($MAILPIT_API) ---- */

/* The summaries (Mailpit's MessageSummary objects, newest first) of every message whose To
 * holds exactly this address, and whose subject is `subject` unless that is NULL. The caller
 * decrefs the array. */
json_t *mail_to(const char *address, const char *subject);
size_t mail_count(const char *address, const char *subject);
/* Waits (bounded by wait_ms) until at least n such messages arrived; returns them as mail_to
 * does. Fails the test when they do not come. */
json_t *mail_wait(const char *address, const char *subject, size_t n, int wait_ms);
/* The whole message (GET /message/{id}: Text, HTML, Inline, To...); the caller decrefs. */
json_t *mail_message(const char *id);
/* Its headers as Mailpit parsed them ({"Name": ["value", ...]}); the caller decrefs. */
json_t *mail_headers(const char *id);
/* The raw message or one decoded part (GET .../part/{part_id}), malloc'ed, NUL-terminated,
 * with its length in *len. */
char *mail_raw(const char *id, size_t *len);
uint8_t *mail_part(const char *id, const char *part_id, size_t *len);
/* Messages one of whose recipients (To, Cc or Bcc, as Mailpit records them: Bcc holds the
 * envelope recipients no header names) is the address. */
size_t mail_addressed_count(const char *address);

/* The string member key of obj, or "". */
const char *jstr(json_t *obj, const char *key);

/* Stops the stack's Mailpit (scripts/mailpit.sh stop $METRO_STACK_DIR/mailpit). */
void mailpit_stop(void);
/* Starts it again on the same SMTP and HTTP ports with extra Mailpit flags (NULL-terminated,
 * may be NULL); it is left running, detached, for the stack to stop. */
void mailpit_start(const char *const *flags);
/* True when Mailpit's API answers. */
bool mailpit_up(void);

/* ---- the SMS emulator ($PROVIDER_SMS_CONTROL) ---- */

/* The texts the emulator accepted for this number ({"to", "text", ...}); the caller decrefs. */
json_t *sms_to(const char *phone);

/* ---- delivery records (notification.notifications, read as the superuser) ---- */

/* How many records match: recipient, and template / status / event id when not NULL. */
long nt_rows(const char *recipient, const char *template_name, const char *status, const char *event_id);
/* Waits until that many records exist (exactly n at the end of the wait; fails otherwise). */
void nt_wait_rows(const char *recipient, const char *template_name, const char *status, long n);
/* One column of the newest record of recipient and template (malloc'ed; NULL when none). */
char *nt_column(const char *recipient, const char *template_name, const char *column);

/* ---- templates (svc/notification/templates under $METRO_SOURCE_DIR) ---- */

typedef struct tmpl_var {
  const char *name, *value;
} tmpl_var;

/* <name>.<ext> ("subject", "txt" or "html") with {{var}} replaced as the service does (HTML
 * values escaped), its final line end dropped; malloc'ed. Fails the test on an unknown name. */
char *tmpl_render(const char *name, const char *ext, const tmpl_var *vars, size_t n);

/* Text with CR LF made LF and trailing line ends dropped (in place). */
char *normalize_text(char *s);

/* ---- QR codes ---- */

/* True when zbarimg is on the PATH. */
bool have_zbarimg(void);
/* The text of the QR code in a PNG (zbarimg --raw), malloc'ed; NULL when none is read. */
char *qr_decode(const uint8_t *png, size_t len);

#endif
