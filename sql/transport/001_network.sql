-- The network of the transport service (domain spec §3): stations, lines with their
-- ordered stations, trains, trips and their stops; plus the outbox of the events it
-- produces and the ids of the events it has applied.
CREATE TABLE network_state (
  id         integer PRIMARY KEY CHECK (id = 1),
  version    bigint NOT NULL DEFAULT 1,  -- bumped by every catalog write (planner graph)
  seeded_at  timestamptz
);
INSERT INTO network_state (id) VALUES (1);

CREATE TABLE stations (
  station_id  text PRIMARY KEY CHECK (station_id ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(station_id) <= 64),
  name        text NOT NULL CHECK (char_length(name) BETWEEN 2 AND 100),
  lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
  lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
  open_time   text NOT NULL DEFAULT '05:00' CHECK (open_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  close_time  text NOT NULL DEFAULT '23:00' CHECK (close_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  is_active   boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (close_time > open_time)
);

CREATE TABLE lines (
  route_id      text PRIMARY KEY CHECK (route_id ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(route_id) <= 100),
  code          text NOT NULL CHECK (code ~ '^[A-Za-z0-9]{1,10}$'),
  name          text NOT NULL CHECK (char_length(name) BETWEEN 2 AND 100),
  length_km     double precision NOT NULL CHECK (length_km > 0 AND length_km <= 1000),
  duration_min  integer NOT NULL CHECK (duration_min BETWEEN 1 AND 600),
  status        text NOT NULL CHECK (status IN ('operational', 'planned')),
  is_active     boolean NOT NULL DEFAULT true,
  base_price    bigint NOT NULL DEFAULT 10000 CHECK (base_price BETWEEN 0 AND 10000000),
  position      integer NOT NULL CHECK (position >= 1),  -- network order: the planner's tie-break
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX lines_code_key ON lines (lower(code));
CREATE UNIQUE INDEX lines_position_key ON lines (position);

-- Sequence 1..n without gaps, a station at most once per line: the keys are checked at
-- commit (a reorder rewrites every row), and so is contiguity, by the trigger below.
CREATE TABLE line_stations (
  route_id    text NOT NULL REFERENCES lines ON DELETE CASCADE,
  station_id  text NOT NULL REFERENCES stations ON DELETE RESTRICT,
  sequence    integer NOT NULL CHECK (sequence >= 1),
  CONSTRAINT line_stations_pkey PRIMARY KEY (route_id, sequence) DEFERRABLE INITIALLY DEFERRED,
  CONSTRAINT line_stations_station_key UNIQUE (route_id, station_id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX line_stations_station_idx ON line_stations (station_id);

CREATE FUNCTION line_stations_contiguous() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r text := CASE WHEN TG_OP = 'DELETE' THEN OLD.route_id ELSE NEW.route_id END;
  n bigint;
  top integer;
BEGIN
  SELECT count(*), coalesce(max(sequence), 0) INTO n, top FROM line_stations WHERE route_id = r;
  IF n <> top THEN
    RAISE EXCEPTION 'stations of line % are not numbered 1..%', r, n
      USING ERRCODE = 'check_violation', CONSTRAINT = 'line_stations_contiguous';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER line_stations_contiguous AFTER INSERT OR UPDATE OR DELETE ON line_stations
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION line_stations_contiguous();

CREATE TABLE trains (
  train_id    uuid PRIMARY KEY,
  name        text NOT NULL CHECK (name ~ '^Metro-[0-9]{2}-[0-9]{3}$'),
  type        text NOT NULL CHECK (type IN ('standard', 'express')),
  capacity    integer NOT NULL CHECK (capacity BETWEEN 1 AND 10000),
  route_id    text NOT NULL REFERENCES lines ON DELETE RESTRICT,
  status      text NOT NULL CHECK (status IN ('active', 'maintenance', 'out_of_service')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX trains_name_key ON trains (name);
CREATE INDEX trains_route_idx ON trains (route_id, name);

-- Times are seconds from the service date's local midnight and may pass 24:00:00.
CREATE TABLE trips (
  trip_id       uuid PRIMARY KEY,
  route_id      text NOT NULL REFERENCES lines ON DELETE CASCADE,
  service_date  date NOT NULL,
  direction     text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
  train_id      uuid REFERENCES trains ON DELETE SET NULL,
  departure     integer NOT NULL CHECK (departure BETWEEN 0 AND 172799),
  arrival       integer NOT NULL CHECK (arrival BETWEEN 0 AND 172799),
  CHECK (arrival >= departure)
);
CREATE INDEX trips_line_date_idx ON trips (route_id, service_date, departure);
CREATE INDEX trips_date_idx ON trips (service_date);

CREATE TABLE stops (
  trip_id       uuid NOT NULL REFERENCES trips ON DELETE CASCADE,
  sequence      integer NOT NULL CHECK (sequence >= 1),
  station_id    text NOT NULL REFERENCES stations ON DELETE RESTRICT,
  service_date  date NOT NULL,  -- copied from the trip: departures are looked up by station and date
  arrival       integer CHECK (arrival BETWEEN 0 AND 172799),
  departure     integer CHECK (departure BETWEEN 0 AND 172799),
  PRIMARY KEY (trip_id, sequence),
  CHECK (arrival IS NOT NULL OR departure IS NOT NULL),
  CHECK (arrival IS NULL OR departure IS NULL OR departure >= arrival)
);
CREATE INDEX stops_station_idx ON stops (station_id, service_date, departure);

-- Transactional outbox (same shape as sql/auth/002_event_envelope.sql): catalog.changed,
-- station.status_changed and station.deactivated leave through it.
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

-- Events this service has applied (none yet): a consumer inserts the event id in the
-- transaction of the effect, so a redelivered event changes nothing.
CREATE TABLE processed_events (
  event_id      uuid PRIMARY KEY,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);
