-- B0: COPY into a plain logged table, no view: the ceiling for durable ingest.
-- bench.sh runs it once per phase, with exactly one of the variables
-- setup, finish (after the load), storage and verify set to true
-- (nothing to verify: no result).
\if :setup
CREATE TABLE ev (sensor_id int NOT NULL, temp float8 NOT NULL, ts timestamptz NOT NULL);
\elif :finish
SELECT 1;
\elif :storage
SELECT pg_total_relation_size('ev');
\endif
