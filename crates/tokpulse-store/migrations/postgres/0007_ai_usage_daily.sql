-- Cost: AI usage summed per UTC day, so that the cost run reads a few thousand rows a month
-- instead of every call, and the month's figures outlive the raw calls' retention. With the
-- same row-level security as 0002_row_level_security.sql: service_role everything;
-- authenticated and anon nothing.

-- Per UTC day, service, feature, model (as the calls spelled it) and route (the calls' `route`
-- attribute): calls, failed calls, prompt tokens (cached ones included), cached prompt tokens
-- (the `cached_tokens` attribute, at most the call's prompt tokens) and completion tokens. A
-- call without a feature or a route is stored under '' (a feature is a non-empty label, so ''
-- is never a real one; an empty `route` attribute names no route). The cost run adds the calls
-- not rolled up yet (`Store::commit_ai_usage_daily`) before it reads.
CREATE TABLE ai_usage_daily (
    day                  date   NOT NULL,
    service              text   NOT NULL,
    feature              text   NOT NULL,
    model                text   NOT NULL,
    route                text   NOT NULL,
    calls                bigint NOT NULL,
    failed_calls         bigint NOT NULL,
    prompt_tokens        bigint NOT NULL,
    cached_prompt_tokens bigint NOT NULL,
    completion_tokens    bigint NOT NULL,
    PRIMARY KEY (day, service, feature, model, route)
);

-- Whether an AI call is counted in `ai_usage_daily` yet (the calls stored before this migration
-- are not: the first roll-up counts them); the partial index holds only the calls still to roll
-- up, so it stays small. Retention never deletes a call that is not rolled up.
ALTER TABLE ai_usage_metrics ADD COLUMN rolled_up boolean NOT NULL DEFAULT false;
CREATE INDEX ai_usage_metrics_pending ON ai_usage_metrics (id) WHERE NOT rolled_up;

-- ai_usage_daily
ALTER TABLE ai_usage_daily ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE ai_usage_daily FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ai_usage_daily TO service_role;
CREATE POLICY service_role_all ON ai_usage_daily AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);
