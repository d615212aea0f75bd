-- Cost tracking: infrastructure usage records (Vercel, Supabase) and what each cost prediction
-- is about, with the same row-level security as 0002_row_level_security.sql: service_role
-- everything; authenticated and anon nothing.

-- One usage figure of one provider for one period (a day, usually): `quantity` of `metric`
-- (requests, bandwidth_gb, function_gb_hours, db_size_gb, storage_gb, egress_gb…) on `plan`.
-- `record_id` is the client's id (or the puller's), so a retried batch adds nothing.
CREATE TABLE infra_usage (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id    text             NOT NULL UNIQUE,
    provider     text             NOT NULL CHECK (provider IN ('vercel', 'supabase')),
    project      text             NOT NULL,
    metric       text             NOT NULL,
    quantity     double precision NOT NULL,
    period_start timestamptz      NOT NULL,
    period_end   timestamptz      NOT NULL,
    plan         text,
    ingested_at  timestamptz      NOT NULL
);
CREATE INDEX infra_usage_period_start ON infra_usage (period_start);

-- The budget a prediction is compared against: `project`, `feature:<name>` or `model:<name>`.
ALTER TABLE cost_predictions ADD COLUMN scope text NOT NULL DEFAULT 'project';

-- infra_usage
ALTER TABLE infra_usage ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE infra_usage FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE infra_usage TO service_role;
CREATE POLICY service_role_all ON infra_usage AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);
REVOKE ALL ON SEQUENCE infra_usage_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE infra_usage_id_seq TO service_role;
