-- B3: COPY into a plain table, then one INSERT ... SELECT ... GROUP BY
-- (refresh-style).
-- bench.sh runs it once per phase, with exactly one of the variables
-- setup, finish (after the load), storage and verify set to true.
\if :setup
CREATE TABLE ev (sensor_id int NOT NULL, temp float8 NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE result (sensor_id int, minute timestamptz, n bigint, total float8, avg_temp float8,
                     lo float8, hi float8, PRIMARY KEY (sensor_id, minute));
\elif :finish
INSERT INTO result
SELECT sensor_id, date_bin('1 minute', ts, '2000-01-01 00:00:00+00'),
       count(*), sum(temp), avg(temp), min(temp), max(temp)
  FROM ev GROUP BY 1, 2;
\elif :storage
SELECT pg_total_relation_size('ev');
\elif :verify
\ir verify.sql
\endif
