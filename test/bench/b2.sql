-- B2: a row-level AFTER trigger merging each event into the result table
-- (INSERT ... ON CONFLICT DO UPDATE per row).
-- bench.sh runs it once per phase, with exactly one of the variables
-- setup, finish (after the load), storage and verify set to true.
\if :setup
CREATE TABLE ev (sensor_id int NOT NULL, temp float8 NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE result (sensor_id int, minute timestamptz, n bigint, total float8,
                     lo float8, hi float8, PRIMARY KEY (sensor_id, minute));
CREATE FUNCTION merge_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result AS r
    VALUES (NEW.sensor_id, date_bin('1 minute', NEW.ts, '2000-01-01 00:00:00+00'),
            1, NEW.temp, NEW.temp, NEW.temp)
    ON CONFLICT (sensor_id, minute) DO UPDATE
       SET n = r.n + 1, total = r.total + EXCLUDED.total,
           lo = least(r.lo, EXCLUDED.lo), hi = greatest(r.hi, EXCLUDED.hi);
    RETURN NULL;
END $$;
CREATE TRIGGER merge AFTER INSERT ON ev FOR EACH ROW EXECUTE FUNCTION merge_row();
\elif :finish
SELECT 1;
\elif :storage
SELECT pg_total_relation_size('ev');
\elif :verify
\ir verify.sql
\endif
