-- The ticket service's catalog (domain spec §5-§8): base fares per line, passenger
-- discounts, passes and promotions with their redemptions. Lines themselves belong to
-- transport; a line without a row here costs the configured default base fare.
CREATE TABLE fares (
  route_id     text PRIMARY KEY,
  base_price   integer NOT NULL CHECK (base_price BETWEEN 1000 AND 1000000 AND base_price % 1000 = 0),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE passenger_discounts (
  passenger_type  text PRIMARY KEY CHECK (passenger_type IN ('adult', 'child', 'teenager', 'student', 'senior', 'elder')),
  discount_type   text NOT NULL CHECK (discount_type IN ('percentage', 'fixed_amount', 'free')),
  value           integer NOT NULL DEFAULT 0 CHECK (value >= 0),
  is_active       boolean NOT NULL DEFAULT true,
  valid_from      timestamptz,
  valid_until     timestamptz,
  description     text NOT NULL DEFAULT '',
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_from < valid_until)
);
INSERT INTO passenger_discounts (passenger_type, discount_type, value, description) VALUES
  ('adult', 'percentage', 0, 'Người lớn'),
  ('child', 'free', 0, 'Trẻ em dưới 12 tuổi'),
  ('teenager', 'percentage', 15, 'Thiếu niên 12-17 tuổi'),
  ('student', 'percentage', 50, 'Sinh viên'),
  ('senior', 'percentage', 0, 'Người cao tuổi (khai báo)'),
  ('elder', 'free', 0, 'Người từ 60 tuổi');

CREATE TABLE passes (
  pass_type      text PRIMARY KEY CHECK (pass_type IN ('day_pass', 'weekly_pass', 'monthly_pass', 'yearly_pass', 'lifetime_pass')),
  price          integer CHECK (price IS NULL OR (price BETWEEN 1000 AND 100000000 AND price % 1000 = 0)),
  validity_days  integer NOT NULL CHECK (validity_days > 0),
  is_active      boolean NOT NULL DEFAULT true,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO passes (pass_type, price, validity_days) VALUES
  ('day_pass', 20000, 1),
  ('weekly_pass', 80000, 7),
  ('monthly_pass', 300000, 30),
  ('yearly_pass', 1200000, 365),
  ('lifetime_pass', NULL, 36525);

CREATE TABLE promotions (
  promotion_id                uuid PRIMARY KEY,
  promotion_code              text NOT NULL CHECK (promotion_code ~ '^[A-Z0-9_-]{3,50}$'),
  name                        text NOT NULL,
  description                 text NOT NULL DEFAULT '',
  type                        text NOT NULL CHECK (type IN ('percentage', 'fixed_amount', 'buy_one_get_one', 'free_upgrade')),
  value                       integer NOT NULL DEFAULT 0 CHECK (value >= 0),
  applicable_ticket_types     text[] NOT NULL DEFAULT '{}',
  applicable_passenger_types  text[] NOT NULL DEFAULT '{}',
  applicable_route_ids        text[] NOT NULL DEFAULT '{}',
  usage_limit                 integer CHECK (usage_limit IS NULL OR usage_limit >= 1),
  user_usage_limit            integer CHECK (user_usage_limit IS NULL OR user_usage_limit >= 1),
  valid_from                  timestamptz NOT NULL,
  valid_until                 timestamptz NOT NULL,
  is_active                   boolean NOT NULL DEFAULT true,
  deleted                     boolean NOT NULL DEFAULT false,
  -- Maintained with the redemption rows in the same transactions, under the row lock.
  reserved_count              integer NOT NULL DEFAULT 0 CHECK (reserved_count >= 0),
  redeemed_count              integer NOT NULL DEFAULT 0 CHECK (redeemed_count >= 0),
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now(),
  CHECK (valid_from < valid_until)
);
-- Codes are unique ignoring case (stored upper-case) among promotions not deleted.
CREATE UNIQUE INDEX promotions_code_key ON promotions (upper(promotion_code)) WHERE NOT deleted;
CREATE INDEX promotions_created_idx ON promotions (created_at DESC, promotion_id DESC);

-- One redemption per ticket: reserved in the purchase transaction, redeemed on payment
-- (or at once on the free path), released on cancellation, payment failure or deadline.
CREATE TABLE promotion_redemptions (
  ticket_id      uuid PRIMARY KEY,
  promotion_id   uuid NOT NULL REFERENCES promotions (promotion_id),
  passenger_id   uuid NOT NULL,
  status         text NOT NULL CHECK (status IN ('reserved', 'redeemed', 'released')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX promotion_redemptions_passenger_idx ON promotion_redemptions (promotion_id, passenger_id)
  WHERE status IN ('reserved', 'redeemed');
