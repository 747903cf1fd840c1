-- Intake, conversations and the outbox. Times are Unix milliseconds (BIGINT)
-- on both backends so the same queries and types work on SQLite and PostgreSQL.

CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    channel     TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    body        TEXT   NOT NULL
);

CREATE TABLE conversations (
    id                       INTEGER PRIMARY KEY,
    channel                  TEXT   NOT NULL,
    business_id              TEXT   NOT NULL,
    customer_id              TEXT   NOT NULL,
    customer_wa_id           TEXT,
    customer_user_id         TEXT,
    customer_name            TEXT,
    last_customer_message_at BIGINT,
    window_error_at          BIGINT,
    referral_at              BIGINT,
    free_entry_until         BIGINT,
    owner                    TEXT   NOT NULL DEFAULT 'bot',
    lang                     TEXT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    UNIQUE (channel, business_id, customer_id)
);

CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY,
    conversation_id     BIGINT NOT NULL REFERENCES conversations (id),
    channel             TEXT   NOT NULL,
    provider_message_id TEXT   NOT NULL,
    direction           TEXT   NOT NULL,
    kind                TEXT   NOT NULL,
    body                TEXT,
    payload             TEXT,
    reply_to            TEXT,
    forwarded           TEXT   NOT NULL DEFAULT 'no',
    referral            TEXT,
    standby             BOOLEAN NOT NULL DEFAULT 0,
    triggers_reply      BOOLEAN NOT NULL,
    sent_at             BIGINT NOT NULL,
    received_at         BIGINT NOT NULL,
    delivery_id         BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    turn_id             BIGINT,
    raw                 TEXT   NOT NULL,
    UNIQUE (channel, provider_message_id)
);
CREATE INDEX messages_conversation ON messages (conversation_id, sent_at);
CREATE INDEX messages_pending ON messages (conversation_id) WHERE triggers_reply AND turn_id IS NULL;

CREATE TABLE statuses (
    id                  INTEGER PRIMARY KEY,
    channel             TEXT   NOT NULL,
    business_id         TEXT   NOT NULL,
    provider_message_id TEXT   NOT NULL,
    status              TEXT   NOT NULL,
    status_rank         BIGINT NOT NULL,
    at                  BIGINT NOT NULL,
    recipient_id        TEXT,
    error_code          BIGINT,
    errors              TEXT,
    pricing_type        TEXT,
    pricing_category    TEXT,
    delivery_id         BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    raw                 TEXT   NOT NULL,
    UNIQUE (channel, provider_message_id, status)
);

CREATE TABLE unknown_events (
    id          INTEGER PRIMARY KEY,
    channel     TEXT   NOT NULL,
    business_id TEXT,
    kind        TEXT   NOT NULL,
    dedupe_key  TEXT   NOT NULL UNIQUE,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    raw         TEXT   NOT NULL
);

CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY,
    conversation_id     BIGINT REFERENCES conversations (id),
    channel             TEXT   NOT NULL,
    business_id         TEXT   NOT NULL,
    recipient           TEXT   NOT NULL,
    kind                TEXT   NOT NULL,
    purpose             TEXT   NOT NULL,
    payload             TEXT   NOT NULL,
    dedupe_key          TEXT UNIQUE,
    state               TEXT   NOT NULL DEFAULT 'pending',
    attempts            BIGINT NOT NULL DEFAULT 0,
    next_attempt_at     BIGINT NOT NULL,
    lease_until         BIGINT,
    provider_message_id TEXT,
    delivery_status     TEXT,
    status_rank         BIGINT NOT NULL DEFAULT 0,
    error_code          BIGINT,
    error_subcode       BIGINT,
    error_detail        TEXT,
    template_category   TEXT,
    pricing_type        TEXT,
    created_at          BIGINT NOT NULL,
    sent_at             BIGINT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_sending ON outbox (lease_until) WHERE state = 'sending';
CREATE INDEX outbox_provider ON outbox (provider_message_id);
CREATE INDEX outbox_recipient_sent ON outbox (channel, recipient, sent_at) WHERE state = 'sent';
CREATE INDEX outbox_recipient_queue ON outbox (channel, recipient, id) WHERE state IN ('pending', 'sending');
