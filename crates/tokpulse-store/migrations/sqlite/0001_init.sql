-- TokPulse schema for SQLite.
--
-- Timestamps are INTEGER unix milliseconds (UTC); JSON is TEXT. Record tables keep the client's
-- id in `record_id` (unique), so a retried batch is counted as duplicates, not stored twice.
-- Only this crate writes these tables, and only with records that passed the privacy guard.

-- One request served (PerformanceRecord).
CREATE TABLE performance_metrics (
    id          INTEGER PRIMARY KEY,
    record_id   TEXT    NOT NULL UNIQUE,
    ts          INTEGER NOT NULL,
    service     TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    route       TEXT    NOT NULL,
    status_code INTEGER NOT NULL,
    duration_ms REAL    NOT NULL,
    environment TEXT    NOT NULL,
    platform    TEXT,
    attributes  TEXT    NOT NULL DEFAULT '{}'
);
-- The analyzers read requests by time window.
CREATE INDEX performance_metrics_ts ON performance_metrics (ts);

-- One application log line (LogRecord).
CREATE TABLE application_logs (
    id          INTEGER PRIMARY KEY,
    record_id   TEXT    NOT NULL UNIQUE,
    ts          INTEGER NOT NULL,
    service     TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    route       TEXT,
    trace_id    TEXT,
    attributes  TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX application_logs_ts ON application_logs (ts);

-- One LLM call (AiUsageRecord).
CREATE TABLE ai_usage_metrics (
    id                INTEGER PRIMARY KEY,
    record_id         TEXT    NOT NULL UNIQUE,
    ts                INTEGER NOT NULL,
    service           TEXT    NOT NULL,
    feature           TEXT,
    provider          TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_ms        REAL,
    success           INTEGER NOT NULL,
    error_message     TEXT,
    cost_usd          REAL,
    attributes        TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX ai_usage_metrics_ts ON ai_usage_metrics (ts);

-- A deployment (DeployEvent).
CREATE TABLE deployments (
    id          INTEGER PRIMARY KEY,
    record_id   TEXT    NOT NULL UNIQUE,
    ts          INTEGER NOT NULL,
    service     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    commit_sha  TEXT,
    author      TEXT,
    description TEXT
);
CREATE INDEX deployments_ts ON deployments (ts);

-- Rollups per model and window (AI perf guard).
CREATE TABLE ai_health_metrics (
    id                INTEGER PRIMARY KEY,
    model             TEXT    NOT NULL,
    window_start      INTEGER NOT NULL,
    window_end        INTEGER NOT NULL,
    requests          INTEGER NOT NULL,
    success_rate      REAL    NOT NULL,
    avg_latency_ms    REAL,
    p95_latency_ms    REAL,
    tokens_per_second REAL,
    UNIQUE (model, window_start, window_end)
);
CREATE INDEX ai_health_metrics_window ON ai_health_metrics (window_start);

-- Month-end spend projections (cost tracking).
CREATE TABLE cost_predictions (
    id            INTEGER PRIMARY KEY,
    created_at    INTEGER NOT NULL,
    method        TEXT    NOT NULL,
    period_start  INTEGER NOT NULL,
    period_end    INTEGER NOT NULL,
    spend_to_date REAL    NOT NULL,
    projected     REAL    NOT NULL,
    lower         REAL,
    upper         REAL,
    budget        REAL,
    deviation_pct REAL,
    tier          TEXT
);
CREATE INDEX cost_predictions_created_at ON cost_predictions (created_at);

-- Embeddings of redacted text; `embedding` is little-endian f32s.
CREATE TABLE ai_embeddings (
    id           INTEGER PRIMARY KEY,
    source_table TEXT    NOT NULL,
    source_id    TEXT    NOT NULL,
    content      TEXT    NOT NULL,
    embedding    BLOB    NOT NULL,
    model        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (source_table, source_id, model)
);

-- What the analyzers found, one row per fingerprint.
CREATE TABLE findings (
    id           INTEGER PRIMARY KEY,
    fingerprint  TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('open', 'resolved')),
    title        TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    route        TEXT,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    evidence     TEXT    NOT NULL,
    cause        TEXT,
    suggestion   TEXT    NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    occurrences  INTEGER NOT NULL,
    resolved_at  INTEGER
);
CREATE INDEX findings_last_seen ON findings (last_seen);

-- The persisted action queue.
CREATE TABLE actions (
    id              INTEGER PRIMARY KEY,
    finding_id      INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    sink            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'parked')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    external_ref    TEXT
);
CREATE INDEX actions_due ON actions (sink, status, next_attempt_at);
CREATE INDEX actions_finding_id ON actions (finding_id);

-- API keys: the SHA-256 of the key, never the key.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    key_hash     TEXT    NOT NULL UNIQUE,
    role         TEXT    NOT NULL CHECK (role IN ('service', 'authenticated', 'anon')),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
