/* The notification service's shared declarations: formatting, templates, MIME assembly and
 * QR images (pure), the SMTP and SMS senders, the delivery records, the sender thread and the
 * event consumers that queue messages (domain spec §14). */
#ifndef METRO_NOTIFICATION_H
#define METRO_NOTIFICATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/events.h"
#include "common/rpc_server.h"
#include "metro/notification/v1/notification.pb-c.h"

/* ==== format.c: how riders read amounts, times and tickets (pure) ==== */

/* 14000 -> "14.000 ₫" (dot thousands separator, a space, the dong sign); negative with "-". */
char *nt_format_vnd(arena *a, int64_t vnd);
/* unix seconds -> "dd/MM/yyyy HH:mm" in Asia/Ho_Chi_Minh (UTC+7, no daylight saving). */
char *nt_format_local_time(arena *a, int64_t unix_s);
/* The Vietnamese name of a ticket type ("oneway" -> "Vé một chiều", "return" -> "Vé khứ hồi",
 * "day_pass" -> "Vé ngày", "weekly_pass" -> "Vé tuần", "monthly_pass" -> "Vé tháng",
 * "yearly_pass" -> "Vé năm", "lifetime_pass" -> "Vé trọn đời"), with " (N hành khách)" when
 * passengers > 1; the type itself when unknown. */
char *nt_ticket_display(arena *a, const char *ticket_type, int passengers);

/* ==== template.c: message templates, files in svc/notification/templates (pure) ==== */

/* A template's three parts: <name>.subject (one line), <name>.txt and <name>.html, embedded
 * into the binary at build time; every template has all three (an SMS template such as
 * station_closed_sms is sent as its text). Each file's final line end is dropped. NULL for an
 * unknown name. */
typedef struct nt_template {
  const char *name;
  const char *subject, *text, *html;
} nt_template;
const nt_template *nt_template_get(const char *name);
/* Every embedded template in name order, ended by a row whose name is NULL (generated from
 * templates/ by cmake/templates2c.cmake into the library metro_notification_templates). */
extern const nt_template nt_templates[];

/* One {{name}} substitution. In HTML every value is escaped (& < > " '), in text and subjects
 * none is; a value is never re-scanned for placeholders. A NULL value renders as "". */
typedef struct nt_var {
  const char *name;
  const char *value;
} nt_var;

/* Renders tmpl; false (and *out NULL) when a placeholder names no variable, is unclosed or is
 * not a name of letters, digits and '_' ("{{ name }}" is refused). A lone '{' or '}' is text. */
bool nt_render(arena *a, const char *tmpl, const nt_var *vars, size_t n_vars, bool html, char **out);

/* ==== mime.c: RFC 5322 / MIME messages (pure) ==== */

/* An address is 3-254 bytes of printable ASCII without spaces, CR, LF, '<', '>', ',' or ';',
 * with one '@' not at either end. */
bool nt_address_valid(const char *addr);
/* A header value as RFC 2047 encoded words ("=?UTF-8?B?...?=", B encoding, one word a line,
 * folded; never cutting a UTF-8 character, cutting after a space where it can) when it holds
 * non-ASCII or "=?", else as is, folded at spaces; encoded too when an ASCII word is too long
 * to fold. CR, LF and other control characters are removed first (a tab becomes a space), so
 * no value can start another header; bytes that are not UTF-8 become U+FFFD. Lines fit 76
 * columns after a header name of up to 10 ("Subject: "). */
char *nt_header_text(arena *a, const char *utf8);

/* A part beside the bodies: an image the HTML shows (<img src="cid:<content_id>">) or a file
 * attached to the message. Its bytes go in base64 exactly as given. */
typedef enum nt_part_kind {
  NT_PART_INLINE,              /* an image in multipart/related, Content-Disposition: inline */
  NT_PART_ATTACHMENT,          /* a file in multipart/mixed, Content-Disposition: attachment */
} nt_part_kind;

