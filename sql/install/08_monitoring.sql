-- ---------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------

-- What the views of a stream have still to consume, counted in one scan
-- of the stream whatever the number of views: a row per view, with the
-- events its progress has not seen and how long the oldest of them has
-- waited (by its arrival time, or else since the view's last batch); then
-- a row with view NULL for the stream itself, with what the view furthest
-- behind has to consume.  events_stored: the events the stream holds.
-- The counts are NULL when the caller cannot read the stream.
CREATE FUNCTION stream_ext.backlog(stream regclass,
                                   OUT view regclass, OUT events_waiting bigint,
                                   OUT lag interval, OUT events_stored bigint)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    arrival name;
    views regclass[];
    progress pg_snapshot[];
    since timestamptz[];
    waiting bigint[];
    oldest timestamptz[];
    waiting_sql text := '';
    oldest_sql text := '';
    stored bigint;
    readable boolean;
BEGIN
    SELECT s.arrival_column INTO arrival FROM stream_ext.stream s WHERE s.relid = backlog.stream;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT coalesce(array_agg(c.result ORDER BY c.result), '{}'),
           coalesce(array_agg(c.progress ORDER BY c.result), '{}'),
           coalesce(array_agg(coalesce(c.last_batch_at, c.created_at) ORDER BY c.result), '{}')
      INTO views, progress, since
      FROM stream_ext.continuous_view c WHERE c.stream = backlog.stream;
    readable := has_table_privilege(backlog.stream, 'SELECT');
    IF readable THEN
        FOR i IN 1 .. cardinality(views) LOOP
            waiting_sql := waiting_sql || CASE WHEN i > 1 THEN ', ' ELSE '' END
                || format('count(*) FILTER (WHERE NOT stream_ext.seen(stream_ext_tx, $1[%s]))', i);
            oldest_sql := oldest_sql || CASE WHEN i > 1 THEN ', ' ELSE '' END
                || CASE WHEN arrival IS NULL THEN 'NULL'
                        ELSE format('min(%I) FILTER (WHERE NOT stream_ext.seen(stream_ext_tx, $1[%s]))',
                                    arrival, i) END;
        END LOOP;
        EXECUTE format('SELECT count(*), ARRAY[%s]::bigint[], ARRAY[%s]::timestamptz[] FROM %s',
                       waiting_sql, oldest_sql, backlog.stream)
           INTO stored, waiting, oldest USING progress;
    END IF;
    events_stored := stored;
    FOR i IN 1 .. cardinality(views) LOOP
        view := views[i];
        events_waiting := waiting[i];
        lag := CASE WHEN NOT readable THEN NULL
                    WHEN arrival IS NOT NULL THEN coalesce(now() - oldest[i], interval '0')
                    WHEN waiting[i] > 0 THEN now() - since[i]
                    ELSE interval '0' END;
        RETURN NEXT;
    END LOOP;
    view := NULL;
    IF readable THEN
        SELECT coalesce(max(w), 0) INTO events_waiting FROM unnest(waiting) w;
        lag := CASE WHEN arrival IS NOT NULL THEN coalesce(now() - (SELECT min(o) FROM unnest(oldest) o), interval '0')
                    ELSE coalesce((SELECT max(now() - t) FROM unnest(waiting, since) u(w, t) WHERE w > 0),
                                  interval '0') END;
    ELSE
        events_waiting := NULL;
        lag := NULL;
    END IF;
    RETURN NEXT;
END;
$$;
COMMENT ON FUNCTION stream_ext.backlog(regclass) IS
    'what each view of a stream has still to consume, and (view NULL) the stream: counted in one scan of the stream';

-- events_waiting: what the view furthest behind has still to consume.
CREATE VIEW stream_ext.streams AS
SELECT s.relid AS stream,
       s.event_time,
       s.arrival_column,
       s.segments,
       s.created_at,
       b.events_waiting,
       s.retention,
       s.system_identifier <> (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc) AS restore_pending,
       COALESCE(s.segment_size,
                pg_catalog.pg_size_bytes(pg_catalog.current_setting('stream_ext.segment_size'))) AS segment_size,
       b.events_stored
  FROM stream_ext.stream s,
       LATERAL stream_ext.backlog(s.relid) b
 WHERE pg_catalog.has_table_privilege(s.relid, 'SELECT') AND b.view IS NULL;
COMMENT ON VIEW stream_ext.streams IS 'stream_ext: streams the current user can read';
GRANT SELECT ON stream_ext.streams TO PUBLIC;

CREATE FUNCTION stream_ext.worker_state()
RETURNS text
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'stream_ext_worker_state';
COMMENT ON FUNCTION stream_ext.worker_state() IS
    'what the worker of the current database is doing: running, starting, waiting (for a free slot, and which setting to raise), restarting, paused or disabled';

CREATE VIEW stream_ext.stats AS
SELECT c.result AS view,
       c.stream,
       CASE WHEN s.system_identifier <> (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc) THEN 'restoring'
            ELSE c.state END AS state,
       c.batches,
       c.events AS events_processed,
       c.rows_written,
       c.notifications AS notifications_sent,
       c.notifications_skipped,
       c.max_event_time,
       c.watermark,
       c.late_events,
       c.windows_closed,
       c.corrections,
       c.last_batch_at,
       b.events_waiting,
       extract(epoch FROM b.lag)::float8 AS lag_seconds,
       c.retries AS transient_errors,
       c.last_error,
       c.last_error_code,
       c.last_error_detail,
       c.last_error_hint,
       c.last_error_context,
       c.last_error_at,
       stream_ext.worker_state() AS worker,
       c.events_skipped
  FROM stream_ext.stream s,
       LATERAL stream_ext.backlog(s.relid) b
       JOIN stream_ext.continuous_view c ON c.result = b.view
 WHERE pg_catalog.has_table_privilege(c.result, 'SELECT');
COMMENT ON VIEW stream_ext.stats IS
    'stream_ext: per continuous view, what its batches did and what waits for it; counters are kept with the results and survive restarts';
GRANT SELECT ON stream_ext.stats TO PUBLIC;

-- The events views skipped, to whoever may read the view and the stream.
CREATE VIEW stream_ext.dead_letters AS
SELECT d.view, d.stream, d.event, d.error, d.error_code, d.error_detail, d.error_hint,
       d.error_context, d.failed_at
  FROM stream_ext.dead_letter d
 WHERE pg_catalog.has_table_privilege(d.view, 'SELECT')
   AND pg_catalog.has_table_privilege(d.stream, 'SELECT');
COMMENT ON VIEW stream_ext.dead_letters IS
    'stream_ext: events continuous views with on_error => ''skip'' left out, with the error their query failed with';
GRANT SELECT ON stream_ext.dead_letters TO PUBLIC;

CREATE VIEW stream_ext.workers AS
SELECT a.pid,
       a.datname AS database,
       a.backend_type,
       a.backend_start,
       a.state,
       a.query AS activity,
       a.query_start AS activity_start
  FROM pg_catalog.pg_stat_activity a
 WHERE a.backend_type IN ('stream_ext launcher', 'stream_ext worker');
COMMENT ON VIEW stream_ext.workers IS 'stream_ext: the launcher and the per-database workers, with what they run';
GRANT SELECT ON stream_ext.workers TO PUBLIC;

-- ---------------------------------------------------------------------
-- Workers: the launcher starts this database's worker once the
-- extension's creation commits.
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext._wake_launcher()
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_wake_launcher';
COMMENT ON FUNCTION stream_ext._wake_launcher() IS
    'internal: tells the launcher to start this database''s worker';

