-- The conversation pipeline: one row per customer turn (one or more
-- coalesced messages) with its triage and reply, and a per-conversation
-- processing lease so no two workers handle one conversation at once.

ALTER TABLE conversations ADD COLUMN processing_until BIGINT;

CREATE TABLE turns (
    id               BIGSERIAL PRIMARY KEY,
    conversation_id  BIGINT NOT NULL REFERENCES conversations (id),
    first_message_id BIGINT NOT NULL UNIQUE,
    customer_text    TEXT   NOT NULL,
    lang             TEXT,
    class            TEXT,
    confidence       DOUBLE PRECISION,
    reason           TEXT,
    triage_source    TEXT,
    decision         TEXT   NOT NULL,
    escalate         BIGINT NOT NULL DEFAULT 0,
    queue            TEXT,
    articles         TEXT   NOT NULL DEFAULT '[]',
    reply_text       TEXT,
    reply_outbox_id  BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX turns_conversation ON turns (conversation_id, id);
CREATE INDEX messages_unprocessed ON messages (received_at) WHERE triggers_reply AND turn_id IS NULL;
