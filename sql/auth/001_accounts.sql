-- Accounts, refresh-token families and one-time tokens (email verification, password
-- reset) of the auth service. Secrets are stored only as SHA-256 hashes or scrypt strings.
CREATE TABLE users (
  user_id        uuid PRIMARY KEY,
  email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  username       text NOT NULL CHECK (length(username) BETWEEN 2 AND 50),
  password_hash  text NOT NULL,
  roles          text[] NOT NULL CHECK (cardinality(roles) >= 1
                   AND roles <@ ARRAY['passenger', 'staff', 'admin']::text[]),
  first_name     text NOT NULL,
  last_name      text NOT NULL,
  phone_number   text,
  date_of_birth  date,
  gender         text CHECK (gender IN ('male', 'female', 'other')),
  address        text CHECK (length(address) <= 255),
  is_verified    boolean NOT NULL DEFAULT false,
  is_active      boolean NOT NULL DEFAULT true,
  failed_logins  integer NOT NULL DEFAULT 0,
  locked_until   timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz
);
-- Case-insensitive uniqueness; the index names are what the service maps to
-- EMAIL_TAKEN and USERNAME_TAKEN.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE INDEX users_created_idx ON users (created_at DESC, user_id DESC);

CREATE TABLE refresh_tokens (
  token_hash  bytea PRIMARY KEY,              -- SHA-256 of the opaque token
  family_id   uuid NOT NULL,
  user_id     uuid NOT NULL REFERENCES users ON DELETE CASCADE,
  status      text NOT NULL CHECK (status IN ('active', 'rotated', 'revoked')),
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE one_time_tokens (
  token_hash  bytea PRIMARY KEY,              -- SHA-256 of the opaque token
  user_id     uuid NOT NULL REFERENCES users ON DELETE CASCADE,
  purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose) WHERE used_at IS NULL;

-- Transactional outbox: events written in the same transaction as the change that
-- caused them; the relay (issue 3) publishes them in id order.
CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  event_id      uuid NOT NULL UNIQUE,
  event_type    text NOT NULL,
  event_key     text NOT NULL,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
