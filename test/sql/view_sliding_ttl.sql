-- Sliding windows ("the last N, now": steps of states combined when the
-- view is read) and retention (ttl: result rows of windows that ended
-- long enough before the watermark are deleted, late events for them
-- dropped).  Compared with the batch query over all events.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE ev (k int NOT NULL, v numeric NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE ev_all (LIKE ev);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
CREATE FUNCTION put(n int, seed int, back interval) RETURNS void LANGUAGE sql AS $$
    WITH e AS (SELECT (i * seed) % 4 AS k, (i * seed) % 97 AS v,
                      now() - back - (i * 3) * interval '1 s' AS ts
                 FROM generate_series(1, n) i),
         s AS (INSERT INTO ev SELECT * FROM e)
    INSERT INTO ev_all SELECT * FROM e $$;

SELECT stream_ext.create_continuous_view('last_10m', $$
    SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean, max(v) AS hi
      FROM ev GROUP BY k$$, sliding => '10 minutes', step => '1 minute');
SELECT stream_ext.create_continuous_view('last_hour', $$
    SELECT count(*) AS n, sum(v) AS total FROM ev$$, sliding => '1 hour');
-- Read through a view over the stored steps; the catalog keeps the grain.
SELECT relkind FROM pg_class WHERE oid = 'last_10m'::regclass;
SELECT name, sliding, step FROM stream_ext.continuous_views ORDER BY name::text;

-- The oracle: the steps (date_bin of the step) that end within the window.
CREATE FUNCTION sliding_diff() RETURNS TABLE (missing bigint, extra bigint, all_ok boolean)
LANGUAGE sql AS $$
    WITH o AS (SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean, max(v) AS hi FROM ev_all
                WHERE date_bin('1 minute', ts, '2000-01-01') + interval '1 minute' > now() - interval '10 minutes'
                GROUP BY k),
         a AS (SELECT count(*) AS n, sum(v) AS total FROM ev_all
                WHERE date_bin('1 minute', ts, '2000-01-01') + interval '1 minute' > now() - interval '1 hour')
    SELECT (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM last_10m) x),
           (SELECT count(*) FROM (SELECT * FROM last_10m EXCEPT ALL SELECT * FROM o) x),
           (SELECT a.n = l.n AND a.total IS NOT DISTINCT FROM l.total FROM a, last_hour l) $$;

SELECT put(200, 1, '0');
SELECT stream_ext.flush();
SELECT * FROM sliding_diff();
-- Older events: within the hour but not the last ten minutes, and older
-- than both (never stored).
SELECT put(100, 2, '20 minutes');
SELECT put(100, 3, '3 hours');
BEGIN;
SELECT put(50, 4, '0');
ROLLBACK;
SELECT stream_ext.flush();
SELECT * FROM sliding_diff();
SELECT count(*) FILTER (WHERE n > 0) AS nonempty FROM last_10m;
-- Steps stored, and steps that ended before the window (none: events
-- too old are not stored).
CREATE FUNCTION stored_steps(v regclass, OUT total bigint, OUT expired bigint) LANGUAGE plpgsql AS $$
DECLARE
    c record;
    kn text;
BEGIN
    SELECT state_table, sliding, step INTO c FROM stream_ext.continuous_view WHERE result = v;
    SELECT max(attname) INTO kn FROM pg_attribute WHERE attrelid = c.state_table AND attname ~ '^k[0-9]$';
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE %I + $1 <= now() - $2) FROM %s',
                   kn, c.state_table) INTO total, expired USING c.step, c.sliding;
END $$;
SELECT total > 0 AS stored, expired FROM stored_steps('last_10m');
SELECT (SELECT count(*) FROM ev_all WHERE ts < now() - interval '2 hours') AS old_events,
       (SELECT expired FROM stored_steps('last_hour')) AS expired_steps;

