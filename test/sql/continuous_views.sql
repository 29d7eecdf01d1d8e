--
-- Continuous views maintained by the worker: create, flush, pause,
-- resume, errors, drop.  After every flush the result table must equal the
-- view's query run once over the events committed since the view was
-- created (the oracle).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE sensor_events (sensor_id int, temp float8, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('sensor_events', event_time => 'ts');

-- Events committed before a view exists are not in it.
INSERT INTO sensor_events VALUES (100, 1, '2026-01-01');

SELECT stream_ext.create_continuous_view('temp_per_minute', $$
    SELECT sensor_id, date_bin('1 minute', ts, '2026-01-01') AS minute,
           count(*) AS readings, avg(temp) AS avg_temp,
           min(temp) AS min_temp, max(temp) AS max_temp
      FROM sensor_events
     GROUP BY sensor_id, minute$$);
SELECT stream_ext.create_continuous_view('public.totals', $$
    SELECT count(*) AS events, sum(temp) AS temp_sum FROM sensor_events WHERE sensor_id < 100$$);
SELECT name, stream, state, owner FROM stream_ext.continuous_views ORDER BY name::text;

-- The oracle: the view's query over the events after the first one.
CREATE VIEW oracle AS
    SELECT sensor_id, date_bin('1 minute', ts, '2026-01-01') AS minute,
           count(*) AS readings, round(avg(temp)::numeric, 9) AS avg_temp,
           min(temp) AS min_temp, max(temp) AS max_temp
      FROM sensor_events WHERE sensor_id IS DISTINCT FROM 100
     GROUP BY sensor_id, minute;
CREATE FUNCTION differences() RETURNS bigint LANGUAGE sql AS $$
    WITH r AS (SELECT sensor_id, minute, readings, round(avg_temp::numeric, 9) AS avg_temp,
                      min_temp, max_temp FROM temp_per_minute)
    SELECT (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM oracle) x)
         + (SELECT count(*) FROM (SELECT * FROM oracle EXCEPT ALL SELECT * FROM r) x)
         + (SELECT count(*) FROM totals t,
                   (SELECT count(*) AS events, round(sum(temp)::numeric, 6) AS temp_sum
                      FROM sensor_events WHERE sensor_id < 100) o
             WHERE (t.events, round(t.temp_sum::numeric, 6)) IS DISTINCT FROM (o.events, o.temp_sum))
$$;

-- Events in several transactions, one rolled back, savepoints.
INSERT INTO sensor_events
SELECT i % 5, (i * 37 % 1000) / 10.0, '2026-01-01'::timestamptz + i * interval '7 s'
  FROM generate_series(1, 3000) i;
BEGIN;
INSERT INTO sensor_events VALUES (1, 50, '2026-01-01 00:00:30+00');
SAVEPOINT s; INSERT INTO sensor_events VALUES (1, 9999, '2026-01-01'); ROLLBACK TO s;
SAVEPOINT t; INSERT INTO sensor_events VALUES (2, 60, '2026-01-01 00:00:40+00'); RELEASE t;
COMMIT;
BEGIN; INSERT INTO sensor_events VALUES (3, 8888, '2026-01-01'); ROLLBACK;
SELECT stream_ext.flush();
SELECT count(*) AS result_rows, differences() FROM temp_per_minute;
SELECT * FROM totals;

-- More events, some for existing groups.
INSERT INTO sensor_events
SELECT i % 7, (i * 53 % 1000) / 10.0, '2026-01-01'::timestamptz + i * interval '11 s'
  FROM generate_series(1, 2000) i;
SELECT stream_ext.flush('10 s');
SELECT count(*) AS result_rows, differences() FROM temp_per_minute;

-- A paused view is not waited for and does not change; resumed, it
-- catches up with the events committed meanwhile.
SELECT stream_ext.pause_continuous_view('temp_per_minute');
INSERT INTO sensor_events VALUES (42, 4.2, '2026-01-01 02:00:00+00');
SELECT stream_ext.flush();
SELECT count(*) AS paused_saw_it FROM temp_per_minute WHERE sensor_id = 42;
SELECT state FROM stream_ext.continuous_views WHERE name = 'temp_per_minute'::regclass;
SELECT stream_ext.resume_continuous_view('temp_per_minute');
SELECT stream_ext.flush();
SELECT count(*) AS result_rows, differences() FROM temp_per_minute;

-- A view whose query fails on some event goes into error; flush says so;
-- the other views go on.
SELECT stream_ext.create_continuous_view('inverse', $$
    SELECT sensor_id, sum(1 / temp::numeric) AS inv FROM sensor_events GROUP BY sensor_id$$);
