/* The ticket state machine of the domain spec §9.1 and §9.2 as one table, pure: which
 * trigger moves a ticket from which status to which, for single/return tickets and passes. */
#include <string.h>

#include "svc/ticket/ticket.h"

static const char *const status_names[TK_N_STATUSES] = {
    [TK_PENDING_PAYMENT] = "pending_payment",
    [TK_ACTIVE] = "active",
    [TK_INACTIVE] = "inactive",
    [TK_USED] = "used",
    [TK_EXPIRED] = "expired",
    [TK_CANCELLED] = "cancelled",
    [TK_REFUNDED] = "refunded",
    [TK_ABUSED] = "abused",
};

const char *tk_status_name(tk_status s) { return (unsigned)s < TK_N_STATUSES ? status_names[s] : ""; }

bool tk_status_parse(const char *s, tk_status *out) {
  if (!s) return false;
  for (int i = 0; i < TK_N_STATUSES; i++)
    if (strcmp(status_names[i], s) == 0) {
      if (out) *out = (tk_status)i;
      return true;
    }
  return false;
}

bool tk_status_terminal(tk_status s) { return s == TK_USED || s == TK_EXPIRED || s == TK_REFUNDED; }

/* Which tickets an edge is for. */
enum {
  SINGLE = 1 << 0,         /* oneway and return */
  PASS = 1 << 1,           /* every pass */
  ANY = SINGLE | PASS,
  UNTAPPED = 1 << 2,       /* only before a gate has accepted a tap */
};

/* Every allowed transition; anything not listed is INVALID_STATUS_TRANSITION. */
static const struct edge {
  tk_status from;
  tk_trigger on;
  unsigned when;
  tk_status to;
} edges[] = {
    {TK_PENDING_PAYMENT, TK_ON_PAYMENT_COMPLETED, SINGLE, TK_ACTIVE},
    {TK_PENDING_PAYMENT, TK_ON_PAYMENT_COMPLETED, PASS, TK_INACTIVE},
    {TK_PENDING_PAYMENT, TK_ON_PAYMENT_FAILED, ANY, TK_CANCELLED},
    {TK_PENDING_PAYMENT, TK_ON_OWNER_CANCEL, ANY, TK_CANCELLED},
    {TK_PENDING_PAYMENT, TK_ON_ADMIN_CANCEL, ANY, TK_CANCELLED},
    {TK_PENDING_PAYMENT, TK_ON_DEADLINE, ANY, TK_EXPIRED},

    {TK_INACTIVE, TK_ON_ACTIVATE, PASS, TK_ACTIVE},
    {TK_INACTIVE, TK_ON_OWNER_CANCEL, PASS, TK_CANCELLED},
    {TK_INACTIVE, TK_ON_ADMIN_CANCEL, ANY, TK_CANCELLED},

    {TK_ACTIVE, TK_ON_LAST_EXIT, SINGLE, TK_USED},
    {TK_ACTIVE, TK_ON_ABUSE, ANY, TK_ABUSED},
    {TK_ACTIVE, TK_ON_VALIDITY_ENDED, ANY, TK_EXPIRED},
    {TK_ACTIVE, TK_ON_OWNER_CANCEL, SINGLE | UNTAPPED, TK_CANCELLED},
    {TK_ACTIVE, TK_ON_ADMIN_CANCEL, ANY, TK_CANCELLED},

    {TK_ABUSED, TK_ON_CLEAR_ABUSE, ANY, TK_ACTIVE},
    {TK_ABUSED, TK_ON_LAST_EXIT, SINGLE, TK_USED},
    {TK_ABUSED, TK_ON_VALIDITY_ENDED, ANY, TK_EXPIRED},
    {TK_ABUSED, TK_ON_ADMIN_CANCEL, ANY, TK_CANCELLED},

    {TK_CANCELLED, TK_ON_REFUNDED, ANY, TK_REFUNDED},
};

bool tk_transition(tk_status from, tk_trigger trigger, tk_ticket_type type, bool tapped, tk_status *to) {
  if ((unsigned)type >= TK_N_TICKET_TYPES) return false;
  unsigned kind = tk_is_pass(type) ? PASS : SINGLE;
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    const struct edge *e = &edges[i];
    if (e->from != from || e->on != trigger || !(e->when & kind)) continue;
    if ((e->when & UNTAPPED) && tapped) continue;
    if (to) *to = e->to;
    return true;
  }
  return false;
}
