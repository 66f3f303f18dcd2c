-- The embedded event log (common/ev_pglog.c), used when no Kafka is configured: one
-- shared table of every topic's messages and the committed offset of each consumer group.
-- Applied once by scripts/pg-provision.sh as the administrator, who owns schema events.
CREATE TABLE events.log (
  "offset"    bigserial PRIMARY KEY,      -- commit order is offset order (see ev_pglog.c)
  topic       text NOT NULL CHECK (length(topic) BETWEEN 1 AND 249),
  key         text NOT NULL,              -- the partition key: the envelope's subject
  envelope    bytea NOT NULL,             -- a packed metro.events.v1.EventEnvelope (or, on a
                                          -- dead-letter topic, whatever could not be applied)
  error       text,                       -- dead-letter topics: why the message was parked
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX log_topic_offset_idx ON events.log (topic, "offset");

CREATE TABLE events.group_offsets (
  group_id          text NOT NULL,
  topic             text NOT NULL,
  committed_offset  bigint NOT NULL,      -- everything up to and including it is done
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic)
);
