-- The report service (domain spec §15, issue 13): a read model of the events it consumes (facts
-- keyed by event id, hourly rollups), report records, templates, schedules and their runs.
-- Instants are timestamptz; local days are Asia/Ho_Chi_Minh (UTC+7, no daylight saving), whose
-- hours start on UTC hours, so an hourly bucket is the UTC hour.

-- Counts per hour and key, fed in the consumer's transaction (so once per event):
--   registrations, logins ('' key); tickets_created, tickets_activated, tickets_used (completed
--   journeys), tickets_cancelled, tickets_expired (ticket type); taps (station); journeys (line);
--   fare_adjustments (station; amount = VND due).
CREATE TABLE hourly (
  hour    timestamptz NOT NULL CHECK (extract(epoch FROM hour)::bigint % 3600 = 0),
  metric  text NOT NULL,
  key     text NOT NULL DEFAULT '',
  n       bigint NOT NULL DEFAULT 0,
  amount  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, metric, key)
);

-- ticket.used: every accepted tap as it came (the rollup above is derived from these rows;
-- rebuild_hourly_taps() recomputes it).
CREATE TABLE taps (
  event_id            uuid PRIMARY KEY,
  tap_at              timestamptz NOT NULL,
  ticket_id           text NOT NULL,
  ticket_type         text NOT NULL DEFAULT '',
  station_id          text NOT NULL,
  direction           text NOT NULL,
  journey_completed   boolean NOT NULL DEFAULT false,
  route_ids           text[] NOT NULL DEFAULT '{}',
  fare_adjustment_vnd bigint NOT NULL DEFAULT 0
);
CREATE INDEX taps_at_idx ON taps (tap_at);

-- ticket.created: what revenue is split by (type, method, the lines' segment prices).
CREATE TABLE tickets (
  ticket_id       text PRIMARY KEY,
  ticket_type     text NOT NULL,
  payment_method  text NOT NULL DEFAULT '',
  amount          bigint NOT NULL DEFAULT 0,
  user_id         text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL
);
CREATE TABLE ticket_lines (
  ticket_id      text NOT NULL REFERENCES tickets (ticket_id) ON DELETE CASCADE,
  seq            integer NOT NULL,
  route_id       text NOT NULL,
  segment_price  bigint NOT NULL CHECK (segment_price >= 0),
  PRIMARY KEY (ticket_id, seq)
);

-- payment.completed (+amount) and payment.refunded (-amount), dated by the local day the event
-- happened on: revenue = the sum over a period.
CREATE TABLE money (
  event_id    uuid PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('payment', 'refund')),
  at          timestamptz NOT NULL,
  ticket_id   text NOT NULL DEFAULT '',
  payment_id  text NOT NULL DEFAULT '',
  method      text NOT NULL DEFAULT '',
  amount      bigint NOT NULL
);
CREATE INDEX money_at_idx ON money (at);
CREATE INDEX money_payment_idx ON money (payment_id) WHERE kind = 'payment';

-- The UTC hour holding an instant, whatever the session's time zone.
CREATE FUNCTION report_hour(t timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT to_timestamp(floor(extract(epoch FROM t) / 3600) * 3600)
$$;

-- Recomputes the taps, journeys, tickets_used and fare_adjustments rows of hourly from taps
-- (after a bulk load or a restore); the consumer keeps them current otherwise.
CREATE FUNCTION rebuild_hourly_taps() RETURNS void LANGUAGE sql AS $$
  DELETE FROM hourly WHERE metric IN ('taps', 'journeys', 'tickets_used', 'fare_adjustments');
  INSERT INTO hourly (hour, metric, key, n, amount)
    SELECT report_hour(tap_at), 'taps', station_id, count(*), 0 FROM taps GROUP BY 1, 3;
  INSERT INTO hourly (hour, metric, key, n, amount)
    SELECT report_hour(tap_at), 'tickets_used', ticket_type, count(*), 0 FROM taps
    WHERE journey_completed GROUP BY 1, 3;
  INSERT INTO hourly (hour, metric, key, n, amount)
    SELECT report_hour(t.tap_at), 'journeys', r.route_id, count(*), 0
    FROM taps t CROSS JOIN LATERAL (SELECT DISTINCT unnest(t.route_ids) AS route_id) r
    WHERE t.journey_completed GROUP BY 1, 3;
  INSERT INTO hourly (hour, metric, key, n, amount)
    SELECT report_hour(tap_at), 'fare_adjustments', station_id, count(*), sum(fare_adjustment_vnd) FROM taps
    WHERE fare_adjustment_vnd > 0 GROUP BY 1, 3;
$$;

-- ---- report records ----

CREATE TABLE templates (
  template_id   text PRIMARY KEY CHECK (template_id ~ '^[a-z][a-z0-9-]{2,62}$'),
  display_name  text NOT NULL,
  description   text NOT NULL DEFAULT '',
  sections      text[] NOT NULL DEFAULT '{}',
  chart         text NOT NULL DEFAULT 'revenue-by-day',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO templates (template_id, display_name, description) VALUES
  ('standard', 'Báo cáo vận hành Metro', 'Every section; the revenue-by-day chart in the email');

CREATE TABLE schedules (
  schedule_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  template_id     text NOT NULL REFERENCES templates (template_id),
  frequency       text NOT NULL CHECK (frequency IN ('daily', 'weekly', 'monthly')),
  run_at_minutes  integer NOT NULL CHECK (run_at_minutes BETWEEN 0 AND 1439),
  recipients      text[] NOT NULL CHECK (cardinality(recipients) BETWEEN 1 AND 20),
  paused          boolean NOT NULL DEFAULT false,
  next_run_at     timestamptz NOT NULL,
  last_run_at     timestamptz,
  last_report_id  uuid,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE NOT paused;

CREATE TABLE reports (
  report_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type          text NOT NULL CHECK (type IN ('daily', 'weekly', 'monthly', 'custom')),
  first_day     date NOT NULL,
  last_day      date NOT NULL CHECK (last_day >= first_day),
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  sections      text[] NOT NULL DEFAULT '{}',
  template_id   text,
  schedule_id   uuid,
  requested_by  text NOT NULL,
  request_id    uuid UNIQUE,
  -- the packed metro.report.v1.Analytics the items, CSV and charts come from
  analytics     bytea,
  error         text,
  attempts      integer NOT NULL DEFAULT 0,
  lease_until   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  completed_at  timestamptz,
  CHECK ((status = 'completed') = (analytics IS NOT NULL))
);
CREATE INDEX reports_list_idx ON reports (created_at DESC, report_id DESC);
CREATE INDEX reports_todo_idx ON reports (created_at) WHERE status IN ('pending', 'processing');

-- One row per (schedule, period) ever sent: the claim that makes a delivery happen once.
CREATE TABLE schedule_runs (
  schedule_id  uuid NOT NULL,
  first_day    date NOT NULL,
  report_id    uuid NOT NULL DEFAULT gen_random_uuid(),
  claimed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schedule_id, first_day)
);

-- Transactional outbox (common/events.h): report.delivery_requested.
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

CREATE TABLE processed_events (
  event_id      uuid PRIMARY KEY,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);
