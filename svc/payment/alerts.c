/* Admin alerts of the payment service: suspicious or wrong-amount payments and refunds that
 * gave up, kept in admin_alerts (with the change that raised them) and logged as errors. */
#include <stdarg.h>
#include <stdio.h>

#include "common/log.h"
#include "common/pg.h"
#include "svc/payment/payment.h"

rpc_status pm_alert(rpc_ctx *ctx, const char *kind, const char *payment_id, const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  log_error("ALERT %s: %s", kind, message);
  const char *params[] = {kind, payment_id, message};
  return pg_exec(ctx->arena, NULL, "INSERT INTO admin_alerts (kind, payment_id, message) VALUES ($1, $2::uuid, $3)", 3,
                 params);
}
