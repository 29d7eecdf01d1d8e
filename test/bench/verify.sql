-- The oracle for a table "result" per sensor per minute: the same GROUP BY
-- over every loaded event (oracle_events, loaded by bench.sh after the
-- timed part).  Prints: table, rows that differ (both ways), rows.  Float
-- sums are compared after rounding (summation order differs).
WITH o AS (SELECT sensor_id, date_bin('1 minute', ts, '2000-01-01 00:00:00+00') AS minute,
                  count(*) AS n, round(sum(temp)::numeric, 6) AS total,
                  min(temp) AS lo, max(temp) AS hi
             FROM oracle_events GROUP BY 1, 2),
     r AS (SELECT sensor_id, minute, n, round(total::numeric, 6) AS total, lo, hi FROM result)
SELECT 'result', (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM r) x)
               + (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM o) x),
       (SELECT count(*) FROM r);
