-- TokPulse schema for PostgreSQL (and Supabase).
--
-- Timestamps are timestamptz, JSON is jsonb. Record tables keep the client's id in `record_id`
-- (unique), so a retried batch is counted as duplicates, not stored twice. Row-level security,
-- roles and grants are in 0002_row_level_security.sql.

-- One request served (PerformanceRecord).
CREATE TABLE performance_metrics (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id   text             NOT NULL UNIQUE,
    ts          timestamptz      NOT NULL,
    service     text             NOT NULL,
    method      text             NOT NULL,
    route       text             NOT NULL,
    status_code integer          NOT NULL,
    duration_ms double precision NOT NULL,
    environment text             NOT NULL,
    platform    text,
    attributes  jsonb            NOT NULL DEFAULT '{}'
);
-- The analyzers read requests by time window.
CREATE INDEX performance_metrics_ts ON performance_metrics (ts);

-- One application log line (LogRecord).
CREATE TABLE application_logs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id   text        NOT NULL UNIQUE,
    ts          timestamptz NOT NULL,
    service     text        NOT NULL,
    level       text        NOT NULL,
    message     text        NOT NULL,
    route       text,
    trace_id    text,
    attributes  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX application_logs_ts ON application_logs (ts);

-- One LLM call (AiUsageRecord).
CREATE TABLE ai_usage_metrics (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id         text             NOT NULL UNIQUE,
    ts                timestamptz      NOT NULL,
    service           text             NOT NULL,
    feature           text,
    provider          text             NOT NULL,
    model             text             NOT NULL,
    prompt_tokens     bigint           NOT NULL,
    completion_tokens bigint           NOT NULL,
    latency_ms        double precision,
    success           boolean          NOT NULL,
    error_message     text,
    cost_usd          double precision,
    attributes        jsonb            NOT NULL DEFAULT '{}'
);
CREATE INDEX ai_usage_metrics_ts ON ai_usage_metrics (ts);

-- A deployment (DeployEvent).
CREATE TABLE deployments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id   text        NOT NULL UNIQUE,
    ts          timestamptz NOT NULL,
    service     text        NOT NULL,
    environment text        NOT NULL,
    version     text        NOT NULL,
    commit_sha  text,
    author      text,
    description text
);
CREATE INDEX deployments_ts ON deployments (ts);

-- Rollups per model and window (AI perf guard).
CREATE TABLE ai_health_metrics (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model             text             NOT NULL,
    window_start      timestamptz      NOT NULL,
    window_end        timestamptz      NOT NULL,
    requests          bigint           NOT NULL,
    success_rate      double precision NOT NULL,
    avg_latency_ms    double precision,
    p95_latency_ms    double precision,
    tokens_per_second double precision,
    UNIQUE (model, window_start, window_end)
);
CREATE INDEX ai_health_metrics_window ON ai_health_metrics (window_start);

-- Month-end spend projections (cost tracking).
CREATE TABLE cost_predictions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at    timestamptz      NOT NULL,
    method        text             NOT NULL,
    period_start  timestamptz      NOT NULL,
    period_end    timestamptz      NOT NULL,
    spend_to_date double precision NOT NULL,
    projected     double precision NOT NULL,
    lower         double precision,
    upper         double precision,
    budget        double precision,
    deviation_pct double precision,
    tier          text
);
CREATE INDEX cost_predictions_created_at ON cost_predictions (created_at);

-- Embeddings of redacted text: pgvector's vector(1536) where the extension is available (and
-- may be created), real[] otherwise.
DO $$
DECLARE
    vector_type text := 'real[]';
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
            vector_type := 'vector(1536)';
        EXCEPTION WHEN insufficient_privilege OR feature_not_supported THEN
            RAISE NOTICE 'pgvector is available but cannot be created here: using real[]';
        END;
    END IF;
    EXECUTE format(
        'CREATE TABLE ai_embeddings (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source_table text        NOT NULL,
            source_id    text        NOT NULL,
            content      text        NOT NULL,
            embedding    %s          NOT NULL,
            model        text        NOT NULL,
            created_at   timestamptz NOT NULL,
            UNIQUE (source_table, source_id, model)
        )',
        vector_type
    );
END
$$;

-- What the analyzers found, one row per fingerprint.
CREATE TABLE findings (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint  text        NOT NULL UNIQUE,
    kind         text        NOT NULL,
    severity     text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('open', 'resolved')),
    title        text        NOT NULL,
    service      text        NOT NULL,
    route        text,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    evidence     jsonb       NOT NULL,
    cause        jsonb,
    suggestion   text        NOT NULL,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    occurrences  bigint      NOT NULL,
    resolved_at  timestamptz
);
CREATE INDEX findings_last_seen ON findings (last_seen);

-- The persisted action queue.
CREATE TABLE actions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id      bigint      NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    sink            text        NOT NULL,
    kind            text        NOT NULL,
    idempotency_key text        NOT NULL UNIQUE,
    payload         jsonb       NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'delivered', 'parked')),
    attempts        bigint      NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    delivered_at    timestamptz,
    external_ref    text
);
CREATE INDEX actions_due ON actions (sink, status, next_attempt_at);
CREATE INDEX actions_finding_id ON actions (finding_id);

-- API keys: the SHA-256 of the key, never the key.
CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    key_hash     text        NOT NULL UNIQUE,
    role         text        NOT NULL CHECK (role IN ('service', 'authenticated', 'anon')),
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
