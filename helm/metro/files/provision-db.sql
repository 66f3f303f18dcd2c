-- Creates the PostgreSQL login roles metro_<service> and their schemas (auth, user, transport,
-- ticket, public, payment, webhook, notification, report, control, scheduler, management) plus
-- the shared schema events (the embedded event log) in the current database: what
-- scripts/pg-provision.sh does locally, for a DBA on the managed server. Idempotent.
-- Run it from the repository root (it includes sql/events/*.sql by relative path):
--
--   METRO_AUTH_DB_PASSWORD=... METRO_USER_DB_PASSWORD=... METRO_TRANSPORT_DB_PASSWORD=... \
--   METRO_TICKET_DB_PASSWORD=... METRO_PUBLIC_DB_PASSWORD=... METRO_PAYMENT_DB_PASSWORD=... \
--   METRO_WEBHOOK_DB_PASSWORD=... METRO_NOTIFICATION_DB_PASSWORD=... METRO_REPORT_DB_PASSWORD=... \
--   METRO_CONTROL_DB_PASSWORD=... METRO_SCHEDULER_DB_PASSWORD=... METRO_MANAGEMENT_DB_PASSWORD=... \
--     psql "postgresql://ADMIN@pg.example.internal:5432/metro?sslmode=verify-full" \
--          -X -v ON_ERROR_STOP=1 -f k8s/provision-db.sql
--
-- Connect to the application database (create it first: CREATE DATABASE metro). Passwords
-- are read from the environment with \getenv (psql 15 or newer); with an older psql pass
-- -v auth_password=... -v user_password=... etc. instead (they then show in the process
-- list). Afterwards put one URL per service into the Secret, e.g. for user:
--   postgresql://metro_user:<url-encoded password>@HOST:5432/metro?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt&options=-csearch_path%3Duser
-- The services apply their own migrations (sql/<service>/) at start. Schema events belongs
-- to the administrator: its migrations (sql/events/) are applied here, each once, recorded in
-- events.schema_migrations; a new file there needs one more "\set name ... \ir" line below
-- and a re-run of this script (it is also needed when METRO_KAFKA_BROKERS is set: harmless).

\set ON_ERROR_STOP on
\set QUIET on
\if :{?auth_password}
\else
  \getenv auth_password METRO_AUTH_DB_PASSWORD
\endif
\if :{?user_password}
\else
  \getenv user_password METRO_USER_DB_PASSWORD
\endif
\if :{?transport_password}
\else
  \getenv transport_password METRO_TRANSPORT_DB_PASSWORD
\endif
\if :{?ticket_password}
\else
  \getenv ticket_password METRO_TICKET_DB_PASSWORD
\endif
\if :{?public_password}
\else
  \getenv public_password METRO_PUBLIC_DB_PASSWORD
\endif
\if :{?payment_password}
\else
  \getenv payment_password METRO_PAYMENT_DB_PASSWORD
\endif
\if :{?webhook_password}
\else
  \getenv webhook_password METRO_WEBHOOK_DB_PASSWORD
\endif
\if :{?notification_password}
\else
  \getenv notification_password METRO_NOTIFICATION_DB_PASSWORD
\endif
\if :{?report_password}
\else
  \getenv report_password METRO_REPORT_DB_PASSWORD
\endif
\if :{?control_password}
\else
  \getenv control_password METRO_CONTROL_DB_PASSWORD
\endif
\if :{?scheduler_password}
\else
  \getenv scheduler_password METRO_SCHEDULER_DB_PASSWORD
\endif
\if :{?management_password}
\else
  \getenv management_password METRO_MANAGEMENT_DB_PASSWORD
\endif
\if :{?auth_password}
\else
  \set auth_password ''
\endif
\if :{?user_password}
\else
  \set user_password ''
\endif
\if :{?transport_password}
\else
  \set transport_password ''
\endif
\if :{?ticket_password}
\else
  \set ticket_password ''
\endif
\if :{?public_password}
\else
  \set public_password ''
\endif
\if :{?payment_password}
\else
  \set payment_password ''
\endif
\if :{?webhook_password}
\else
  \set webhook_password ''
\endif
\if :{?notification_password}
\else
  \set notification_password ''
\endif
\if :{?report_password}
\else
  \set report_password ''
\endif
\if :{?control_password}
\else
  \set control_password ''
\endif
\if :{?scheduler_password}
\else
  \set scheduler_password ''
\endif
\if :{?management_password}
\else
  \set management_password ''
\endif

SET client_min_messages = warning;

-- One row per service: its role, schema and password (this session only).
CREATE TEMPORARY TABLE metro_service (role text, schema text, password text);
INSERT INTO metro_service VALUES
  ('metro_auth', 'auth', :'auth_password'),
  ('metro_user', 'user', :'user_password'),
  ('metro_transport', 'transport', :'transport_password'),
  ('metro_ticket', 'ticket', :'ticket_password'),
  ('metro_public', 'public', :'public_password'),
  ('metro_payment', 'payment', :'payment_password'),
  ('metro_webhook', 'webhook', :'webhook_password'),
  ('metro_notification', 'notification', :'notification_password'),
  ('metro_report', 'report', :'report_password'),
  ('metro_control', 'control', :'control_password'),
  ('metro_scheduler', 'scheduler', :'scheduler_password'),
  ('metro_management', 'management', :'management_password');
SELECT string_agg(upper(schema), ', ') AS missing FROM metro_service WHERE password = '' \gset
\if :{?missing}
  \warn 'provision-db: set METRO_<SERVICE>_DB_PASSWORD (or -v <service>_password=...) for' :missing
  DO $$ BEGIN RAISE EXCEPTION 'no password for some service roles'; END $$;
\endif

-- Nobody but the service roles may connect, and nobody creates objects in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec

-- The embedded event log (common/ev_pglog.c): schema events belongs to the administrator.
CREATE SCHEMA IF NOT EXISTS events;
REVOKE ALL ON SCHEMA events FROM PUBLIC;
CREATE TABLE IF NOT EXISTS events.schema_migrations (
  name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
-- sql/events/*.sql in name order, each once (provision-db-events.sql applies :name).
\set name 001_event_log
\ir provision-db-events.sql

-- The service roles.
SELECT format('CREATE ROLE %I LOGIN', role) FROM metro_service
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', role, password) FROM metro_service \gexec
-- Only a superuser may name these attributes (they are already off for a role a
-- CREATEROLE admin created).
SELECT format('ALTER ROLE %I WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', role)
  FROM metro_service WHERE (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), role)
  FROM metro_service \gexec

-- Managed services (RDS, Cloud SQL, Azure) give no true superuser: the admin must be a
-- member of a role to create a schema owned by it.
SELECT format('GRANT %I TO %I', role, current_user) FROM metro_service
  WHERE NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
    AND NOT pg_has_role(current_user, role, 'MEMBER') \gexec

-- Each role owns its schema and nothing else.
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', schema, role) FROM metro_service \gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', schema, role) FROM metro_service \gexec
SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', schema) FROM metro_service \gexec

-- The event log: every role may append, read, and commit its consumer-group offsets.
SELECT format('GRANT USAGE ON SCHEMA events TO %I', role) FROM metro_service \gexec
SELECT format('GRANT SELECT, INSERT ON events.log TO %I', role) FROM metro_service \gexec
SELECT format('GRANT USAGE ON SEQUENCE %s TO %I', pg_get_serial_sequence('events.log', 'offset'), role)
  FROM metro_service \gexec
SELECT format('GRANT SELECT, INSERT, UPDATE ON events.group_offsets TO %I', role) FROM metro_service \gexec

SELECT string_agg(format('%s owns schema %s', role, schema), ', ') AS done FROM metro_service \gset
\echo 'provision-db:' :done '; schema events ready'
DROP TABLE metro_service;
