-- Tickets (domain spec §9): one row per purchase, its prices as bought, the lifecycle state
-- with a version for conditional transitions, idempotency keys of purchases, and the
-- event outbox and applied-event log of the service.
CREATE TABLE tickets (
  ticket_id                  uuid PRIMARY KEY,
  passenger_id               uuid NOT NULL,
  user_id                    uuid NOT NULL,
  ticket_type                text NOT NULL CHECK (ticket_type IN ('oneway', 'return', 'day_pass', 'weekly_pass',
                                                                 'monthly_pass', 'yearly_pass', 'lifetime_pass')),
  status                     text NOT NULL CHECK (status IN ('pending_payment', 'active', 'inactive', 'used', 'expired',
                                                            'cancelled', 'refunded', 'abused')),
  origin_station_id          text,
  destination_station_id     text,
  station_count              integer NOT NULL DEFAULT 0,
  route_ids                  text[] NOT NULL DEFAULT '{}',
  total_passengers           integer NOT NULL CHECK (total_passengers BETWEEN 1 AND 100),
  passenger_type             text,
  original_price             integer NOT NULL CHECK (original_price >= 0),
  passenger_discount_amount  integer NOT NULL CHECK (passenger_discount_amount >= 0),
  promotion_discount_amount  integer NOT NULL CHECK (promotion_discount_amount >= 0),
  total_price                integer NOT NULL CHECK (total_price >= 0),
  -- The priced purchase as a packed metro.ticket.v1.Quote (segments, counts, breakdown).
  quote                      bytea NOT NULL,
  promotion_id               uuid,
  promotion_code             text,
  payment_method             text NOT NULL CHECK (payment_method IN ('vnpay', 'paypal', 'sepay', 'free')),
  payment_id                 text,
  payment_deadline           timestamptz,
  valid_from                 timestamptz,
  valid_until                timestamptz,
  auto_activate_at           timestamptz,
  validity_days              integer NOT NULL DEFAULT 0,
  journeys_allowed           integer NOT NULL DEFAULT 0,
  journeys_completed         integer NOT NULL DEFAULT 0,
  tapped                     boolean NOT NULL DEFAULT false,
  refund_percent             integer NOT NULL DEFAULT 0 CHECK (refund_percent BETWEEN 0 AND 100),
  refund_amount              integer NOT NULL DEFAULT 0 CHECK (refund_amount >= 0),
  cancel_reason              text,
  version                    integer NOT NULL DEFAULT 1,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_user_idx ON tickets (user_id, created_at DESC, ticket_id DESC);
CREATE INDEX tickets_passenger_idx ON tickets (passenger_id, created_at DESC, ticket_id DESC);
CREATE INDEX tickets_created_idx ON tickets (created_at DESC, ticket_id DESC);
-- The jobs' scans.
CREATE INDEX tickets_unpaid_idx ON tickets (payment_deadline) WHERE status = 'pending_payment';
CREATE INDEX tickets_validity_idx ON tickets (valid_until) WHERE status IN ('active', 'abused');
CREATE INDEX tickets_auto_activate_idx ON tickets (auto_activate_at) WHERE status = 'inactive';

-- Idempotency-Key of purchases, per account, kept 24 h: the hash of the request and the
-- first answer (a packed metro.ticket.v1.Ticket).
CREATE TABLE idempotency_keys (
  user_id       uuid NOT NULL,
  key           text NOT NULL,
  request_hash  bytea NOT NULL,
  ticket_id     uuid NOT NULL,
  response      bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Transactional outbox (common/events.h): ticket.*, catalog.changed.
CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  event_id      uuid NOT NULL UNIQUE,
  topic         text NOT NULL,
  event_type    text NOT NULL,
  event_key     text NOT NULL,
  envelope      bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Events applied (payment.*, ticket.payment_ready), in the consumer's transaction.
CREATE TABLE processed_events (
  event_id      uuid PRIMARY KEY,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);
