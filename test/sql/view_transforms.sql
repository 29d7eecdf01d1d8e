-- Continuous transforms: the rows of a query without aggregates (filter,
-- projection, lookup join) over each batch, written into a table or a
-- stream exactly once per event.  Every event is also written to an
-- ordinary table, the oracle; the target must equal the query over it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE clicks (user_id int NOT NULL, url text NOT NULL, ms int, ts timestamptz NOT NULL);
CREATE TABLE clicks_all (LIKE clicks);
SELECT stream_ext.create_stream('clicks', event_time => 'ts');
CREATE TABLE users (id int PRIMARY KEY, country text NOT NULL);
INSERT INTO users VALUES (1, 'fr'), (2, 'de'), (3, 'jp');
CREATE TABLE slow_clicks (user_id int, country text, url text, seconds numeric, ts timestamptz,
                          noted_at timestamptz DEFAULT now());

-- Writes the same events to the stream and to the oracle.
CREATE FUNCTION click(n int, seed int) RETURNS void LANGUAGE sql AS $$
    WITH e AS (SELECT (i * seed) % 5 AS user_id, '/p' || (i % 7) AS url,
                      CASE WHEN i % 11 = 0 THEN NULL ELSE (i * seed * 37) % 3000 END AS ms,
                      '2026-01-01'::timestamptz + (i + seed * 1000) * interval '1 s' AS ts
                 FROM generate_series(1, n) i),
         s AS (INSERT INTO clicks SELECT * FROM e)
    INSERT INTO clicks_all SELECT * FROM e $$;

SELECT stream_ext.create_transform('slow', $$
    SELECT c.user_id, u.country, c.url, c.ms / 1000.0 AS seconds, c.ts
      FROM clicks c LEFT JOIN users u ON u.id = c.user_id
     WHERE c.ms > 1000$$, 'slow_clicks');
-- A transform is a view of its query (over the events the stream holds).
SELECT relkind FROM pg_class WHERE oid = 'slow'::regclass;
SELECT name, stream, target, state FROM stream_ext.transforms;
SELECT count(*) AS not_a_continuous_view FROM stream_ext.continuous_views WHERE name = 'slow'::regclass;

CREATE VIEW slow_oracle AS
    SELECT c.user_id, u.country, c.url, c.ms / 1000.0 AS seconds, c.ts
      FROM clicks_all c LEFT JOIN users u ON u.id = c.user_id
     WHERE c.ms > 1000;
CREATE FUNCTION slow_diff() RETURNS TABLE (missing bigint, extra bigint) LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM (SELECT * FROM slow_oracle EXCEPT ALL
                                  SELECT user_id, country, url, seconds, ts FROM slow_clicks) x),
           (SELECT count(*) FROM (SELECT user_id, country, url, seconds, ts FROM slow_clicks
                                  EXCEPT ALL SELECT * FROM slow_oracle) x) $$;

SELECT click(500, 1);
SELECT stream_ext.flush();
SELECT * FROM slow_diff();
-- Rolled back transactions and savepoints write nothing.
BEGIN;
SELECT click(100, 2);
ROLLBACK;
BEGIN;
SELECT click(100, 3);
SAVEPOINT s;
INSERT INTO clicks VALUES (1, '/gone', 5000, '2026-01-01');
ROLLBACK TO s;
COMMIT;
SELECT stream_ext.flush();
SELECT * FROM slow_diff();
SELECT count(*) > 0 AS wrote_rows FROM slow_clicks;
SELECT rows_written = (SELECT count(*) FROM slow_clicks) AS counted, events_processed
  FROM stream_ext.stats WHERE view = 'slow'::regclass;

-- Paused, it keeps its events; resumed, it catches up, still exactly once.
SELECT stream_ext.pause_transform('slow');
SELECT click(200, 4);
SELECT stream_ext.flush();
SELECT (SELECT count(*) FROM slow_oracle) - (SELECT count(*) FROM slow_clicks) > 0 AS behind;
SELECT stream_ext.resume_transform('slow');
SELECT stream_ext.flush();
SELECT * FROM slow_diff();

-- Into a stream: a continuous view over it sees each event once, and
-- flush() waits for both.
CREATE TABLE visits (country text, url text, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('visits', event_time => 'ts');
SELECT stream_ext.create_transform('to_visits', $$
    SELECT u.country, c.url, c.ts FROM clicks c JOIN users u ON u.id = c.user_id$$, 'visits');
SELECT stream_ext.create_continuous_view('visits_per_country', $$
    SELECT country, stream_ext.tumble(ts, '10 minutes') AS slot, count(*) AS n
      FROM visits GROUP BY country, slot$$);
SELECT click(300, 5);
SELECT click(300, 6);
SELECT stream_ext.flush();
SELECT (SELECT count(*) FROM (
          SELECT u.country, stream_ext.tumble(c.ts, '10 minutes') AS slot, count(*) AS n
            FROM clicks_all c JOIN users u ON u.id = c.user_id
           WHERE c.ts >= '2026-01-01'::timestamptz + 5000 * interval '1 s'
           GROUP BY 1, 2
          EXCEPT ALL SELECT * FROM visits_per_country) x) AS missing,
       (SELECT count(*) FROM (
          SELECT * FROM visits_per_country EXCEPT ALL
          SELECT u.country, stream_ext.tumble(c.ts, '10 minutes') AS slot, count(*) AS n
            FROM clicks_all c JOIN users u ON u.id = c.user_id
           WHERE c.ts >= '2026-01-01'::timestamptz + 5000 * interval '1 s'
           GROUP BY 1, 2) x) AS extra;

-- Refused, each with a hint, nothing left behind.
SELECT stream_ext.create_transform('bad', 'SELECT user_id, count(*) AS n FROM clicks GROUP BY 1', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT DISTINCT user_id FROM clicks', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT user_id FROM clicks ORDER BY ts', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT user_id FROM clicks LIMIT 3', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT user_id, row_number() OVER () AS url FROM clicks', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT user_id FROM clicks WHERE user_id IN (SELECT id FROM users)', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT id AS user_id FROM users', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT user_id, url AS page FROM clicks', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT user_id, ts AS seconds FROM clicks', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT user_id FROM clicks', 'slow_oracle');
SELECT stream_ext.create_transform('bad', 'SELECT country AS sensor FROM visits', 'visits_per_country');
SELECT stream_ext.create_transform('slow', 'SELECT user_id FROM clicks', 'slow_clicks');
SELECT stream_ext.create_transform('bad', 'SELECT user_id FROM clicks', NULL);
-- A cycle: visits is fed from clicks.
SELECT stream_ext.create_transform('bad', $$SELECT 1 AS user_id, country AS url, ts FROM visits$$, 'clicks');
SELECT to_regclass('bad') IS NULL AS no_bad;
SELECT stream_ext.drop_transform('visits_per_country');
SELECT stream_ext.drop_continuous_view('slow');
-- The target cannot be dropped from under a transform.
DROP TABLE slow_clicks;

-- Dropping a transform keeps what it wrote.
SELECT stream_ext.drop_transform('slow');
SELECT count(*) > 0 AS rows_kept FROM slow_clicks;
SELECT count(*) AS transforms FROM stream_ext.transforms;

DROP VIEW slow_oracle;
DROP FUNCTION slow_diff();
DROP FUNCTION click(int, int);
SELECT stream_ext.drop_stream('clicks', cascade => true);
SELECT stream_ext.drop_stream('visits', cascade => true);
DROP TABLE clicks_all, users, slow_clicks;
SELECT count(*) AS left_in_catalog FROM stream_ext.continuous_view;
