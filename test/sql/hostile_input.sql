-- Hostile and malformed input, tried as a new user would: each case gets
-- a clear error (or the documented behaviour), never a crash, a half-made
-- object or a lost event.  At the end nothing is left of the refused
-- objects, and the view that ran throughout still equals the batch query
-- over every event committed (the oracle).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;
\set VERBOSITY terse

CREATE TABLE ev (k int NOT NULL, v numeric NOT NULL, ts timestamptz);
CREATE TABLE ev_all (LIKE ev);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('steady', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
      FROM ev GROUP BY k, minute$$);
SELECT stream_ext.create_continuous_view('hops', $$
    SELECT w.window_start, count(*) AS n FROM ev, LATERAL stream_ext.hop(ts, '2 minutes', '1 minute') w
     GROUP BY w.window_start$$);
INSERT INTO ev VALUES (1, 1, '2026-01-01 00:00:10');
INSERT INTO ev_all VALUES (1, 1, '2026-01-01 00:00:10');
SELECT count(*) AS relations_before FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'stream_ext'::regnamespace) \gset

-- 1-6: not a query, or not one query.
SELECT stream_ext.create_continuous_view('bad', 'SELEC k FROM ev');
SELECT stream_ext.create_continuous_view('bad', 'INSERT INTO ev VALUES (1, 1, now())');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) FROM ev; SELECT 1');
SELECT stream_ext.create_continuous_view('bad', '');
SELECT stream_ext.create_continuous_view('bad', NULL);
SELECT stream_ext.create_continuous_view(NULL, 'SELECT count(*) FROM ev');
-- 7-9: names: SQL in a name is a name or refused; a missing schema.
SELECT stream_ext.create_continuous_view('x; DROP TABLE ev; --', 'SELECT count(*) AS n FROM ev');
SELECT stream_ext.create_continuous_view('"x""; DROP TABLE ev; --"', 'SELECT count(*) AS n FROM ev');
SELECT relname FROM pg_class WHERE relname LIKE 'x%DROP%' AND relnamespace = 'public'::regnamespace AND relkind = 'r';
SELECT stream_ext.drop_continuous_view('"x""; DROP TABLE ev; --"');
SELECT stream_ext.create_continuous_view('no_such_schema.v', 'SELECT count(*) AS n FROM ev');
-- 10-12: not a stream.
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) FROM ev_all');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) FROM pg_class');
SELECT stream_ext.create_continuous_view('bad', 'SELECT 1 AS one');
-- 13-27: constructs that cannot be maintained incrementally.
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) OVER () FROM ev');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(DISTINCT v) FROM ev GROUP BY k');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) FROM ev GROUP BY k ORDER BY k');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) FROM ev GROUP BY k LIMIT 1');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) FROM ev GROUP BY k HAVING count(*) > 1');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, (SELECT 1) AS s, count(*) FROM ev GROUP BY k');
SELECT stream_ext.create_continuous_view('bad', 'WITH e AS (SELECT * FROM ev) SELECT count(*) FROM e');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) FROM ev UNION SELECT count(*) FROM ev');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, sum(v * random()) FROM ev GROUP BY k');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) FROM ev a, ev b');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) FROM ev FULL JOIN ev_all USING (k)');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) FROM ev GROUP BY ROLLUP (k)');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, array_agg(v) FROM ev GROUP BY k');
SELECT stream_ext.create_continuous_view('bad', 'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM ev');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, v, count(*) FROM ev GROUP BY k');
-- 28-34: window sizes: zero, negative, months, huge numbers of hops.
SELECT stream_ext.create_continuous_view('bad', $$SELECT stream_ext.tumble(ts, '0') AS m, count(*) FROM ev GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('bad', $$SELECT stream_ext.tumble(ts, '-1 minute') AS m, count(*) FROM ev GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('bad', $$SELECT stream_ext.tumble(ts, '1 month') AS m, count(*) FROM ev GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT w.window_start, count(*) FROM ev, LATERAL stream_ext.hop(ts, '10 minutes', '0') w GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT w.window_start, count(*) FROM ev, LATERAL stream_ext.hop(ts, '1 year', '1 day') w GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT w.window_start, count(*) FROM ev, LATERAL stream_ext.hop(ts, '100 days', '1 second') w GROUP BY 1$$);
-- A huge tumbling window is only a big bucket.
SELECT stream_ext.create_continuous_view('big_bucket', $$
    SELECT stream_ext.tumble(ts, '36500 days') AS era, count(*) AS n FROM ev GROUP BY 1$$);
-- 35-45: options of the wrong value or type.
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) AS n FROM ev', batch_size => 0);
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) AS n FROM ev', batch_size => -5);
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) AS n FROM ev', batch_size => 'many');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) AS n FROM ev', emit => 'sometimes');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) AS n FROM ev', late => 'ignore');
SELECT stream_ext.create_continuous_view('bad', $$SELECT stream_ext.tumble(ts, '1 minute') AS m, count(*) AS n FROM ev GROUP BY 1$$,
                                         allowed_lateness => '-1 minute');
