-- The public service keeps its answers in Redis; its only table records the events it has
-- applied (catalog.changed, station.*, schedule.generated), inserted in the consumer's
-- transaction so a redelivered event is skipped. It publishes nothing, so no outbox.
CREATE TABLE processed_events (
  event_id      uuid PRIMARY KEY,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);
