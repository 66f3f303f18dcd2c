-- The control service (domain spec §16): passengers per (line, service date, direction, local
-- hour of entry) from ticket.used exits, the admins' holiday calendar, a record of each schedule
-- generation, the outbox (schedule.generated) and the applied-event log (ticket.used).
CREATE TABLE demand (
  route_id      text NOT NULL,
  service_date  date NOT NULL,               -- the local date of entry
  direction     text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
  hour          smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
  passengers    bigint NOT NULL CHECK (passengers >= 0),
  PRIMARY KEY (route_id, service_date, direction, hour)
);

CREATE TABLE holidays (
  holiday_date  date PRIMARY KEY,
  holiday_id    uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),  -- the page token's tie-breaker
  name          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per (line, service date) a generation run handled.
CREATE TABLE schedule_runs (
  run_id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  route_id         text NOT NULL,
  service_date     date NOT NULL,
  source           text NOT NULL CHECK (source IN ('forecast', 'fallback')),
  trips_created    integer NOT NULL,
  trips_kept       integer NOT NULL,
  unassigned_trips integer NOT NULL,
  replaced         boolean NOT NULL,
  generated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedule_runs_line_idx ON schedule_runs (route_id, service_date, generated_at DESC);

-- Transactional outbox (common/events.h): schedule.generated.
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

-- Events applied (ticket.used), inserted in the consumer's transaction with the demand rows,
-- so a redelivered tap adds nobody twice.
CREATE TABLE processed_events (
  event_id      uuid PRIMARY KEY,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);
