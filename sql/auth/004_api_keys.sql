-- API keys of machine clients (partner apps, ticket vending kiosks, station displays), which
-- call the REST API with `X-API-Key: <secret>`. The secret is shown once; only its SHA-256 is kept.

-- Roles a key may act with: those an account may hold but passenger and admin (and never
-- "service"), each once. A role added to users_roles_check is added here only deliberately.
CREATE FUNCTION api_key_roles_ok(roles text[]) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT cardinality(roles) BETWEEN 1 AND 8
     AND roles <@ ARRAY['staff', 'gate']::text[]
     AND (SELECT count(DISTINCT r) FROM unnest(roles) AS r) = cardinality(roles)
$$;

-- Route prefixes: at most 32, distinct, each "/v1/..." of at most 200 characters of a path in
-- canonical form (RFC 3986 path characters without '%', no empty, "." or ".." segment).
CREATE FUNCTION api_key_prefixes_ok(prefixes text[]) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT cardinality(prefixes) <= 32
     AND (SELECT count(DISTINCT p) FROM unnest(prefixes) AS p) = cardinality(prefixes)
     AND coalesce((SELECT bool_and(length(p) <= 200
                                   AND p ~ '^/v1/[A-Za-z0-9._~!$&''()*+,;=:@/-]*$'
                                   AND p !~ '//'
                                   AND p !~ '/\.\.?(/|$)')
                   FROM unnest(prefixes) AS p), true)
$$;

CREATE TABLE api_keys (
  key_id                 text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
  display_name           text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 100
                                              AND display_name !~ '[[:cntrl:]]'),
  roles                  text[] NOT NULL CHECK (api_key_roles_ok(roles)),
  route_prefixes         text[] NOT NULL DEFAULT '{}' CHECK (api_key_prefixes_ok(route_prefixes)),
  rate_limit_per_minute  integer NOT NULL DEFAULT 600 CHECK (rate_limit_per_minute BETWEEN 1 AND 100000),
  secret_sha256          bytea NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),  -- SHA-256 of the whole secret
  secret_prefix          text NOT NULL,                                             -- its first 8 characters
  created_by             text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 128),
  create_time            timestamptz NOT NULL DEFAULT now(),
  expire_time            timestamptz CHECK (expire_time > create_time),
  revoke_time            timestamptz CHECK (revoke_time >= create_time),
  -- The secret is "mk_<key_id>_<43 base64url>", so its first 8 characters follow from the id.
  CONSTRAINT api_keys_secret_prefix_check CHECK (secret_prefix = 'mk_' || left(key_id, 5))
);
-- ListApiKeys: newest first, keyset-paginated, with or without the revoked ones.
CREATE INDEX api_keys_created_idx ON api_keys (create_time DESC, key_id DESC);
