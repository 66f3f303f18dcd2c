/* Field rules of account data (domain spec §1): each check names the field it
 * rejects, so REST clients get a google.rpc.Status pointing at it. */
#include <string.h>
#include <time.h>

#include "common/password.h"
#include "common/text.h"
#include "svc/auth/auth.h"

#define USERNAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

static bool present(const char *s) { return s && *s; }

rpc_status auth_validate_email(rpc_ctx *ctx, const char *field, const char *email) {
  if (!present(email)) return rpc_invalid(ctx->arena, field, "FIELD_REQUIRED", "%s is required", field);
  size_t len = strlen(email);
  const char *at = strchr(email, '@');
  bool ok = len <= 254 && at && at != email && (size_t)(at - email) <= 64 && !strchr(at + 1, '@') &&
            strchr(at + 1, '.') && at[1] != '.' && email[len - 1] != '.' && !text_has_control(email) &&
            !strchr(email, ' ') && text_utf8_length(email) > 0;
  if (!ok) return rpc_invalid(ctx->arena, field, "INVALID_EMAIL", "%s is not a valid email address", field);
  return RPC_OK;
}

rpc_status auth_validate_username(rpc_ctx *ctx, const char *field, const char *username) {
  if (!present(username)) return rpc_invalid(ctx->arena, field, "FIELD_REQUIRED", "%s is required", field);
  size_t len = strlen(username);
  if (len < 2 || len > 50 || !text_only_chars(username, USERNAME_CHARS))
    return rpc_invalid(ctx->arena, field, "INVALID_USERNAME", "%s must be 2-50 characters of A-Z a-z 0-9 . _ -",
                       field);
  return RPC_OK;
}

rpc_status auth_validate_name(rpc_ctx *ctx, const char *field, const char *name) {
  if (!present(name)) return rpc_invalid(ctx->arena, field, "FIELD_REQUIRED", "%s is required", field);
  long n = text_utf8_length(name);
  if (n < 2 || n > 50 || text_has_control(name))
    return rpc_invalid(ctx->arena, field, "INVALID_NAME", "%s must be 2-50 characters", field);
  return RPC_OK;
}

rpc_status auth_validate_password(rpc_ctx *ctx, const char *field, const char *password) {
  if (!present(password)) return rpc_invalid(ctx->arena, field, "FIELD_REQUIRED", "%s is required", field);
  if (!password_policy_ok(password))
    return rpc_invalid(ctx->arena, field, "WEAK_PASSWORD",
                       "%s must be 8-128 characters with 3 of: lower case, upper case, digit, symbol "
                       "(or a passphrase of at least 12 characters)",
                       field);
  return RPC_OK;
}

/* The roles an account may hold: riders, staff, admins, and gate devices (taps only). */
static const char *const known_roles[] = {"passenger", "staff", "admin", "gate"};

bool auth_role_known(const char *role) {
  for (size_t i = 0; role && i < sizeof known_roles / sizeof known_roles[0]; i++)
    if (strcmp(role, known_roles[i]) == 0) return true;
  return false;
}

rpc_status auth_validate_roles(rpc_ctx *ctx, const char *field, char *const *roles, size_t n) {
  if (n == 0 || n > RPC_MAX_ROLES)
    return rpc_invalid(ctx->arena, field, "INVALID_ROLES", "%s must hold 1 to %d roles", field, RPC_MAX_ROLES);
  for (size_t i = 0; i < n; i++) {
    if (!auth_role_known(roles[i]))
      return rpc_invalid(ctx->arena, field, "INVALID_ROLES", "%s: unknown role (passenger, staff, admin, gate)", field);
    for (size_t k = 0; k < i; k++)
      if (strcmp(roles[i], roles[k]) == 0)
        return rpc_invalid(ctx->arena, field, "INVALID_ROLES", "%s: a role is repeated", field);
  }
  return RPC_OK;
}

static rpc_status validate_optional(rpc_ctx *ctx, const Metro__Auth__V1__SignUpRequest *r) {
  if (present(r->phone_number)) {
    const char *digits = r->phone_number[0] == '+' ? r->phone_number + 1 : r->phone_number;
    size_t n = strlen(digits);
    if (n < 9 || n > 15 || !text_only_chars(digits, "0123456789"))
      return rpc_invalid(ctx->arena, "phoneNumber", "INVALID_PHONE_NUMBER",
                         "phoneNumber must be 9-15 digits with an optional leading +");
  }
  if (present(r->date_of_birth)) {
    long days;
    if (!text_parse_date(r->date_of_birth, &days) || days >= (long)(time(NULL) / 86400))
      return rpc_invalid(ctx->arena, "dateOfBirth", "INVALID_DATE_OF_BIRTH",
                         "dateOfBirth must be a past date as YYYY-MM-DD");
  }
  if (present(r->gender) && strcmp(r->gender, "male") != 0 && strcmp(r->gender, "female") != 0 &&
      strcmp(r->gender, "other") != 0)
    return rpc_invalid(ctx->arena, "gender", "INVALID_GENDER", "gender must be male, female or other");
  if (present(r->address)) {
    long n = text_utf8_length(r->address);
    if (n < 0 || n > 255 || text_has_control(r->address))
      return rpc_invalid(ctx->arena, "address", "INVALID_ADDRESS", "address must be at most 255 characters");
  }
  return RPC_OK;
}

rpc_status auth_validate_sign_up(rpc_ctx *ctx, const Metro__Auth__V1__SignUpRequest *r) {
  /* Self-registration creates passengers only (spec §1). */
  for (size_t i = 0; i < r->n_roles; i++)
    if (strcmp(r->roles[i], "passenger") != 0)
      return rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "ROLE_NOT_ALLOWED",
                       "self-registration creates passenger accounts only");
  rpc_status st;
  if (!rpc_ok(st = auth_validate_email(ctx, "email", r->email))) return st;
  if (!rpc_ok(st = auth_validate_username(ctx, "username", r->username))) return st;
  if (!rpc_ok(st = auth_validate_password(ctx, "password", r->password))) return st;
  if (!rpc_ok(st = auth_validate_name(ctx, "firstName", r->first_name))) return st;
  if (!rpc_ok(st = auth_validate_name(ctx, "lastName", r->last_name))) return st;
  return validate_optional(ctx, r);
}
