-- The privacy audit, the ledger of blocked records, and data-subject requests, with the same
-- row-level security as 0002_row_level_security.sql: service_role everything; authenticated and
-- anon nothing.

-- What the privacy guard did, per UTC day of the records, source (record kind), entity type and
-- action (redacted, hashed, blocked): counts only, never values. `insert_batch` adds the counts
-- of the rows it writes in the same transaction.
CREATE TABLE privacy_audit (
    day    date   NOT NULL,
    source text   NOT NULL,
    entity text   NOT NULL,
    action text   NOT NULL CHECK (action IN ('redacted', 'hashed', 'blocked')),
    count  bigint NOT NULL,
    PRIMARY KEY (day, source, entity, action)
);

-- Records the guard refused, by the client's id, so that a retried batch does not count them
-- twice in the audit. No content: the id, the day and the entity type.
CREATE TABLE privacy_blocked (
    source    text NOT NULL,
    record_id text NOT NULL,
    day       date NOT NULL,
    entity    text NOT NULL,
    PRIMARY KEY (source, record_id)
);
CREATE INDEX privacy_blocked_day ON privacy_blocked (day);

-- Forget and export requests carried out: the person's token (never the value), what was done
-- per table, and when. Kept for compliance.
CREATE TABLE privacy_requests (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind   text        NOT NULL CHECK (kind IN ('forget', 'export')),
    token  text        NOT NULL,
    counts jsonb       NOT NULL,
    at     timestamptz NOT NULL
);
CREATE INDEX privacy_requests_at ON privacy_requests (at);

-- Retention deletes by age.
CREATE INDEX ai_embeddings_created_at ON ai_embeddings (created_at);
CREATE INDEX actions_created_at ON actions (created_at);

-- privacy_audit
ALTER TABLE privacy_audit ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE privacy_audit FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE privacy_audit TO service_role;
CREATE POLICY service_role_all ON privacy_audit AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- privacy_blocked
ALTER TABLE privacy_blocked ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE privacy_blocked FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE privacy_blocked TO service_role;
CREATE POLICY service_role_all ON privacy_blocked AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- privacy_requests
ALTER TABLE privacy_requests ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE privacy_requests FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE privacy_requests TO service_role;
CREATE POLICY service_role_all ON privacy_requests AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

REVOKE ALL ON SEQUENCE privacy_requests_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE privacy_requests_id_seq TO service_role;
