-- The CPU time of one plain GROUP BY (W1's query) over the events of ev,
-- without parallel workers, in clock ticks of this backend (utime + stime
-- of /proc/self/stat): the measure of the engine's overhead factor
-- (bench.sh).  Prints the ticks.
SET max_parallel_workers_per_gather = 0;
SELECT split_part(s, ' ', 14)::int + split_part(s, ' ', 15)::int AS cpu0
  FROM pg_read_file('/proc/self/stat') s \gset
CREATE TEMP TABLE groupby_cpu AS
SELECT sensor_id, date_bin('1 minute', ts, '2000-01-01 00:00:00+00') AS minute,
       count(*) AS n, sum(temp) AS total, avg(temp) AS avg_temp, min(temp) AS lo, max(temp) AS hi
  FROM ev GROUP BY 1, 2;
SELECT split_part(s, ' ', 14)::int + split_part(s, ' ', 15)::int - :cpu0
  FROM pg_read_file('/proc/self/stat') s;
