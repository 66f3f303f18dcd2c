-- Gates (domain spec §10, §11): each ticket's signed token, its rotation secret (never shown
-- but to the owner's code) and its gate state; the registered gates; every tap with its
-- stored answer (retries of a tapId answer it again); fare adjustments for wrong exits.
ALTER TABLE tickets
  ADD COLUMN qr_token text,
  ADD COLUMN qr_kid text,
  ADD COLUMN rotation_secret bytea,
  ADD COLUMN inside boolean NOT NULL DEFAULT false,
  ADD COLUMN entry_station_id text,
  ADD COLUMN entry_at timestamptz,
  ADD COLUMN last_rotating_counter bigint NOT NULL DEFAULT 0,
  ADD COLUMN last_tap_at timestamptz;
CREATE INDEX tickets_qr_kid_idx ON tickets (qr_kid) WHERE status NOT IN ('used', 'expired', 'cancelled', 'refunded');

CREATE TABLE gates (
  gate_id     text PRIMARY KEY CHECK (gate_id ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(gate_id) <= 64),
  station_id  text NOT NULL,
  name        text NOT NULL DEFAULT '',
  is_active   boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gates_station_idx ON gates (station_id);

CREATE TABLE taps (
  gate_id     text NOT NULL,
  tap_id      text NOT NULL,
  ticket_id   uuid NOT NULL,
  station_id  text NOT NULL,
  direction   text NOT NULL CHECK (direction IN ('entry', 'exit')),
  accepted    boolean NOT NULL,
  duplicate   boolean NOT NULL DEFAULT false,
  reason      text,
  counted     boolean NOT NULL,       -- counts for the abuse rules (§11.3)
  result      bytea NOT NULL,         -- the packed metro.ticket.v1.TapResult answered
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gate_id, tap_id)
);
CREATE INDEX taps_ticket_idx ON taps (ticket_id, created_at DESC);

CREATE TABLE fare_adjustments (
  adjustment_id              uuid PRIMARY KEY,
  ticket_id                  uuid NOT NULL,
  entry_station_id           text NOT NULL,
  exit_station_id            text NOT NULL,
  expected_exit_station_id   text NOT NULL,
  amount_vnd                 integer NOT NULL CHECK (amount_vnd >= 0),
  collected_vnd              integer CHECK (collected_vnd >= 0),
  status                     text NOT NULL CHECK (status IN ('due', 'settled')),
  gate_id                    text NOT NULL,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  settled_at                 timestamptz
);
CREATE INDEX fare_adjustments_ticket_idx ON fare_adjustments (ticket_id, created_at DESC);
