-- The notification service (domain spec §14): one delivery record per (event, template,
-- recipient) holding the message as it will be sent, its status and retries; the outbox is
-- absent (it publishes nothing) and processed_events records the events applied.
CREATE TABLE notifications (
  notification_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id            uuid NOT NULL,
  event_type          text NOT NULL,
  template            text NOT NULL,
  channel             text NOT NULL CHECK (channel IN ('email', 'sms')),
  recipient           text NOT NULL,
  user_id             uuid,
  subject             text NOT NULL DEFAULT '',
  -- email: the whole RFC 5322 message (headers and MIME body) as sent, so a retry sends the
  -- very same bytes (same Message-ID); sms: the text.
  message             bytea NOT NULL,
  status              text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
  attempts            integer NOT NULL DEFAULT 0,
  next_attempt_at     timestamptz NOT NULL DEFAULT now(),
  provider_message_id text,
  last_error          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  sent_at             timestamptz,
  UNIQUE (event_id, template, recipient)
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'queued';
CREATE INDEX notifications_created_idx ON notifications (created_at DESC, notification_id DESC);
CREATE INDEX notifications_recipient_idx ON notifications (recipient, created_at DESC);

CREATE TABLE processed_events (
  event_id      uuid PRIMARY KEY,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);
