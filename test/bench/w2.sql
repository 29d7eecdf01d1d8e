-- W2: five continuous views on one stream: W1's view, a hopping window,
-- other keys and windows, hll and tdigest.
-- bench.sh runs it once per phase, with exactly one of the variables
-- setup, finish (after the load), storage and verify set to true.
\if :setup
SET client_min_messages = warning;
CREATE EXTENSION stream_ext;
CREATE EXTENSION hll;
CREATE EXTENSION tdigest;
CREATE TABLE ev (sensor_id int NOT NULL, temp float8 NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('result', $$
    SELECT sensor_id, stream_ext.tumble(ts, '1 minute') AS minute,
           count(*) AS n, sum(temp) AS total, avg(temp) AS avg_temp, min(temp) AS lo, max(temp) AS hi
      FROM ev GROUP BY sensor_id, minute$$);
SELECT stream_ext.create_continuous_view('hopping', $$
    SELECT sensor_id, w.window_start, count(*) AS n, avg(temp) AS avg_temp
      FROM ev, LATERAL stream_ext.hop(ts, '5 minutes', '1 minute') w
     GROUP BY sensor_id, w.window_start$$);
SELECT stream_ext.create_continuous_view('per_10min', $$
    SELECT stream_ext.tumble(ts, '10 minutes') AS window_start, count(*) AS n,
           stddev(temp) AS sd, tdigest_percentile(temp, 100, 0.99) AS p99
      FROM ev GROUP BY window_start$$);
SELECT stream_ext.create_continuous_view('sensors_per_minute', $$
    SELECT stream_ext.tumble(ts, '1 minute') AS minute,
           hll_add_agg(hll_hash_integer(sensor_id)) AS sensors, count(*) AS n
      FROM ev GROUP BY minute$$);
SELECT stream_ext.create_continuous_view('per_rack_hour', $$
    SELECT sensor_id % 10 AS rack, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n,
           min(temp) AS lo, max(temp) AS hi, tdigest_percentile(temp, 100, 0.5) AS median
      FROM ev GROUP BY rack, hour$$);
\elif :finish
SELECT stream_ext.flush('1 hour');
\elif :storage
SELECT sum(pg_total_relation_size(partition)) FROM stream_ext.segment WHERE stream = 'ev'::regclass;
\elif :verify
\ir verify.sql
-- The other four, each against its GROUP BY over every event: exact
-- columns exactly (float results rounded), hll as the same cardinality
-- (a union of the same registers), tdigest within the sketch's error.
WITH o AS (SELECT sensor_id, w.window_start, count(*) AS n, round(avg(temp)::numeric, 6) AS a
             FROM oracle_events, LATERAL stream_ext.hop(ts, '5 minutes', '1 minute') w GROUP BY 1, 2),
     r AS (SELECT sensor_id, window_start, n, round(avg_temp::numeric, 6) FROM hopping)
SELECT 'hopping', (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM r) x)
                + (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM o) x),
       (SELECT count(*) FROM r);
WITH o AS (SELECT stream_ext.tumble(ts, '10 minutes') AS window_start, count(*) AS n,
                  round(stddev(temp)::numeric, 6) AS sd, tdigest_percentile(temp, 100, 0.99) AS p99
             FROM oracle_events GROUP BY 1)
SELECT 'per_10min', count(*) FILTER (WHERE r.window_start IS NULL OR o.window_start IS NULL
                                       OR r.n <> o.n OR round(r.sd::numeric, 6) <> o.sd
                                       OR abs(r.p99 - o.p99) > 0.05 * abs(o.p99)),
       count(r.window_start)
  FROM o FULL JOIN per_10min r USING (window_start);
WITH o AS (SELECT stream_ext.tumble(ts, '1 minute') AS minute,
                  hll_cardinality(hll_add_agg(hll_hash_integer(sensor_id))) AS sensors, count(*) AS n
             FROM oracle_events GROUP BY 1)
SELECT 'sensors_per_minute', count(*) FILTER (WHERE r.minute IS NULL OR o.minute IS NULL OR r.n <> o.n
                                                OR hll_cardinality(r.sensors) <> o.sensors),
       count(r.minute)
  FROM o FULL JOIN sensors_per_minute r USING (minute);
WITH o AS (SELECT sensor_id % 10 AS rack, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n,
                  min(temp) AS lo, max(temp) AS hi, tdigest_percentile(temp, 100, 0.5) AS median
             FROM oracle_events GROUP BY 1, 2)
SELECT 'per_rack_hour', count(*) FILTER (WHERE r.rack IS NULL OR o.rack IS NULL OR r.n <> o.n
                                           OR r.lo <> o.lo OR r.hi <> o.hi
                                           OR abs(r.median - o.median) > 0.05 * abs(o.median)),
       count(r.rack)
  FROM o FULL JOIN per_rack_hour r USING (rack, hour);
\endif
