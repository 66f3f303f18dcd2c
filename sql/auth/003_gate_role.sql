-- Gate devices sign in as accounts with the role `gate` (domain spec §10: taps come with a
-- gate or staff credential). They have no profile; they may only tap.
ALTER TABLE users DROP CONSTRAINT users_roles_check;
ALTER TABLE users ADD CONSTRAINT users_roles_check
  CHECK (cardinality(roles) >= 1 AND roles <@ ARRAY['passenger', 'staff', 'admin', 'gate']::text[]);
