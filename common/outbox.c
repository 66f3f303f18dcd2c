/* Writes events into the service's outbox table (see outbox.h); the event id is a
 * fresh UUID so consumers can deduplicate redeliveries. */
#include "common/outbox.h"

#include <stdlib.h>

#include "common/crypto.h"
#include "common/pg.h"

rpc_status outbox_add(arena *a, const char *type, const char *key, json_t *data) {
  char event_id[37];
  crypto_uuid_v4(event_id);
  char *text = json_dumps(data, JSON_COMPACT);
  json_decref(data);
  if (!text) return rpc_internal("outbox: cannot serialise event");
  const char *params[4] = {event_id, type, key, arena_strdup(a, text)};
  free(text);
  return pg_exec(a, NULL,
                 "INSERT INTO outbox (event_id, event_type, event_key, payload) VALUES ($1, $2, $3, $4::jsonb)", 4,
                 params);
}