-- Steps that expire as time passes are deleted by the next batch (the
-- clock has to move: a one-second window).
SELECT stream_ext.create_continuous_view('last_second', 'SELECT k, count(*) AS n FROM ev GROUP BY k',
                                         sliding => '1 second', step => '1 second');
INSERT INTO ev SELECT i, i, now() FROM generate_series(1, 3) i;
INSERT INTO ev_all SELECT i, i, now() FROM generate_series(1, 3) i;
SELECT stream_ext.flush();
SELECT total AS stored FROM stored_steps('last_second');
SELECT pg_sleep(2.1);
SELECT count(*) AS rows_read_now FROM last_second;
INSERT INTO ev VALUES (1, 1, now());
INSERT INTO ev_all VALUES (1, 1, now());
SELECT stream_ext.flush();
SELECT * FROM stored_steps('last_second');
SELECT * FROM sliding_diff();
SELECT stream_ext.drop_continuous_view('last_second');

-- Refused: a window key too, outputs, months, step longer than sliding.
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS m, count(*) AS n FROM ev GROUP BY 1, 2$$,
    sliding => '10 minutes');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) AS n FROM ev GROUP BY 1',
                                         sliding => '10 minutes', notify => 'x');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) AS n FROM ev GROUP BY 1',
                                         sliding => '1 month');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) AS n FROM ev GROUP BY 1',
                                         sliding => '10 minutes', step => '1 hour');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) AS n FROM ev GROUP BY 1',
                                         step => '1 minute');
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) AS n FROM ev GROUP BY 1',
                                         sliding => '-10 minutes');
SELECT to_regclass('bad') IS NULL AS no_bad;
-- Dropped, its state goes too.
SELECT stream_ext.drop_continuous_view('last_hour');
SELECT count(*) AS states FROM pg_class
 WHERE relnamespace = 'stream_ext'::regnamespace AND relname LIKE 'last_hour%';
SELECT stream_ext.drop_continuous_view('last_10m');

-- ttl: windows that ended ttl or more before the watermark a batch starts
-- with leave the result table in that batch; late events for them are
-- dropped and counted; the rest equals the batch query over all events.
TRUNCATE ev_all;
ALTER TABLE ev_all ADD COLUMN dropped boolean NOT NULL DEFAULT false;
CREATE FUNCTION put_at(n int, seed int, at timestamptz) RETURNS void LANGUAGE sql AS $$
    WITH e AS (SELECT (i * seed) % 4 AS k, (i * seed) % 97 AS v, at + (i * 10) * interval '1 s' AS ts
                 FROM generate_series(1, n) i),
         s AS (INSERT INTO ev SELECT * FROM e)
    INSERT INTO ev_all SELECT * FROM e $$;
SELECT stream_ext.create_continuous_view('per_minute', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
      FROM ev GROUP BY k, minute$$, ttl => '10 minutes');
-- Against the oracle, with bound = watermark - ttl: rows that differ from
-- it, windows past the bound that are missing, windows before it still
-- there (gone only after a batch that started with this watermark).
CREATE FUNCTION ttl_diff(OUT extra bigint, OUT missing bigint, OUT expired_left bigint)
LANGUAGE sql AS $$
    WITH b AS (SELECT watermark - interval '10 minutes' AS bound FROM stream_ext.stats
                WHERE view = 'per_minute'::regclass),
         o AS (SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
                 FROM ev_all WHERE NOT dropped GROUP BY 1, 2)
    SELECT (SELECT count(*) FROM (SELECT k, minute, n, total FROM per_minute EXCEPT ALL SELECT * FROM o) x),
           (SELECT count(*) FROM (SELECT * FROM o WHERE minute + interval '1 minute' > (SELECT bound FROM b)
                                  EXCEPT ALL SELECT k, minute, n, total FROM per_minute) x),
           (SELECT count(*) FROM per_minute WHERE minute + interval '1 minute' <= (SELECT bound FROM b)) $$;
