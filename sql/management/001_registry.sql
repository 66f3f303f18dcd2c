-- The management service (issue 12): the health-check registry of service instances, the
-- poller's rounds per service, and the latest report of each REST gateway instance.

-- One row per (service, address) ever checked. Instances that vanish from the configuration
-- or from DNS stay, UNREACHABLE and vanished, with the last time they answered SERVING.
CREATE TABLE instances (
  service      text NOT NULL CHECK (service ~ '^[a-z][a-z0-9-]{0,31}$'),
  address      text NOT NULL CHECK (length(address) BETWEEN 3 AND 300),
  target       text NOT NULL,                 -- the configured address it comes from
  status       text NOT NULL CHECK (status IN ('SERVING', 'NOT_SERVING', 'UNREACHABLE')),
  vanished     boolean NOT NULL DEFAULT false,
  last_seen    timestamptz,                   -- the last check that answered SERVING
  last_checked timestamptz NOT NULL,
  last_error   text NOT NULL DEFAULT '',
  latency_ms   double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (service, address)
);

-- The poller's latest round over each configured service (a DNS name that failed to resolve
-- leaves its error here, since it has no instance to carry it).
CREATE TABLE services (
  name         text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{0,31}$'),
  last_checked timestamptz NOT NULL,
  last_error   text NOT NULL DEFAULT ''
);

-- Each gateway instance's latest ReportGateway: the packed metro.management.v1.GatewayInstance
-- (routes and breaker states), replaced by every report.
CREATE TABLE gateways (
  instance_id text PRIMARY KEY CHECK (instance_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
  report      bytea NOT NULL,
  first_seen  timestamptz NOT NULL DEFAULT now(),
  last_seen   timestamptz NOT NULL
);
CREATE INDEX gateways_newest ON gateways (last_seen DESC, instance_id DESC);
