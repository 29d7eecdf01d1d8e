-- W1: a stream and one continuous view per sensor per minute.
-- bench.sh runs it once per phase, with exactly one of the variables
-- setup, finish (after the load), storage and verify set to true.
\if :setup
SET client_min_messages = warning;
CREATE EXTENSION stream_ext;
CREATE TABLE ev (sensor_id int NOT NULL, temp float8 NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('result', $$
    SELECT sensor_id, stream_ext.tumble(ts, '1 minute') AS minute,
           count(*) AS n, sum(temp) AS total, avg(temp) AS avg_temp, min(temp) AS lo, max(temp) AS hi
      FROM ev GROUP BY sensor_id, minute$$);
\elif :finish
SELECT stream_ext.flush('1 hour');
\elif :storage
SELECT sum(pg_total_relation_size(partition)) FROM stream_ext.segment WHERE stream = 'ev'::regclass;
\elif :verify
\ir verify.sql
\endif
