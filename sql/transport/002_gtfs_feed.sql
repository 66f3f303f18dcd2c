-- The published GTFS feed (issue 14): route colours on lines, and what its Last-Modified is made
-- of: when the catalog last changed (network_state, written under the catalog lock) and when each
-- (line, service date)'s trips were last written (one row per pair, written under that pair's
-- advisory lock, so timetable writers of different pairs never wait for each other).
ALTER TABLE lines
  ADD COLUMN color      text NOT NULL DEFAULT '' CHECK (color ~ '^([0-9A-F]{6})?$'),
  ADD COLUMN text_color text NOT NULL DEFAULT '' CHECK (text_color ~ '^([0-9A-F]{6})?$');

ALTER TABLE network_state ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE timetable_changes (
  route_id      text NOT NULL REFERENCES lines ON DELETE CASCADE,
  service_date  date NOT NULL,
  changed_at    timestamptz NOT NULL,
  PRIMARY KEY (route_id, service_date)
);
