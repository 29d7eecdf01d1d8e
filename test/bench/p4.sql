-- W4's baseline: the same pgbench transactions into a plain table.
-- bench.sh runs it once per phase, with exactly one of the variables
-- setup, finish, storage and verify set to true.
\if :setup
CREATE TABLE ev (sensor_id int NOT NULL, temp float8 NOT NULL, ts timestamptz NOT NULL);
\endif
