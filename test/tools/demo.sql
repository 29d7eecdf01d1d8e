-- make demo: the README's Quickstart as written (test/tools/run.sh
-- extracts it), then a tour.  Narration is \echo; psql -e shows each
-- statement before its result.
\pset footer off
\echo
\echo '== 1. The Quickstart, as the README has it: a stream, a continuous view, events, flush()'
\echo
\i :quickstart
\echo
\echo '== 2. A tour.  Events arrive by COPY ...'
COPY sensor_events FROM STDIN (FORMAT csv);
1,21.5,2026-01-01 10:00:01+00
2,19.0,2026-01-01 10:00:07+00
1,21.9,2026-01-01 10:00:31+00
3,25.2,2026-01-01 10:00:45+00
2,19.4,2026-01-01 10:01:02+00
1,22.4,2026-01-01 10:01:15+00
3,24.8,2026-01-01 10:01:40+00
\.

SELECT stream_ext.flush();
SELECT sensor_id, minute, readings, round(avg_temp::numeric, 2) AS avg_temp
  FROM temp_per_minute ORDER BY minute, sensor_id;

\echo
\echo '== ... and by INSERT, here a thousand readings in one statement.'
INSERT INTO sensor_events (sensor_id, temp, ts)
SELECT 1 + i % 3, 20 + (i % 50) / 10.0, '2026-01-01 10:02:00+00'::timestamptz + i * interval '100 ms'
  FROM generate_series(1, 1000) i;

\echo
\echo '== A rolled-back transaction leaves nothing behind.'
BEGIN;
INSERT INTO sensor_events (sensor_id, temp, ts) VALUES (9, 99.9, now());
ROLLBACK;

\echo
\echo '== The view has caught up once flush() returns.'
SELECT stream_ext.flush();
SELECT sensor_id, minute, readings, round(avg_temp::numeric, 2) AS avg_temp
  FROM temp_per_minute ORDER BY minute, sensor_id;

\echo
\echo '== Batches keep arriving: each commit wakes the worker, which folds the new events'
\echo '   into the stored states; watch the 10:03 rows grow.'
INSERT INTO sensor_events (sensor_id, temp, ts)
SELECT 1 + i % 3, 21, '2026-01-01 10:03:00+00'::timestamptz + i * interval '1 s' FROM generate_series(1, 30) i;
SELECT stream_ext.flush();
SELECT sensor_id, minute, readings, round(avg_temp::numeric, 2) AS avg_temp FROM temp_per_minute
 WHERE minute BETWEEN '2026-01-01 10:03:00+00' AND '2026-01-01 10:04:00+00' ORDER BY minute, sensor_id;
INSERT INTO sensor_events (sensor_id, temp, ts)
SELECT 1 + i % 3, 23, '2026-01-01 10:03:30+00'::timestamptz + i * interval '1 s' FROM generate_series(1, 30) i;
SELECT stream_ext.flush();
SELECT sensor_id, minute, readings, round(avg_temp::numeric, 2) AS avg_temp FROM temp_per_minute
 WHERE minute BETWEEN '2026-01-01 10:03:00+00' AND '2026-01-01 10:04:00+00' ORDER BY minute, sensor_id;

\echo
\echo '== Push: this view announces each minute on a NOTIFY channel once it has closed (the'
\echo '   watermark, the latest event time, passed its end).  A second session LISTENs on'
\echo '   "closed minutes" and prints each notification as it arrives.'
SELECT stream_ext.create_continuous_view('closed_minutes', $$
    SELECT sensor_id, stream_ext.tumble(ts, '1 minute') AS minute,
           count(*) AS readings, max(temp) AS max_temp
      FROM sensor_events GROUP BY sensor_id, minute$$,
    notify => 'closed minutes', emit => 'final', append_to => 'minute_history');
INSERT INTO sensor_events (sensor_id, temp, ts)
SELECT 1 + i % 2, 20 + i % 7, '2026-01-01 10:05:00+00'::timestamptz + i * interval '10 s'
  FROM generate_series(0, 11) i;
SELECT stream_ext.flush();
SELECT pg_sleep(0.5);
\echo
\echo '== A late reading for 10:05, already closed: a correction, revision 2.'
INSERT INTO sensor_events (sensor_id, temp, ts) VALUES (1, 30.5, '2026-01-01 10:05:30+00');
SELECT stream_ext.flush();
SELECT pg_sleep(0.5);
\echo
\echo '== The same closed windows, durably, in the append table.'
SELECT sensor_id, minute, readings, max_temp, revision FROM minute_history ORDER BY minute, sensor_id, revision;

\echo
\echo '== What the worker did, and what it runs now.'
SELECT view, state, batches, events_processed, rows_written, events_waiting FROM stream_ext.stats;
SELECT backend_type, state, activity FROM stream_ext.workers ORDER BY backend_type;

\echo
\echo '== The stream and its committed events.'
SELECT stream, event_time, events_waiting FROM stream_ext.streams;
SELECT sensor_id, count(*) AS readings, round(avg(temp)::numeric, 2) AS avg_temp,
       min(ts) AS first, max(ts) AS last
  FROM sensor_events GROUP BY sensor_id ORDER BY sensor_id;

\echo
\echo '== Bad events: a view declared with CREATE MATERIALIZED VIEW, whose query fails on'
\echo '   the readings of exactly 21 degrees.  With on_error = skip it leaves them out and'
\echo '   keeps them as dead letters; the other views are not disturbed.'
CREATE MATERIALIZED VIEW inverse_temp
    WITH (stream_ext.continuous, stream_ext.on_error = 'skip', stream_ext.backfill = true) AS
    SELECT sensor_id, count(*) AS readings, round(sum(1 / (temp - 21))::numeric, 3) AS inverse
      FROM sensor_events GROUP BY sensor_id;
SELECT stream_ext.flush();
SELECT sensor_id, readings, inverse FROM inverse_temp ORDER BY sensor_id;
SELECT error, count(*) AS events FROM stream_ext.dead_letters GROUP BY error;

\echo
\echo '== Streams are append-only: the next statement fails on purpose.'
\set ON_ERROR_STOP 0
UPDATE sensor_events SET temp = 0;
\set ON_ERROR_STOP 1

\echo
\echo '== That was the tour.  To try next: the README sections "Event time and windows",'
\echo '   "Native DDL" and "Bad events" in your own database (CREATE EXTENSION stream_ext,'
\echo '   with stream_ext in shared_preload_libraries), and make test for every suite.'
