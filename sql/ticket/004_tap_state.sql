-- What the abuse and duplicate rules read on every tap, kept on the ticket row itself (it is
-- locked for the tap anyway) instead of being queried from the tap log: the times of the last
-- counted taps (as many as the burst rule needs) and the last accepted tap.
ALTER TABLE tickets
  ADD COLUMN recent_tap_us bigint[] NOT NULL DEFAULT '{}',
  ADD COLUMN last_accept_gate text,
  ADD COLUMN last_accept_direction text CHECK (last_accept_direction IN ('entry', 'exit')),
  ADD COLUMN last_accept_at timestamptz;
