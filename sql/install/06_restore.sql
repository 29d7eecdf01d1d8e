-- ---------------------------------------------------------------------
-- Restoring into another cluster (restore.c): the transaction ids held by
-- restored tags, progress and segment bounds, renumbered
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext._rebase_xid(xid int8, bounds int8[])
RETURNS int8
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_rebase_xid';
COMMENT ON FUNCTION stream_ext._rebase_xid(int8, int8[]) IS
    'internal: a transaction id renumbered by its place among the sorted bounds';

CREATE FUNCTION stream_ext._rebase_tag(tag int8, bounds int8[])
RETURNS int8
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_rebase_tag';
COMMENT ON FUNCTION stream_ext._rebase_tag(int8, int8[]) IS
    'internal: an event''s tag with its transaction id renumbered, its slot kept';

CREATE FUNCTION stream_ext._rebase_snapshot(snapshot pg_snapshot, bounds int8[])
RETURNS pg_snapshot
LANGUAGE sql IMMUTABLE STRICT
AS $$
SELECT (stream_ext._rebase_xid(pg_catalog.pg_snapshot_xmin(snapshot)::pg_catalog.text::pg_catalog.int8, bounds)
        OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||)
        stream_ext._rebase_xid(pg_catalog.pg_snapshot_xmax(snapshot)::pg_catalog.text::pg_catalog.int8, bounds)
        OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||)
        coalesce((SELECT pg_catalog.string_agg(stream_ext._rebase_xid(x::pg_catalog.text::pg_catalog.int8,
                                                                      bounds)::pg_catalog.text,
                                               ',' ORDER BY x)
                    FROM pg_catalog.pg_snapshot_xip(snapshot) x), ''))::pg_catalog.pg_snapshot
$$;
COMMENT ON FUNCTION stream_ext._rebase_snapshot(pg_snapshot, int8[]) IS
    'internal: a progress snapshot with its transaction ids renumbered';

-- One stream: its events, its views' progress and its segment bounds, in
-- the caller's transaction.  stream_ext.restoring lets the UPDATE through
-- the stream's append-only trigger and tag check.
CREATE FUNCTION stream_ext._rebase_stream(rel regclass, OUT events bigint, OUT views integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET stream_ext.restoring = on
AS $$
DECLARE
    bounds int8[];
    room   int8;
BEGIN
    -- Writers are refused and batches and pruning skip the stream until it
    -- is rebased; the locks keep a late pg_restore COPY or DDL out.
    EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', rel);
    PERFORM 1 FROM stream_ext.stream s WHERE s.relid = rel FOR UPDATE;
    SELECT count(*) INTO views
      FROM (SELECT 1 FROM stream_ext.continuous_view c WHERE c.stream = rel FOR UPDATE) v;

    -- (None for a stream without views and retired segments: every event
    -- is then one not yet consumed.)
    SELECT coalesce(array_agg(b.x::text::int8 ORDER BY b.x), '{}') INTO bounds
      FROM (SELECT pg_snapshot_xmin(c.progress) FROM stream_ext.continuous_view c WHERE c.stream = rel
            UNION
            SELECT pg_snapshot_xmax(c.progress) FROM stream_ext.continuous_view c WHERE c.stream = rel
            UNION
            SELECT pg_snapshot_xip(c.progress) FROM stream_ext.continuous_view c WHERE c.stream = rel
            UNION
            SELECT g.retired_before FROM stream_ext.segment g
             WHERE g.stream = rel AND g.retired_before IS NOT NULL) b(x);

    -- The new ids must all be below every snapshot from now on.
    room := pg_snapshot_xmin(pg_current_snapshot())::text::int8;
    IF 3 + 2 * cardinality(bounds) >= room THEN
        RAISE EXCEPTION 'too few transaction ids below the oldest running transaction to rebase stream %', rel
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The renumbering needs %s ids, the oldest running transaction is %s.',
                                  3 + 2 * cardinality(bounds), room),
                  HINT = 'End long-running transactions, run a few more, and try again.';
    END IF;

    EXECUTE format('UPDATE %s SET stream_ext_tx = stream_ext._rebase_tag(stream_ext_tx, $1)', rel)
      USING bounds;
    GET DIAGNOSTICS events = ROW_COUNT;
    UPDATE stream_ext.continuous_view c
       SET progress = stream_ext._rebase_snapshot(c.progress, bounds)
     WHERE c.stream = rel;
    UPDATE stream_ext.segment g
       SET retired_before = stream_ext._rebase_xid(g.retired_before::text::int8, bounds)::text::xid8
     WHERE g.stream = rel AND g.retired_before IS NOT NULL;
    UPDATE stream_ext.stream s SET system_identifier = (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc)
     WHERE s.relid = rel;
END;
$$;
REVOKE ALL ON FUNCTION stream_ext._rebase_stream(regclass) FROM PUBLIC;

CREATE FUNCTION stream_ext.finish_restore()
RETURNS TABLE (stream regclass, events bigint, views integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel regclass;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'permission denied to finish a restore'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Renumbering the events of restored streams needs a superuser, as restoring them does.',
                  HINT = 'Run it as the superuser that ran pg_restore.';
    END IF;
    FOR rel IN SELECT s.relid FROM stream_ext.stream s
                WHERE s.system_identifier <> (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc)
                ORDER BY s.relid LOOP
        stream := rel;
        SELECT r.events, r.views INTO events, views FROM stream_ext._rebase_stream(rel) r;
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION stream_ext.finish_restore() IS
    'after pg_restore into another cluster: renumbers the transaction ids the restored streams'' events and views hold, so that processing resumes exactly';

