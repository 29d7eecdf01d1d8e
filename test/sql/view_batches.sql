--
-- Continuous-view batches (view.c), run by hand the way the worker will
-- run them: in a REPEATABLE READ transaction, the batch statement with the
-- view's progress snapshot as $1 and the end of the batch, here the
-- transaction's snapshot, as $2; then $2 becomes the progress.  After each
-- batch the result table must equal the view's query run once over all
-- events (the oracle).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;
\pset format unaligned

-- A view's batch statement, from the module's C function (not part of the
-- extension's SQL interface: created here, by the superuser, for this test).
CREATE FUNCTION public.view_sql(query text, result_table text) RETURNS text
    LANGUAGE C VOLATILE STRICT AS '$libdir/stream_ext', 'stream_ext_view_sql';

CREATE TABLE sensor_events (sensor_id int, temp float8, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('sensor_events', event_time => 'ts');

-- Progress before the view sees any event.
SELECT pg_current_snapshot() AS progress \gset

SELECT public.view_sql($$
    SELECT sensor_id, date_bin('1 minute', ts, '2026-01-01') AS minute,
           count(*) AS readings, avg(temp) AS avg_temp, min(temp) AS min_temp,
           max(temp) AS max_temp, sum(temp) / count(*) AS ratio,
           count(*) FILTER (WHERE temp > 50) AS hot
      FROM sensor_events WHERE temp IS DISTINCT FROM -1
     GROUP BY sensor_id, minute$$,
    'public.temp_per_minute') AS batch \gset
PREPARE minute_batch(pg_snapshot, pg_snapshot) AS :batch;

SELECT public.view_sql($$
    SELECT count(*) AS events, sum(sensor_id) AS sensor_sum, max(ts) AS last_ts
      FROM sensor_events$$,
    'public.totals') AS batch \gset
PREPARE totals_batch(pg_snapshot, pg_snapshot) AS :batch;

\d temp_per_minute
\d totals

CREATE VIEW oracle_minute AS
    SELECT sensor_id, date_bin('1 minute', ts, '2026-01-01') AS minute,
           count(*) AS readings, avg(temp) AS avg_temp, min(temp) AS min_temp,
           max(temp) AS max_temp, sum(temp) / count(*) AS ratio,
           count(*) FILTER (WHERE temp > 50) AS hot
      FROM sensor_events WHERE temp IS DISTINCT FROM -1
     GROUP BY sensor_id, minute;
CREATE VIEW oracle_totals AS
    SELECT count(*) AS events, sum(sensor_id) AS sensor_sum, max(ts) AS last_ts FROM sensor_events;

-- Rows of the result that differ from the oracle, both ways; float
-- aggregates compared after rounding (the summation order differs).
CREATE FUNCTION differences() RETURNS bigint LANGUAGE sql AS $$
    WITH r AS (SELECT sensor_id, minute, readings, round(avg_temp::numeric, 9) a, min_temp, max_temp,
                      round(ratio::numeric, 9) q, hot FROM temp_per_minute),
         o AS (SELECT sensor_id, minute, readings, round(avg_temp::numeric, 9) a, min_temp, max_temp,
                      round(ratio::numeric, 9) q, hot FROM oracle_minute)
    SELECT (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM o) x)
         + (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM r) x)
         + (SELECT count(*) FROM (SELECT * FROM totals EXCEPT ALL SELECT * FROM oracle_totals) x)
         + (SELECT count(*) FROM (SELECT * FROM oracle_totals EXCEPT ALL SELECT * FROM totals) x)
$$;

-- One batch: both views, one snapshot, then it becomes the progress.
CREATE FUNCTION run_batch(progress pg_snapshot) RETURNS pg_snapshot LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('EXECUTE minute_batch(%L, %L)', progress, pg_current_snapshot());
    EXECUTE format('EXECUTE totals_batch(%L, %L)', progress, pg_current_snapshot());
    RETURN pg_current_snapshot();
END
$$;

-- Batch 1: events in two transactions, one rolled back, a savepoint.
INSERT INTO sensor_events
SELECT i % 5, (i * 37 % 1000) / 10.0, '2026-01-01'::timestamptz + i * interval '7 s'
  FROM generate_series(1, 2000) i;
