-- Profiles of the user service (domain spec §2): one passenger, staff and admin profile per
-- account at most (unique user_id), created from auth's user.created event; plus the
-- outbox of the events it produces and the ids of the events it has applied.
CREATE TABLE passengers (
  passenger_id            uuid PRIMARY KEY,
  user_id                 uuid NOT NULL UNIQUE,
  username                text NOT NULL CHECK (length(username) BETWEEN 2 AND 50),
  email                   text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  first_name              text NOT NULL,
  last_name               text NOT NULL,
  phone_number            text,
  date_of_birth           date,
  gender                  text CHECK (gender IN ('male', 'female', 'other')),
  address                 text CHECK (length(address) <= 255),
  emergency_contact       text CHECK (length(emergency_contact) <= 255),
  student_verified_until  date,
  pref_email              boolean NOT NULL DEFAULT true,
  pref_sms                boolean NOT NULL DEFAULT false,
  pref_station_alerts     boolean NOT NULL DEFAULT true,
  is_active               boolean NOT NULL DEFAULT true,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
-- Keyset pagination, newest first.
CREATE INDEX passengers_created_idx ON passengers (created_at DESC, passenger_id DESC);

CREATE TABLE staff (
  staff_id       uuid PRIMARY KEY,
  user_id        uuid NOT NULL UNIQUE,
  username       text NOT NULL CHECK (length(username) BETWEEN 2 AND 50),
  email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  first_name     text NOT NULL,
  last_name      text NOT NULL,
  phone_number   text,
  date_of_birth  date,
  is_active      boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_created_idx ON staff (created_at DESC, staff_id DESC);

-- The marker of an account holding the admin role (spec §2: Admin {adminId, userId}).
CREATE TABLE admins (
  admin_id    uuid PRIMARY KEY,
  user_id     uuid NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox (same shape as sql/auth/002_event_envelope.sql): passenger.deleted,
-- staff.deleted, staff.deactivated and staff.reactivated leave through it.
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

-- Events applied (user.created, user.deleted): inserted in the transaction of the effect,
-- so a redelivered event changes nothing.
CREATE TABLE processed_events (
  event_id      uuid PRIMARY KEY,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);
