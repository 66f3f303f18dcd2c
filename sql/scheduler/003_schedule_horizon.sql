-- The published GTFS feed covers today and the next 29 days (issue 14): the nightly generation
-- keeps 30 days of trips (existing dates are kept, so a night adds the new last date).
UPDATE jobs SET request = '{"days": 30}', description = 'trips for today and the next 29 days on every line (§16)',
  updated_at = now()
WHERE name = 'schedule-generation' AND request = '{"days": 7}'::jsonb;
