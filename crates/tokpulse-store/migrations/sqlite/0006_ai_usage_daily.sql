-- Cost: AI usage summed per UTC day, so that the cost run reads a few thousand rows a month
-- instead of every call, and the month's figures outlive the raw calls' retention.

-- Per UTC day (`YYYY-MM-DD`), service, feature, model (as the calls spelled it) and route (the
-- calls' `route` attribute): calls, failed calls, prompt tokens (cached ones included), cached
-- prompt tokens (the `cached_tokens` attribute, at most the call's prompt tokens) and completion
-- tokens. A call without a feature or a route is stored under '' (a feature is a non-empty
-- label, so '' is never a real one; an empty `route` attribute names no route). The cost run
-- adds the calls not rolled up yet (`Store::commit_ai_usage_daily`) before it reads.
CREATE TABLE ai_usage_daily (
    day                  TEXT    NOT NULL,
    service              TEXT    NOT NULL,
    feature              TEXT    NOT NULL,
    model                TEXT    NOT NULL,
    route                TEXT    NOT NULL,
    calls                INTEGER NOT NULL,
    failed_calls         INTEGER NOT NULL,
    prompt_tokens        INTEGER NOT NULL,
    cached_prompt_tokens INTEGER NOT NULL,
    completion_tokens    INTEGER NOT NULL,
    PRIMARY KEY (day, service, feature, model, route)
) WITHOUT ROWID;

-- Whether an AI call is counted in `ai_usage_daily` yet (the calls stored before this migration
-- are not: the first roll-up counts them); the partial index holds only the calls still to roll
-- up, so it stays small. Retention never deletes a call that is not rolled up.
ALTER TABLE ai_usage_metrics ADD COLUMN rolled_up INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ai_usage_metrics_pending ON ai_usage_metrics (id) WHERE rolled_up = 0;
