-- Session windows (session_gap): per group, a session extends while
-- events come within the gap of each other; a late event that bridges two
-- sessions merges them.  After every batch the result table must equal
-- the batch query over all events: gaps and islands over each group's
-- events in time order (the oracle), whatever order they arrived in.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE clicks (user_id int NOT NULL, page text, ms int NOT NULL, ts timestamptz);
CREATE TABLE clicks_all (LIKE clicks);
SELECT stream_ext.create_stream('clicks', event_time => 'ts');
CREATE TABLE pages (page text PRIMARY KEY, site text NOT NULL);
INSERT INTO pages VALUES ('a', 'shop'), ('b', 'shop'), ('c', 'blog');

SELECT stream_ext.create_continuous_view('user_sessions', $$
    SELECT user_id, count(*) AS clicks, sum(ms) AS total_ms, max(page) AS last_page
      FROM clicks GROUP BY user_id$$, session_gap => '10 minutes');
-- Per site through a lookup join, and one global session stream.
SELECT stream_ext.create_continuous_view('site_sessions', $$
    SELECT p.site, count(*) AS clicks FROM clicks c JOIN pages p ON p.page = c.page
     GROUP BY p.site$$, session_gap => '3 minutes');
SELECT stream_ext.create_continuous_view('busy_periods', $$
    SELECT count(*) AS clicks, avg(ms) AS mean_ms FROM clicks$$, session_gap => '90 seconds');
-- The result table: the view's columns, then session_start and session_end.
\d user_sessions
SELECT name, session_gap FROM stream_ext.continuous_views ORDER BY name::text;

CREATE FUNCTION sessions_diff() RETURNS TABLE (view text, missing bigint, extra bigint) LANGUAGE sql AS $$
    WITH u AS (SELECT *, CASE WHEN ts - lag(ts) OVER w <= interval '10 minutes' THEN 0 ELSE 1 END AS brk
                 FROM clicks_all WHERE ts IS NOT NULL WINDOW w AS (PARTITION BY user_id ORDER BY ts)),
         ui AS (SELECT *, sum(brk) OVER (PARTITION BY user_id ORDER BY ts) AS island FROM u),
         uo AS (SELECT user_id, count(*) AS clicks, sum(ms) AS total_ms, max(page) AS last_page,
                       min(ts) AS session_start, max(ts) AS session_end FROM ui GROUP BY user_id, island),
         s AS (SELECT p.site, c.ts, CASE WHEN c.ts - lag(c.ts) OVER w <= interval '3 minutes' THEN 0 ELSE 1 END AS brk
                 FROM clicks_all c JOIN pages p ON p.page = c.page WHERE c.ts IS NOT NULL
               WINDOW w AS (PARTITION BY p.site ORDER BY c.ts)),
         si AS (SELECT *, sum(brk) OVER (PARTITION BY site ORDER BY ts) AS island FROM s),
         so AS (SELECT site, count(*) AS clicks, min(ts) AS session_start, max(ts) AS session_end
                  FROM si GROUP BY site, island),
         g AS (SELECT *, CASE WHEN ts - lag(ts) OVER w <= interval '90 seconds' THEN 0 ELSE 1 END AS brk
                 FROM clicks_all WHERE ts IS NOT NULL WINDOW w AS (ORDER BY ts)),
         gi AS (SELECT *, sum(brk) OVER (ORDER BY ts) AS island FROM g),
         go AS (SELECT count(*) AS clicks, avg(ms) AS mean_ms, min(ts) AS session_start,
                       max(ts) AS session_end FROM gi GROUP BY island)
    SELECT 'user_sessions', (SELECT count(*) FROM (SELECT * FROM uo EXCEPT ALL SELECT user_id, clicks, total_ms, last_page, session_start, session_end FROM user_sessions) x),
           (SELECT count(*) FROM (SELECT user_id, clicks, total_ms, last_page, session_start, session_end FROM user_sessions EXCEPT ALL SELECT * FROM uo) x)
    UNION ALL
    SELECT 'site_sessions', (SELECT count(*) FROM (SELECT * FROM so EXCEPT ALL SELECT site, clicks, session_start, session_end FROM site_sessions) x),
           (SELECT count(*) FROM (SELECT site, clicks, session_start, session_end FROM site_sessions EXCEPT ALL SELECT * FROM so) x)
    UNION ALL
    SELECT 'busy_periods', (SELECT count(*) FROM (SELECT * FROM go EXCEPT ALL SELECT clicks, mean_ms, session_start, session_end FROM busy_periods) x),
           (SELECT count(*) FROM (SELECT clicks, mean_ms, session_start, session_end FROM busy_periods EXCEPT ALL SELECT * FROM go) x) $$;

