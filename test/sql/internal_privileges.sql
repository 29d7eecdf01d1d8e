--
-- The extension's internal functions are not executable by PUBLIC: a
-- plain role calling any of them gets "permission denied", while the SQL
-- functions that use them keep working for it.  The pure functions that
-- batches, monitoring views and hop() evaluate as their caller stay
-- executable; the list below is the reviewed set, so a new function that
-- is executable by everyone shows up here.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;
\pset format unaligned

CREATE ROLE regress_internal_user;
CREATE SCHEMA internal_priv AUTHORIZATION regress_internal_user;

-- Every function of the extension's schema whose name says it is
-- internal, and whether a plain role may execute it.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('regress_internal_user', p.oid, 'EXECUTE') AS executable
  FROM pg_proc p
 WHERE p.pronamespace = 'stream_ext'::regnamespace AND p.proname LIKE '\_%'
 ORDER BY p.proname, p.oid::regprocedure::text;

-- Each one that is not executable, called as that role with NULL
-- arguments (from a subquery, so that the planner cannot fold a strict
-- function's call away): refused before it runs.  (Trigger functions cannot be called
-- at all; they fire as triggers whatever their privileges.)
CREATE FUNCTION internal_priv.call_each() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    f record;
    msg text;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS fn, p.oid,
                    (SELECT string_agg('(SELECT NULL::' || format_type(t, NULL) || ')', ', ' ORDER BY i)
                       FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, i)) AS args
               FROM pg_proc p
              WHERE p.pronamespace = 'stream_ext'::regnamespace AND p.proname LIKE '\_%'
                AND p.prokind = 'f'
                AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
                AND NOT has_function_privilege('regress_internal_user', p.oid, 'EXECUTE')
              ORDER BY p.proname LOOP
        BEGIN
            EXECUTE format('SELECT %s.%I(%s)', 'stream_ext',
                           (SELECT proname FROM pg_proc WHERE oid = f.oid),
                           replace(replace(coalesce(f.args, ''), 'NULL::anyelement', 'NULL::int'),
                                   'NULL::anyarray', 'NULL::int[]'));
            msg := 'ran';
        EXCEPTION WHEN insufficient_privilege THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        END;
        RETURN NEXT f.fn || ': ' || msg;
    END LOOP;
END
$$;
SET ROLE regress_internal_user;
SELECT * FROM internal_priv.call_each();