SELECT stream_ext.create_continuous_view('bad', $$SELECT stream_ext.tumble(ts, '1 minute') AS m, count(*) AS n FROM ev GROUP BY 1$$,
                                         max_future => '-1 hour');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) AS n FROM ev', allowed_lateness => 'soon');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) AS n FROM ev', notify => '');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) AS n FROM ev', paused => 'maybe');
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) AS n FROM ev', emit => 'final', notify => 'c');
-- 46-47: names with SQL for the append table and the channel are names.
SELECT stream_ext.create_continuous_view('appender', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM ev GROUP BY 1, 2$$,
    append_to => '"a""; DROP TABLE ev; --"', notify => $$'); DROP TABLE ev; --$$);
SELECT relname FROM pg_class WHERE relname LIKE 'a%DROP%';
-- 48-51: managing what is not there, or not a view.
SELECT stream_ext.drop_continuous_view('ev_all');
SELECT stream_ext.pause_continuous_view('no_such_view');
SELECT stream_ext.resume_continuous_view('ev');
-- (a negative timeout: returns at once, or fails at once as timed out
-- when a view is behind, 57014)
DO $$
BEGIN
    PERFORM stream_ext.flush('-1 second');
    RAISE NOTICE 'flush with a negative timeout: at once';
EXCEPTION WHEN query_canceled THEN
    RAISE NOTICE 'flush with a negative timeout: at once';
END $$;
-- 52-55: event times: NULL is in the NULL tumbling window and in no
-- hopping window; each infinity is in a window of its own, [ts, ts); the
-- watermark ignores +infinity (beyond max_future), so nothing closes.
INSERT INTO ev VALUES (2, 1, NULL), (2, 2, 'infinity'), (2, 3, '-infinity');
INSERT INTO ev_all VALUES (2, 1, NULL), (2, 2, 'infinity'), (2, 3, '-infinity');
SELECT stream_ext.flush();
SELECT minute, n FROM steady WHERE k = 2 ORDER BY minute NULLS FIRST;
SELECT window_start, n FROM hops WHERE NOT isfinite(window_start) OR window_start IS NULL ORDER BY 1 NULLS FIRST;
SELECT watermark FROM stream_ext.stats WHERE view = 'appender'::regclass;
SELECT count(*) AS closed_windows FROM "a""; DROP TABLE ev; --" WHERE minute IS NULL OR minute > '2026-01-01';
-- 56-59: COPY: text in a number, a wrong column count, a bad row at the
-- end of a large COPY: the whole statement fails, nothing of it is kept.
COPY ev (k, v, ts) FROM STDIN (FORMAT csv);
1,abc,2026-01-01 00:00:00
\.
COPY ev (k, v, ts) FROM STDIN (FORMAT csv);
1,2
\.
COPY ev (k, v, ts) FROM PROGRAM $$awk 'BEGIN { for (i = 1; i <= 20000; i++) printf "%d,%d,2026-01-01 00:00:00+00\n", i % 3, i; print "1,not a number,2026-01-01" }'$$
  (FORMAT csv);
SELECT count(*) AS kept_of_failed_copy FROM ev WHERE v > 10;
-- A stream column that is not the event time can be NULL; NOT NULL holds.
INSERT INTO ev VALUES (NULL, 1, now());
-- 60-61: the stream itself: no UPDATE, no tag by hand.
UPDATE ev SET v = 0;
INSERT INTO ev (k, v, ts, stream_ext_tx) VALUES (1, 1, now(), 42);

-- Nothing half-made, nothing lost.
SELECT stream_ext.drop_continuous_view('big_bucket');
SELECT stream_ext.drop_continuous_view('appender');
DROP TABLE "a""; DROP TABLE ev; --";
SELECT count(*) - :relations_before AS relations_left FROM pg_class
 WHERE relnamespace IN ('public'::regnamespace, 'stream_ext'::regnamespace);
SELECT string_agg(result::text, ', ' ORDER BY result::text) AS views FROM stream_ext.continuous_view;
INSERT INTO ev SELECT i % 3, i, '2026-01-01'::timestamptz + i * interval '7 s' FROM generate_series(1, 300) i;
INSERT INTO ev_all SELECT i % 3, i, '2026-01-01'::timestamptz + i * interval '7 s' FROM generate_series(1, 300) i;
SELECT stream_ext.flush();
SELECT (SELECT count(*) FROM (SELECT k, stream_ext.tumble(ts, '1 minute'), count(*), sum(v) FROM ev_all GROUP BY 1, 2
                              EXCEPT ALL SELECT k, minute, n, total FROM steady) x) AS missing,
       (SELECT count(*) FROM (SELECT k, minute, n, total FROM steady EXCEPT ALL
                              SELECT k, stream_ext.tumble(ts, '1 minute'), count(*), sum(v) FROM ev_all GROUP BY 1, 2) x) AS extra;
SELECT state FROM stream_ext.continuous_views ORDER BY name::text;

SELECT stream_ext.drop_stream('ev', cascade => true);
DROP TABLE ev_all;