typedef struct nt_part {
  nt_part_kind kind;
  const char *content_type;    /* inline: "image/png" or "image/svg+xml"; attachment: any
                                  "type/subtype" of letters, digits and "!#$&^_.+-" */
  const char *charset;         /* adds "; charset=<charset>" (letters, digits, '-', '_'); NULL: none */
  const char *content_id;      /* inline only: referenced by the HTML as cid:<content_id>; printable
                                  ASCII without spaces, '<', '>', quotes ("qr-<ticket>@metro") */
  const char *filename;        /* characters other than [A-Za-z0-9._-] become '_', at most 64; NULL
                                  or "": "image.png" / "image.svg" inline, "attachment" attached */
  const uint8_t *data;
  size_t len;
} nt_part;

typedef struct nt_email {
  const char *from_name, *from_addr;
  const char *to_name, *to_addr;
  const char *subject;         /* UTF-8 */
  const char *text, *html;     /* UTF-8 bodies (html may be NULL: text/plain only) */
  const nt_part *parts;        /* optional, in order; an inline part needs html */
  size_t n_parts;
  const char *message_id;      /* "<unique@domain>" ("<>" added when missing); NULL: a random
                                  UUID at the From address's domain */
  int64_t date_unix;
} nt_email;

/* The whole message: Date (RFC 5322, +0700), From, To, Subject, Message-ID, MIME-Version, then
 * the body: text/plain alone, or multipart/alternative (text/plain and text/html), each UTF-8,
 * base64 in 76-character lines, line ends made CRLF before encoding; inside multipart/related
 * with the inline images (Content-ID, Content-Disposition: inline) when there are any; inside
 * multipart/mixed with the attachments (Content-Disposition: attachment) when there are any:
 *   mixed [ related [ alternative [text, html], images... ], attachments... ]
 * Display names are quoted strings, or encoded words when not ASCII or too long for a line.
 * Boundaries are random and never occur in the parts. Lines end in CRLF. False when an address
 * is not valid, subject or text is missing, the date is out of range, or a part is unusable: an
 * inline image without html, of another type or with an unusable content_id, an attachment of a
 * malformed type, a malformed charset, or empty data. */
bool nt_mime_build(arena *a, const nt_email *e, char **out, size_t *len);

/* ==== qr_png.c: the ticket's QR code as a PNG (libqrencode, error correction M; libpng) ==== */

/* The text (8-bit mode) as a QR code PNG, 8-bit grayscale with a 4-module quiet zone,
 * module_px (1-32) pixels per module; the PNG is in the arena. False when the text is empty,
 * too long for a QR code, module_px is out of range, or encoding fails. */
bool nt_qr_png(arena *a, const char *text, int module_px, uint8_t **png, size_t *len);

/* ==== smtp.c and sms.c: the senders ==== */

typedef enum nt_send_result {
  NT_SENT = 0,
  NT_RETRY,    /* the server was unreachable, timed out or answered 4xx: try again later */
  NT_REJECTED, /* refused for good (5xx for this recipient, 4xx from the SMS API): failed */
} nt_send_result;

typedef struct nt_smtp_config {
  const char *url;          /* smtp://host:port (STARTTLS when offered) or smtps://host:port */
  const char *user, *password; /* AUTH when user is non-empty */
  bool require_tls;         /* refuse to send without TLS */
  const char *from_addr;    /* the envelope sender (MAIL FROM) */
  int timeout_ms;
} nt_smtp_config;

/* Sends one finished message to one recipient over libcurl's SMTP. err gets the server's
 * answer or the transport error (never credentials). */
nt_send_result nt_smtp_send(const nt_smtp_config *c, const char *to_addr, const char *message, size_t len, char *err,
                            size_t errlen);

typedef struct nt_sms_config {
  const char *api_url;      /* POST {to, from, text} JSON, Authorization: Bearer api_key */
  const char *api_key;
  const char *sender;
  int timeout_ms;
} nt_sms_config;

/* Sends one SMS; provider_id gets the provider's message id. 2xx -> NT_SENT; 5xx, 429 or no
 * answer -> NT_RETRY; other 4xx -> NT_REJECTED. */
nt_send_result nt_sms_send(arena *a, const nt_sms_config *c, const char *to_phone, const char *text, char *provider_id,
                           size_t id_cap, char *err, size_t errlen);

#endif
