-- Events leave as packed metro.events.v1.EventEnvelope messages (common/events.h), so the
-- outbox now stores the envelope bytes instead of a JSON payload. The old jsonb table is
-- dropped and recreated: no relay ever ran against it, so nothing in it was ever published
-- or awaited by anyone.
DROP TABLE outbox;

-- Transactional outbox: written by ev_publish in the transaction of the change; the relay
-- publishes unpublished rows in id order and stamps published_at once the backend confirmed.
CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  event_id      uuid NOT NULL UNIQUE,
  topic         text NOT NULL,
  event_type    text NOT NULL,
  event_key     text NOT NULL,
  envelope      bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Events this service has applied (it consumes passenger.deleted and staff.deleted): the
-- consumer inserts the event id in the same transaction as the effect, so a redelivered
-- event changes nothing.
CREATE TABLE processed_events (
  event_id      uuid PRIMARY KEY,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);