-- Events in a scrambled order: batch r holds the events i with
-- i % 7 = r of 700 events spread over about five hours, so every batch
-- lands before, between and inside sessions of earlier batches, and
-- bridges them.
CREATE PROCEDURE scrambled(r int) LANGUAGE plpgsql AS $$
BEGIN
    WITH e AS (SELECT (i * 37) % 5 AS user_id, (ARRAY['a', 'b', 'c', 'd'])[1 + i % 4] AS page,
                      (i * 53) % 1000 AS ms,
                      '2026-01-01'::timestamptz + ((i * 389) % 700) * interval '25 s'
                        + (i / 100) * interval '17 minutes' AS ts
                 FROM generate_series(1, 700) i WHERE i % 7 = r),
         s AS (INSERT INTO clicks SELECT * FROM e)
    INSERT INTO clicks_all SELECT * FROM e;
    COMMIT;
    PERFORM stream_ext.flush();
END $$;
CALL scrambled(3);
SELECT * FROM sessions_diff();
SELECT count(*) > 5 AS several_sessions FROM user_sessions;
CALL scrambled(0);
CALL scrambled(5);
SELECT * FROM sessions_diff();
CALL scrambled(1);
CALL scrambled(6);
CALL scrambled(2);
SELECT * FROM sessions_diff();
-- The last batch merged sessions: fewer now than before it.
SELECT (SELECT count(*) FROM user_sessions) AS sessions_before_last \gset
CALL scrambled(4);
SELECT * FROM sessions_diff();
SELECT count(*) < :sessions_before_last AS merged FROM user_sessions;

-- A bridging event: two sessions 15 minutes apart become one.
INSERT INTO clicks VALUES (9, 'a', 1, '2026-02-01 10:00'), (9, 'a', 2, '2026-02-01 10:15');
INSERT INTO clicks_all VALUES (9, 'a', 1, '2026-02-01 10:00'), (9, 'a', 2, '2026-02-01 10:15');
SELECT stream_ext.flush();
SELECT clicks, session_start, session_end FROM user_sessions WHERE user_id = 9 ORDER BY session_start;
BEGIN;
INSERT INTO clicks VALUES (9, 'a', 3, '2026-02-01 10:07');
INSERT INTO clicks_all VALUES (9, 'a', 3, '2026-02-01 10:07');
COMMIT;
-- Rolled back and without event time: in no session.
BEGIN;
INSERT INTO clicks VALUES (9, 'a', 4, '2026-02-01 10:30');
ROLLBACK;
INSERT INTO clicks VALUES (9, 'a', 5, NULL);
INSERT INTO clicks_all VALUES (9, 'a', 5, NULL);
SELECT stream_ext.flush();
SELECT clicks, total_ms, session_start, session_end FROM user_sessions WHERE user_id = 9;
SELECT * FROM sessions_diff();

-- Refused, each with a hint.
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT user_id, stream_ext.tumble(ts, '1 hour') AS h, count(*) AS n FROM clicks GROUP BY 1, 2$$,
    session_gap => '10 minutes');
SELECT stream_ext.create_continuous_view('bad', 'SELECT user_id, count(*) AS session_end FROM clicks GROUP BY 1',
                                         session_gap => '10 minutes');
SELECT stream_ext.create_continuous_view('bad', 'SELECT user_id, count(*) AS n FROM clicks GROUP BY 1',
                                         session_gap => '0');
SELECT stream_ext.create_continuous_view('bad', 'SELECT user_id, count(*) AS n FROM clicks GROUP BY 1',
                                         session_gap => '1 month');
SELECT stream_ext.create_continuous_view('bad', 'SELECT user_id, count(*) AS n FROM clicks GROUP BY 1',
                                         session_gap => '10 minutes', sliding => '1 hour');
SELECT stream_ext.create_continuous_view('bad', 'SELECT user_id, count(*) AS n FROM clicks GROUP BY 1',
                                         session_gap => '10 minutes', output_stream => 'x');
SELECT stream_ext.create_continuous_view('bad', 'SELECT user_id, count(*) AS n FROM clicks GROUP BY 1',
                                         session_gap => '10 minutes', append_to => 'x');
SELECT to_regclass('bad') IS NULL AS no_bad, to_regclass('x') IS NULL AS no_x;

DROP FUNCTION sessions_diff();
DROP PROCEDURE scrambled(int);
SELECT stream_ext.drop_stream('clicks', cascade => true);
DROP TABLE clicks_all, pages;
