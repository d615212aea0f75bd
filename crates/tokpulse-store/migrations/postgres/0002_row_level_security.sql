-- Row-level security with Supabase's roles (DESIGN.md, Data):
--
--   service_role   full access to every table
--   authenticated  read-only access to ai_embeddings, nothing else
--   anon           nothing
--
-- The roles already exist on Supabase; on plain PostgreSQL they are created here (NOLOGIN: log in
-- as a role that is a member of one). RLS is enabled on every table, including sqlx's
-- bookkeeping table, and privileges are revoked explicitly, so that Supabase's default
-- privileges (which grant everything on new tables in `public` to anon and authenticated) open
-- nothing. A table added by a later migration must repeat the pattern below.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['service_role', 'authenticated', 'anon'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                -- Created concurrently by a migration of another database in this cluster.
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- Let the roles reach the schema the tables are in (already so on Supabase and for `public`).
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO service_role, authenticated', current_schema());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot grant usage on schema %: grant it to service_role and authenticated',
        current_schema();
END
$$;

-- performance_metrics
ALTER TABLE performance_metrics ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE performance_metrics FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE performance_metrics TO service_role;
CREATE POLICY service_role_all ON performance_metrics AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- application_logs
ALTER TABLE application_logs ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE application_logs FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE application_logs TO service_role;
CREATE POLICY service_role_all ON application_logs AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- ai_usage_metrics
ALTER TABLE ai_usage_metrics ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE ai_usage_metrics FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ai_usage_metrics TO service_role;
CREATE POLICY service_role_all ON ai_usage_metrics AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- ai_health_metrics
ALTER TABLE ai_health_metrics ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE ai_health_metrics FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ai_health_metrics TO service_role;
CREATE POLICY service_role_all ON ai_health_metrics AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- cost_predictions
ALTER TABLE cost_predictions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE cost_predictions FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE cost_predictions TO service_role;
CREATE POLICY service_role_all ON cost_predictions AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- ai_embeddings
ALTER TABLE ai_embeddings ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE ai_embeddings FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ai_embeddings TO service_role;
CREATE POLICY service_role_all ON ai_embeddings AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

GRANT SELECT ON TABLE ai_embeddings TO authenticated;
CREATE POLICY authenticated_read ON ai_embeddings AS PERMISSIVE FOR SELECT TO authenticated
    USING (true);

-- deployments
ALTER TABLE deployments ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE deployments FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE deployments TO service_role;
CREATE POLICY service_role_all ON deployments AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- findings
ALTER TABLE findings ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE findings FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE findings TO service_role;
CREATE POLICY service_role_all ON findings AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- actions
ALTER TABLE actions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE actions FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE actions TO service_role;
CREATE POLICY service_role_all ON actions AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- api_keys
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE api_keys FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE api_keys TO service_role;
CREATE POLICY service_role_all ON api_keys AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- _sqlx_migrations
ALTER TABLE _sqlx_migrations ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE _sqlx_migrations FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE _sqlx_migrations TO service_role;
CREATE POLICY service_role_all ON _sqlx_migrations AS PERMISSIVE FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- Identity sequences: service_role inserts rows; nobody else does.
REVOKE ALL ON SEQUENCE performance_metrics_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE performance_metrics_id_seq TO service_role;
REVOKE ALL ON SEQUENCE application_logs_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE application_logs_id_seq TO service_role;
REVOKE ALL ON SEQUENCE ai_usage_metrics_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE ai_usage_metrics_id_seq TO service_role;
REVOKE ALL ON SEQUENCE ai_health_metrics_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE ai_health_metrics_id_seq TO service_role;
REVOKE ALL ON SEQUENCE cost_predictions_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE cost_predictions_id_seq TO service_role;
REVOKE ALL ON SEQUENCE ai_embeddings_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE ai_embeddings_id_seq TO service_role;
REVOKE ALL ON SEQUENCE deployments_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE deployments_id_seq TO service_role;
REVOKE ALL ON SEQUENCE findings_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE findings_id_seq TO service_role;
REVOKE ALL ON SEQUENCE actions_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE actions_id_seq TO service_role;
REVOKE ALL ON SEQUENCE api_keys_id_seq FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE api_keys_id_seq TO service_role;
