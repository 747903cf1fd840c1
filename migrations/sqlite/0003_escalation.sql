-- Escalations to human agents, their event history, timers as rows, and
-- outgoing notifications.

CREATE TABLE escalations (
    id                INTEGER PRIMARY KEY,
    conversation_id   BIGINT NOT NULL REFERENCES conversations (id),
    turn_id           BIGINT,
    queue             TEXT   NOT NULL,
    priority          TEXT   NOT NULL,
    reason            TEXT   NOT NULL,
    triage_class      TEXT,
    triage_confidence REAL,
    triage_reason     TEXT,
    state             TEXT   NOT NULL,
    assigned_to       TEXT,
    created_at        BIGINT NOT NULL,
    sla_due_at        BIGINT NOT NULL,
    deadline_at       BIGINT NOT NULL,
    deadline_bound    TEXT   NOT NULL,
    window_closes_at  BIGINT,
    first_response_at BIGINT,
    resolved_at       BIGINT,
    updated_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX escalations_one_open ON escalations (conversation_id) WHERE state <> 'resolved';
CREATE INDEX escalations_queue ON escalations (queue, state, deadline_at);
CREATE INDEX escalations_deadline ON escalations (state, deadline_at);

CREATE TABLE escalation_events (
    id            INTEGER PRIMARY KEY,
    escalation_id BIGINT NOT NULL REFERENCES escalations (id),
    at            BIGINT NOT NULL,
    kind          TEXT   NOT NULL,
    actor         TEXT,
    detail        TEXT
);
CREATE INDEX escalation_events_by_escalation ON escalation_events (escalation_id, id);

CREATE TABLE timers (
    id              INTEGER PRIMARY KEY,
    kind            TEXT   NOT NULL,
    escalation_id   BIGINT REFERENCES escalations (id),
    conversation_id BIGINT REFERENCES conversations (id),
    due_at          BIGINT NOT NULL,
    state           TEXT   NOT NULL DEFAULT 'pending',
    lease_until     BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    dedupe_key      TEXT UNIQUE,
    payload         TEXT,
    created_at      BIGINT NOT NULL,
    fired_at        BIGINT
);
CREATE INDEX timers_due ON timers (due_at) WHERE state = 'pending';
CREATE INDEX timers_running ON timers (lease_until) WHERE state = 'running';
CREATE INDEX timers_escalation ON timers (escalation_id) WHERE state = 'pending';

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    event           TEXT   NOT NULL,
    payload         TEXT   NOT NULL,
    dedupe_key      TEXT UNIQUE,
    state           TEXT   NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
