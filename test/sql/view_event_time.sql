-- Event time: watermarks, closed windows appended to a table, and the
-- late-event policies update, drop and adjust, for tumbling and hopping
-- windows, with events arriving out of order.  Every result is compared
-- with the batch query over the events it should count (the oracle).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE clicks (page int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL,
                     late boolean NOT NULL DEFAULT false,      -- late for a view without lateness
                     adjust_to timestamptz,                     -- where adjust moves it
                     hop_wm timestamptz);                       -- hop_dropped's watermark before it
SELECT stream_ext.create_stream('clicks', event_time => 'ts');

SELECT stream_ext.create_continuous_view('upd', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
      FROM clicks GROUP BY page, minute$$, append_to => 'upd_closed', allowed_lateness => '30 s');
SELECT stream_ext.create_continuous_view('dropped', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
      FROM clicks GROUP BY page, minute$$, late => 'drop', append_to => 'dropped_closed');
SELECT stream_ext.create_continuous_view('adjusted', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
      FROM clicks GROUP BY page, minute$$, late => 'adjust');
SELECT stream_ext.create_continuous_view('hopping', $$
    SELECT page, w.window_start, count(*) AS n, sum(v) AS total
      FROM clicks, LATERAL stream_ext.hop(ts, '2 minutes', '1 minute') w
     GROUP BY page, w.window_start$$, append_to => 'hopping_closed');
SELECT stream_ext.create_continuous_view('hop_dropped', $$
    SELECT page, w.window_end, count(*) AS n
      FROM clicks, LATERAL stream_ext.hop(ts, '2 minutes', '1 minute') w
     GROUP BY page, w.window_end$$, late => 'drop');
SELECT name, emit, append_to, allowed_lateness, late, max_future
  FROM stream_ext.continuous_views WHERE stream = 'clicks'::regclass ORDER BY name::text;

-- Batch 1: ten minutes of events, out of order.
INSERT INTO clicks (page, v, ts)
SELECT i % 3, i, '2026-03-01 10:00:00+00'::timestamptz + ((i * 7) % 120) * interval '5 s'
  FROM generate_series(1, 120) i;
SELECT stream_ext.flush();

-- The watermark is the largest event time minus allowed_lateness.
SELECT view, max_event_time = (SELECT max(ts) FROM clicks) AS max_ok,
       watermark = (SELECT max(ts) FROM clicks) - CASE WHEN view = 'upd'::regclass THEN interval '30 s' ELSE '0' END AS watermark_ok,
       late_events, corrections
  FROM stream_ext.stats WHERE stream = 'clicks'::regclass ORDER BY view::text;

-- Batch 2: on-time events, and late ones for windows closed by now (for
-- the views without lateness; upd's lateness of 30 s keeps the newest of
-- those open).  Which are late, and where adjust moves them, is recorded
-- with them from the watermarks before the batch.
INSERT INTO clicks (page, v, ts, late, adjust_to, hop_wm)
SELECT page, v, ts,
       stream_ext.tumble(ts, '1 minute') + interval '1 minute'
         <= (SELECT watermark FROM stream_ext.stats WHERE view = 'dropped'::regclass),
       CASE WHEN stream_ext.tumble(ts, '1 minute') + interval '1 minute'
                 <= (SELECT watermark FROM stream_ext.stats WHERE view = 'adjusted'::regclass)
            THEN (SELECT watermark FROM stream_ext.stats WHERE view = 'adjusted'::regclass) END,
       (SELECT watermark FROM stream_ext.stats WHERE view = 'hop_dropped'::regclass)
  FROM (VALUES (0, 1000, '2026-03-01 10:00:10+00'::timestamptz),  -- late, first window
               (1, 1001, '2026-03-01 10:09:00+00'),               -- on time
               (2, 1002, '2026-03-01 10:04:59+00'),               -- late
               (1, 1003, '2026-03-01 10:09:40+00'),               -- on time: minute 9 is open
               (0, 1004, '2026-03-01 10:11:30+00')) e(page, v, ts); -- on time, moves the watermark
SELECT count(*) FILTER (WHERE late) AS late_for_drop, count(adjust_to) AS adjusted FROM clicks;
SELECT stream_ext.flush();

-- A far-future event counts but does not move the watermark (max_future).
INSERT INTO clicks (page, v, ts, hop_wm)
VALUES (2, 5, now() + interval '1 year', (SELECT watermark FROM stream_ext.stats WHERE view = 'hop_dropped'::regclass));
SELECT stream_ext.flush();
SELECT view, watermark < now() AS watermark_not_moved FROM stream_ext.stats
 WHERE stream = 'clicks'::regclass ORDER BY view::text;

