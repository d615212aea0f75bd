-- Self-diagnosis: request rollups, CI runs and jobs, and the detectors' state.

-- Per service, route (`METHOD route`), resolution (`minute`, `hour`, `day`) and bucket start
-- (unix ms): the request count, the error count (5xx) and the latency sketch in
-- tokpulse-analyze's rollup byte format. The engine's rollup step builds them from the
-- performance rows not rolled up yet, so ingest does no sketch work.
CREATE TABLE request_rollups (
    service      TEXT    NOT NULL,
    route        TEXT    NOT NULL,
    resolution   TEXT    NOT NULL CHECK (resolution IN ('minute', 'hour', 'day')),
    bucket_start INTEGER NOT NULL,
    requests     INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    sketch       BLOB    NOT NULL,
    PRIMARY KEY (resolution, bucket_start, service, route)
) WITHOUT ROWID;

-- Whether a performance row is counted in the rollups yet; the partial index holds only the
-- rows still to roll up, so it stays small.
ALTER TABLE performance_metrics ADD COLUMN rolled_up INTEGER NOT NULL DEFAULT 0;
CREATE INDEX performance_metrics_pending ON performance_metrics (id) WHERE rolled_up = 0;

-- GitHub Actions workflow runs (`workflow_run` payloads), one row per run id and attempt. The
-- (guarded) payload is kept as JSON; `ts` orders them and `status_rank` keeps a late `queued`
-- webhook from overwriting a `completed` one.
CREATE TABLE ci_runs (
    id          INTEGER NOT NULL,
    run_attempt INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    status_rank INTEGER NOT NULL,
    repository  TEXT,
    payload     TEXT    NOT NULL,
    PRIMARY KEY (id, run_attempt)
);
CREATE INDEX ci_runs_ts ON ci_runs (ts);

-- GitHub Actions jobs (`workflow_job` payloads), one row per job id and run attempt.
CREATE TABLE ci_jobs (
    id          INTEGER NOT NULL,
    run_attempt INTEGER NOT NULL,
    run_id      INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    status_rank INTEGER NOT NULL,
    repository  TEXT,
    payload     TEXT    NOT NULL,
    PRIMARY KEY (id, run_attempt)
);
CREATE INDEX ci_jobs_ts ON ci_jobs (ts);

-- What the detectors carry from one run to the next (hysteresis per fingerprint, deploys
-- already checked…), as JSON by key.
CREATE TABLE detector_state (
    key        TEXT    PRIMARY KEY,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
