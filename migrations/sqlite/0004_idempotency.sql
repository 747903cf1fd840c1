-- Idempotency keys of agent actions that send to a customer: the same key
-- from the same caller within 24 hours returns the first result and sends
-- nothing. Written in the action's own transaction, so a key is stored if
-- and only if its action committed.
CREATE TABLE idempotency_keys (
    principal    TEXT   NOT NULL,
    key          TEXT   NOT NULL,
    request_hash TEXT   NOT NULL,
    response     TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
