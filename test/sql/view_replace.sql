-- Changing a view's query in place (replace_continuous_view): where the
-- new results follow from the stored states (grouping keys dropped,
-- aggregates among the old ones, other output expressions), the view is
-- rebuilt from its states in one transaction, exactly; anything else is
-- refused with the way to do it beside the old view.  Compared with the
-- batch query over all events before and after.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE ev (sensor int NOT NULL, temp numeric NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE ev_all (LIKE ev);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
CREATE FUNCTION put(n int, seed int) RETURNS void LANGUAGE sql AS $$
    WITH e AS (SELECT (i * seed) % 5 AS sensor, ((i * seed * 7) % 400) / 10.0 AS temp,
                      '2026-01-01'::timestamptz + (i * 13 + seed * 60) * interval '1 s' AS ts
                 FROM generate_series(1, n) i),
         s AS (INSERT INTO ev SELECT * FROM e)
    INSERT INTO ev_all SELECT * FROM e $$;

SELECT stream_ext.create_continuous_view('temps', $$
    SELECT sensor, stream_ext.tumble(ts, '10 minutes') AS slot, count(*) AS n, sum(temp) AS total,
           max(temp) AS hi
      FROM ev WHERE temp > 1 GROUP BY sensor, slot$$, notify => 'temps', ttl => '1 day');
SELECT put(500, 1);
SELECT stream_ext.flush();
SELECT (SELECT count(*) FROM (SELECT sensor, stream_ext.tumble(ts, '10 minutes'), count(*), sum(temp), max(temp)
                                FROM ev_all WHERE temp > 1 GROUP BY 1, 2 EXCEPT ALL SELECT sensor, slot, n, total, hi FROM temps) x) AS missing;
SELECT watermark AS watermark_before, events_processed AS events_before FROM stream_ext.stats
 WHERE view = 'temps'::regclass \gset

-- Drop the sensor key (groups merge) and compute the mean from the sums.
SELECT stream_ext.replace_continuous_view('temps', $$
    SELECT stream_ext.tumble(ts, '10 minutes') AS slot, max(temp) AS hi, count(*) AS n,
           sum(temp) / count(*) AS mean
      FROM ev WHERE temp > 1 GROUP BY slot$$);
\d temps
SELECT name, query LIKE '%mean%' AS new_query, notify, ttl, state FROM stream_ext.continuous_views;
SELECT watermark = :'watermark_before' AS same_watermark, events_processed = :events_before AS same_events
  FROM stream_ext.stats WHERE view = 'temps'::regclass;
CREATE FUNCTION replaced_diff() RETURNS TABLE (missing bigint, extra bigint) LANGUAGE sql AS $$
    WITH o AS (SELECT stream_ext.tumble(ts, '10 minutes') AS slot, max(temp) AS hi, count(*) AS n,
                      sum(temp) / count(*) AS mean FROM ev_all WHERE temp > 1 GROUP BY 1)
    SELECT (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT slot, hi, n, mean FROM temps) x),
           (SELECT count(*) FROM (SELECT slot, hi, n, mean FROM temps EXCEPT ALL SELECT * FROM o) x) $$;
SELECT * FROM replaced_diff();
-- It goes on from where the old view was: every event exactly once.
SELECT put(300, 2);
BEGIN;
SELECT put(50, 3);
ROLLBACK;
SELECT stream_ext.flush();
SELECT * FROM replaced_diff();
-- The old view's table went with it, and no state table is made.
SELECT count(*) AS state_tables FROM pg_class
 WHERE relnamespace = 'stream_ext'::regnamespace AND relname LIKE 'temps%state';

-- Refused, and nothing changes: an aggregate it has no states of, a new
-- key, another WHERE, another stream, a view of another kind.
SELECT stream_ext.replace_continuous_view('temps', $$
    SELECT stream_ext.tumble(ts, '10 minutes') AS slot, min(temp) AS lo FROM ev WHERE temp > 1 GROUP BY slot$$);
SELECT stream_ext.replace_continuous_view('temps', $$
    SELECT sensor, stream_ext.tumble(ts, '10 minutes') AS slot, count(*) AS n FROM ev WHERE temp > 1 GROUP BY 1, 2$$);
SELECT stream_ext.replace_continuous_view('temps', $$
    SELECT stream_ext.tumble(ts, '10 minutes') AS slot, count(*) AS n FROM ev GROUP BY slot$$);
SELECT stream_ext.create_continuous_view('last_hour', 'SELECT sensor, count(*) AS n FROM ev GROUP BY 1',
                                         sliding => '1 hour');
SELECT stream_ext.replace_continuous_view('last_hour', 'SELECT count(*) AS n FROM ev');
SELECT stream_ext.replace_continuous_view('ev_all', 'SELECT count(*) AS n FROM ev');
SELECT * FROM replaced_diff();
SELECT count(*) AS views FROM stream_ext.continuous_view;

DROP FUNCTION replaced_diff();
DROP FUNCTION put(int, int);
SELECT stream_ext.drop_stream('ev', cascade => true);
DROP TABLE ev_all;
