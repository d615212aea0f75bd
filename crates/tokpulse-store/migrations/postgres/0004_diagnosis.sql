-- Self-diagnosis: request rollups, CI runs and jobs, and the detectors' state, with the same
-- row-level security as 0002_row_level_security.sql: service_role everything; authenticated
-- and anon nothing.

-- Per service, route (`METHOD route`), resolution (`minute`, `hour`, `day`) and bucket start:
-- the request count, the error count (5xx) and the latency sketch in tokpulse-analyze's rollup
-- byte format. The engine's rollup step builds them from the performance rows not rolled up
-- yet, so ingest does no sketch work.
CREATE TABLE request_rollups (
    service      text        NOT NULL,
    route        text        NOT NULL,
    resolution   text        NOT NULL CHECK (resolution IN ('minute', 'hour', 'day')),
    bucket_start timestamptz NOT NULL,
    requests     bigint      NOT NULL,
    errors       bigint      NOT NULL,
    sketch       bytea       NOT NULL,
    PRIMARY KEY (resolution, bucket_start, service, route)
);

-- Whether a performance row is counted in the rollups yet; the partial index holds only the
-- rows still to roll up, so it stays small.
ALTER TABLE performance_metrics ADD COLUMN rolled_up boolean NOT NULL DEFAULT false;
CREATE INDEX performance_metrics_pending ON performance_metrics (id) WHERE NOT rolled_up;

-- GitHub Actions workflow runs (`workflow_run` payloads), one row per run id and attempt. The
-- (guarded) payload is kept as JSON; `ts` orders them and `status_rank` keeps a late `queued`
-- webhook from overwriting a `completed` one.
CREATE TABLE ci_runs (
    id          bigint      NOT NULL,
    run_attempt integer     NOT NULL,
    ts          timestamptz NOT NULL,
    status_rank integer     NOT NULL,
    repository  text,
    payload     jsonb       NOT NULL,
    PRIMARY KEY (id, run_attempt)
);
CREATE INDEX ci_runs_ts ON ci_runs (ts);

-- GitHub Actions jobs (`workflow_job` payloads), one row per job id and run attempt.
CREATE TABLE ci_jobs (
    id          bigint      NOT NULL,
    run_attempt integer     NOT NULL,
    run_id      bigint      NOT NULL,
    ts          timestamptz NOT NULL,
    status_rank integer     NOT NULL,
    repository  text,
    payload     jsonb       NOT NULL,
    PRIMARY KEY (id, run_attempt)
);
CREATE INDEX ci_jobs_ts ON ci_jobs (ts);

-- What the detectors carry from one run to the next (hysteresis per fingerprint, deploys
-- already checked…), as JSON by key.
CREATE TABLE detector_state (
    key        text        PRIMARY KEY,
    state      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL
);

-- request_rollups
ALTER TABLE request_rollups ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE request_rollups FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE request_rollups TO service_role;
CREATE POLICY service_role_all ON request_rollups AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- ci_runs
ALTER TABLE ci_runs ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE ci_runs FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ci_runs TO service_role;
CREATE POLICY service_role_all ON ci_runs AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- ci_jobs
ALTER TABLE ci_jobs ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE ci_jobs FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ci_jobs TO service_role;
CREATE POLICY service_role_all ON ci_jobs AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- detector_state
ALTER TABLE detector_state ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE detector_state FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE detector_state TO service_role;
CREATE POLICY service_role_all ON detector_state AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);