-- One more batch that moves nothing: an event at the latest time.
CREATE FUNCTION nudge() RETURNS void LANGUAGE sql AS $$
    INSERT INTO ev VALUES (3, 0, '2026-01-01 00:55');
    INSERT INTO ev_all VALUES (3, 0, '2026-01-01 00:55') $$;
SELECT put_at(300, 1, '2026-01-01');
SELECT stream_ext.flush();
SELECT extra, missing FROM ttl_diff();
SELECT watermark = '2026-01-01 00:50' AS watermark_at_50 FROM stream_ext.stats
 WHERE view = 'per_minute'::regclass;
-- One transaction, one batch: more events, and a late event for a window
-- past its ttl (dropped and counted); then a batch that starts with the
-- new watermark removes what it passed.
BEGIN;
SELECT put_at(30, 2, '2026-01-01 00:50');
INSERT INTO ev VALUES (1, 1, '2026-01-01 00:05');
INSERT INTO ev_all VALUES (1, 1, '2026-01-01 00:05', true);
COMMIT;
SELECT stream_ext.flush();
SELECT nudge();
SELECT stream_ext.flush();
SELECT * FROM ttl_diff();
SELECT min(minute) AS oldest_kept, watermark FROM per_minute, stream_ext.stats
 WHERE view = 'per_minute'::regclass GROUP BY watermark;
SELECT late_events FROM stream_ext.stats WHERE view = 'per_minute'::regclass;
-- ttl needs a window.
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) AS n FROM ev GROUP BY 1', ttl => '1 day');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS m, count(*) AS n FROM ev GROUP BY 1, 2$$, ttl => '-1 day');

-- Raw events kept for a retention: consumed segments stay until the
-- retention has passed since their latest event time, so a view created
-- later with backfill counts them.
CREATE TABLE raw (k int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('raw', event_time => 'ts');
SELECT stream_ext.create_continuous_view('raw_counts', 'SELECT k, count(*) AS n FROM raw GROUP BY k');
SELECT stream_ext.set_retention('raw', '1 hour');
SELECT retention FROM stream_ext.streams WHERE stream = 'raw'::regclass;
CREATE PROCEDURE raw_round(at timestamptz) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO raw SELECT g % 3, at FROM generate_series(1, 400) g;
    COMMIT;
    PERFORM stream_ext.flush();
    PERFORM stream_ext.prune('raw', wait => true);
    PERFORM stream_ext.prune('raw', wait => true);
END $$;
SELECT stream_ext.set_segment_size('raw', '8kB');
-- Events of two hours ago: consumed, past the retention, truncated; recent
-- ones: consumed, kept.
CALL raw_round(now() - interval '2 hours');
CALL raw_round(now() - interval '2 hours');
CALL raw_round(now());
CALL raw_round(now());
SELECT count(*) FILTER (WHERE ts > now() - interval '1 hour') AS recent_kept,
       count(*) FILTER (WHERE ts < now() - interval '1 hour') AS old_kept FROM raw;
SELECT stream_ext.create_continuous_view('raw_replayed', 'SELECT k, count(*) AS n FROM raw GROUP BY k',
                                         backfill => true);
SELECT stream_ext.flush();
SELECT sum(n) AS replayed FROM raw_replayed;
-- Without a retention, consumed segments go again.
SELECT stream_ext.set_retention('raw', NULL);
CALL raw_round(now());
CALL raw_round(now());
SELECT count(*) < 1600 AS pruned_again FROM raw;
SELECT stream_ext.set_retention('raw', '-1 day');
SELECT stream_ext.set_retention('ev_all', '1 day');
DROP PROCEDURE raw_round(timestamptz);
SELECT stream_ext.drop_stream('raw', cascade => true);

DROP FUNCTION sliding_diff();
DROP FUNCTION stored_steps(regclass);
DROP FUNCTION ttl_diff();
DROP FUNCTION put(int, int, interval);
DROP FUNCTION put_at(int, int, timestamptz);
DROP FUNCTION nudge();
DROP TABLE ev_all;
SELECT stream_ext.drop_stream('ev', cascade => true);
