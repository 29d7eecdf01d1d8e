-- W4: many small transactions (pgbench, insert.pgbench) into a stream with
-- W1's view, while probe() commits one event of a sensor of its own every
-- 50 ms.  Freshness = commit time of the worker's transaction that made
-- that sensor's result row (its xmin: the row is never updated) minus the
-- commit time of the event's transaction (the xmin of the probe row written
-- with it; track_commit_timestamp is on), so nothing polls.
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
CREATE TABLE probe (sensor_id int PRIMARY KEY);
CREATE PROCEDURE probe(seconds float8) LANGUAGE plpgsql AS $$
DECLARE
    i int := 0;
    stop timestamptz := clock_timestamp() + seconds * interval '1 second';
BEGIN
    WHILE clock_timestamp() < stop LOOP
        i := i + 1;
        INSERT INTO ev VALUES (-i, 0, now());
        INSERT INTO probe VALUES (-i);
        COMMIT;
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
\elif :finish
SELECT stream_ext.flush('1 hour');
\elif :storage
SELECT sum(pg_total_relation_size(partition)) FROM stream_ext.segment WHERE stream = 'ev'::regclass;
\elif :verify
-- No replayable oracle here (pgbench draws at random and consumed events
-- are pruned): every inserted event (the segments' insert counters) is
-- counted exactly once.  Then the freshness percentiles.
SELECT 'result', abs((SELECT sum(n) FROM result)
                     - (SELECT sum(pg_stat_get_tuples_inserted(partition))
                          FROM stream_ext.segment WHERE stream = 'ev'::regclass)),
       (SELECT count(*) FROM result);
SELECT 'freshness', percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), count(*)
  FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(r.xmin)
                                   - pg_xact_commit_timestamp(p.xmin)) * 1000 AS ms
          FROM probe p JOIN result r USING (sensor_id)) x;
\endif
