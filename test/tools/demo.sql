-- The quickstart that `make demo` runs on a throwaway cluster.
\pset footer off

CREATE EXTENSION stream_ext;

-- An ordinary table, registered as a stream.  Its event time is ts.
CREATE TABLE sensor_events (sensor_id int NOT NULL, temp float8, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('sensor_events', event_time => 'ts');

-- A continuous view: per sensor and minute, kept up to date by the
-- background worker as events commit.
SELECT stream_ext.create_continuous_view('temp_per_minute', $$
    SELECT sensor_id, date_bin('1 minute', ts, '2026-01-01') AS minute,
           count(*) AS readings, round(avg(temp)::numeric, 2) AS avg_temp,
           min(temp) AS min_temp, max(temp) AS max_temp
      FROM sensor_events
     GROUP BY sensor_id, minute$$);

-- Events arrive by COPY ...
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
SELECT * FROM temp_per_minute ORDER BY minute, sensor_id;

-- ... and by INSERT, here a thousand readings in one statement.
INSERT INTO sensor_events (sensor_id, temp, ts)
SELECT 1 + i % 3, 20 + (i % 50) / 10.0, '2026-01-01 10:02:00+00'::timestamptz + i * interval '100 ms'
  FROM generate_series(1, 1000) i;

-- A rolled-back transaction leaves nothing behind.
BEGIN;
INSERT INTO sensor_events (sensor_id, temp, ts) VALUES (9, 99.9, now());
ROLLBACK;

-- The view has caught up once flush() returns.
SELECT stream_ext.flush();
SELECT * FROM temp_per_minute ORDER BY minute, sensor_id;

-- Batches keep arriving: each commit wakes the worker, which folds the
-- new events into the stored states; watch the 10:03 rows grow.
INSERT INTO sensor_events (sensor_id, temp, ts)
SELECT 1 + i % 3, 21, '2026-01-01 10:03:00+00'::timestamptz + i * interval '1 s' FROM generate_series(1, 30) i;
SELECT stream_ext.flush();
SELECT sensor_id, minute, readings, avg_temp FROM temp_per_minute
 WHERE minute >= '2026-01-01 10:03:00+00' ORDER BY sensor_id;
INSERT INTO sensor_events (sensor_id, temp, ts)
SELECT 1 + i % 3, 23, '2026-01-01 10:03:30+00'::timestamptz + i * interval '1 s' FROM generate_series(1, 30) i;
SELECT stream_ext.flush();
SELECT sensor_id, minute, readings, avg_temp FROM temp_per_minute
 WHERE minute >= '2026-01-01 10:03:00+00' ORDER BY sensor_id;

-- Push: a view with an event-time window announces each minute once it
-- has closed (the watermark, the latest event time, passed its end) on a
-- NOTIFY channel, at the commit of the batch that closed it.  make demo
-- started a second session that LISTENs on "closed minutes" and prints
-- what arrives ("Asynchronous notification ..."), as it arrives.
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
-- A late reading for 10:05, already closed: a correction, revision 2.
INSERT INTO sensor_events (sensor_id, temp, ts) VALUES (1, 30.5, '2026-01-01 10:05:30+00');
SELECT stream_ext.flush();
SELECT pg_sleep(0.5);
-- The same closed windows, durably, in the append table.
SELECT sensor_id, minute, readings, max_temp, revision FROM minute_history ORDER BY minute, sensor_id, revision;

-- What the worker did, and what it runs now.
SELECT view, state, batches, events_processed, rows_written, events_waiting FROM stream_ext.stats;
SELECT backend_type, state, activity FROM stream_ext.workers ORDER BY backend_type;

-- The stream and its committed events.
SELECT stream, event_time, events_waiting FROM stream_ext.streams;
SELECT sensor_id, count(*) AS readings, round(avg(temp)::numeric, 2) AS avg_temp,
       min(ts) AS first, max(ts) AS last
  FROM sensor_events GROUP BY sensor_id ORDER BY sensor_id;

-- Streams are append-only.
\set ON_ERROR_STOP 0
UPDATE sensor_events SET temp = 0;
\set ON_ERROR_STOP 1