INSERT INTO sensor_events VALUES (5, 0, '2026-01-01 03:00:00+00');
SELECT stream_ext.flush();
SELECT name, state, last_error FROM stream_ext.continuous_views ORDER BY name::text;
SELECT stream_ext.drop_continuous_view('inverse');
SELECT stream_ext.flush();
SELECT count(*) AS result_rows, differences() FROM temp_per_minute;

-- Windows: tumble() and hop() (an event counts in every window that
-- covers it; a slide that does not divide the size works too).
SELECT stream_ext.create_continuous_view('tumbling', $$
    SELECT sensor_id, stream_ext.tumble(ts, '5 minutes') AS window_start, count(*) AS n, sum(temp) AS total
      FROM sensor_events GROUP BY sensor_id, window_start$$);
SELECT stream_ext.create_continuous_view('hopping', $$
    SELECT sensor_id, w.window_start, w.window_end, count(*) AS n, max(temp) AS hi
      FROM sensor_events, LATERAL stream_ext.hop(ts, '10 minutes', '3 minutes') w
     GROUP BY sensor_id, w.window_start, w.window_end$$);
INSERT INTO sensor_events
SELECT i % 4, i, '2026-01-02'::timestamptz + i * interval '47 s' FROM generate_series(1, 500) i;
SELECT stream_ext.flush();
SELECT (SELECT count(*) FROM (
            SELECT sensor_id, stream_ext.tumble(ts, '5 minutes'), count(*), sum(temp)
              FROM sensor_events WHERE ts >= '2026-01-02' GROUP BY 1, 2
            EXCEPT ALL SELECT sensor_id, window_start, n, total FROM tumbling) x) AS tumbling_missing,
       (SELECT count(*) FROM (
            SELECT sensor_id, window_start, n, total FROM tumbling
            EXCEPT ALL SELECT sensor_id, stream_ext.tumble(ts, '5 minutes'), count(*), sum(temp)
              FROM sensor_events WHERE ts >= '2026-01-02' GROUP BY 1, 2) x) AS tumbling_extra,
       (SELECT count(*) FROM (
            SELECT sensor_id, w.window_start, w.window_end, count(*), max(temp)
              FROM sensor_events, LATERAL stream_ext.hop(ts, '10 minutes', '3 minutes') w
             WHERE ts >= '2026-01-02' GROUP BY 1, 2, 3
            EXCEPT ALL SELECT sensor_id, window_start, window_end, n, hi FROM hopping) x) AS hopping_missing,
       (SELECT count(*) FROM (
            SELECT sensor_id, window_start, window_end, n, hi FROM hopping
            EXCEPT ALL SELECT sensor_id, w.window_start, w.window_end, count(*), max(temp)
              FROM sensor_events, LATERAL stream_ext.hop(ts, '10 minutes', '3 minutes') w
             WHERE ts >= '2026-01-02' GROUP BY 1, 2, 3) x) AS hopping_extra;
SELECT count(DISTINCT window_start) AS windows_per_sensor FROM hopping WHERE sensor_id = 0;
-- A hopping window is aggregated per pane (the gcd of size and slide,
-- here 5 minutes of a 1-hour window every 25 minutes) and the panes
-- combined into windows: the same as the oracle with only window_end as
-- the key, a filter, an origin, avg/min/sum over numeric, and event times
-- that are infinite or NULL (in no window).
CREATE TABLE pane_events (k int, v numeric, ts timestamptz);
SELECT stream_ext.create_stream('pane_events', event_time => 'ts');
SELECT stream_ext.create_continuous_view('hop_panes', $$
    SELECT k, w.window_end, count(*) AS n, avg(v) AS mean, min(v) AS lo, sum(v) AS total
      FROM pane_events, LATERAL stream_ext.hop(ts, '1 hour', '25 minutes', '2000-01-01 00:03:00+00') w
     WHERE v > 0
     GROUP BY k, w.window_end$$);
INSERT INTO pane_events
SELECT i % 5, i % 17 - 3, '2026-01-02'::timestamptz + i * interval '53 s' FROM generate_series(1, 3000) i;
INSERT INTO pane_events VALUES (1, 5, NULL), (2, 6, 'infinity'), (3, 7, '-infinity');
SELECT stream_ext.flush();
INSERT INTO pane_events
SELECT i % 5, i % 11, '2026-01-02'::timestamptz + i * interval '31 s' FROM generate_series(1, 2000) i;
SELECT stream_ext.flush();
CREATE TEMP VIEW hop_panes_oracle AS
SELECT k, w.window_end, count(*) AS n, avg(v) AS mean, min(v) AS lo, sum(v) AS total
  FROM pane_events, LATERAL stream_ext.hop(ts, '1 hour', '25 minutes', '2000-01-01 00:03:00+00') w
 WHERE v > 0 GROUP BY k, w.window_end;
