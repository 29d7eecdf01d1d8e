-- Bulk loads: one transaction far larger than the views' batch_size (a
-- batch never splits a transaction, so it is applied whole), into few
-- groups (1,000 keys) and into about as many groups as events / 5 (each
-- key's events consecutive, as in the benchmark's W3), with views that
-- are pure (their batch counted in their aggregation), filtered, and
-- hopping by panes; then a second load that updates every group.  Each
-- view equals its query over a shadow table written in the same
-- transactions (values are multiples of 1/8: float sums are exact in any
-- order).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;
CREATE TABLE bulk (k int NOT NULL, v float8 NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE bulk_shadow (LIKE bulk);
SELECT stream_ext.create_stream('bulk', event_time => 'ts');
SELECT stream_ext.create_continuous_view('bulk_few', $$
    SELECT k % 1000 AS k, stream_ext.tumble(ts, '1 minute') AS minute,
           count(*) AS n, sum(v) AS total, avg(v) AS mean, min(v) AS lo, max(v) AS hi
      FROM bulk GROUP BY 1, 2$$, batch_size => 20000);
SELECT stream_ext.create_continuous_view('bulk_many', $$
    SELECT k, count(*) AS n, sum(v) AS total, max(ts) AS last_seen
      FROM bulk GROUP BY k$$, batch_size => 20000);
SELECT stream_ext.create_continuous_view('bulk_filtered', $$
    SELECT k % 7 AS k7, count(*) AS n, sum(v) AS total
      FROM bulk WHERE v > 100 GROUP BY 1$$, batch_size => 20000);
SELECT stream_ext.create_continuous_view('bulk_hop', $$
    SELECT k % 10 AS k10, w.window_start, count(*) AS n, avg(v) AS mean
      FROM bulk, LATERAL stream_ext.hop(ts, '5 minutes', '1 minute') w GROUP BY 1, 2$$, batch_size => 20000);

CREATE FUNCTION bulk_differences() RETURNS TABLE (view text, missing bigint, extra bigint, rows bigint)
LANGUAGE sql AS $$
    WITH o AS (SELECT k % 1000 AS k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n,
                      round(sum(v)::numeric, 6) AS total, round(avg(v)::numeric, 6) AS mean, min(v) AS lo, max(v) AS hi
                 FROM bulk_shadow GROUP BY 1, 2),
         r AS (SELECT k, minute, n, round(total::numeric, 6), round(mean::numeric, 6), lo, hi FROM bulk_few)
    SELECT 'bulk_few', (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM r) x),
           (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM o) x), (SELECT count(*) FROM r)
    UNION ALL
    SELECT 'bulk_many',
           (SELECT count(*) FROM (SELECT k, count(*), round(sum(v)::numeric, 6), max(ts) FROM bulk_shadow GROUP BY k
                                  EXCEPT ALL SELECT k, n, round(total::numeric, 6), last_seen FROM bulk_many) x),
           (SELECT count(*) FROM (SELECT k, n, round(total::numeric, 6), last_seen FROM bulk_many
                                  EXCEPT ALL SELECT k, count(*), round(sum(v)::numeric, 6), max(ts) FROM bulk_shadow GROUP BY k) x),
           (SELECT count(*) FROM bulk_many)
    UNION ALL
    SELECT 'bulk_filtered',
           (SELECT count(*) FROM (SELECT k % 7, count(*), round(sum(v)::numeric, 6) FROM bulk_shadow WHERE v > 100 GROUP BY 1
                                  EXCEPT ALL SELECT k7, n, round(total::numeric, 6) FROM bulk_filtered) x),
           (SELECT count(*) FROM (SELECT k7, n, round(total::numeric, 6) FROM bulk_filtered
                                  EXCEPT ALL SELECT k % 7, count(*), round(sum(v)::numeric, 6) FROM bulk_shadow WHERE v > 100 GROUP BY 1) x),
           (SELECT count(*) FROM bulk_filtered)
    UNION ALL
    SELECT 'bulk_hop',
           (SELECT count(*) FROM (SELECT k % 10, w.window_start, count(*), round(avg(v)::numeric, 6)
                                    FROM bulk_shadow, LATERAL stream_ext.hop(ts, '5 minutes', '1 minute') w GROUP BY 1, 2
                                  EXCEPT ALL SELECT k10, window_start, n, round(mean::numeric, 6) FROM bulk_hop) x),
           (SELECT count(*) FROM (SELECT k10, window_start, n, round(mean::numeric, 6) FROM bulk_hop
                                  EXCEPT ALL SELECT k % 10, w.window_start, count(*), round(avg(v)::numeric, 6)
                                    FROM bulk_shadow, LATERAL stream_ext.hop(ts, '5 minutes', '1 minute') w GROUP BY 1, 2) x),
           (SELECT count(*) FROM bulk_hop)
