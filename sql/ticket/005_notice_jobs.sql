-- The expiring-soon notice is sent once per ticket (domain spec §14, §17): the job stamps the
-- ticket when it publishes ticket.expiring_soon.
ALTER TABLE tickets ADD COLUMN expiring_notified_at timestamptz;
CREATE INDEX tickets_expiring_idx ON tickets (valid_until)
  WHERE status = 'active' AND expiring_notified_at IS NULL;