SELECT (SELECT count(*) FROM (SELECT * FROM hop_panes_oracle
                              EXCEPT ALL SELECT k, window_end, n, mean, lo, total FROM hop_panes) x) AS missing,
       (SELECT count(*) FROM (SELECT k, window_end, n, mean, lo, total FROM hop_panes
                              EXCEPT ALL SELECT * FROM hop_panes_oracle) x) AS extra,
       (SELECT count(*) FROM hop_panes) AS windows;
SELECT events_processed FROM stream_ext.stats WHERE view = 'hop_panes'::regclass;
DROP VIEW hop_panes_oracle;
SELECT stream_ext.drop_continuous_view('hop_panes');
DROP TABLE pane_events;
SELECT * FROM stream_ext.hop('2026-01-01 00:07:00+00', '10 minutes', '3 minutes');
-- hop() against brute force, over event times and window shapes whose
-- size is and is not a multiple of the slide: exactly the windows that
-- start on origin + k * slide and hold ts.
SELECT count(*) AS hop_mismatches
  FROM (SELECT '2026-01-01'::timestamptz + g * interval '37 s' AS ts, v.size, v.slide
          FROM generate_series(0, 400) g,
               (VALUES ('10 min'::interval, '3 min'::interval), ('5 min', '1 min'), ('5 min', '2 min'),
                       ('1 hour', '25 min'), ('90 s', '1 min'), ('1 day', '7 hours')) v(size, slide)) e
 WHERE (SELECT array_agg(window_start ORDER BY window_start) FROM stream_ext.hop(e.ts, e.size, e.slide))
       IS DISTINCT FROM
       (SELECT array_agg(s ORDER BY s)
          FROM generate_series(date_bin(e.slide, e.ts - 2 * e.size, '2000-01-01 00:00+00'), e.ts, e.slide) s
         WHERE s <= e.ts AND s + e.size > e.ts);
SELECT stream_ext.tumble('2026-01-01 00:07:00'::timestamp, '5 minutes');
SELECT * FROM stream_ext.hop(now(), '-1 minute', '1 minute');
SELECT * FROM stream_ext.hop(now(), '1 month', '1 day');
SELECT stream_ext.tumble(now(), '1 month');
SELECT stream_ext.drop_continuous_view('tumbling');
SELECT stream_ext.drop_continuous_view('hopping');

-- flush() in a REPEATABLE READ transaction could not see the results.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT stream_ext.flush();
ROLLBACK;

-- Bad input.
SELECT stream_ext.create_continuous_view('temp_per_minute', 'SELECT count(*) FROM sensor_events');
SELECT stream_ext.create_continuous_view('v2', 'SELECT count(*) FROM pg_class');
SELECT stream_ext.drop_continuous_view('sensor_events');
SELECT stream_ext.pause_continuous_view('sensor_events');
CREATE ROLE regress_view_stranger;
SET ROLE regress_view_stranger;
SELECT stream_ext.create_continuous_view('stranger', 'SELECT count(*) FROM public.sensor_events');
SELECT stream_ext.pause_continuous_view('temp_per_minute');
RESET ROLE;

-- A stream with views is not dropped without cascade.
SELECT stream_ext.drop_stream('sensor_events');

-- drop_continuous_view drops the result table, the state table and the
-- catalog row; DROP TABLE of a result table does the same.
SELECT stream_ext.drop_continuous_view('temp_per_minute');
DROP TABLE totals;
SELECT count(*) AS views_left FROM stream_ext.continuous_view;
SELECT count(*) AS state_tables_left FROM pg_class
 WHERE relnamespace = 'stream_ext'::regnamespace AND relname LIKE '%\_state';

DROP ROLE regress_view_stranger;
DROP VIEW oracle;
DROP FUNCTION differences();
SELECT stream_ext.create_continuous_view('last_one', 'SELECT count(*) AS n FROM sensor_events');
SELECT stream_ext.drop_stream('sensor_events', cascade => true);
SELECT count(*) AS views_left, (SELECT count(*) FROM pg_class WHERE relname = 'last_one') AS tables_left
  FROM stream_ext.continuous_view;