-- update: the result table is the query over every event.
SELECT (SELECT count(*) FROM (
          SELECT page, stream_ext.tumble(ts, '1 minute'), count(*), sum(v) FROM clicks GROUP BY 1, 2
          EXCEPT ALL SELECT page, minute, n, total FROM upd) x) AS upd_missing,
       (SELECT count(*) FROM (
          SELECT page, minute, n, total FROM upd EXCEPT ALL
          SELECT page, stream_ext.tumble(ts, '1 minute'), count(*), sum(v) FROM clicks GROUP BY 1, 2) x) AS upd_extra;
-- drop: over the events that were not late.
SELECT (SELECT count(*) FROM (
          SELECT page, stream_ext.tumble(ts, '1 minute'), count(*), sum(v) FROM clicks WHERE NOT late GROUP BY 1, 2
          EXCEPT ALL SELECT page, minute, n, total FROM dropped) x) AS dropped_missing,
       (SELECT count(*) FROM (
          SELECT page, minute, n, total FROM dropped EXCEPT ALL
          SELECT page, stream_ext.tumble(ts, '1 minute'), count(*), sum(v) FROM clicks WHERE NOT late GROUP BY 1, 2) x) AS dropped_extra;
-- adjust: over the events, late ones moved to the watermark.
SELECT (SELECT count(*) FROM (
          SELECT page, stream_ext.tumble(coalesce(adjust_to, ts), '1 minute'), count(*), sum(v) FROM clicks GROUP BY 1, 2
          EXCEPT ALL SELECT page, minute, n, total FROM adjusted) x) AS adjusted_missing,
       (SELECT count(*) FROM (
          SELECT page, minute, n, total FROM adjusted EXCEPT ALL
          SELECT page, stream_ext.tumble(coalesce(adjust_to, ts), '1 minute'), count(*), sum(v) FROM clicks GROUP BY 1, 2) x) AS adjusted_extra;
-- hopping, update: every window of every event.
SELECT (SELECT count(*) FROM (
          SELECT page, w.window_start, count(*), sum(v) FROM clicks, LATERAL stream_ext.hop(ts, '2 minutes', '1 minute') w GROUP BY 1, 2
          EXCEPT ALL SELECT page, window_start, n, total FROM hopping) x) AS hopping_missing,
       (SELECT count(*) FROM (
          SELECT page, window_start, n, total FROM hopping EXCEPT ALL
          SELECT page, w.window_start, count(*), sum(v) FROM clicks, LATERAL stream_ext.hop(ts, '2 minutes', '1 minute') w GROUP BY 1, 2) x) AS hopping_extra;
-- hopping, drop: an event's part in each window closed before its batch
-- is dropped.
SELECT (SELECT count(*) FROM (
          SELECT page, w.window_end, count(*) FROM clicks, LATERAL stream_ext.hop(ts, '2 minutes', '1 minute') w
           WHERE hop_wm IS NULL OR w.window_end > hop_wm GROUP BY 1, 2
          EXCEPT ALL SELECT page, window_end, n FROM hop_dropped) x) AS hop_dropped_missing,
       (SELECT count(*) FROM (
          SELECT page, window_end, n FROM hop_dropped EXCEPT ALL
          SELECT page, w.window_end, count(*) FROM clicks, LATERAL stream_ext.hop(ts, '2 minutes', '1 minute') w
           WHERE hop_wm IS NULL OR w.window_end > hop_wm GROUP BY 1, 2) x) AS hop_dropped_extra;

-- Late events counted: for tumbling windows per event, for hopping
-- windows per (event, closed window).
SELECT view, late_events FROM stream_ext.stats WHERE stream = 'clicks'::regclass ORDER BY view::text;
SELECT (SELECT late_events FROM stream_ext.stats WHERE view = 'dropped'::regclass)
     = (SELECT count(*) FROM clicks WHERE late) AS drop_count_ok;