-- The SQL functions that need internal ones work for the role: a stream
-- (rebuilt and registered), a source, a view paused, resumed and
-- dropped, a transform, and the stream dropped with cascade.
CREATE TABLE internal_priv.events (k int, v int, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('internal_priv.events', event_time => 'ts');
CREATE TABLE internal_priv.orders (k int, v int, ts timestamptz NOT NULL);
SELECT stream_ext.attach_source('internal_priv.orders', 'internal_priv.events');
INSERT INTO internal_priv.orders VALUES (1, 10, '2026-01-01'), (2, 20, '2026-01-01'), (1, 5, '2026-01-02');
SELECT stream_ext.create_continuous_view('internal_priv.totals',
    $$SELECT k, sum(v) AS total, count(*) AS n FROM internal_priv.events GROUP BY k$$, backfill => true);
SELECT stream_ext.pause_continuous_view('internal_priv.totals');
SELECT state FROM stream_ext.continuous_views WHERE name = 'internal_priv.totals'::regclass;
SELECT stream_ext.resume_continuous_view('internal_priv.totals');
SELECT stream_ext.flush();
-- Against the oracle: the same query over the source's rows.
SELECT t.k, t.total, t.n, o.total AS oracle_total, o.n AS oracle_n
  FROM internal_priv.totals t
  FULL JOIN (SELECT k, sum(v) AS total, count(*) AS n FROM internal_priv.orders GROUP BY k) o USING (k)
 ORDER BY k;
CREATE TABLE internal_priv.copies (k int, v int);
SELECT stream_ext.create_transform('internal_priv.copy',
    $$SELECT k, v FROM internal_priv.events WHERE v > 6$$, 'internal_priv.copies', backfill => true);
SELECT stream_ext.pause_transform('internal_priv.copy');
SELECT stream_ext.resume_transform('internal_priv.copy');
SELECT stream_ext.flush();
SELECT * FROM internal_priv.copies ORDER BY k, v;
-- A transform is not a view, nor a view a transform.
SELECT stream_ext.drop_continuous_view('internal_priv.copy');
SELECT stream_ext.pause_transform('internal_priv.totals');
SELECT stream_ext.drop_transform('internal_priv.copy');
SELECT stream_ext.drop_continuous_view('internal_priv.totals');
SELECT stream_ext.create_continuous_view('internal_priv.again',
    $$SELECT count(*) AS n FROM internal_priv.events$$);
-- What batches evaluate as the view's owner is built in or public: a
-- hopping window aggregated by panes, states of internal type carried
-- from batch to batch, and batches cut at batch_size (snapshot_before):
-- four transactions wait while the view is paused, and are applied two
-- at a time once it is resumed.
SELECT stream_ext.create_continuous_view('internal_priv.hopping',
    $$SELECT w.window_start, w.window_end, count(*) AS n, avg(v::numeric) AS mean
        FROM internal_priv.events, LATERAL stream_ext.hop(ts, '2 days', '1 day') w
       GROUP BY w.window_start, w.window_end$$, batch_size => 2);
SELECT stream_ext.pause_continuous_view('internal_priv.hopping');
INSERT INTO internal_priv.events VALUES (1, 1, '2026-02-01 10:00');
INSERT INTO internal_priv.events VALUES (2, 2, '2026-02-01 11:00');
INSERT INTO internal_priv.events VALUES (3, 4, '2026-02-02 10:00');
INSERT INTO internal_priv.events VALUES (4, 8, '2026-02-03 10:00');
-- The monitoring views, as the role: four events wait for the view.
SELECT view, events_waiting FROM stream_ext.stats WHERE view = 'internal_priv.hopping'::regclass;
SELECT stream, events_waiting, events_stored FROM stream_ext.streams;
SELECT stream_ext.resume_continuous_view('internal_priv.hopping');
SELECT stream_ext.flush();
INSERT INTO internal_priv.events VALUES (5, 16, '2026-02-02 12:00');
SELECT stream_ext.flush();
SELECT batches >= 3 AS cut, events_waiting FROM stream_ext.stats WHERE view = 'internal_priv.hopping'::regclass;
-- Against the oracle: the same query over the events written since the
-- view was created (those of February).
SELECT h.window_start, h.n, h.mean, o.n AS oracle_n, o.mean AS oracle_mean
  FROM internal_priv.hopping h
  FULL JOIN (SELECT w.window_start, count(*) AS n, avg(v::numeric) AS mean
               FROM internal_priv.events, LATERAL stream_ext.hop(ts, '2 days', '1 day') w
              WHERE ts >= '2026-02-01' GROUP BY w.window_start) o USING (window_start)
 ORDER BY 1;
SELECT stream_ext.hop_windows('2 days', '1 day') AS windows_per_event;
SET client_min_messages = warning;  -- the NOTICE names OIDs
SELECT stream_ext.drop_stream('internal_priv.events', cascade => true);
RESET client_min_messages;
-- No catalog entry left behind, for a dropped table or in the schema.
SELECT count(*) AS views_left FROM stream_ext.continuous_view c
 WHERE NOT EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = c.result)
    OR (SELECT relnamespace FROM pg_class r WHERE r.oid = c.result) = 'internal_priv'::regnamespace;
SELECT count(*) AS streams_left FROM stream_ext.stream s
 WHERE NOT EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = s.relid);
RESET ROLE;

DROP SCHEMA internal_priv CASCADE;
DROP ROLE regress_internal_user;
