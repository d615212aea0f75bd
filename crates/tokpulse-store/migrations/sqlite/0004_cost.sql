-- Cost tracking: infrastructure usage records (Vercel, Supabase), what each cost prediction is
-- about, and the index the month's AI usage is read by.

-- One usage figure of one provider for one period (a day, usually): `quantity` of `metric`
-- (requests, bandwidth_gb, function_gb_hours, db_size_gb, storage_gb, egress_gb…) on `plan`.
-- `record_id` is the client's id (or the puller's), so a retried batch adds nothing.
CREATE TABLE infra_usage (
    id           INTEGER PRIMARY KEY,
    record_id    TEXT    NOT NULL UNIQUE,
    provider     TEXT    NOT NULL CHECK (provider IN ('vercel', 'supabase')),
    project      TEXT    NOT NULL,
    metric       TEXT    NOT NULL,
    quantity     REAL    NOT NULL,
    period_start INTEGER NOT NULL,
    period_end   INTEGER NOT NULL,
    plan         TEXT,
    ingested_at  INTEGER NOT NULL
);
CREATE INDEX infra_usage_period_start ON infra_usage (period_start);

-- The budget a prediction is compared against: `project`, `feature:<name>` or `model:<name>`.
ALTER TABLE cost_predictions ADD COLUMN scope TEXT NOT NULL DEFAULT 'project';
