--
-- create_continuous_view's options (batch_size, paused, backfill), the
-- batches the worker forms (one read of a stream for all its views,
-- bounded by batch_size), and the counters in stream_ext.stats.  After
-- every flush each result table must equal its query run once over the
-- events it should have seen (the oracle).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE clicks (page int NOT NULL, ms int, ts timestamptz NOT NULL DEFAULT '2026-03-01');
SELECT stream_ext.create_stream('clicks', event_time => 'ts');

-- Events before any view: only a backfilled view counts them.
INSERT INTO clicks (page, ms) SELECT g % 4, g FROM generate_series(1, 50) g;

SELECT stream_ext.create_continuous_view('backfilled',
    'SELECT page, count(*) AS n, sum(ms) AS total FROM clicks GROUP BY page',
    backfill => true);
SELECT stream_ext.create_continuous_view('later',
    'SELECT page, count(*) AS n, sum(ms) AS total FROM clicks GROUP BY page');
SELECT stream_ext.create_continuous_view('small',
    'SELECT page, count(*) AS n, max(ms) AS slowest FROM clicks WHERE ms > 0 GROUP BY page',
    batch_size => 100);
SELECT stream_ext.create_continuous_view('held',
    'SELECT count(*) AS n, sum(ms) AS total FROM clicks',
    paused => true);
SELECT name, state, batch_size FROM stream_ext.continuous_views ORDER BY name::text;

-- Differences between each view and its oracle (EXCEPT ALL both ways):
-- events with ms <= 50 were committed before all views but backfilled.
CREATE FUNCTION differences(OUT backfilled bigint, OUT later bigint, OUT small bigint, OUT held bigint)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM ((SELECT * FROM backfilled EXCEPT ALL
                                   SELECT page, count(*), sum(ms) FROM clicks GROUP BY page)
                                  UNION ALL
                                  (SELECT page, count(*), sum(ms) FROM clicks GROUP BY page
                                   EXCEPT ALL SELECT * FROM backfilled)) x),
           (SELECT count(*) FROM ((SELECT * FROM later EXCEPT ALL
                                   SELECT page, count(*), sum(ms) FROM clicks WHERE ms > 50 GROUP BY page)
                                  UNION ALL
                                  (SELECT page, count(*), sum(ms) FROM clicks WHERE ms > 50 GROUP BY page
                                   EXCEPT ALL SELECT * FROM later)) x),
           (SELECT count(*) FROM ((SELECT * FROM small EXCEPT ALL
                                   SELECT page, count(*), max(ms) FROM clicks WHERE ms > 50 GROUP BY page)
                                  UNION ALL
                                  (SELECT page, count(*), max(ms) FROM clicks WHERE ms > 50 GROUP BY page
                                   EXCEPT ALL SELECT * FROM small)) x),
           (SELECT count(*) FROM ((SELECT * FROM held EXCEPT ALL
                                   SELECT count(*), sum(ms) FROM clicks WHERE ms > 50)
                                  UNION ALL
                                  (SELECT count(*), sum(ms) FROM clicks WHERE ms > 50
                                   EXCEPT ALL SELECT * FROM held)) x)
$$;

INSERT INTO clicks (page, ms) SELECT g % 4, g FROM generate_series(51, 300) g;
SELECT stream_ext.flush();
SELECT * FROM differences();
-- The paused view has not moved; flush did not wait for it.
SELECT count(*) AS held_rows FROM held;

-- Views of a stream read the same batches: they share their progress
-- (small's may differ while its batches are cut at 100 events; the paused
-- one keeps its own).  The backfilled view caught up in batches of its
-- own; from the next round on, the one behind ends its batch where the
-- other's ended, and they share.
INSERT INTO clicks (page, ms) VALUES (0, 301);
SELECT stream_ext.flush();
SELECT count(DISTINCT progress::text) AS distinct_progress
  FROM stream_ext.continuous_view WHERE result IN ('backfilled'::regclass, 'later'::regclass);

-- A backlog is applied in bounded batches: with the views paused, 1200
-- events in 12 transactions wait; small (batch_size 100, whole
-- transactions) needs at least 8 batches for them.
SELECT stream_ext.pause_continuous_view(v) FROM unnest(ARRAY['backfilled', 'later', 'small']) v;
SELECT batches AS batches_before FROM stream_ext.continuous_view WHERE result = 'small'::regclass \gset
-- (\gexec runs each INSERT as a statement, so in a transaction, of its own)
SELECT format('INSERT INTO clicks (page, ms) SELECT g %% 4, g FROM generate_series(%s, %s) g',
              301 + i * 100, 400 + i * 100)
  FROM generate_series(0, 11) i \gexec
