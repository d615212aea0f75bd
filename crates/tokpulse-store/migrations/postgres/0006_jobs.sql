-- Automation: the scheduler's runs and the webhook deliveries already taken, with the same
-- row-level security as 0002_row_level_security.sql: service_role everything; authenticated
-- and anon nothing.

-- One row per job and scheduled slot. The unique (job, scheduled_for) is the claim: of several
-- replicas, the one whose insert succeeds runs the slot. A `running` row whose lease has
-- expired (its replica died) may be claimed again.
CREATE TABLE job_runs (
    id            bigserial   PRIMARY KEY,
    job           text        NOT NULL,
    scheduled_for timestamptz NOT NULL,
    cause         text        NOT NULL CHECK (cause IN ('schedule', 'manual', 'event')),
    owner         text        NOT NULL,
    started_at    timestamptz NOT NULL,
    lease_until   timestamptz NOT NULL,
    finished_at   timestamptz,
    status        text        NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    error         text,
    summary       text,
    UNIQUE (job, scheduled_for)
);
CREATE INDEX job_runs_job_slot ON job_runs (job, scheduled_for DESC);

-- Webhook deliveries by source (`github`, `vercel`) and delivery id: a redelivery is answered
-- `duplicate` and not processed again.
CREATE TABLE webhook_deliveries (
    source      text        NOT NULL,
    delivery_id text        NOT NULL,
    event       text        NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

-- job_runs
ALTER TABLE job_runs ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE job_runs FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE job_runs TO service_role;
REVOKE ALL ON SEQUENCE job_runs_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE job_runs_id_seq TO service_role;
CREATE POLICY service_role_all ON job_runs AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- webhook_deliveries
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE webhook_deliveries FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE webhook_deliveries TO service_role;
CREATE POLICY service_role_all ON webhook_deliveries AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);
