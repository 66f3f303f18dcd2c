/* The scheduler's lease rules as pure functions: what a replica does with a run it finds, the
 * deadline that keeps a run's call inside its lease, and which slot of a job is due. */
#include "svc/scheduler/scheduler.h"

/* A call must be over this long before the lease ends, so the record is written while the
 * lease is still ours (the clocks of the replica and of PostgreSQL may differ a little). */
#define LEASE_MARGIN_MS 2000

sch_lease_verdict sch_lease_decide(bool finished, int64_t lease_expires_us, int64_t now_us, int attempts,
                                   int max_attempts) {
  if (finished) return SCH_LEASE_DONE;
  if (lease_expires_us >= now_us) return SCH_LEASE_HELD;
  return attempts >= max_attempts ? SCH_LEASE_GIVE_UP : SCH_LEASE_RECLAIM;
}

int64_t sch_call_deadline_ms(int64_t now_ms, int64_t timeout_ms, int64_t lease_until_ms) {
  int64_t by_timeout = now_ms + timeout_ms, by_lease = lease_until_ms - LEASE_MARGIN_MS;
  int64_t d = by_timeout < by_lease ? by_timeout : by_lease;
  return d > now_ms ? d : now_ms; /* a lease already spent: the call fails at once */
}

int64_t sch_due_slot(const char *spec, int64_t now_unix, int64_t handled_slot) {
  int64_t slot = sch_prev_run(spec, now_unix);
  if (slot < 0) return -1;
  return slot == handled_slot ? 0 : slot;
}
