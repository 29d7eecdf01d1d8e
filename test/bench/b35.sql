-- B3x5: COPY into a plain table, then W2's five queries, each one
-- INSERT ... SELECT ... GROUP BY into its result table (W2's baseline).
-- bench.sh runs it once per phase, with exactly one of the variables
-- setup, finish (after the load), storage and verify set to true.
\if :setup
SET client_min_messages = warning;
CREATE EXTENSION stream_ext;
CREATE EXTENSION hll;
CREATE EXTENSION tdigest;
CREATE TABLE ev (sensor_id int NOT NULL, temp float8 NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE result (sensor_id int, minute timestamptz, n bigint, total float8, avg_temp float8,
                     lo float8, hi float8, PRIMARY KEY (sensor_id, minute));
CREATE TABLE hopping (sensor_id int, window_start timestamptz, n bigint, avg_temp float8,
                      PRIMARY KEY (sensor_id, window_start));
CREATE TABLE per_10min (window_start timestamptz PRIMARY KEY, n bigint, sd float8, p99 float8);
CREATE TABLE sensors_per_minute (minute timestamptz PRIMARY KEY, sensors hll, n bigint);
CREATE TABLE per_rack_hour (rack int, hour timestamptz, n bigint, lo float8, hi float8, median float8,
                            PRIMARY KEY (rack, hour));
\elif :finish
INSERT INTO result
SELECT sensor_id, stream_ext.tumble(ts, '1 minute'), count(*), sum(temp), avg(temp), min(temp), max(temp)
  FROM ev GROUP BY 1, 2;
INSERT INTO hopping
SELECT sensor_id, w.window_start, count(*), avg(temp)
  FROM ev, LATERAL stream_ext.hop(ts, '5 minutes', '1 minute') w GROUP BY 1, 2;
INSERT INTO per_10min
SELECT stream_ext.tumble(ts, '10 minutes'), count(*), stddev(temp), tdigest_percentile(temp, 100, 0.99)
  FROM ev GROUP BY 1;
INSERT INTO sensors_per_minute
SELECT stream_ext.tumble(ts, '1 minute'), hll_add_agg(hll_hash_integer(sensor_id)), count(*)
  FROM ev GROUP BY 1;
INSERT INTO per_rack_hour
SELECT sensor_id % 10, stream_ext.tumble(ts, '1 hour'), count(*), min(temp), max(temp),
       tdigest_percentile(temp, 100, 0.5)
  FROM ev GROUP BY 1, 2;
\elif :storage
SELECT pg_total_relation_size('ev');
\elif :verify
\ir verify.sql
\endif
