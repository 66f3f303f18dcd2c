/* Sepay at the wire (§12.1, test/providers/README.md "Sepay"): the bank-transfer webhook body, the
 * ticket UUID inside a transfer's content, the Apikey header and the VietQR image URL. */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/crypto.h"
#include "svc/payment/providers/providers.h"

/* ---- Webhook body --------------------------------------------------------------------------- */

typedef enum { F_STRING, F_STRING_OR_NULL, F_INT, F_INT_OR_NULL } field_kind;

/* Each accepted field: its JSON type, where it lands and whether it must be there. */
static const struct {
  const char *key;
  field_kind kind;
  size_t offset, size; /* size: the char array's, or 0 for an int64_t */
  bool required;
} webhook_fields[] = {
#define STR(k, kind, m, req) {k, kind, offsetof(pay_sepay_transfer, m), sizeof(((pay_sepay_transfer *)0)->m), req}
#define INT(k, kind, m, req) {k, kind, offsetof(pay_sepay_transfer, m), 0, req}
    INT("id", F_INT, id, true),
    STR("gateway", F_STRING, gateway, true),
    STR("transactionDate", F_STRING, transaction_date, true),
    STR("accountNumber", F_STRING, account_number, true),
    STR("subAccount", F_STRING_OR_NULL, sub_account, false),
    STR("code", F_STRING_OR_NULL, code, false),
    STR("content", F_STRING, content, true),
    INT("transferAmount", F_INT, transfer_amount, true),
    INT("accumulated", F_INT_OR_NULL, accumulated, false),
    STR("referenceCode", F_STRING_OR_NULL, reference_code, false),
    STR("description", F_STRING_OR_NULL, description, false),
#undef STR
#undef INT
};

static bool take_field(json_t *v, size_t f, pay_sepay_transfer *out) {
  char *dst = (char *)out + webhook_fields[f].offset;
  field_kind kind = webhook_fields[f].kind;
  if (!v) return !webhook_fields[f].required;
  if (json_is_null(v)) return kind == F_STRING_OR_NULL || kind == F_INT_OR_NULL;
  if (kind == F_INT || kind == F_INT_OR_NULL) {
    if (!json_is_integer(v)) return false;
    json_int_t x = json_integer_value(v);
    memcpy(dst, &(int64_t){(int64_t)x}, sizeof(int64_t));
    return true;
  }
  if (!json_is_string(v) || json_string_length(v) >= webhook_fields[f].size) return false;
  memcpy(dst, json_string_value(v), json_string_length(v) + 1);
  return true;
}

/* "YYYY-MM-DD HH:MM:SS" by shape. */
static bool sepay_date(const char *s) {
  static const char shape[] = "dddd-dd-dd dd:dd:dd";
  for (size_t i = 0; i < sizeof shape - 1; i++)
    if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i]) return false;
  return s[sizeof shape - 1] == '\0';
}

pay_result pay_sepay_parse_webhook(const char *json, size_t n, pay_sepay_transfer *out) {
  memset(out, 0, sizeof *out);
  if (!json || n > PAY_SEPAY_MAX_BODY) return PAY_ERR_INVALID;
  json_t *o = json_loadb(json, n, JSON_REJECT_DUPLICATES, NULL);
  pay_result rc = PAY_ERR_INVALID;
  if (!json_is_object(o)) goto done;
  for (size_t f = 0; f < sizeof webhook_fields / sizeof webhook_fields[0]; f++)
    if (!take_field(json_object_get(o, webhook_fields[f].key), f, out)) goto done;
  json_t *type = json_object_get(o, "transferType");
  if (!json_is_string(type)) goto done;
  if (strcmp(json_string_value(type), "in") == 0)
    out->incoming = true;
  else if (strcmp(json_string_value(type), "out") != 0)
    goto done;
  if (out->id <= 0 || out->transfer_amount < 0 || !sepay_date(out->transaction_date)) goto done;
  rc = PAY_OK;
done:
  json_decref(o);
  return rc;
}

/* ---- The ticket UUID in a transfer's content ------------------------------------------------ */

static bool is_hex(char c) { return isxdigit((unsigned char)c) != 0; }

/* 32 hex digits at s (dashes at 8, 13, 18, 23 when dashed) into canonical lowercase form. Returns
 * the length matched (36 or 32), 0 when neither shape is there. */
static size_t match_uuid(const char *s, char out[PAY_SEPAY_UUID_LEN + 1]) {
  static const size_t dashes[] = {8, 13, 18, 23};
  for (int dashed = 1; dashed >= 0; dashed--) {
    size_t len = dashed ? 36 : 32, d = 0, o = 0, i = 0;
    for (; i < len && s[i]; i++) {
      if (dashed && d < 4 && i == dashes[d]) {
        if (s[i] != '-') break;
        d++;
      } else if (is_hex(s[i])) {
        if (o == 8 || o == 13 || o == 18 || o == 23) out[o++] = '-';
        out[o++] = (char)tolower((unsigned char)s[i]);
      } else {
        break;
      }
    }
    if (i == len && !is_hex(s[len])) {
      out[PAY_SEPAY_UUID_LEN] = '\0';
      return len;
    }
  }
  return 0;
}

bool pay_sepay_find_uuid(const char *content, char out[PAY_SEPAY_UUID_LEN + 1]) {
  if (!content) return false;
  for (size_t i = 0; content[i]; i++) {
    if (!is_hex(content[i]) || (i > 0 && is_hex(content[i - 1]))) continue;
    if (match_uuid(content + i, out)) return true;
  }
  out[0] = '\0';
  return false;
}

/* ---- Authorization: Apikey ------------------------------------------------------------------ */

bool pay_sepay_check_auth(const char *authorization, const char *api_key) {
  static const char scheme[] = "Apikey ";
  if (!authorization || !api_key || !*api_key) return false;
  if (strncasecmp(authorization, scheme, sizeof scheme - 1) != 0) return false;
  const char *given = authorization + sizeof scheme - 1;
  while (*given == ' ') given++;
  return crypto_ct_streq(given, api_key);
}

/* ---- VietQR image URL ----------------------------------------------------------------------- */

pay_result pay_sepay_qr_url(arena *a, const char *qr_base, const char *bank, const char *account,
                            int64_t amount_vnd, const char *ticket_id, char **url) {
  if (!qr_base || !*qr_base || !bank || !*bank || !account || !*account || amount_vnd <= 0 || !ticket_id ||
      !*ticket_id)
    return PAY_ERR_INVALID;
  size_t base_len = strlen(qr_base);
  while (base_len > 0 && qr_base[base_len - 1] == '/') base_len--;
  const char *des = arena_printf(a, "Payment for ticket %s", ticket_id);
  *url = arena_printf(a, "%.*s/img?bank=%s&acc=%s&amount=%" PRId64 "&des=%s", (int)base_len, qr_base,
                      pay_form_encode(a, bank, strlen(bank)), pay_form_encode(a, account, strlen(account)),
                      amount_vnd, pay_form_encode(a, des, strlen(des)));
  return PAY_OK;
}
