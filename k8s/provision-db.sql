-- Creates the PostgreSQL login role metro_auth and its schema auth in the current database
-- (what scripts/pg-provision.sh does locally), for a DBA on the managed server. Idempotent.
--
--   METRO_AUTH_DB_PASSWORD="$(openssl rand -hex 24)" \
--     psql "postgresql://ADMIN@pg.example.internal:5432/metro?sslmode=verify-full" \
--          -X -v ON_ERROR_STOP=1 -f k8s/provision-db.sql
--
-- Connect to the application database (create it first: CREATE DATABASE metro). The
-- password is read from the environment with \getenv (psql 15 or newer); with an older psql
-- pass -v password=... instead (it then shows in the process list). Override the names with
-- -v role=... -v schema=... . Afterwards put the URL into the Secret:
--   postgresql://metro_auth:<url-encoded password>@HOST:5432/metro?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt&options=-csearch_path%3Dauth
-- The service applies its own migrations (sql/auth/) at start; nothing else to run.

\set ON_ERROR_STOP on
\if :{?role}
\else
  \set role metro_auth
\endif
\if :{?schema}
\else
  \set schema auth
\endif
\if :{?password}
\else
  \getenv password METRO_AUTH_DB_PASSWORD
\endif
\if :{?password}
\else
  \warn 'provision-db: set METRO_AUTH_DB_PASSWORD (or -v password=...)'
  DO $$ BEGIN RAISE EXCEPTION 'no password for the service role'; END $$;
\endif

SET client_min_messages = warning;

-- Nobody but the service roles may connect, and nobody creates objects in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec

SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'password') \gexec
-- Only a superuser may name these attributes (they are already off for a role a
-- CREATEROLE admin created).
SELECT format('ALTER ROLE %I WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', :'role')
  WHERE (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), :'role') \gexec

-- Managed services (RDS, Cloud SQL, Azure) give no true superuser: the admin must be a
-- member of the role to create a schema owned by it.
SELECT format('GRANT %I TO %I', :'role', current_user)
  WHERE NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
    AND NOT pg_has_role(current_user, :'role', 'MEMBER') \gexec

SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'schema', :'role') \gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'schema', :'role') \gexec
SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', :'schema') \gexec

\echo 'provision-db: role' :role 'owns schema' :schema 'in this database'
