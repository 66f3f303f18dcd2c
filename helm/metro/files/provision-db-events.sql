-- Applies one migration of the shared schema events, sql/events/<:name>.sql, unless
-- events.schema_migrations records it; included by provision-db.sql (\set name ... \ir).
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('metro.migrate.events')) AS taken \gset events_lock_
SELECT NOT EXISTS (SELECT 1 FROM events.schema_migrations WHERE name = :'name') AS pending \gset
\if :pending
\set file ../sql/events/ :name .sql
\ir :file
INSERT INTO events.schema_migrations (name) VALUES (:'name');
\endif
COMMIT;
