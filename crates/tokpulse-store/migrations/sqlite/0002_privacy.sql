-- The privacy audit, the ledger of blocked records, and data-subject requests.

-- What the privacy guard did, per UTC day of the records, source (record kind), entity type and
-- action (redacted, hashed, blocked): counts only, never values. `insert_batch` adds the counts
-- of the rows it writes in the same transaction.
CREATE TABLE privacy_audit (
    day    TEXT    NOT NULL,
    source TEXT    NOT NULL,
    entity TEXT    NOT NULL,
    action TEXT    NOT NULL CHECK (action IN ('redacted', 'hashed', 'blocked')),
    count  INTEGER NOT NULL,
    PRIMARY KEY (day, source, entity, action)
);

-- Records the guard refused, by the client's id, so that a retried batch does not count them
-- twice in the audit. No content: the id, the day and the entity type.
CREATE TABLE privacy_blocked (
    source    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    day       TEXT NOT NULL,
    entity    TEXT NOT NULL,
    PRIMARY KEY (source, record_id)
);
CREATE INDEX privacy_blocked_day ON privacy_blocked (day);

-- Forget and export requests carried out: the person's token (never the value), what was done
-- per table (JSON), and when. Kept for compliance.
CREATE TABLE privacy_requests (
    id     INTEGER PRIMARY KEY,
    kind   TEXT    NOT NULL CHECK (kind IN ('forget', 'export')),
    token  TEXT    NOT NULL,
    counts TEXT    NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX privacy_requests_at ON privacy_requests (at);

-- Retention deletes by age.
CREATE INDEX ai_embeddings_created_at ON ai_embeddings (created_at);
CREATE INDEX actions_created_at ON actions (created_at);
