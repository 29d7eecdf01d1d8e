-- ---------------------------------------------------------------------
-- Internal functions (their names start with "_") are not executable by
-- PUBLIC.  The extension's own SQL functions that need them are written
-- in C and call them through the function manager (privilege.c), or are
-- SECURITY DEFINER; trigger functions fire whatever their EXECUTE
-- privilege; aggregates' support functions are checked against the
-- aggregate's owner.  What a view's batches (run as the view's owner),
-- the monitoring views and hop() evaluate as their caller is built in or
-- public: seen(), covers(), snapshot_before(), hop_windows(), backlog()
-- (test/sql/internal_privileges.sql checks each).
-- ---------------------------------------------------------------------

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'stream_ext'::regnamespace AND p.proname LIKE '\_%'
              ORDER BY p.oid LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

SELECT stream_ext._wake_launcher();