BEGIN;
INSERT INTO sensor_events VALUES (NULL, 12.5, '2026-01-01 00:03:00+00'), (1, NULL, '2026-01-01 00:03:00+00');
SAVEPOINT s; INSERT INTO sensor_events VALUES (9, 99, '2026-01-01'); ROLLBACK TO s;
COMMIT;
BEGIN; INSERT INTO sensor_events VALUES (8, 88, '2026-01-01'); ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT run_batch(:'progress') AS progress \gset
COMMIT;
SELECT count(*) AS result_rows, differences() FROM temp_per_minute;

-- Batch 2: new events for existing groups and new groups; late events.
INSERT INTO sensor_events
SELECT i % 7, (i * 53 % 1000) / 10.0, '2026-01-01'::timestamptz + i * interval '11 s'
  FROM generate_series(1, 3000) i;
INSERT INTO sensor_events VALUES (3, -1, '2026-01-01 00:00:30+00'), (3, 1e6, '2025-12-31 23:59:59+00');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT run_batch(:'progress') AS progress \gset
COMMIT;
SELECT count(*) AS result_rows, differences() FROM temp_per_minute;

-- A batch with no new events changes nothing.
CREATE TEMP TABLE before AS SELECT * FROM temp_per_minute;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT run_batch(:'progress') AS progress \gset
COMMIT;
SELECT count(*) AS changed FROM (SELECT * FROM temp_per_minute EXCEPT ALL SELECT * FROM before) x;
SELECT differences();

-- A batch that rolls back leaves the progress where it was: the next one
-- applies those events once.
INSERT INTO sensor_events VALUES (4, 44, '2026-01-01 01:00:00+00');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT run_batch(:'progress') AS lost_progress \gset
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT run_batch(:'progress') AS progress \gset
COMMIT;
SELECT differences();
SELECT events FROM totals;

-- Refused constructs, each with its own message.
CREATE TABLE plain_table (a int);
CREATE FUNCTION try_view(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; hnt text;
BEGIN
    PERFORM public.view_sql(q, 'public.refused');
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
    RETURN st || ' ' || msg || coalesce(' | HINT: ' || nullif(hnt, ''), '');
END
$$;
SELECT q, try_view(q) FROM (VALUES
    ('SELECT count(DISTINCT sensor_id) FROM sensor_events'),
    ('SELECT string_agg(sensor_id::text, '','') FROM sensor_events'),
    ('SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY temp) FROM sensor_events'),
    ('SELECT array_agg(temp ORDER BY ts) FROM sensor_events'),
    ('SELECT sensor_id, count(*) FROM sensor_events GROUP BY sensor_id HAVING count(*) > 1'),
    ('SELECT sensor_id, count(*) FROM sensor_events GROUP BY sensor_id ORDER BY 1'),
    ('SELECT sensor_id, count(*) FROM sensor_events GROUP BY sensor_id LIMIT 5'),
    ('SELECT sensor_id, count(*) OVER () FROM sensor_events'),
    ('SELECT sensor_id, count(*) FROM sensor_events GROUP BY sensor_id UNION SELECT 1, 1'),
    ('SELECT sum(random()) FROM sensor_events'),
    ('SELECT count(*) FROM sensor_events WHERE ts < clock_timestamp()'),
    ('SELECT count(*) FROM sensor_events WHERE sensor_id IN (SELECT a FROM plain_table)'),
    ('SELECT count(*) FROM plain_table p RIGHT JOIN sensor_events e ON p.a = e.sensor_id'),
    ('SELECT count(*) FROM plain_table'),
    ('SELECT count(*) FROM sensor_events a, sensor_events b'),
    ('SELECT sensor_id FROM sensor_events'),
    ('SELECT count(*) FROM sensor_events GROUP BY sensor_id'),
    ('SELECT sensor_id, count(*) AS sensor_id FROM sensor_events GROUP BY 1'),
    ('SELECT sensor_id, count(*) FROM sensor_events GROUP BY ROLLUP (sensor_id)'),
    ('SELECT 1; SELECT 2'),
    ('INSERT INTO plain_table VALUES (1)'),
    ('SELECT count(*) FROM sensor_events WITH (nonsense')
) v(q);
-- A refused view leaves no table behind.
SELECT count(*) FROM pg_class WHERE relname = 'refused';

DROP FUNCTION try_view(text), run_batch(pg_snapshot), differences();
DROP VIEW oracle_minute, oracle_totals;
DROP TABLE temp_per_minute, totals, plain_table;
SELECT stream_ext.drop_stream('sensor_events');
