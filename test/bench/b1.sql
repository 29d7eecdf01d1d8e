-- B1: a statement-level AFTER trigger over the transition table merging
-- partial aggregates into a result table: what an expert writes by hand.
-- bench.sh runs it once per phase, with exactly one of the variables
-- setup, finish (after the load), storage and verify set to true.
\if :setup
CREATE TABLE ev (sensor_id int NOT NULL, temp float8 NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE result (sensor_id int, minute timestamptz, n bigint, total float8,
                     lo float8, hi float8, PRIMARY KEY (sensor_id, minute));
CREATE FUNCTION merge_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result AS r
    SELECT sensor_id, date_bin('1 minute', ts, '2000-01-01 00:00:00+00'),
           count(*), sum(temp), min(temp), max(temp)
      FROM new_rows GROUP BY 1, 2
    ON CONFLICT (sensor_id, minute) DO UPDATE
       SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total,
           lo = least(r.lo, EXCLUDED.lo), hi = greatest(r.hi, EXCLUDED.hi);
    RETURN NULL;
END $$;
CREATE TRIGGER merge AFTER INSERT ON ev REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION merge_batch();
\elif :finish
SELECT 1;
\elif :storage
SELECT pg_total_relation_size('ev');
\elif :verify
\ir verify.sql
\endif
