-- Automation: the scheduler's runs and the webhook deliveries already taken.

-- One row per job and scheduled slot. The unique (job, scheduled_for) is the claim: whoever
-- inserts the row runs the slot. A `running` row whose lease has expired (its process died)
-- may be claimed again by another process.
CREATE TABLE job_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job           TEXT    NOT NULL,
    scheduled_for INTEGER NOT NULL,
    cause         TEXT    NOT NULL CHECK (cause IN ('schedule', 'manual', 'event')),
    owner         TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    lease_until   INTEGER NOT NULL,
    finished_at   INTEGER,
    status        TEXT    NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    error         TEXT,
    summary       TEXT,
    UNIQUE (job, scheduled_for)
);
CREATE INDEX job_runs_job_slot ON job_runs (job, scheduled_for DESC);

-- Webhook deliveries by source (`github`, `vercel`) and delivery id: a redelivery is answered
-- `duplicate` and not processed again.
CREATE TABLE webhook_deliveries (
    source      TEXT    NOT NULL,
    delivery_id TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