$$;

-- 150,000 events in one transaction: 30,000 keys of five consecutive
-- events each (k % 1000 gives the few groups).
BEGIN;
WITH e AS (INSERT INTO bulk
           SELECT i / 5, (i * 7919) % 1000 / 4.0, '2026-02-01'::timestamptz + (i / 50) * interval '1 s'
             FROM generate_series(0, 149999) i RETURNING k, v, ts)
INSERT INTO bulk_shadow SELECT * FROM e;
COMMIT;
SELECT stream_ext.flush();
SELECT * FROM bulk_differences();
SELECT view::text, batches, events_processed FROM stream_ext.stats WHERE view::text LIKE 'bulk%' ORDER BY 1;

-- A second bulk transaction over the same keys and minutes, and one rolled back.
BEGIN;
WITH e AS (INSERT INTO bulk
           SELECT i / 5, (i::int8 * 104729) % 1000 / 8.0, '2026-02-01'::timestamptz + (i / 50) * interval '1 s'
             FROM generate_series(0, 149999) i RETURNING k, v, ts)
INSERT INTO bulk_shadow SELECT * FROM e;
COMMIT;
BEGIN;
INSERT INTO bulk SELECT i, 1, now() FROM generate_series(1, 50000) i;
ROLLBACK;
SELECT stream_ext.flush();
SELECT * FROM bulk_differences();
SELECT view::text, batches, events_processed FROM stream_ext.stats WHERE view::text LIKE 'bulk%' ORDER BY 1;

SELECT stream_ext.drop_continuous_view(v)
  FROM unnest(ARRAY['bulk_few', 'bulk_many', 'bulk_filtered', 'bulk_hop']) v;
DROP FUNCTION bulk_differences();
DROP TABLE bulk, bulk_shadow;

-- A backlog counted into cuts (batch_size far below it) of a stream whose
-- name is an alias of the worker's own statements: e.
CREATE TABLE e (k int, v int, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('e', event_time => 'ts');
CREATE TABLE e_shadow (k int, v int);
SELECT stream_ext.create_continuous_view('e_totals', 'SELECT k, count(*) AS n, sum(v) AS s FROM e GROUP BY k',
                                         batch_size => 100);
INSERT INTO e SELECT i % 10, i, '2026-02-01' FROM generate_series(1, 2000) i;
INSERT INTO e_shadow SELECT i % 10, i FROM generate_series(1, 2000) i;
INSERT INTO e SELECT i % 10, i, '2026-02-01' FROM generate_series(2001, 2500) i;
INSERT INTO e_shadow SELECT i % 10, i FROM generate_series(2001, 2500) i;
SELECT stream_ext.flush();
SELECT (SELECT count(*) FROM (SELECT k, count(*), sum(v) FROM e_shadow GROUP BY k
                              EXCEPT ALL SELECT k, n, s FROM e_totals) x) AS missing,
       (SELECT count(*) FROM (SELECT k, n, s FROM e_totals
                              EXCEPT ALL SELECT k, count(*), sum(v) FROM e_shadow GROUP BY k) x) AS extra,
       (SELECT batches > 1 FROM stream_ext.stats WHERE view = 'e_totals'::regclass) AS cut;
SELECT stream_ext.drop_stream('e', cascade => true);
DROP TABLE e_shadow;
