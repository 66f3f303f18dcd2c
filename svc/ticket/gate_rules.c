/* The decision on one tap (domain spec §10, §11.3), as a pure function of the ticket's gate
 * state, the tap and the clock: the checks in the spec's order, the first that fails giving
 * the reason, and the state an accepted tap leaves. gates.c loads the state and applies it. */
#include <string.h>

#include "svc/ticket/ticket.h"

int tk_journeys_remaining(tk_ticket_type type, int allowed, int completed) {
  if (tk_is_pass(type) || allowed == 0) return -1;
  return allowed > completed ? allowed - completed : 0;
}

static void refuse(tk_tap_decision *out, const char *reason) {
  out->accepted = false;
  out->reason = reason;
}

const char *tk_journey_end(tk_ticket_type type, int completed, const char *origin, const char *destination) {
  return type == TK_RETURN && completed == 1 ? origin : destination;
}

/* Where the current journey of a single/return starts and ends (it starts where the same
 * journey, run backwards, would end). */
static void journey_ends(const tk_gate_state *t, const char **from, const char **to) {
  *to = tk_journey_end(t->type, t->journeys_completed, t->origin, t->destination);
  *from = tk_journey_end(t->type, t->journeys_completed, t->destination, t->origin);
}

/* Step 2: which statuses may tap at all. */
static const char *status_refusal(const tk_gate_state *t, tk_direction dir) {
  switch (t->status) {
    case TK_PENDING_PAYMENT:
    case TK_CANCELLED:
    case TK_REFUNDED: return "TICKET_NOT_ACTIVE";
    case TK_USED: return "TICKET_USED";
    case TK_EXPIRED: return "TICKET_EXPIRED";
    case TK_INACTIVE: return tk_is_pass(t->type) ? (dir == TK_EXIT ? "NO_ENTRY_RECORDED" : NULL) : "TICKET_NOT_ACTIVE";
    default: return NULL;
  }
}

/* Step 3: an abused ticket needs a fresh rotating code; a rotating code shown on any ticket
 * must be right. */
static const char *code_refusal(const tk_gate_state *t, tk_code_state code) {
  switch (code) {
    case TK_CODE_STATIC: return t->status == TK_ABUSED ? "ROTATING_CODE_REQUIRED" : NULL;
    case TK_CODE_BAD: return "ROTATING_CODE_INVALID";
    case TK_CODE_REPLAYED: return "ROTATING_CODE_REPLAYED";
    default: return NULL;
  }
}

/* Step 4: too soon after the previous tap (every ticket), too many in the window (passes). */
static bool breaks_abuse_rule(const tk_gate_rules *r, const tk_gate_state *t, int64_t now) {
  if (r->min_interval_us > 0 && t->last_tap_us && now - t->last_tap_us <= r->min_interval_us) return true;
  return tk_is_pass(t->type) && t->taps_last_window >= r->burst_max;
}

/* An identical repeat of the accepted tap just before: same gate and direction, soon after,
 * and the same code shown — the static token (which an abused ticket may no longer use) or the
 * very rotating code that tap used. Anything else is judged as a new tap. */
static bool is_duplicate(const tk_gate_rules *r, const tk_gate_state *t, const tk_tap_input *in) {
  bool same_code = (in->code == TK_CODE_STATIC && t->status != TK_ABUSED) ||
                   (in->code == TK_CODE_REPLAYED && in->repeats_last_code);
  return same_code && t->last_accept_gate && *t->last_accept_gate && strcmp(t->last_accept_gate, in->gate_id) == 0 &&
         t->last_accept_direction == in->direction && in->now_us - t->last_accept_us <= r->duplicate_us &&
         in->now_us >= t->last_accept_us;
}

/* Step 5 and the entry rules of the table. */
static const char *entry_refusal(const tk_gate_rules *r, const tk_gate_state *t, const tk_tap_input *in) {
  if (!in->station_active) return "STATION_INACTIVE";
  if (!in->station_open) return "STATION_CLOSED";
  if (t->status != TK_INACTIVE) { /* an inactive pass's validity starts with this entry */
    if (t->valid_from_us && in->now_us < t->valid_from_us) return "NOT_YET_VALID";
    if (!t->valid_until_us || in->now_us > t->valid_until_us) return "TICKET_EXPIRED";
  }
  bool blocking = t->inside && !(tk_is_pass(t->type) && in->now_us - t->entry_at_us > r->open_entry_us);
  if (blocking) return "ANTI_PASSBACK";
  if (!tk_is_pass(t->type)) {
    if (t->journeys_completed >= t->journeys_allowed) return "TICKET_USED";
    const char *from, *to;
    journey_ends(t, &from, &to);
    if (strcmp(in->station_id, from) != 0) return "WRONG_ENTRY_STATION";
  }
  return NULL;
}

static const char *exit_refusal(const tk_gate_state *t, const tk_tap_input *in, const char **expected) {
  if (!t->inside) return "NO_ENTRY_RECORDED";
  if (tk_is_pass(t->type)) return NULL;
  const char *from, *to;
  journey_ends(t, &from, &to);
  if (strcmp(in->station_id, to) != 0) {
    *expected = to;
    return "WRONG_EXIT_STATION";
  }
  return NULL;
}

void tk_tap_decide(const tk_gate_rules *r, const tk_gate_state *t, const tk_tap_input *in, tk_tap_decision *out) {
  memset(out, 0, sizeof *out);
  out->status = t->status;
  out->inside = t->inside;
  out->journeys_completed = t->journeys_completed;
  if (is_duplicate(r, t, in)) {
    out->accepted = out->duplicate = true;
    return;
  }
  out->counted = true; /* every other attempt with a valid token counts */
  const char *why = status_refusal(t, in->direction);
  if (!why) why = code_refusal(t, in->code);
  if (!why && breaks_abuse_rule(r, t, in->now_us)) {
    why = "ABUSE_DETECTED";
    out->becomes_abused = t->status == TK_ACTIVE;
    if (out->becomes_abused) out->status = TK_ABUSED;
  }
  if (!why) why = in->direction == TK_ENTRY ? entry_refusal(r, t, in) : exit_refusal(t, in, &out->expected_exit);
  if (why) {
    refuse(out, why);
    return;
  }
  out->accepted = true;
  if (in->direction == TK_ENTRY) {
    out->inside = true;
    if (t->status == TK_INACTIVE) {
      out->activates_pass = true;
      out->status = TK_ACTIVE;
    }
    return;
  }
  out->inside = false;
  if (tk_is_pass(t->type)) return;
  out->journey_completed = true;
  out->journeys_completed = t->journeys_completed + 1;
  if (out->journeys_completed >= t->journeys_allowed) out->status = TK_USED;
}
