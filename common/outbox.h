/* The transactional outbox: a service records an event in its own schema's outbox
 * table inside the transaction that made the change; a relay publishes it later. */
#ifndef METRO_OUTBOX_H
#define METRO_OUTBOX_H

#include <jansson.h>

#include "common/arena.h"
#include "common/status.h"

/* Inserts one event (type like "user.created", key = the aggregate id, data = the
 * event's fields; the reference is stolen). Must run inside the caller's transaction. */
rpc_status outbox_add(arena *a, const char *type, const char *key, json_t *data);

#endif
