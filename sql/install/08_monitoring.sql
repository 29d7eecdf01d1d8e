-- ---------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------

-- The events a stream holds (counted: a scan of the stream).
CREATE FUNCTION stream_ext._events_stored(stream regclass)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', stream) INTO n;
    RETURN n;
END;
$$;

-- What a view has still to consume: the events of its stream its progress
-- has not seen, and how long the oldest of them has waited (by its arrival
-- time, or else since the view's last batch).  NULL when the caller cannot
-- read the stream.
CREATE FUNCTION stream_ext._view_backlog(view regclass,
                                         OUT events_waiting bigint, OUT lag interval)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    SELECT c.stream, c.progress, c.last_batch_at, c.created_at, s.arrival_column
      INTO v
      FROM stream_ext.continuous_view c JOIN stream_ext.stream s ON s.relid = c.stream
     WHERE c.result = view;
    IF NOT FOUND OR NOT has_table_privilege(v.stream, 'SELECT') THEN
        RETURN;
    END IF;
    IF v.arrival_column IS NOT NULL THEN
        EXECUTE format('SELECT count(*), now() - min(%I) FROM %s'
                       ' WHERE NOT stream_ext.seen(stream_ext_tx, $1)',
                       v.arrival_column, v.stream)
           INTO events_waiting, lag USING v.progress;
    ELSE
        EXECUTE format('SELECT count(*) FROM %s WHERE NOT stream_ext.seen(stream_ext_tx, $1)',
                       v.stream)
           INTO events_waiting USING v.progress;
        IF events_waiting > 0 THEN
            lag := now() - coalesce(v.last_batch_at, v.created_at);
        END IF;
    END IF;
    lag := coalesce(lag, interval '0');
END;
$$;

-- events_waiting: what the view furthest behind has still to consume.
CREATE VIEW stream_ext.streams AS
SELECT s.relid AS stream,
       s.event_time,
       s.arrival_column,
       s.segments,
       s.created_at,
       (SELECT COALESCE(max(b.events_waiting), 0)
          FROM stream_ext.continuous_view c, LATERAL stream_ext._view_backlog(c.result) b
         WHERE c.stream = s.relid) AS events_waiting,
       s.retention,
       s.system_identifier <> stream_ext._system_identifier() AS restore_pending,
       COALESCE(s.segment_size,
                pg_catalog.pg_size_bytes(pg_catalog.current_setting('stream_ext.segment_size'))) AS segment_size,
       stream_ext._events_stored(s.relid) AS events_stored
  FROM stream_ext.stream s
 WHERE pg_catalog.has_table_privilege(s.relid, 'SELECT');
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
       CASE WHEN s.system_identifier <> stream_ext._system_identifier() THEN 'restoring'
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
  FROM stream_ext.continuous_view c
       JOIN stream_ext.stream s ON s.relid = c.stream,
       LATERAL stream_ext._view_backlog(c.result) b
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

