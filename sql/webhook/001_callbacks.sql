-- The webhook service (domain spec §12): the log of provider callbacks. A verified callback
-- is stored once under (provider, provider_event_id) together with webhook.received; a
-- callback that failed its check is kept apart (it must not take an event id a genuine one
-- needs), for forensics, and pruned after METRO_REJECTED_RETENTION_DAYS.
CREATE TABLE callbacks (
  callback_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider          text NOT NULL CHECK (provider IN ('vnpay', 'paypal', 'sepay')),
  provider_event_id text NOT NULL,
  event_type        text NOT NULL,
  payment_ref       text,
  raw_payload       jsonb NOT NULL,             -- the body as JSON, or {"query": ...} for VNPay
  raw_text          text NOT NULL,              -- the exact bytes received (signatures cover these)
  headers           jsonb NOT NULL DEFAULT '{}'::jsonb,
  signature_valid   boolean NOT NULL,
  answer_code       text,
  received_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, provider_event_id)
);
CREATE INDEX callbacks_received_idx ON callbacks (received_at DESC, callback_id DESC);

CREATE TABLE rejected_callbacks (
  callback_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider          text NOT NULL,
  event_type        text,
  reason            text NOT NULL,
  raw_payload       jsonb NOT NULL,
  raw_text          text NOT NULL,
  headers           jsonb NOT NULL DEFAULT '{}'::jsonb,
  client_ip         text,
  received_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_callbacks_received_idx ON rejected_callbacks (received_at DESC, callback_id DESC);

-- Transactional outbox (common/events.h): webhook.received.
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