-- Closed windows: appended once when they close (revision 1), again with
-- every batch that changed them later (revision 2, ...); the last
-- revision of each equals its result row; no open window is appended.
SELECT count(*) AS appended, count(*) FILTER (WHERE revision > 1) AS corrections FROM upd_closed;
SELECT (SELECT count(*) FROM (
          SELECT page, minute, n, total FROM upd WHERE minute + interval '1 minute'
                 <= (SELECT watermark FROM stream_ext.stats WHERE view = 'upd'::regclass)
          EXCEPT ALL
          (SELECT DISTINCT ON (page, minute) page, minute, n, total FROM upd_closed
            ORDER BY page, minute, revision DESC)) x) AS upd_closed_missing,
       (SELECT count(*) FROM (
          (SELECT DISTINCT ON (page, minute) page, minute, n, total FROM upd_closed
            ORDER BY page, minute, revision DESC)
          EXCEPT ALL
          SELECT page, minute, n, total FROM upd WHERE minute + interval '1 minute'
                 <= (SELECT watermark FROM stream_ext.stats WHERE view = 'upd'::regclass)) x) AS upd_closed_extra,
       (SELECT count(*) FROM (SELECT page, minute FROM upd_closed GROUP BY 1, 2
                               HAVING max(revision) <> count(*) OR min(revision) <> 1) x) AS revisions_not_consecutive;
SELECT (SELECT count(*) FROM dropped_closed WHERE revision > 1) AS dropped_corrections,
       (SELECT count(*) FROM (
          SELECT page, minute, n, total FROM dropped WHERE minute + interval '1 minute'
                 <= (SELECT watermark FROM stream_ext.stats WHERE view = 'dropped'::regclass)
          EXCEPT ALL SELECT page, minute, n, total FROM dropped_closed) x) AS dropped_closed_missing;
SELECT (SELECT count(*) FROM (
          SELECT page, window_start, n, total FROM hopping WHERE window_start + interval '2 minutes'
                 <= (SELECT watermark FROM stream_ext.stats WHERE view = 'hopping'::regclass)
          EXCEPT ALL
          (SELECT DISTINCT ON (page, window_start) page, window_start, n, total FROM hopping_closed
            ORDER BY page, window_start, revision DESC)) x) AS hopping_closed_missing,
       (SELECT count(*) FROM hopping_closed WHERE window_start + interval '2 minutes'
                 > (SELECT watermark FROM stream_ext.stats WHERE view = 'hopping'::regclass)) AS hopping_open_appended;
SELECT view, windows_closed, corrections FROM stream_ext.stats WHERE stream = 'clicks'::regclass ORDER BY view::text;

-- The table of closed windows is an ordinary table: its owner may delete
-- from it; it cannot be dropped while the view appends to it.
DELETE FROM upd_closed WHERE minute < '2026-03-01 10:01:00+00';
DROP TABLE upd_closed;
-- An existing table can take the closed windows if it has the columns.
CREATE TABLE my_closed (page int, minute timestamptz, n bigint, total bigint, revision int, note text);
SELECT stream_ext.create_continuous_view('upd2', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
      FROM clicks GROUP BY page, minute$$, append_to => 'my_closed', backfill => true);
SELECT stream_ext.flush();
SELECT count(*) > 0 AS appended FROM my_closed;

-- Refused, each with a hint.
CREATE TABLE narrow (page int, revision int);
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM clicks GROUP BY page, minute$$,
    append_to => 'narrow');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM clicks GROUP BY page, minute$$,
    append_to => 'clicks');
SELECT stream_ext.create_continuous_view('bad', 'SELECT page, count(*) AS n FROM clicks GROUP BY page',
    append_to => 'bad_closed');
SELECT stream_ext.create_continuous_view('bad', 'SELECT page, count(*) AS n FROM clicks GROUP BY page',
    late => 'drop');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT page, stream_ext.tumble(ts + interval '1 hour', '1 minute') AS minute, count(*) AS n FROM clicks GROUP BY page, minute$$,
    allowed_lateness => '1 minute');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT page, w.window_start, count(*) AS n FROM clicks, LATERAL stream_ext.hop(ts, '2 minutes', '1 minute') w
     GROUP BY page, w.window_start$$, late => 'adjust');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM clicks GROUP BY page, minute$$,
    late => 'ignore');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM clicks GROUP BY page, minute$$,
    allowed_lateness => '-1 minute');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM clicks GROUP BY page, minute$$,
    emit => 'final');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM clicks GROUP BY page, minute$$,
    notify => 'c', emit => 'sometimes');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS revision FROM clicks GROUP BY page, minute$$,
    append_to => 'bad_closed');
SELECT to_regclass('bad') IS NULL AS no_view, to_regclass('bad_closed') IS NULL AS no_table;

SELECT stream_ext.drop_stream('clicks', cascade => true);
DROP TABLE my_closed, narrow;
