-- The payment service (domain spec §12): one payment per ticket with its provider state,
-- the callbacks it applied, bank transfers nothing matched, admin alerts, the outbox and
-- the applied-event log. Every status change is a conditional UPDATE (WHERE status IN ...).
CREATE TABLE payments (
  payment_id        uuid PRIMARY KEY,
  ticket_id         uuid NOT NULL UNIQUE,
  passenger_id      uuid,
  user_id           uuid,
  amount            integer NOT NULL CHECK (amount >= 0),
  currency          text NOT NULL DEFAULT 'VND',
  method            text NOT NULL CHECK (method IN ('vnpay', 'paypal', 'sepay', 'free')),
  status            text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'COMPLETED', 'FAILED', 'CANCELLED',
                                                    'REFUND_PENDING', 'REFUNDED')),
  -- VNPay TxnRef, PayPal order id, Sepay: the ticket id. Unique per method when set.
  provider_ref      text,
  provider_txn_id   text,
  vnp_create_date   text,                      -- VNPay vnp_CreateDate (the refund API needs it)
  payment_url       text,
  approve_url       text,
  qr_image_url      text,
  expires_at        timestamptz,
  amount_usd_cents  bigint,
  vnd_per_usd       integer,
  paid_amount       bigint,                    -- what the provider said was paid (its unit)
  refund_amount     integer NOT NULL DEFAULT 0,
  refund_reason     text,
  refund_attempts   integer NOT NULL DEFAULT 0,
  refund_error      text,
  refund_next_at    timestamptz,
  refund_started_at timestamptz,
  refund_given_up   boolean NOT NULL DEFAULT false,
  refund_ref        text,
  review_required   boolean NOT NULL DEFAULT false,
  review_reason     text,
  failure_reason    text,
  version           integer NOT NULL DEFAULT 1,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  completed_at      timestamptz,
  refunded_at       timestamptz
);
CREATE UNIQUE INDEX payments_provider_ref_idx ON payments (method, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX payments_created_idx ON payments (created_at DESC, payment_id DESC);
CREATE INDEX payments_passenger_idx ON payments (passenger_id, created_at DESC);
CREATE INDEX payments_refund_due_idx ON payments (refund_next_at) WHERE status = 'REFUND_PENDING' AND NOT refund_given_up;

-- Each callback applied, once per (provider, provider_event_id): the inline IPN call and the
-- webhook.received event of the same callback meet here, and only the first one applies.
CREATE TABLE applied_callbacks (
  provider          text NOT NULL,
  provider_event_id text NOT NULL,
  payment_id        uuid,
  result            text NOT NULL,
  vnpay_rsp_code    text,
  applied_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, provider_event_id)
);

-- Bank transfers no payment took (domain spec §12.1 Sepay): kept for staff.
CREATE TABLE unmatched_transfers (
  unmatched_id      uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  provider          text NOT NULL,
  transfer_id       text NOT NULL,
  amount            bigint NOT NULL,
  content           text NOT NULL,
  reference_code    text,
  ticket_id         uuid,
  reason            text NOT NULL,
  received_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, transfer_id)
);
CREATE INDEX unmatched_transfers_received_idx ON unmatched_transfers (received_at DESC, unmatched_id DESC);

-- What an admin must look at (suspicious or wrong-amount payments, refunds given up). Also
-- written to the log at level "error" with "alert": true.
CREATE TABLE admin_alerts (
  alert_id          bigserial PRIMARY KEY,
  kind              text NOT NULL,
  payment_id        uuid,
  message           text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox (common/events.h): ticket.payment_ready, payment.*.
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

-- Events applied (ticket.created, ticket.expired, ticket.cancelled, webhook.received).
CREATE TABLE processed_events (
  event_id      uuid PRIMARY KEY,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);
