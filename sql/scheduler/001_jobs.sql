-- The scheduler (domain spec §17): the jobs as rows (schedule, target gRPC method, request as
-- proto3 JSON) and one run per (job, slot), claimed once across replicas through its lease.
CREATE TABLE jobs (
  name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
  job_id      uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(), -- the list's page-token key
  -- Asia/Ho_Chi_Minh wall clock: "every Nm" (aligned to the hour), "hourly :MM", "daily HH:MM".
  schedule    text NOT NULL CHECK (schedule ~ '^(every ([1-9]|[1-5][0-9]|60)m|hourly :[0-5][0-9]|daily ([01][0-9]|2[0-3]):[0-5][0-9])$'),
  method      text NOT NULL CHECK (method ~ '^/[A-Za-z0-9_.]+/[A-Za-z0-9_]+$'),
  request     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(request) = 'object'),
  enabled     boolean NOT NULL DEFAULT true,
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A run exists once per (job, scheduled_for): whoever inserts it holds its lease and runs it.
-- A lease that expires before finished_at is set belongs to a replica that died: another one
-- takes it over with a conditional UPDATE (attempts + 1) and runs the slot again.
CREATE TABLE runs (
  run_id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job              text NOT NULL REFERENCES jobs (name) ON DELETE CASCADE,
  scheduled_for    timestamptz NOT NULL,
  trigger          text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  triggered_by     text,
  lease_owner      text NOT NULL,
  lease_expires_at timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
  started_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  outcome          text CHECK (outcome IN ('succeeded', 'failed')),
  response         jsonb,
  error            text,
  CHECK ((finished_at IS NULL) = (outcome IS NULL)),
  UNIQUE (job, scheduled_for)
);
CREATE INDEX runs_unfinished ON runs (lease_expires_at) WHERE finished_at IS NULL;
CREATE INDEX runs_by_job ON runs (job, scheduled_for DESC, run_id DESC);

-- The §17 jobs. Targets that do not exist yet fail their runs (recorded) until they arrive;
-- report-schedules waits disabled for the report service.
INSERT INTO jobs (name, schedule, method, request, enabled, description) VALUES
  ('pass-auto-activation', 'every 5m', '/metro.ticket.v1.TicketService/AutoActivatePasses', '{"batchSize": 500}', true,
   'inactive passes past autoActivateAt become active'),
  ('unpaid-expiry', 'every 1m', '/metro.ticket.v1.TicketService/ExpireUnpaid', '{"batchSize": 500}', true,
   'pending_payment tickets past their deadline expire; promotions released'),
  ('ticket-expiry', 'every 10m', '/metro.ticket.v1.TicketService/ExpireEnded', '{"batchSize": 500}', true,
   'active and abused tickets past validUntil expire'),
  ('expiring-soon', 'daily 08:00', '/metro.ticket.v1.TicketService/NotifyExpiringSoon', '{"batchSize": 500}', true,
   'ticket.expiring_soon once per ticket ending within 7 days'),
  ('promotion-expiry', 'hourly :00', '/metro.ticket.v1.TicketService/ExpirePromotions', '{"batchSize": 500}', true,
   'promotions past validUntil are switched off'),
  ('refund-retry', 'every 15m', '/metro.payment.v1.PaymentService/RetryRefunds', '{}', true,
   'provider refunds that failed are tried again (§12.2)'),
  ('schedule-generation', 'daily 03:00', '/metro.control.v1.ControlService/GenerateSchedules', '{"days": 7}', true,
   'trips for today and the next 6 days on every line (§16)'),
  ('report-schedules', 'every 1m', '/metro.report.v1.ReportService/RunSchedules', '{}', false,
   'the report schedules that are due (waits for the report service)'),
  ('public-cache-refresh', 'hourly :00', '/metro.public.v1.PublicService/FlushCache', '{}', true,
   'drops the public read cache (a safety net; events invalidate it)');