-- The backlog shows in the stats: events waiting, and how long.
SELECT view, state, events_waiting, lag_seconds > 0 AS lagging
  FROM stream_ext.stats ORDER BY view::text;
SELECT stream_ext.resume_continuous_view(v) FROM unnest(ARRAY['backfilled', 'later', 'small', 'held']) v;
SELECT stream_ext.flush();
SELECT * FROM differences();
SELECT batches - :batches_before >= 8 AS bounded
  FROM stream_ext.continuous_view WHERE result = 'small'::regclass;
-- One transaction larger than batch_size is one batch, never split.
INSERT INTO clicks (page, ms) SELECT g % 4, g FROM generate_series(1501, 2000) g;
SELECT stream_ext.flush();
SELECT * FROM differences();

-- The counters: events in the batches each view applied, result rows
-- written; nothing waits once flushed.
SELECT view, state, events_processed, rows_written > 0 AS wrote, events_waiting,
       lag_seconds, transient_errors, last_error
  FROM stream_ext.stats ORDER BY view::text;
-- The held view, resumed, read everything since its creation.
SELECT * FROM held;

-- The result table's key: a primary key when no grouping key can be
-- null (page is NOT NULL), else a unique constraint NULLS NOT DISTINCT.
SELECT stream_ext.create_continuous_view('by_ms',
    'SELECT ms % 3 AS m, count(*) AS n FROM clicks GROUP BY 1');
SELECT conrelid::regclass AS result_table, contype,
       pg_get_constraintdef(oid) AS definition
  FROM pg_constraint WHERE conrelid IN ('backfilled'::regclass, 'by_ms'::regclass)
 ORDER BY conrelid::regclass::text, contype, 3;

-- Functions the query calls run with the search_path captured when the
-- view was created (after pg_catalog): unqualified names in their
-- bodies resolve as they did for the view's creator.
CREATE SCHEMA app;
SET search_path = app, public;
CREATE FUNCTION app.bucket_of(ms int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT ms / 1000';
CREATE FUNCTION app.bucket(ms int) RETURNS int LANGUAGE sql STABLE AS 'SELECT bucket_of(ms)';
SELECT stream_ext.create_continuous_view('public.by_bucket',
    'SELECT bucket(ms) AS b, count(*) AS n FROM clicks GROUP BY 1');
RESET search_path;
INSERT INTO clicks (page, ms) SELECT g % 4, g FROM generate_series(2001, 4000) g;
SELECT stream_ext.flush();
SELECT * FROM by_bucket ORDER BY b;
SELECT * FROM by_ms ORDER BY m;

-- A view is its result table: it follows when the result table or the
-- stream is renamed or moved to another schema.
CREATE SCHEMA elsewhere;
ALTER TABLE by_ms RENAME TO by_ms_renamed;
ALTER TABLE by_ms_renamed SET SCHEMA elsewhere;
ALTER TABLE clicks RENAME TO clicks_renamed;
INSERT INTO clicks_renamed (page, ms) SELECT g % 4, g FROM generate_series(4001, 4300) g;
SELECT stream_ext.flush();
SELECT name, state, last_error FROM stream_ext.continuous_views WHERE name::text LIKE '%by_ms%';
SELECT (SELECT count(*) FROM (SELECT * FROM elsewhere.by_ms_renamed EXCEPT ALL
                              SELECT ms % 3, count(*) FROM clicks_renamed WHERE ms > 2000 GROUP BY 1) x)
     + (SELECT count(*) FROM (SELECT ms % 3, count(*) FROM clicks_renamed WHERE ms > 2000 GROUP BY 1
                              EXCEPT ALL SELECT * FROM elsewhere.by_ms_renamed) x) AS by_ms_differences;
ALTER TABLE clicks_renamed RENAME TO clicks;

-- Bad options.
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) FROM clicks', batch_size => 0);
SELECT stream_ext.create_continuous_view(NULL, 'SELECT count(*) FROM clicks');
SELECT count(*) AS half_made FROM pg_class WHERE relname = 'bad';

-- The workers, as stream_ext.workers shows them.
SELECT backend_type, database = current_database() AS here
  FROM stream_ext.workers WHERE backend_type = 'stream_ext worker' AND database = current_database();

SELECT stream_ext.drop_stream('clicks', "cascade" => true);
DROP FUNCTION differences();
DROP SCHEMA app CASCADE;
DROP SCHEMA elsewhere;
